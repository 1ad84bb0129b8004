"""The device authorization grant (RFC 8628): ``DeviceCode``, its login and what follows.

Against a device authorization endpoint, a token endpoint and an API on ``MockTransport``, on a
fake clock (every poll's time is read from it, no wall-clock wait), sync and async (asyncio and
trio): the user's code handed over, polling at the interval, ``authorization_pending``,
``slow_down`` (+5 s for good), ``access_denied``, ``expired_token``, the bounds (``expires_in``,
``timeout=``, a deadline) and cancellation, then the refresh token taking over. The same against
node-oidc-provider is in ``test_device_rig.py``.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import DeviceAuthorization, DeviceCode, DPoPKey, MemoryStore
from httpx_remedy.testing import no_wait
from httpx_remedy.testing._server_dpop import DPoPChecker, ProofRejected

from .conftest import FakeClock, async_client, sync_client

AUTH = "https://auth.example.com"
DEVICE_URL = AUTH + "/device"
TOKEN_URL = AUTH + "/token"
API = "https://api.example.com/items"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Poll:
    at: float
    form: dict[str, str]
    answer: str
    proof: bool = False
    nonce: str | None = None


@dataclass
class DeviceServer:
    """``answers``: what the polls get in turn (``pending``, ``slow_down``, ``denied``,
    ``expired``, ``approve``, ``nonce``); once they run out, ``pending`` for ever."""

    clock: FakeClock
    answers: deque[str] = field(default_factory=deque)
    codes: dict[str, Any] = field(
        default_factory=lambda: {
            "device_code": "dev-code-0123456789",
            "user_code": "WDJB-MJHT",
            "verification_uri": "https://auth.example.com/activate",
            "verification_uri_complete": "https://auth.example.com/activate?user_code=WDJB-MJHT",
            "expires_in": 600,
            "interval": 5,
        }
    )
    refresh_tokens: bool = True
    device_requests: list[dict[str, Any]] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)
    refreshes: list[str] = field(default_factory=list)
    api: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    issued: int = 0
    checker: DPoPChecker | None = None

    def _token(self, proof: bool) -> httpx.Response:
        self.issued += 1
        data: dict[str, Any] = {
            "access_token": f"access-{self.issued}",
            "token_type": "DPoP" if proof else "Bearer",
            "expires_in": 3600,
            "scope": "read",
        }
        if self.refresh_tokens:
            data["refresh_token"] = f"refresh-{self.issued}"
        return httpx.Response(200, json=data)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if str(request.url) == DEVICE_URL:
            self.device_requests.append(
                {"form": form, "authorization": request.headers.get("authorization")}
            )
            return httpx.Response(200, json=self.codes)
        if str(request.url) == TOKEN_URL:
            proofs = request.headers.get_list("dpop")
            nonce = None
            if self.checker is not None and proofs:
                try:
                    checked = self.checker.check(proofs, "POST", TOKEN_URL, self.clock.time())
                    nonce = checked.claims.get("nonce")
                except ProofRejected as error:
                    headers = {"DPoP-Nonce": self.checker.nonce}
                    self.polls.append(Poll(self.clock.now, form, error.error, True))
                    return httpx.Response(400, json={"error": error.error}, headers=headers)
            if form.get("grant_type") == "refresh_token":
                self.refreshes.append(form["refresh_token"])
                return self._token(bool(proofs))
            answer = self.answers.popleft() if self.answers else "pending"
            self.polls.append(Poll(self.clock.now, form, answer, bool(proofs), nonce))
            if answer == "approve":
                return self._token(bool(proofs))
            error = {
                "pending": "authorization_pending",
                "slow_down": "slow_down",
                "denied": "access_denied",
                "expired": "expired_token",
            }[answer]
            return httpx.Response(
                400,
                json={
                    "error": error,
                    # A careless server that echoes what it was sent.
                    "error_description": f"device_code {form.get('device_code')} is {answer}",
                },
            )
        authorization = request.headers.get("authorization", "")
        self.api.append(authorization)
        if authorization.partition(" ")[2] in self.revoked:
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return httpx.Response(401, headers=challenge)
        return httpx.Response(200, json={"ok": True})

    def poll_times(self) -> list[float]:
        start = self.clock.start
        return [p.at - start for p in self.polls]


@pytest.fixture
def server(clock: FakeClock) -> DeviceServer:
    return DeviceServer(clock)


def device(**options: Any) -> DeviceCode:
    options.setdefault("scope", "offline_access read")
    options.setdefault("on_user_code", lambda codes: None)
    return DeviceCode(DEVICE_URL, TOKEN_URL, "cli", **options)


# ---- the login


def test_the_login_shows_the_code_polls_and_continues(
    clock: FakeClock, server: DeviceServer
) -> None:
    shown: list[DeviceAuthorization] = []
    saved: list[dict[str, Any]] = []
    server.answers.extend(["pending", "slow_down", "pending", "approve"])
    creds = device(on_user_code=shown.append, on_token=saved.append)
    with sync_client(server, clock, credentials=creds) as client:
        assert client.get(API).json() == {"ok": True}
        assert client.get(API).status_code == 200  # logged in once
    assert shown == [
        DeviceAuthorization(
            user_code="WDJB-MJHT",
            verification_uri="https://auth.example.com/activate",
            verification_uri_complete="https://auth.example.com/activate?user_code=WDJB-MJHT",
            expires_in=600.0,
            interval=5.0,
        )
    ]
    assert str(shown[0]) == (
        "To sign in, open https://auth.example.com/activate?user_code=WDJB-MJHT and enter the "
        "code WDJB-MJHT (within 10 minutes)."
    )
    # The interval before the first poll, 5 s more for good after slow_down.
    assert server.poll_times() == [5, 10, 20, 30]
    assert clock.sleeps == [5, 5, 10, 10]
    assert [p.form for p in server.polls] == [
        {"grant_type": DEVICE_GRANT, "device_code": "dev-code-0123456789", "client_id": "cli"}
    ] * 4
    assert server.device_requests == [
        {"form": {"scope": "offline_access read", "client_id": "cli"}, "authorization": None}
    ]
    assert server.api == ["Bearer access-1", "Bearer access-1"]
    assert [t["refresh_token"] for t in saved] == ["refresh-1"]


@pytest.mark.anyio
async def test_the_login_async(clock: FakeClock, server: DeviceServer) -> None:
    server.answers.extend(["pending", "slow_down", "approve"])
    shown: list[DeviceAuthorization] = []
    async with async_client(server, clock, credentials=device(on_user_code=shown.append)) as client:
        assert (await client.get(API)).status_code == 200
        assert (await client.get(API)).status_code == 200
    assert len(shown) == 1
    assert server.poll_times() == [5, 10, 20]
    assert len(server.device_requests) == 1


def test_the_interval_is_5s_when_the_server_names_none(
    clock: FakeClock, server: DeviceServer
) -> None:
    del server.codes["interval"]
    server.answers.extend(["pending", "approve"])
    with sync_client(server, clock, credentials=device()) as client:
        client.get(API)
    assert server.poll_times() == [5, 10]


def test_a_confidential_client_authenticates_both_requests(
    clock: FakeClock, server: DeviceServer
) -> None:
    server.answers.append("approve")
    creds = device(client_secret="cli-s3cret", scope=None)
    with sync_client(server, clock, credentials=creds) as client:
        client.get(API)
    basic = "Basic " + base64.b64encode(b"cli:cli-s3cret").decode()
    assert server.device_requests == [{"form": {}, "authorization": basic}]
    assert server.polls[0].form == {
        "grant_type": DEVICE_GRANT,
        "device_code": "dev-code-0123456789",
    }


def test_googles_verification_url_is_read(clock: FakeClock, server: DeviceServer) -> None:
    server.codes = {
        "device_code": "d",
        "user_code": "U",
        "verification_url": "https://www.google.com/device",
        "expires_in": "1800",
    }
    server.answers.append("approve")
    shown: list[DeviceAuthorization] = []
    with sync_client(server, clock, credentials=device(on_user_code=shown.append)) as client:
        client.get(API)
    assert shown[0].verification_uri == "https://www.google.com/device"
    assert shown[0].verification_uri_complete is None
    assert shown[0].expires_in == 1800.0


def test_the_default_prints_the_code_to_stderr(
    clock: FakeClock, server: DeviceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.answers.append("approve")
    creds = DeviceCode(DEVICE_URL, TOKEN_URL, "cli")
    with sync_client(server, clock, credentials=creds) as client:
        client.get(API)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "enter the code WDJB-MJHT" in captured.err


# ---- how a login ends without tokens


def test_access_denied_is_raised_and_remembered(clock: FakeClock, server: DeviceServer) -> None:
    server.answers.extend(["pending", "denied"])
    creds = device()
    with sync_client(server, clock, credentials=creds) as client:
        with pytest.raises(remedy.AccessDenied) as caught:
            client.get(API)
        with pytest.raises(remedy.ReauthenticationRequired):
            client.get(API)
        assert len(server.device_requests) == 1
        creds.reset()  # the user wants to try again: a new login
        server.answers.append("approve")
        assert client.get(API).status_code == 200
    assert "dev-code-0123456789" not in str(caught.value)
    assert "dev-code-0123456789" not in repr(caught.value.error_description)
    assert len(server.device_requests) == 2


def test_expired_token_is_raised(clock: FakeClock, server: DeviceServer) -> None:
    server.answers.extend(["pending", "expired"])
    with (
        sync_client(server, clock, credentials=device()) as client,
        pytest.raises(remedy.ExpiredToken) as caught,
    ):
        client.get(API)
    assert caught.value.entry.remedy is remedy.Remedy.REAUTHENTICATE
    assert len(server.polls) == 2


@pytest.mark.parametrize(
    ("options", "cap", "polls"),
    [
        ({}, "the device code's expires_in (30s)", 6),
        ({"timeout": 12}, "DeviceCode(timeout=12)", 2),
    ],
)
def test_the_login_stops_when_its_time_is_up(
    clock: FakeClock, server: DeviceServer, options: dict[str, Any], cap: str, polls: int
) -> None:
    server.codes["expires_in"] = 30
    with (
        sync_client(server, clock, credentials=device(**options)) as client,
        pytest.raises(remedy.LoginTimeout) as caught,
    ):
        client.get(API)
    assert caught.value.cap == cap
    assert caught.value.polls == polls == len(server.polls)
    assert isinstance(caught.value, TimeoutError)
    assert f"{cap} ran out" in str(caught.value)
    assert clock.now - clock.start <= (12 if options else 30)


def test_a_deadline_on_the_request_bounds_the_login(clock: FakeClock, server: DeviceServer) -> None:
    retry = remedy.Retry(deadline=17, budget=remedy.RetryBudget())
    with (
        sync_client(server, clock, credentials=device(), retry=retry) as client,
        pytest.raises(remedy.LoginTimeout) as caught,
    ):
        client.get(API)
    assert caught.value.cap == "the deadline of the request that needed the token"
    assert server.poll_times() == [5, 10, 15]


def test_a_cancel_event_stops_the_login(clock: FakeClock, server: DeviceServer) -> None:
    cancel = threading.Event()
    server.answers.extend(["pending", "pending"])
    creds = device(cancel=cancel)
    original = server.__call__

    def handler(request: httpx.Request) -> httpx.Response:
        if len(server.polls) == 1:
            cancel.set()  # the user presses Cancel during the second poll
        return original(request)

    with (
        sync_client(handler, clock, credentials=creds) as client,
        pytest.raises(remedy.LoginCancelled) as caught,
    ):
        client.get(API)
    assert caught.value.polls == 2
    assert "cancelled" in str(caught.value)


def test_what_on_user_code_raises_ends_the_login(clock: FakeClock, server: DeviceServer) -> None:
    def refuse(codes: DeviceAuthorization) -> None:
        raise KeyboardInterrupt

    with (
        sync_client(server, clock, credentials=device(on_user_code=refuse)) as client,
        pytest.raises(KeyboardInterrupt),
    ):
        client.get(API)
    assert server.polls == []


def test_a_dpop_nonce_at_a_poll_rides_on_the_next_poll(
    clock: FakeClock, server: DeviceServer
) -> None:
    server.checker = DPoPChecker(require_nonce=True)
    server.answers.extend(["pending", "approve"])
    key = DPoPKey.generate()
    with sync_client(server, clock, credentials=device(dpop=key)) as client:
        assert client.get(API).status_code == 200
    assert [(p.answer, p.proof, p.nonce) for p in server.polls] == [
        ("use_dpop_nonce", True, None),
        ("pending", True, server.checker.nonce),
        ("approve", True, server.checker.nonce),
    ]
    assert server.poll_times() == [5, 10, 15]  # paced like any poll: no burst
    assert server.api == ["DPoP access-1"]


def test_a_second_nonce_refusal_in_a_row_is_raised(clock: FakeClock, server: DeviceServer) -> None:
    checker = DPoPChecker(require_nonce=True)
    server.checker = checker
    original = checker.check

    def always_stale(*args: Any, **kwargs: Any) -> Any:
        checker.rotate()
        checker.rotate()
        return original(*args, **kwargs)

    checker.check = always_stale  # type: ignore[method-assign]
    with (
        sync_client(server, clock, credentials=device(dpop=DPoPKey.generate())) as client,
        pytest.raises(remedy.UseDPoPNonce),
    ):
        client.get(API)
    assert [p.answer for p in server.polls] == ["use_dpop_nonce", "use_dpop_nonce"]


# ---- after the login: the refresh token


def test_the_refresh_token_takes_over(clock: FakeClock, server: DeviceServer) -> None:
    saved: list[dict[str, Any]] = []
    server.answers.append("approve")
    with sync_client(server, clock, credentials=device(on_token=saved.append)) as client:
        client.get(API)
        clock.sleep(3600)  # the access token expires: refreshed, not a new login
        client.get(API)
    assert len(server.device_requests) == 1
    assert server.refreshes == ["refresh-1"]
    assert [t["refresh_token"] for t in saved] == ["refresh-1", "refresh-2"]
    assert server.api == ["Bearer access-1", "Bearer access-2"]


def test_a_saved_pair_needs_no_login(clock: FakeClock, server: DeviceServer) -> None:
    pair = {"access_token": "saved", "refresh_token": "saved-refresh"}
    with sync_client(server, clock, credentials=device(token=pair)) as client:
        client.get(API)  # used as is
        server.revoked.add("saved")
        client.get(API)  # rejected: refreshed with the saved refresh token, not a login
    assert server.device_requests == []
    assert server.refreshes == ["saved-refresh"]
    assert server.api == ["Bearer saved", "Bearer saved", "Bearer access-1"]


def test_without_a_refresh_token_an_expired_login_logs_in_again(
    clock: FakeClock, server: DeviceServer
) -> None:
    server.refresh_tokens = False
    server.answers.extend(["approve", "approve"])
    shown: list[DeviceAuthorization] = []
    with sync_client(server, clock, credentials=device(on_user_code=shown.append)) as client:
        client.get(API)
        clock.sleep(3600)
        client.get(API)
    assert len(shown) == 2


def test_a_login_through_a_store_is_shared(clock: FakeClock, server: DeviceServer) -> None:
    """Another process with the same store and user takes the tokens the first one got."""
    store = MemoryStore()
    server.answers.append("approve")
    first = device(store=store, share_as="alice")
    second = device(store=store, share_as="alice")
    with sync_client(server, clock, credentials=first) as client:
        client.get(API)
    with sync_client(server, clock, credentials=second) as client:
        client.get(API)
    assert len(server.device_requests) == 1
    assert server.api == ["Bearer access-1", "Bearer access-1"]
    assert second.token["refresh_token"] == "refresh-1"
    with pytest.raises(ValueError, match="share_as="):
        device(store=store)


# ---- the testing clock and waits


def test_no_wait_skips_the_polling_sleeps(server: DeviceServer) -> None:
    server.answers.extend(["pending", "slow_down", "approve"])
    transport = remedy.RemedyTransport(httpx.MockTransport(server), credentials=device())
    started = time.monotonic()
    with no_wait(), httpx.Client(transport=transport) as client:
        assert client.get(API).status_code == 200
    assert time.monotonic() - started < 2
    assert len(server.polls) == 3


# ---- what the endpoints may answer instead


def test_the_device_endpoints_refusals_are_typed(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    with (
        sync_client(handler, clock, credentials=device()) as client,
        pytest.raises(remedy.InvalidClient),
    ):
        client.get(API)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, json={"error": "invalid_scope"}), remedy.InvalidScope),
        (httpx.Response(200, json={"user_code": "U"}), remedy.TokenResponseError),
        (httpx.Response(200, text="<html>login</html>"), remedy.TokenResponseError),
    ],
)
def test_a_device_answer_without_codes_says_so(
    clock: FakeClock, answer: httpx.Response, expected: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer

    with (
        sync_client(handler, clock, credentials=device()) as client,
        pytest.raises(expected) as caught,
    ):
        client.get(API)
    if expected is remedy.TokenResponseError:
        assert "check device_authorization_url" in str(caught.value)


def test_device_code_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="device authorization endpoint"):
        DeviceCode("", TOKEN_URL, "cli")
    with pytest.raises(remedy.InsecureTransportError):
        DeviceCode("http://auth.example.com/device", TOKEN_URL, "cli")
    with pytest.raises(ValueError, match="timeout"):
        DeviceCode(DEVICE_URL, TOKEN_URL, "cli", timeout=0)
    with pytest.raises(TypeError, match=r"threading\.Event"):
        DeviceCode(DEVICE_URL, TOKEN_URL, "cli", cancel=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        DeviceCode(DEVICE_URL, TOKEN_URL, "cli", on_user_code="print")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="access_token or a refresh_token"):
        DeviceCode(DEVICE_URL, TOKEN_URL, "cli", token={"expires_in": 1})


# ---- cancellation on the wall clock


@pytest.mark.integration
def test_a_cancel_event_interrupts_the_wait(server: DeviceServer) -> None:
    cancel = threading.Event()
    creds = device(cancel=cancel)
    transport = remedy.RemedyTransport(httpx.MockTransport(server), credentials=creds)
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with httpx.Client(transport=transport) as client, pytest.raises(remedy.LoginCancelled):
        client.get(API)  # the interval is 5 s: cancelled within it
    assert time.monotonic() - started < 1.5
    assert server.polls == []


@pytest.mark.integration
@pytest.mark.anyio
async def test_anyio_cancellation_stops_the_login(server: DeviceServer) -> None:
    transport = remedy.AsyncRemedyTransport(httpx.MockTransport(server), credentials=device())
    started = time.monotonic()
    async with httpx.AsyncClient(transport=transport) as client:
        with anyio.move_on_after(0.2) as scope:
            await client.get(API)
    assert scope.cancelled_caught
    assert time.monotonic() - started < 1.5
    assert server.polls == []


@pytest.mark.integration
@pytest.mark.anyio
async def test_a_cancel_event_interrupts_the_async_wait(server: DeviceServer) -> None:
    cancel = threading.Event()
    transport = remedy.AsyncRemedyTransport(
        httpx.MockTransport(server), credentials=device(cancel=cancel)
    )
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(remedy.LoginCancelled):
            await client.get(API)
    assert time.monotonic() - started < 1.5


def test_set_token_tells_on_token_and_reset_forgets_the_pair() -> None:
    saved: list[dict[str, Any]] = []
    creds = device(on_token=saved.append)
    assert creds.logs_in(None)
    creds.set_token({"access_token": "a", "refresh_token": "r"})
    assert saved == [{"access_token": "a", "refresh_token": "r"}]
    assert not creds.logs_in(None)
    creds.reset()
    assert creds.logs_in(None)
    assert creds.token == {}
    assert creds.manager.token is None


def test_the_login_errors_pickle_and_say_what_ran_out() -> None:
    import pickle

    timeout = pickle.loads(pickle.dumps(remedy.LoginTimeout(12.0, "DeviceCode(timeout=12)", 2)))
    assert isinstance(timeout, remedy.LoginTimeout)
    assert (timeout.waited, timeout.cap, timeout.polls) == (12.0, "DeviceCode(timeout=12)", 2)
    assert str(timeout).startswith("the device login was not approved in time: DeviceCode(")
    cancelled = pickle.loads(pickle.dumps(remedy.LoginCancelled(1.5, 1)))
    assert (cancelled.waited, cancelled.polls) == (1.5, 1)
    assert "1 poll of the token endpoint" in str(cancelled)
