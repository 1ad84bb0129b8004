"""The device login (``DeviceCode``, RFC 8628) against node-oidc-provider.

Two rigs: the session's (it advertises a 1 s interval and paces polls itself) for logins on the
wall clock, and one of this module's without pacing for logins on a fake monotonic clock (the
polls' times read from it, nothing slept; the wall clock stays real, for DPoP's ``iat``). The
user's part is the rig's levers: ``approve``, ``deny``, ``expire``, ``slow_down``. Sync,
asyncio and trio.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import DeviceAuthorization, DeviceCode, DPoPKey
from httpx_remedy.testing import use_clock
from tests.oidc_server import (
    DEVICE_GRANT,
    OIDCRig,
    oidc_rig_fixture,  # noqa: F401  (the session fixture "oidc")
    oidc_rig_for_tests,
)

from .conftest import FakeClock

pytestmark = pytest.mark.integration

SCOPE = "offline_access read"


@pytest.fixture(scope="module")
def unpaced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCRig]:
    """A rig that does not pace polls: for a client on a fake clock."""
    yield from oidc_rig_for_tests(Path(tmp_path_factory.mktemp("unpaced")), poll_spacing_ms=0)


class AfterPolls(httpx.BaseTransport):
    """Runs ``actions[n]`` once the token endpoint has answered the n-th device poll: what the
    user does while the client polls."""

    def __init__(self, actions: dict[int, Callable[[], object]]) -> None:
        self.inner = httpx.HTTPTransport()
        self.actions = actions
        self.polls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path == "/token" and DEVICE_GRANT.encode() in request.content.replace(
            b"%3A", b":"
        ):
            self.polls += 1
            action = self.actions.get(self.polls)
            if action is not None:
                action()
        return response

    def close(self) -> None:
        self.inner.close()


def on_fake_clock(transport: Any, clock: FakeClock) -> Any:
    """Monotonic time and sleeps on ``clock``; the wall clock stays real (DPoP proofs carry
    it, and the server checks it)."""
    is_async = isinstance(transport, remedy.AsyncRemedyTransport)
    sleep = clock.asleep if is_async else clock.sleep
    return use_clock(transport, monotonic=clock.monotonic, sleep=sleep)


def seen(oidc: OIDCRig) -> list[tuple[str, str | None, int]]:
    return [
        (r["path"], r.get("error") or _short(r.get("grant_type")), r["status"])
        for r in oidc.requests()
    ]


def _short(grant: str | None) -> str | None:
    return "device_code" if grant == DEVICE_GRANT else grant


def login(oidc: OIDCRig, user: Callable[[DeviceAuthorization], object], **options: Any) -> Any:
    options.setdefault("scope", SCOPE)
    client_id = options.pop("client_id", "device")
    return DeviceCode(
        oidc.device_authorization_url, oidc.token_url, client_id, on_user_code=user, **options
    )


# ---- on the wall clock, the rig pacing the polls


def test_log_in_once_then_keep_working(oidc: OIDCRig) -> None:
    saved: list[dict[str, Any]] = []
    shown: list[DeviceAuthorization] = []

    def user(codes: DeviceAuthorization) -> None:
        shown.append(codes)
        # The user approves a moment later, after at least one poll was pending.
        threading.Timer(1.5, oidc.approve, args=(codes.user_code,)).start()

    creds = login(oidc, user, on_token=saved.append)
    oidc.forget_requests()
    with httpx.Client(transport=remedy.RemedyTransport(credentials=creds), timeout=10) as client:
        assert client.get(oidc.resource_url).json()["sub"] == "alice"
        for _ in range(2):  # the refresh token takes over, rotated each time
            oidc.revoke("device")
            assert client.get(oidc.resource_url).json()["sub"] == "alice"
    assert shown[0].verification_uri == f"{oidc.issuer}/device"
    assert shown[0].interval == 1
    log = seen(oidc)
    assert log[0] == ("/device/auth", None, 200)
    assert ("/token", "authorization_pending", 400) in log
    assert log.count(("/token", "device_code", 200)) == 1
    assert log.count(("/token", "refresh_token", 200)) == 2
    assert "slow_down" not in {entry[1] for entry in log}  # never faster than asked
    assert len({t["refresh_token"] for t in saved}) == 3


@pytest.mark.anyio
async def test_log_in_async(oidc: OIDCRig) -> None:
    creds = login(oidc, lambda codes: oidc.approve(codes.user_code))
    async with httpx.AsyncClient(
        transport=remedy.AsyncRemedyTransport(credentials=creds), timeout=10
    ) as client:
        assert (await client.get(oidc.resource_url)).json()["client_id"] == "device"
        oidc.revoke("device")
        assert (await client.get(oidc.resource_url)).status_code == 200
    assert creds.token["refresh_token"]


def test_a_confidential_client_logs_in(oidc: OIDCRig) -> None:
    creds = login(
        oidc,
        lambda c: oidc.approve(c.user_code),
        client_id="basic",
        client_secret=oidc.secrets["basic"],
    )
    with httpx.Client(transport=remedy.RemedyTransport(credentials=creds), timeout=10) as client:
        assert client.get(oidc.resource_url).json()["client_id"] == "basic"


def test_the_device_endpoints_refusals_are_typed(oidc: OIDCRig) -> None:
    never: Callable[[DeviceAuthorization], None] = lambda codes: None  # noqa: E731
    wrong = login(oidc, never, client_id="basic", client_secret="wrong")
    with (
        httpx.Client(transport=remedy.RemedyTransport(credentials=wrong)) as client,
        pytest.raises(remedy.InvalidClient),
    ):
        client.get(oidc.resource_url)
    admin = login(oidc, never, scope="read admin")
    with (
        httpx.Client(transport=remedy.RemedyTransport(credentials=admin)) as client,
        pytest.raises(remedy.InvalidScope),
    ):
        client.get(oidc.resource_url)


# ---- on a fake clock, the rig not pacing


def test_slow_down_adds_5s_for_good(unpaced: OIDCRig, clock: FakeClock) -> None:
    shown: list[DeviceAuthorization] = []

    def user(codes: DeviceAuthorization) -> None:
        shown.append(codes)
        unpaced.slow_down(codes.user_code, times=2)

    inner = AfterPolls({3: lambda: unpaced.approve(shown[0].user_code)})
    transport = on_fake_clock(
        remedy.RemedyTransport(inner, credentials=login(unpaced, user)), clock
    )
    unpaced.forget_requests()
    with httpx.Client(transport=transport, timeout=10) as client:
        assert client.get(unpaced.resource_url).status_code == 200
    # interval 1; after each slow_down 5 s more, for this and every later poll.
    assert clock.sleeps == [1, 6, 11, 11]
    assert [s[1] for s in seen(unpaced) if s[0] == "/token"] == [
        "slow_down",
        "slow_down",
        "authorization_pending",
        "device_code",
    ]


@pytest.mark.anyio
async def test_slow_down_adds_5s_for_good_async(unpaced: OIDCRig, clock: FakeClock) -> None:
    def user(codes: DeviceAuthorization) -> None:
        unpaced.slow_down(codes.user_code)
        unpaced.approve(codes.user_code)

    transport = on_fake_clock(remedy.AsyncRemedyTransport(credentials=login(unpaced, user)), clock)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        assert (await client.get(unpaced.resource_url)).status_code == 200
    assert clock.sleeps == [1, 6]


@pytest.mark.parametrize(
    ("lever", "error"),
    [("deny", remedy.AccessDenied), ("expire", remedy.ExpiredToken)],
)
def test_the_user_says_no_or_the_code_expires(
    unpaced: OIDCRig, clock: FakeClock, lever: str, error: type[Exception]
) -> None:
    codes: list[str] = []
    inner = AfterPolls({2: lambda: getattr(unpaced, lever)(codes[0])})
    creds = login(unpaced, lambda c: codes.append(c.user_code))
    transport = on_fake_clock(remedy.RemedyTransport(inner, credentials=creds), clock)
    with httpx.Client(transport=transport, timeout=10) as client:
        with pytest.raises(error):
            client.get(unpaced.resource_url)
        with pytest.raises(remedy.ReauthenticationRequired):  # remembered until reset()
            client.get(unpaced.resource_url)
    assert inner.polls == 3


def test_the_login_stops_at_its_timeout(unpaced: OIDCRig, clock: FakeClock) -> None:
    creds = login(unpaced, lambda codes: None, timeout=3.5)
    transport = on_fake_clock(remedy.RemedyTransport(credentials=creds), clock)
    with (
        httpx.Client(transport=transport, timeout=10) as client,
        pytest.raises(remedy.LoginTimeout) as caught,
    ):
        client.get(unpaced.resource_url)
    assert caught.value.polls == 3
    assert caught.value.cap == "DeviceCode(timeout=3.5)"


def test_a_cancelled_login(unpaced: OIDCRig, clock: FakeClock) -> None:
    cancel = threading.Event()
    inner = AfterPolls({2: cancel.set})
    creds = login(unpaced, lambda codes: None, cancel=cancel)
    transport = on_fake_clock(remedy.RemedyTransport(inner, credentials=creds), clock)
    with (
        httpx.Client(transport=transport, timeout=10) as client,
        pytest.raises(remedy.LoginCancelled),
    ):
        client.get(unpaced.resource_url)
    assert inner.polls == 2


# ---- DPoP and the device login


def test_a_dpop_bound_device_login(unpaced: OIDCRig, clock: FakeClock) -> None:
    key = DPoPKey.generate()
    saved: list[dict[str, Any]] = []
    creds = login(unpaced, lambda c: unpaced.approve(c.user_code), dpop=key, on_token=saved.append)
    transport = on_fake_clock(remedy.RemedyTransport(credentials=creds), clock)
    unpaced.forget_requests()
    with httpx.Client(transport=transport, timeout=10) as client:
        assert client.get(unpaced.resource_url).json()["token_type"] == "DPoP"
        unpaced.revoke("device")
        assert client.get(unpaced.resource_url).json()["token_type"] == "DPoP"
    assert seen(unpaced) == [
        ("/device/auth", None, 200),
        # The nonce the first poll asks for rides on the next poll, paced like any poll.
        ("/token", "use_dpop_nonce", 400),
        ("/token", "device_code", 200),
        ("/api/resource", None, 200),
        ("/api/resource", "invalid_token", 401),
        ("/token", "refresh_token", 200),  # the refresh token is bound to the key: proven
        ("/api/resource", None, 200),
    ]
    assert clock.sleeps == [1, 1]
    assert [s["token_type"] for s in saved] == ["DPoP", "DPoP"]


@pytest.mark.anyio
async def test_a_dpop_bound_device_login_async(unpaced: OIDCRig, clock: FakeClock) -> None:
    key = DPoPKey.generate("EdDSA")
    creds = login(unpaced, lambda c: unpaced.approve(c.user_code), dpop=key)
    transport = on_fake_clock(remedy.AsyncRemedyTransport(credentials=creds), clock)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        assert (await client.get(unpaced.resource_url)).json()["token_type"] == "DPoP"
