"""The token lifecycle, fast: a scripted token endpoint and API (``helpers.FakeAS``) behind
``httpx.MockTransport``.

Time only moves on the ``FakeClock``. A test that takes the ``mode`` fixture runs with the sync
transport and the async one under asyncio and trio. The same behaviours are exercised over real
sockets against an authlib server in ``test_tokens_real.py``; the token flows command by
command, without a transport, in ``test_flow.py``.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import (
    ClientCredentials,
    InsecureTransportError,
    ReauthenticationRequired,
    RefreshToken,
    Token,
    TokenResponseError,
    TokenSource,
)
from httpx_remedy.testing import error_response, no_wait

from .helpers import (
    API,
    SECRET,
    TOKEN_URL,
    FakeAS,
    FakeClock,
    Mode,
    actions,
    async_client,
    bearer,
    cc,
    form,
    sync_client,
)

# -- Token.from_response -----------------------------------------------------------------


def test_token_from_expires_in_refreshes_leeway_before_expiry() -> None:
    token = Token.from_response(
        {"access_token": "a", "expires_in": 3600}, now=100.0, leeway=60, jitter=0
    )
    assert token.expires_at == 3700.0
    assert token.refresh_at == 3640.0
    assert token.fresh(3639.9)
    assert not token.fresh(3640.0)
    assert token.usable(3699.9)
    assert not token.usable(3700.0)


def test_token_refresh_time_is_jittered_within_bounds() -> None:
    times = {
        Token.from_response({"access_token": "a", "expires_in": 3600}, now=0.0).refresh_at
        for _ in range(100)
    }
    assert all(t is not None and 3600 - 60 - 30 <= t <= 3600 - 60 for t in times)
    assert len(times) > 1  # a fleet does not refresh in the same instant


def test_token_from_expires_at_uses_the_wall_clock_once() -> None:
    wall = 1_764_000_000.0
    token = Token.from_response(
        {"access_token": "a", "expires_at": wall + 600}, now=10.0, wall_now=wall, jitter=0
    )
    assert token.expires_at == 610.0
    assert token.refresh_at == 550.0
    past = Token.from_response(
        {"access_token": "a", "expires_at": wall - 5}, now=10.0, wall_now=wall
    )
    assert past.expires_at == 10.0
    assert not past.fresh(10.0)


@pytest.mark.parametrize("lifetime", [10, 60, 100])
def test_short_lifetimes_refresh_at_half_life(lifetime: int) -> None:
    for _ in range(20):
        token = Token.from_response({"access_token": "a", "expires_in": lifetime}, now=0.0)
        assert token.refresh_at == lifetime / 2


def test_a_token_without_expiry_is_never_refreshed_proactively() -> None:
    token = Token.from_response({"access_token": "a"}, now=0.0)
    assert token.expires_at is None
    assert token.refresh_at is None
    assert token.fresh(1e12)
    assert token.usable(1e12)


@pytest.mark.parametrize(
    ("value", "expires_at"),
    [("120", 120.0), (120.5, 120.5), ("soon", None), (True, None), (-5, None), (None, None)],
)
def test_expires_in_values(value: object, expires_at: float | None) -> None:
    token = Token.from_response({"access_token": "a", "expires_in": value}, now=0.0)
    assert token.expires_at == expires_at


def test_token_type_and_authorization() -> None:
    assert Token.from_response({"access_token": "a", "token_type": "bearer"}).authorization == (
        "Bearer a"
    )
    assert Token.from_response({"access_token": "a"}).token_type == "Bearer"
    assert Token.from_response({"access_token": "a", "token_type": "DPoP"}).authorization == (
        "DPoP a"
    )


@pytest.mark.parametrize("data", [{}, {"access_token": ""}, {"access_token": 5}])
def test_token_without_access_token_is_refused(data: Mapping[str, Any]) -> None:
    with pytest.raises(ValueError, match="access_token"):
        Token.from_response(data)


def test_token_repr_shows_no_secret() -> None:
    token = Token.from_response(
        {"access_token": "AccessSecret", "refresh_token": "RefreshSecret", "scope": "read"}
    )
    assert token.refresh_token == "RefreshSecret"
    text = repr(token) + str(token)
    assert "AccessSecret" not in text
    assert "RefreshSecret" not in text
    assert "read" in text


# -- ClientCredentials: the token request, the Bearer header -----------------------------


def check_basic_token_request(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    expected = base64.b64encode(f"app:{SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert form(request) == {"grant_type": "client_credentials", "scope": "read"}


def check_post_token_request(request: httpx.Request) -> None:
    assert "authorization" not in request.headers
    assert form(request) == {
        "grant_type": "client_credentials",
        "scope": "read",
        "client_id": "app",
        "client_secret": SECRET,
    }


@pytest.mark.parametrize(
    ("method", "check"),
    [
        ("client_secret_basic", check_basic_token_request),
        ("client_secret_post", check_post_token_request),
    ],
)
def test_client_credentials_token_request_and_bearer(
    mode: Mode, clock: FakeClock, method: str, check: Callable[[httpx.Request], None]
) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc(auth_method=method)) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"
        assert client.get(API + "/items").status_code == 200
    token_request, *others = fake.token_requests
    assert others == []
    check(token_request)
    assert [token for _, token in fake.calls] == ["access-1", "access-1"]
    assert fake.requests[0] is token_request  # fetched before the first API request


def test_no_scope_sends_no_scope_param(clock: FakeClock) -> None:
    fake = FakeAS()
    creds = ClientCredentials(TOKEN_URL, "app", SECRET)
    with sync_client(fake, clock, credentials=creds) as client:
        client.get(API + "/items")
    assert form(fake.token_requests[0]) == {"grant_type": "client_credentials"}


def test_credentials_are_validated() -> None:
    with pytest.raises(ValueError, match="client_secret"):
        ClientCredentials(TOKEN_URL, "app", auth_method="client_secret_post")
    with pytest.raises(ValueError, match="private_key"):
        ClientCredentials(TOKEN_URL, "app", auth_method="private_key_jwt")
    with pytest.raises(ValueError, match="client_id"):
        ClientCredentials(TOKEN_URL, "", SECRET)
    with pytest.raises(ValueError, match="auth_method"):
        ClientCredentials(TOKEN_URL, "app", SECRET, auth_method="magic")
    with pytest.raises(TypeError, match="credentials"):
        remedy.RemedyTransport(credentials="token")  # type: ignore[arg-type]


# -- security: insecure transport, origins ------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://auth.example.com/token", "http://10.0.0.1/token", "ftp://x/token"]
)
def test_plain_http_token_url_is_refused(url: str) -> None:
    with pytest.raises(InsecureTransportError):
        ClientCredentials(url, "app", SECRET)
    with pytest.raises(InsecureTransportError):
        RefreshToken(url, "app", token={"refresh_token": "r"})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "http://[::1]:9000/token",
        "http://127.9.9.9/token",
    ],
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert ClientCredentials(url, "app", SECRET).token_url == url
    origin = url.rsplit("/", 1)[0]
    seen: list[httpx.Request] = []
    transport = remedy.RemedyTransport(
        httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200)),
        credentials=DictSource(FakeAS()),
        origins=[origin],
    )
    with httpx.Client(transport=transport) as client:
        client.get(origin + "/items")
    assert seen[0].headers["Authorization"] == "Bearer source-1"  # the token goes there


def test_plain_http_origins_are_refused() -> None:
    with pytest.raises(InsecureTransportError):
        remedy.RemedyTransport(credentials=cc(), origins=["http://api.example.com"])
    with pytest.raises(InsecureTransportError):
        remedy.AsyncRemedyTransport(credentials=cc(), origins="http://api.example.com")


def test_first_origin_over_plain_http_is_refused(clock: FakeClock) -> None:
    fake = FakeAS()
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(InsecureTransportError),
    ):
        client.get("http://api.example.com/items")
    assert fake.requests == []  # neither the token request nor the API request was sent


def test_token_goes_only_to_the_first_origin_by_default(clock: FakeClock) -> None:
    fake = FakeAS()
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        client.get("https://other.example.com/items")
        client.get("https://api.example.com:8443/items")
        client.get("https://evil.api.example.com/items")
        client.get(API + "/items")
    assert [token for _, token in fake.calls] == ["access-1", None, None, None, "access-1"]


def test_token_goes_only_to_the_bound_origins(clock: FakeClock) -> None:
    fake = FakeAS()
    origins = [API, "https://files.example.com:8443"]
    with sync_client(fake, clock, credentials=cc(), origins=origins) as client:
        client.get("https://other.example.com/items")  # the first request binds nothing
        client.get(API + "/items")
        client.get("https://files.example.com:8443/items")
        client.get("https://files.example.com/items")
    assert [token for _, token in fake.calls] == [None, "access-1", "access-1", None]


def test_a_same_origin_redirect_is_authorized_like_any_request(clock: FakeClock) -> None:
    """A same-origin redirect gets the token again (httpx copies no header of ours: the token
    travels on a copy of the request), so a 401 on the redirected request refreshes and
    replays."""
    fake = FakeAS()

    def moved(request: httpx.Request) -> httpx.Response:
        fake.revoke_all()
        return httpx.Response(302, headers={"Location": API + "/items"})

    with sync_client(fake, clock, credentials=cc()) as client:
        client.follow_redirects = True
        client.get(API + "/items")
        fake.api_script.append(moved)
        assert client.get(API + "/old").json()["token"] == "access-2"
    assert fake.calls[1:] == [("/old", "access-1"), ("/items", "access-1"), ("/items", "access-2")]


def test_an_authorization_header_of_the_callers_is_left_alone(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.valid.add("mine")
    fake.scopes["mine"] = "read"
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items", headers={"Authorization": "Bearer mine"})
    assert fake.token_requests == []
    assert bearer(fake.api_requests[0]) == "mine"


# -- RefreshToken ---------------------------------------------------------------------------


def pair(access: str = "access-0", refresh: str = "refresh-0", **extra: Any) -> dict[str, Any]:
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", **extra}


def test_refresh_token_rotation_is_kept_and_persisted(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    saved: list[dict[str, Any]] = []
    creds = RefreshToken(
        TOKEN_URL, "app", token=pair(), client_secret=SECRET, on_token=saved.append
    )
    with mode.client(fake, clock, credentials=creds) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"  # access-0 refused
        fake.revoke_all()
        assert client.get(API + "/items").json()["token"] == "access-2"
    first, second = fake.token_requests
    assert form(first) == {"grant_type": "refresh_token", "refresh_token": "refresh-0"}
    assert form(second) == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
    assert first.headers["authorization"].startswith("Basic ")
    assert [(t["access_token"], t["refresh_token"]) for t in saved] == [
        ("access-1", "refresh-1"),
        ("access-2", "refresh-2"),
    ]
    assert creds.token["refresh_token"] == "refresh-2"


def test_refresh_token_kept_when_the_server_does_not_rotate(clock: FakeClock) -> None:
    fake = FakeAS(rotate=False)
    saved: list[dict[str, Any]] = []
    creds = RefreshToken(
        TOKEN_URL, "app", token=pair(), client_secret=SECRET, on_token=saved.append
    )
    with sync_client(fake, clock, credentials=creds) as client:
        client.get(API + "/items")
        fake.revoke_all()
        client.get(API + "/items")
    assert [form(r)["refresh_token"] for r in fake.token_requests] == ["refresh-0", "refresh-0"]
    assert [(t["access_token"], t["refresh_token"]) for t in saved] == [
        ("access-1", "refresh-0"),
        ("access-2", "refresh-0"),
    ]
    assert creds.token["refresh_token"] == "refresh-0"


def test_a_stored_pair_is_used_until_rejected(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.valid.add("access-0")
    fake.scopes["access-0"] = "read"
    creds = RefreshToken(TOKEN_URL, "app", token=pair(expires_in=3600), client_secret=SECRET)
    with sync_client(fake, clock, credentials=creds) as client:
        assert client.get(API + "/items").json()["token"] == "access-0"
    assert fake.token_requests == []


def test_a_refresh_token_alone_is_refreshed_first(clock: FakeClock) -> None:
    fake = FakeAS()
    creds = RefreshToken(TOKEN_URL, "app", token={"refresh_token": "refresh-0"})
    with sync_client(fake, clock, credentials=creds) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"
    (request,) = fake.token_requests
    assert "authorization" not in request.headers  # a public client: client_id in the body
    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-0",
        "client_id": "app",
    }
    assert fake.requests[0] is request


def test_set_token_replaces_the_pair_and_notifies(clock: FakeClock) -> None:
    fake = FakeAS()
    saved: list[dict[str, Any]] = []
    creds = RefreshToken(
        TOKEN_URL, "app", token=pair(), client_secret=SECRET, on_token=saved.append
    )
    fake.valid.add("access-9")
    fake.scopes["access-9"] = "read"
    creds.set_token(pair("access-9", "refresh-9"))
    assert saved == [pair("access-9", "refresh-9")]
    assert creds.token == pair("access-9", "refresh-9")
    creds.set_token(pair("access-9", "refresh-9"), notify=False)
    assert len(saved) == 1
    with sync_client(fake, clock, credentials=creds) as client:
        assert client.get(API + "/items").json()["token"] == "access-9"
    assert fake.token_requests == []
    with pytest.raises(ValueError, match="refresh_token"):
        creds.set_token({"access_token": "x"})


def test_set_token_clears_an_earlier_rejection(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(**error_response("invalid_grant")))
    creds = RefreshToken(TOKEN_URL, "app", token=pair(), client_secret=SECRET)
    with sync_client(fake, clock, credentials=creds) as client:
        with pytest.raises(remedy.InvalidGrant):
            client.get(API + "/items")
        with pytest.raises(ReauthenticationRequired):
            client.get(API + "/items")
        assert len(fake.token_requests) == 1
        creds.set_token({"refresh_token": "refresh-new"})
        assert client.get(API + "/items").status_code == 200
    assert form(fake.token_requests[-1])["refresh_token"] == "refresh-new"


def test_persisted_token_records_when_it_expires(clock: FakeClock) -> None:
    """What on_token hands over must say when the token expires, not just its lifetime
    (``expires_in`` is relative to a moment the stored dict no longer knows): a process that
    restores the pair an hour later would otherwise take a dead token for a fresh one."""
    fake = FakeAS()
    saved: list[dict[str, Any]] = []
    creds = RefreshToken(
        TOKEN_URL, "app", token=pair(), client_secret=SECRET, on_token=saved.append
    )
    with sync_client(fake, clock, credentials=creds) as client:
        client.get(API + "/items")
    (stored,) = saved
    expires_at = stored.get("expires_at")
    assert isinstance(expires_at, (int, float))
    # by the transport's wall clock, or the real one
    assert any(abs(expires_at - (now + 3600)) < 5 for now in (clock.time(), time.time()))

    # Two hours later another process restores the pair: the absolute time tells it the
    # access token is dead, whatever the stale expires_in says, so it refreshes first.
    later = {**stored, "expires_at": time.time() - 3600}
    fake.revoke_all()
    sent_before = len(fake.calls)
    restored = RefreshToken(TOKEN_URL, "app", token=later, client_secret=SECRET)
    transport = remedy.RemedyTransport(
        httpx.MockTransport(fake),
        credentials=restored,
        retry=remedy.Retry(budget=remedy.RetryBudget()),
    )
    with httpx.Client(transport=transport) as client:  # real clocks, as set_token uses
        assert client.get(API + "/items").json()["token"] == "access-2"
    # the dead token was never sent
    assert fake.calls[sent_before:] == [("/items", "access-2")]


# -- TokenSource ----------------------------------------------------------------------------


class DictSource:
    def __init__(self, fake: FakeAS) -> None:
        self.fake = fake
        self.calls: list[str | None] = []
        self.threads: list[int] = []

    def fetch_token(self, scope: str | None) -> Mapping[str, Any]:
        self.calls.append(scope)
        self.threads.append(threading.get_ident())
        access = f"source-{len(self.calls)}"
        self.fake.valid.add(access)
        self.fake.scopes[access] = scope or "read"
        return {"access_token": access, "expires_in": 3600, "scope": scope or "read"}


class AsyncSource:
    def __init__(self, fake: FakeAS) -> None:
        self.fake = fake
        self.calls: list[str | None] = []

    def fetch_token(self, scope: str | None) -> Mapping[str, Any]:
        raise AssertionError("the async transport must prefer afetch_token")

    async def afetch_token(self, scope: str | None) -> Token:
        await anyio.sleep(0)
        self.calls.append(scope)
        access = f"async-{len(self.calls)}"
        self.fake.valid.add(access)
        self.fake.scopes[access] = "read"
        return Token(access_token=access, scope="read")


def test_token_source_protocol() -> None:
    assert isinstance(DictSource(FakeAS()), TokenSource)


def test_sync_token_source(mode: Mode, clock: FakeClock) -> None:
    """The sync transport calls it; the async one calls it in a worker thread, so that it
    never blocks the event loop."""
    fake = FakeAS()
    source = DictSource(fake)
    with mode.client(fake, clock, credentials=source) as client:
        assert client.get(API + "/items").json()["token"] == "source-1"
        assert client.get(API + "/items").json()["token"] == "source-1"
        fake.revoke_all()
        assert client.get(API + "/items").json()["token"] == "source-2"
        caller = mode.run(threading.get_ident)  # the thread the client is called from
    assert source.calls == [None, None]
    assert fake.token_requests == []
    if mode.is_async:
        assert caller not in source.threads  # the event loop's thread
    else:
        assert source.threads == [caller, caller]


def test_token_source_returning_a_token(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.valid.add("given")
    fake.scopes["given"] = "read"

    class Given:
        def fetch_token(self, scope: str | None) -> Token:
            return Token(access_token="given")

    with sync_client(fake, clock, credentials=Given()) as client:
        assert client.get(API + "/items").json()["token"] == "given"


def test_a_token_source_error_is_raised_and_not_remembered(clock: FakeClock) -> None:
    fake = FakeAS()
    calls = []

    class Flaky:
        def fetch_token(self, scope: str | None) -> Mapping[str, Any]:
            calls.append(scope)
            if len(calls) == 1:
                raise ConnectionError("vault unreachable")
            fake.valid.add("ok")
            fake.scopes["ok"] = "read"
            return {"access_token": "ok"}

    with sync_client(fake, clock, credentials=Flaky()) as client:
        with pytest.raises(ConnectionError, match="vault"):
            client.get(API + "/items")
        assert client.get(API + "/items").status_code == 200
    assert len(calls) == 2


def test_async_only_source_is_refused_by_the_sync_transport(clock: FakeClock) -> None:
    class OnlyAsync:
        async def afetch_token(self, scope: str | None) -> Token:
            raise AssertionError

    with pytest.raises(TypeError, match="TokenSource"):
        remedy.RemedyTransport(credentials=OnlyAsync())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_async_token_source(clock: FakeClock) -> None:
    fake = FakeAS()
    source = AsyncSource(fake)
    async with async_client(fake, clock, credentials=source) as client:
        assert (await client.get(API + "/items")).json()["token"] == "async-1"
        fake.revoke_all()
        assert (await client.get(API + "/items")).json()["token"] == "async-2"
    assert source.calls == [None, None]


def test_step_up_asks_a_token_source_for_the_scope(clock: FakeClock) -> None:
    fake = FakeAS()
    source = DictSource(fake)
    with sync_client(fake, clock, credentials=source, step_up=True) as client:
        client.get(API + "/items")
        assert client.get(API + "/admin").status_code == 200
    assert source.calls == [None, "read admin"]


# -- proactive refresh (fake clock) -------------------------------------------------------


def test_proactive_refresh_before_expiry(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS(expires_in=3600)
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        clock.now += 3600 - 60 - 30 - 1  # before the earliest refresh time
        assert client.get(API + "/items").json()["token"] == "access-1"
        assert len(fake.token_requests) == 1
        clock.now += 32  # past the latest refresh time, before expiry
        assert client.get(API + "/items").json()["token"] == "access-2"
    assert len(fake.token_requests) == 2
    assert fake.requests[-2] is fake.token_requests[-1]  # fetched before the API request
    assert [token for _, token in fake.calls] == ["access-1", "access-1", "access-2"]


def test_a_short_lived_token_is_refreshed_at_half_life(clock: FakeClock) -> None:
    fake = FakeAS(expires_in=60)
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        clock.now += 29.9
        client.get(API + "/items")
        assert len(fake.token_requests) == 1
        clock.now += 0.2
        client.get(API + "/items")
        assert len(fake.token_requests) == 2


def test_a_token_without_expiry_is_kept_until_rejected(clock: FakeClock) -> None:
    fake = FakeAS(expires_in=None)
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        clock.now += 10**8
        client.get(API + "/items")
        assert len(fake.token_requests) == 1
        fake.revoke_all()
        assert client.get(API + "/items").json()["token"] == "access-2"


def test_wall_clock_jumps_do_not_expire_tokens(clock: FakeClock) -> None:
    fake = FakeAS(expires_in=3600)
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        clock.wall_start += 10 * 3600  # NTP step, suspend and resume of the wall clock...
        client.get(API + "/items")
        clock.wall_start -= 20 * 3600
        client.get(API + "/items")
    assert len(fake.token_requests) == 1


def test_failed_proactive_refresh_carries_on_with_the_current_token(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeAS(expires_in=3600)
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        clock.now += 3541  # refresh due, not yet expired
        fake.token_script.extend(httpx.Response(**error_response(503)) for _ in range(3))
        with caplog.at_level(logging.WARNING, logger="httpx_remedy"):
            assert client.get(API + "/items").json()["token"] == "access-1"
        assert "token refresh failed" in caplog.text
        assert len(fake.token_requests) == 4  # 1 + 3 attempts of the refresh
        clock.now += 60  # expired now, and the endpoint is still down
        fake.token_script.extend(httpx.Response(**error_response(503)) for _ in range(3))
        with pytest.raises(remedy.ServiceUnavailable):
            client.get(API + "/items")
        assert client.get(API + "/items").json()["token"] == "access-2"  # back up


# -- reactive refresh -----------------------------------------------------------------------


def test_invalid_token_refreshes_once_and_replays(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.revoke_all()
        response = client.post(API + "/items", json={"n": 1})
        assert response.json()["token"] == "access-2"
    assert len(fake.token_requests) == 2
    assert [token for _, token in fake.calls] == ["access-1", "access-1", "access-2"]
    assert fake.bodies[1] == fake.bodies[2]  # the same body replayed
    assert json.loads(fake.bodies[2]) == {"n": 1}


@pytest.mark.parametrize(
    ("challenge", "body"),
    [
        ('Bearer realm="api"', None),
        ("Bearer", None),
        ('Bearer error="invalid_token"', None),
        (None, {"error": "invalid_token"}),
        (None, {"message": "Unauthorized"}),
        # The challenge says "no error code"; the body's word is not an OAuth code.
        ('Bearer realm="api"', {"error": "unauthorized", "message": "token expired"}),
    ],
    ids=["realm", "bare", "invalid_token", "body-code", "body-message", "body-non-oauth-error"],
)
def test_401_without_an_error_code_refreshes_too(
    clock: FakeClock, challenge: str | None, body: dict[str, str] | None
) -> None:
    fake = FakeAS()
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    fake.api_script.append(httpx.Response(401, headers=headers, json=body))
    with sync_client(fake, clock, credentials=cc()) as client:
        assert client.get(API + "/items").json()["token"] == "access-2"
    assert len(fake.token_requests) == 2


@pytest.mark.parametrize("code", ["invalid_request", "invalid_client"])
def test_other_401s_do_not_refresh(clock: FakeClock, code: str) -> None:
    fake = FakeAS()
    fake.api_script.append(
        httpx.Response(
            401,
            headers={"WWW-Authenticate": f'Bearer error="{code}"'},
            json={"error": code},
        )
    )
    with sync_client(fake, clock, credentials=cc()) as client, pytest.raises(remedy.HTTPError):
        client.get(API + "/items")
    assert len(fake.token_requests) == 1


def test_a_401_to_a_request_the_transport_did_not_authorize_is_raised(clock: FakeClock) -> None:
    fake = FakeAS()
    with sync_client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.api_script.append(httpx.Response(**error_response("invalid_token")))
        with pytest.raises(remedy.InvalidToken):
            client.get("https://other.example.com/items")
    assert len(fake.token_requests) == 1


def test_replay_uses_a_token_refreshed_meanwhile_without_fetching(
    mode: Mode, clock: FakeClock
) -> None:
    """Request A is rejected with access-1 after request B already replaced it: A replays
    with access-2 and asks the token endpoint nothing."""
    fake = FakeAS()
    client = mode.client(fake, clock, credentials=cc())

    def rejected(b: httpx.Response) -> httpx.Response:
        assert b.json()["token"] == "access-2"  # ...B refreshed
        return httpx.Response(**error_response("invalid_token"))

    def slow(request: httpx.Request) -> Any:
        fake.revoke_all()  # access-1 dies while A is in flight...
        return mode.then(client.inside("GET", API + "/items"), rejected)

    with client:
        client.get(API + "/items")
        fake.api_script.append(slow)
        assert client.get(API + "/slow").json()["token"] == "access-2"
    assert len(fake.token_requests) == 2  # the first token and B's refresh: none for A
    assert fake.calls == [
        ("/items", "access-1"),
        ("/slow", "access-1"),
        ("/items", "access-1"),
        ("/items", "access-2"),
        ("/slow", "access-2"),
    ]


def test_a_token_minted_for_the_request_and_rejected_again_is_not_refreshed_again(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.revoke_all()
        fake.reject_new = True
        with pytest.raises(remedy.InvalidToken) as caught:
            client.get(API + "/items")
    assert len(fake.token_requests) == 2  # exactly one refresh: no loop
    assert actions(caught.value) == ["refresh", "raise"]
    assert "not refreshing again" in str(caught.value)


def test_refresh_without_retry_policy(clock: FakeClock) -> None:
    fake = FakeAS()
    with sync_client(fake, clock, credentials=cc(), retry=None) as client:
        client.get(API + "/items")
        fake.revoke_all()
        assert client.get(API + "/items").json()["token"] == "access-2"


# -- a body that cannot be replayed --------------------------------------------------------


class NetworkLike(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """``MockTransport``, but it consumes the request body the way a network transport does.

    ``MockTransport`` reads the body into the request, which makes any body replayable; here
    the handler gets a copy and the request's own stream stays consumed.
    """

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler

    def copy(self, request: httpx.Request, body: bytes) -> httpx.Request:
        return httpx.Request(request.method, request.url, headers=request.headers, content=body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        return self.handler(self.copy(request, b"".join(request.stream)))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body = b"".join([chunk async for chunk in request.stream])
        return self.handler(self.copy(request, body))


def test_a_replayable_body_is_replayed_through_a_network_like_transport(
    mode: Mode, clock: FakeClock
) -> None:
    fake = FakeAS()
    with mode.client(NetworkLike(fake), clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.revoke_all()
        assert client.post(API + "/items", content=b"abc").json()["token"] == "access-2"
    assert fake.bodies[1:] == [b"abc", b"abc"]


def test_a_one_shot_body_is_not_replayed(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    with mode.client(NetworkLike(fake), clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.revoke_all()
        with pytest.raises(remedy.InvalidToken) as caught:
            client.post(API + "/items", content=mode.one_shot(b'{"n":', b"1}"))
    assert not isinstance(caught.value, httpx.StreamConsumed)
    assert "one-shot" in str(caught.value)
    assert actions(caught.value) == ["raise"]
    assert len(fake.api_requests) == 2
    assert len(fake.token_requests) == 1


# -- insufficient_scope and step-up ---------------------------------------------------------


def test_insufficient_scope_is_raised_with_the_scope(clock: FakeClock) -> None:
    fake = FakeAS()
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(remedy.InsufficientScope) as caught,
    ):
        client.get(API + "/admin")
    assert caught.value.scope == "admin"
    assert caught.value.status_code == 403
    assert len(fake.token_requests) == 1  # no step-up unless asked for


def test_step_up_asks_for_the_union_of_scopes_and_replays(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc(), step_up=True) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"
        assert client.get(API + "/admin").json()["token"] == "access-2"
        assert client.get(API + "/items").json()["token"] == "access-2"
    assert [form(r).get("scope") for r in fake.token_requests] == ["read", "read admin"]
    assert fake.calls == [
        ("/items", "access-1"),
        ("/admin", "access-1"),
        ("/admin", "access-2"),
        ("/items", "access-2"),
    ]


def test_a_stepped_up_scope_is_kept_for_later_tokens(clock: FakeClock) -> None:
    fake = FakeAS()
    with sync_client(fake, clock, credentials=cc(), step_up=True) as client:
        assert client.get(API + "/admin").json()["token"] == "access-2"
        fake.revoke_all()
        assert client.get(API + "/admin").json()["token"] == "access-3"  # no 403 on the way
    assert [form(r)["scope"] for r in fake.token_requests] == ["read", "read admin", "read admin"]
    assert fake.calls == [
        ("/admin", "access-1"),
        ("/admin", "access-2"),
        ("/admin", "access-2"),
        ("/admin", "access-3"),
    ]


def test_step_up_that_still_fails_does_not_loop(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS(grantable=("read",))
    with mode.client(fake, clock, credentials=cc(), step_up=True) as client:
        client.get(API + "/items")
        with pytest.raises(remedy.InsufficientScope) as caught:
            client.get(API + "/admin")
    assert len(fake.token_requests) == 2
    assert form(fake.token_requests[1])["scope"] == "read admin"
    assert actions(caught.value) == ["refresh", "raise"]


# -- token endpoint errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("invalid_client", 401, remedy.InvalidClient),
        ("invalid_grant", 400, remedy.InvalidGrant),
        ("invalid_scope", 400, remedy.InvalidScope),
        ("unauthorized_client", 400, remedy.UnauthorizedClient),
        ("unsupported_grant_type", 400, remedy.UnsupportedGrantType),
        ("invalid_request", 400, remedy.InvalidRequest),
    ],
)
def test_token_endpoint_errors_are_typed_and_not_retried(
    clock: FakeClock, code: str, status: int, cls: type[Exception]
) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(**error_response(code, status_code=status)))
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(cls) as caught,
    ):
        client.get(API + "/items")
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert caught.value.error == code  # type: ignore[attr-defined]
    assert len(fake.token_requests) == 1
    assert fake.api_requests == []
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("code", "cls"),
    [("invalid_client", remedy.InvalidClient), ("invalid_grant", remedy.InvalidGrant)],
)
def test_a_rejected_grant_is_not_asked_again(
    mode: Mode, clock: FakeClock, code: str, cls: type[Exception]
) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(**error_response(code)))
    creds = cc()
    with mode.client(fake, clock, credentials=creds) as client:
        with pytest.raises(cls) as first:
            client.get(API + "/items")
        with pytest.raises(ReauthenticationRequired) as second:
            client.get(API + "/items")
        assert second.value.cause is first.value
        assert len(fake.token_requests) == 1
        creds.reset()
        assert client.get(API + "/items").status_code == 200
    assert len(fake.token_requests) == 2


def test_a_2xx_carrying_an_error_is_that_error(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(200, json={"error": "invalid_client"}))
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(remedy.InvalidClient),
    ):
        client.get(API + "/items")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, html="<html><title>Sign in</title><body>login</body></html>"),
        httpx.Response(200, json={"token_type": "Bearer"}),
        httpx.Response(200, json=["access-1"]),
        httpx.Response(200, text=""),
        httpx.Response(200, content=b"\xff\xfe{", headers={"Content-Type": "application/json"}),
    ],
)
def test_a_2xx_without_a_token_is_a_token_response_error(
    clock: FakeClock, response: httpx.Response
) -> None:
    fake = FakeAS()
    fake.token_script.append(response)
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(TokenResponseError) as caught,
    ):
        client.get(API + "/items")
    assert not isinstance(caught.value, json.JSONDecodeError)
    assert caught.value.response.status_code == 200
    assert "token_url" in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "cls"),
    [
        (
            {
                "status_code": 500,
                "html": "<html><head><title>500 Internal Server Error</title></head></html>",
            },
            remedy.InternalServerError,
        ),
        ({"status_code": 502, "text": "upstream connect error"}, remedy.BadGateway),
        ({"status_code": 400, "html": "<html><body>Bad Request</body></html>"}, remedy.BadRequest),
    ],
)
def test_a_non_json_error_page_is_typed(
    clock: FakeClock, answer: dict[str, Any], cls: type[Exception]
) -> None:
    fake = FakeAS()
    fake.token_script.extend(httpx.Response(**answer) for _ in range(3))
    with sync_client(fake, clock, credentials=cc()) as client, pytest.raises(cls) as caught:
        client.get(API + "/items")
    assert not isinstance(caught.value, ValueError)
    assert fake.api_requests == []


@pytest.mark.parametrize(
    ("answer", "wait"),
    [
        (error_response("server_error"), None),
        (error_response("temporarily_unavailable"), None),
        (error_response("temporarily_unavailable", status_code=400), None),
        (error_response(503, retry_after=4), 4.0),
        (error_response(429, retry_after=7), 7.0),
        ({"status_code": 503, "text": "busy"}, None),
    ],
)
def test_transient_token_endpoint_errors_are_retried(
    mode: Mode, clock: FakeClock, answer: dict[str, Any], wait: float | None
) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(**answer))
    with mode.client(fake, clock, credentials=cc()) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"
    assert len(fake.token_requests) == 2
    assert len(clock.sleeps) == 1
    if wait is not None:
        assert clock.sleeps == [wait]
    second = fake.token_requests[1]
    check_basic_token_request(second)


def test_transient_token_endpoint_errors_in_a_row_are_retried(mode: Mode, clock: FakeClock) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(**error_response(429, retry_after=2)))
    fake.token_script.append(httpx.Response(**error_response("temporarily_unavailable")))
    with mode.client(fake, clock, credentials=cc()) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"
    assert len(fake.token_requests) == 3
    assert len(clock.sleeps) == 2
    assert clock.sleeps[0] == 2.0


def test_transient_errors_are_retried_with_no_wait() -> None:
    fake = FakeAS()
    fake.token_script.extend(
        httpx.Response(**error_response(503, retry_after=30)) for _ in range(2)
    )
    transport = remedy.RemedyTransport(
        httpx.MockTransport(fake),
        credentials=cc(),
        retry=remedy.Retry(budget=remedy.RetryBudget()),
    )
    with no_wait(), httpx.Client(transport=transport) as client:
        assert client.get(API + "/items").status_code == 200
    assert len(fake.token_requests) == 3


def test_transient_errors_give_up_and_are_not_remembered(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.token_script.extend(httpx.Response(**error_response(503)) for _ in range(3))
    with sync_client(fake, clock, credentials=cc()) as client:
        with pytest.raises(remedy.ServiceUnavailable) as caught:
            client.get(API + "/items")
        assert actions(caught.value) == ["retry", "retry", "raise"]
        assert client.get(API + "/items").status_code == 200  # asked again: not for good
    assert len(fake.token_requests) == 4


# -- secrets stay secret --------------------------------------------------------------------


def test_reprs_show_no_secret() -> None:
    creds = cc()
    refresh = RefreshToken(
        TOKEN_URL,
        "app",
        token=pair("AccessSecret", "RefreshSecret"),
        client_secret=SECRET,
    )
    for text in (repr(creds), str(creds), repr(refresh), str(refresh)):
        assert SECRET not in text
        assert "AccessSecret" not in text
        assert "RefreshSecret" not in text
        assert "app" in text
    assert "AccessSecret" not in repr(refresh.manager.token)


def secret_free(secrets: set[str], *texts: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {text!r}"


def test_errors_and_attempts_show_no_secret(clock: FakeClock) -> None:
    fake = FakeAS()
    fake.api_script.extend(
        [
            lambda r: httpx.Response(
                401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                json={"error": "invalid_token", "error_description": f"bad {bearer(r)}"},
            )
        ]
        * 2
    )
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(remedy.InvalidToken) as caught,
    ):
        client.get(API + "/items")
    error = caught.value
    secret_free(
        {SECRET, "access-1", "access-2"},
        str(error),
        repr(error),
        *(str(a) for a in error.attempts),
        *(repr(a) for a in error.attempts),
    )
    assert actions(error) == ["refresh", "raise"]


def test_token_endpoint_errors_show_no_secret(clock: FakeClock) -> None:
    """A token endpoint that echoes what it was sent must not leak it through our error."""
    fake = FakeAS()
    fake.token_script.append(
        lambda r: httpx.Response(
            400,
            json={
                "error": "invalid_grant",
                "error_description": f"refresh token {form(r)['refresh_token']} was revoked "
                f"(client secret {SECRET})",
            },
        )
    )
    creds = RefreshToken(
        TOKEN_URL, "app", token=pair("AccessSecret", "RefreshSecret"), client_secret=SECRET
    )
    with sync_client(fake, clock, credentials=creds) as client:
        with pytest.raises(remedy.InvalidGrant) as first:
            client.get(API + "/items")
        with pytest.raises(ReauthenticationRequired) as second:
            client.get(API + "/items")
    secrets = {SECRET, "AccessSecret", "RefreshSecret"}
    secret_free(secrets, str(first.value), repr(first.value))
    secret_free(secrets, str(second.value), repr(second.value))
    secret_free(secrets, *(str(a) for a in first.value.attempts))


# -- authlib's deprecation warnings never reach users ---------------------------------------


def test_a_token_fetch_raises_no_warning(clock: FakeClock) -> None:
    fake = FakeAS()
    creds = RefreshToken(TOKEN_URL, "app", token=pair(), client_secret=SECRET)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for credentials in (cc(), cc(auth_method="client_secret_post"), creds):
            with sync_client(fake, clock, credentials=credentials) as client:
                fake.revoke_all()
                assert client.get(API + "/items").status_code == 200
    assert len(fake.token_requests) == 3  # each fetched a token: the path under test ran


@pytest.mark.integration  # a fresh interpreter
def test_import_and_token_fetch_warn_nothing_in_a_fresh_process() -> None:
    code = textwrap.dedent(
        """
        import sys, warnings
        warnings.simplefilter("error")
        import httpx
        import httpx_remedy
        from httpx_remedy import ClientCredentials, RefreshToken
        from joserfc.jwk import RSAKey

        warnings.simplefilter("error")  # again: importing authlib may have added filters
        key = RSAKey.generate_key(2048).as_pem(private=True)

        def handler(request):
            if request.url.host == "auth.example.com":
                return httpx.Response(200, json={"access_token": "t", "refresh_token": "r"})
            return httpx.Response(200)

        url = "https://auth.example.com/token"
        grants = [
            ClientCredentials(url, "app", "s3cret"),
            ClientCredentials(url, "app", "s3cret", auth_method="client_secret_post"),
            ClientCredentials(url, "app", "a-secret-long-enough-for-hs256",
                              auth_method="client_secret_jwt"),
            ClientCredentials(url, "app", private_key=key),
            RefreshToken(url, "app", token={"refresh_token": "r"}, client_secret="s3cret"),
        ]
        for grant in grants:
            transport = httpx_remedy.RemedyTransport(httpx.MockTransport(handler),
                                                     credentials=grant)
            with httpx.Client(transport=transport) as client:
                assert client.get("https://api.example.com/").status_code == 200
        assert "authlib.integrations.httpx_client" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "Warning" not in result.stderr, result.stderr


@pytest.mark.integration  # a fresh interpreter
def test_importing_leaves_the_warning_filters_alone() -> None:
    """authlib adds ``simplefilter("always", AuthlibDeprecationWarning)`` to the process-wide
    filters when it is first imported, which overrides a user's ``-W error`` or ``ignore`` for
    every authlib deprecation from then on. Importing httpx_remedy must not do that."""
    code = textwrap.dedent(
        """
        import warnings
        before = list(warnings.filters)
        import httpx_remedy
        from httpx_remedy import ClientCredentials
        ClientCredentials("https://a.example/token", "app", "a-secret-long-enough-for-hs256",
                          auth_method="client_secret_jwt")
        added = [f for f in warnings.filters if f not in before]
        assert not added, added
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
