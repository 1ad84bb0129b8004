"""Time limits against hostile servers: the client's timeouts are the user's, and token
requests have them too.

Two promises. The default policy sends every attempt with the client's own timeouts (its
deadline bounds waiting and retrying only); a deadline the user sets also shrinks the attempts.
And a token endpoint that accepts the connection and never answers cannot hold anyone for
ever: the token request carries the client's timeouts (``TOKEN_TIMEOUT`` for each one unset),
and a request waiting for another's token fetch gives up with ``TokenWaitTimeout`` when its own
time is up. The arithmetic runs on the fake clock; the stalling token endpoint is a real socket
(``tests/rawserver.py``) behind httpx's own transports, sync and async (asyncio and trio).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import httpx
import pytest
import tenacity

import httpx_remedy as remedy
from httpx_remedy import ClientCredentials, MemoryStore, Retry, RetryBudget, TokenWaitTimeout
from httpx_remedy._first_send import Start
from httpx_remedy._settings import Auth, Settings
from httpx_remedy._token_flow import TOKEN_TIMEOUT, first_token

from .helpers import Client, FakeClock, Mode, on_clock
from .rawserver import RawServer, stall

API = "https://api.example.test/items"
TOKEN_URL = "https://auth.example.test/token"
SECRET = "s3cret-0123456789"
PHASES = ("connect", "read", "write", "pool")


def every(value: float | None) -> dict[str, float | None]:
    return dict.fromkeys(PHASES, value)


class Origin:
    """The API and its token endpoint as one handler, recording the timeouts of every send.

    ``api`` and ``token`` are scripts of statuses, or (status, headers), used in order (the last
    repeats); a 2xx token answer carries a new token.
    """

    def __init__(self, api: list[Any] | None = None, token: list[Any] | None = None) -> None:
        self.api = list(api or [200])
        self.token = list(token or [200])
        self.api_timeouts: list[dict[str, float | None]] = []
        self.token_timeouts: list[dict[str, float | None]] = []
        self.issued = 0

    @staticmethod
    def _next(script: list[Any]) -> tuple[int, dict[str, str]]:
        step = script.pop(0) if len(script) > 1 else script[0]
        return (step, {}) if isinstance(step, int) else step

    def __call__(self, request: httpx.Request) -> httpx.Response:
        timeouts = dict(request.extensions.get("timeout") or {})
        if str(request.url) == TOKEN_URL:
            self.token_timeouts.append(timeouts)
            status, headers = self._next(self.token)
            if status >= 400:
                return httpx.Response(status, headers=headers)
            self.issued += 1
            token = {"access_token": f"at-{self.issued}", "expires_in": 3600}
            return httpx.Response(status, headers=headers, json=token)
        self.api_timeouts.append(timeouts)
        status, headers = self._next(self.api)
        return httpx.Response(status, headers=headers)


def creds(url: str = TOKEN_URL, **options: Any) -> ClientCredentials:
    return ClientCredentials(url, "app", SECRET, **options)


# --------------------------------------------------------------------------------------------
# The default policy leaves the user's timeouts alone
# --------------------------------------------------------------------------------------------

LONG = [
    (None, every(None)),
    (300, every(300)),
    (httpx.Timeout(5, read=600), {**every(5), "read": 600}),
]
LONG_IDS = ["none", "300s", "long-read"]


@pytest.mark.parametrize(("timeout", "sent"), LONG, ids=LONG_IDS)
def test_a_long_poll_goes_out_with_the_clients_own_timeouts(
    mode: Mode, clock: FakeClock, timeout: Any, sent: dict[str, float | None]
) -> None:
    origin = Origin()
    with mode.client(origin, clock, timeout=timeout, retry=Retry()) as client:
        assert client.get(API).status_code == 200
    assert origin.api_timeouts == [sent]


@pytest.mark.parametrize("timeout", [300, None])
def test_the_default_deadline_bounds_waits_and_retries_not_attempts(
    mode: Mode, clock: FakeClock, timeout: float | None
) -> None:
    """Retries keep the user's timeouts too; the default 120 s stops the waiting."""
    origin = Origin(api=[(503, {"Retry-After": "50"})])
    policy = Retry(max_attempts=10, budget=RetryBudget())
    with (
        mode.client(origin, clock, timeout=timeout, retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(API)
    assert clock.sleeps == [50, 50]  # a third wait would end at 150 s
    assert "deadline (120s" in (info.value.attempts[-1].note or "")
    assert origin.api_timeouts == [every(timeout)] * 3


def test_a_deadline_the_user_sets_shrinks_every_attempt_the_first_included(
    mode: Mode,
    clock: FakeClock,
) -> None:
    origin = Origin(api=[(503, {"Retry-After": "50"}), 200])
    with mode.client(
        origin, clock, timeout=None, retry=Retry(deadline=120, budget=RetryBudget())
    ) as client:
        assert client.get(API).status_code == 200
    assert origin.api_timeouts == [every(120), every(70)]


def test_a_shared_pause_does_not_shrink_the_default_policys_first_attempt(
    mode: Mode,
    clock: FakeClock,
) -> None:
    store = MemoryStore()
    store.pause("https://api.example.test", 30)
    origin = Origin()
    with mode.client(origin, clock, timeout=300, store=store) as client:
        assert client.get(API).status_code == 200
    assert len(clock.sleeps) == 1
    assert 29 < clock.sleeps[0] <= 30
    assert origin.api_timeouts == [every(300)]


def test_a_shared_pause_comes_out_of_a_deadline_the_user_sets(mode: Mode, clock: FakeClock) -> None:
    store = MemoryStore()
    store.pause("https://api.example.test", 5)
    origin = Origin()
    policy = Retry(deadline=30, budget=RetryBudget())
    with mode.client(origin, clock, timeout=None, store=store, retry=policy) as client:
        assert client.get(API).status_code == 200
    (slept,) = clock.sleeps
    assert origin.api_timeouts == [every(pytest.approx(30 - slept))]


def test_retry_tells_a_deadline_it_was_given_from_the_default() -> None:
    default, chosen = Retry(), Retry(deadline=120)
    assert default.deadline == chosen.deadline == 120
    assert (default.shrinks_timeouts, chosen.shrinks_timeouts) == (False, True)
    assert default != chosen
    assert "deadline=120.0, shrinks_timeouts=False" in repr(default)
    assert "deadline=120, shrinks_timeouts=True" in repr(chosen)
    assert Retry(deadline=None).shrinks_timeouts is False
    # A copy of the default stays the default; a deadline passed stays passed.
    assert dataclasses.replace(default, max_attempts=5).shrinks_timeouts is False
    assert copy.copy(default).shrinks_timeouts is False
    assert dataclasses.replace(chosen, max_attempts=5).shrinks_timeouts is True
    assert dataclasses.replace(default, deadline=60).shrinks_timeouts is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        default.shrinks_timeouts = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        Retry(shrinks_timeouts=True)  # type: ignore[call-arg]


# --------------------------------------------------------------------------------------------
# Token requests carry the client's timeouts
# --------------------------------------------------------------------------------------------

TOKEN_TIMEOUTS = [
    (2, every(2)),
    (None, every(TOKEN_TIMEOUT)),
    (httpx.Timeout(5, read=None), {**every(5), "read": TOKEN_TIMEOUT}),
    (300, every(300)),
]
TOKEN_IDS = ["2s", "none", "no-read", "300s"]


@pytest.mark.parametrize(("timeout", "sent"), TOKEN_TIMEOUTS, ids=TOKEN_IDS)
def test_the_token_request_carries_the_clients_timeouts(
    mode: Mode, clock: FakeClock, timeout: Any, sent: dict[str, float]
) -> None:
    origin = Origin(api=[200, (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}), 200])
    with mode.client(origin, clock, timeout=timeout, credentials=creds()) as client:
        assert client.get(API).status_code == 200  # the first token
        assert client.get(API).status_code == 200  # a refresh after invalid_token
    assert origin.token_timeouts == [sent, sent]
    assert TOKEN_TIMEOUT == 30.0


def test_a_deadline_the_user_sets_shrinks_the_token_request_to_the_time_left(
    mode: Mode,
    clock: FakeClock,
) -> None:
    """A 503 costs 4 s of a 10 s deadline; the refresh after the next 401 gets the 6 s left,
    and a token endpoint asking for 7 s more is not waited for."""
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    origin = Origin(
        api=[(503, {"Retry-After": "4"}), (401, challenge), 200],
        token=[200, (503, {"Retry-After": "7"})],
    )
    policy = Retry(deadline=10, budget=RetryBudget())
    with (
        mode.client(origin, clock, timeout=30, credentials=creds(), retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(API)
    assert origin.token_timeouts == [every(10), every(6)]
    assert clock.sleeps == [4]
    assert "deadline (6s" in (info.value.attempts[-1].note or "")
    assert info.value.request.url == TOKEN_URL


def test_the_default_deadline_leaves_the_token_request_the_clients_timeouts(
    mode: Mode,
    clock: FakeClock,
) -> None:
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    origin = Origin(api=[(503, {"Retry-After": "50"}), (401, challenge), 200])
    with mode.client(origin, clock, timeout=None, credentials=creds()) as client:
        assert client.get(API).status_code == 200
    assert origin.token_timeouts == [every(TOKEN_TIMEOUT)] * 2


@pytest.mark.parametrize(
    "transport_retry", [None, Retry(deadline=None)], ids=["off", "no-deadline"]
)
def test_a_per_request_deadline_bounds_the_token_request(
    mode: Mode, clock: FakeClock, transport_retry: Retry | None
) -> None:
    """The deadline of the request that needs the token counts, whatever the transport's."""
    origin = Origin()
    with mode.client(
        origin, clock, timeout=30, credentials=creds(), retry=transport_retry
    ) as client:
        response = client.get(API, extensions={"remedy.retry": Retry(deadline=5)})
        assert response.status_code == 200
    assert origin.token_timeouts == [every(5)]


def test_a_request_without_timeouts_gets_the_token_timeout(clock: FakeClock) -> None:
    """A request handed to the transport directly carries no timeouts at all."""
    origin = Origin()
    transport = remedy.RemedyTransport(httpx.MockTransport(origin), credentials=creds())
    with on_clock(transport, clock) as direct:
        assert direct.handle_request(httpx.Request("GET", API)).status_code == 200
    assert origin.token_timeouts == [every(TOKEN_TIMEOUT)]
    assert origin.api_timeouts == [{}]


@pytest.mark.parametrize(
    ("timeout", "retry", "wait", "cap"),
    [
        (httpx.Timeout(1, read=3), Retry(), 3, "its longest timeout (3s)"),
        (None, Retry(), TOKEN_TIMEOUT, "its longest timeout (30s)"),
        (30, Retry(deadline=2), 2, "its deadline (2s)"),
        (1, Retry(deadline=2), 1, "its longest timeout (1s)"),
    ],
    ids=["longest", "none", "deadline", "timeout-before-deadline"],
)
def test_the_core_decides_how_long_a_request_waits_for_the_lock(
    clock: FakeClock, timeout: Any, retry: Retry, wait: float, cap: str
) -> None:
    source = creds()
    settings = Settings(
        retry=retry,
        raise_errors=True,
        max_error_body=1024,
        auth=Auth(source, source.manager, None, step_up=False),
        clock=clock.monotonic,
    )
    request = httpx.Request("GET", API, extensions={"timeout": httpx.Timeout(timeout).as_dict()})
    locked = first_token(settings, request, Start(retry, clock.now, None, None, True))
    assert locked.wait == wait
    assert locked.manager is source.manager
    error = locked.timed_out()
    assert isinstance(error, TokenWaitTimeout)
    assert error.cap == cap
    assert cap in str(error)
    assert f"before sending GET {API}" in str(error)
    locked.flow.close()


# --------------------------------------------------------------------------------------------
# Waiting for another request's token fetch: in this process
# --------------------------------------------------------------------------------------------


@pytest.mark.integration  # waits 0.3 s on the wall clock: a lock's timeout
def test_a_request_waiting_for_the_lock_gives_up_when_its_time_is_up(
    mode: Mode, clock: FakeClock
) -> None:
    """Another request holds the refresh lock (for ever, with a stalled token endpoint): a
    request with 0.3 s timeouts raises after 0.3 s, sending nothing, and leaves the lock as it
    found it."""
    origin = Origin()
    with mode.client(origin, clock, timeout=0.3, credentials=creds()) as client:
        began = time.monotonic()
        with mode.holding_token_lock(client.transport), pytest.raises(TokenWaitTimeout) as info:
            client.get(API)
        waited = time.monotonic() - began
        error = info.value
        assert 0.25 < waited < 1.5
        assert isinstance(error, TimeoutError)
        assert isinstance(error, remedy.RemedyError)
        assert error.cap == "its longest timeout (0.3s)"
        assert error.holder == "another request in this process"
        assert error.attempts == ()
        assert "gave up after 0.3s waiting for the access token" in str(error)
        assert origin.token_timeouts == []
        assert origin.api_timeouts == []
        assert SECRET not in str(error)
        # The lock was left as it was found: the next request fetches at once.
        assert client.get(API).status_code == 200
    assert len(origin.token_timeouts) == 1


@pytest.mark.integration  # waits 0.3 s on the wall clock: a lock's timeout
def test_a_refresh_waiting_for_the_lock_gives_up_with_its_attempts(
    mode: Mode, clock: FakeClock
) -> None:
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    origin = Origin(api=[200, (401, challenge), 200])
    with mode.client(origin, clock, credentials=creds(), retry=Retry(deadline=0.3)) as client:
        assert client.get(API).status_code == 200
        began = time.monotonic()
        with mode.holding_token_lock(client.transport), pytest.raises(TokenWaitTimeout) as info:
            client.get(API)
        waited = time.monotonic() - began
    assert 0.25 < waited < 1.5
    error = info.value
    assert error.cap == "its deadline (0.3s)"
    assert f"after 401 invalid_token on GET {API}" in str(error)
    assert [(a.status, a.error, a.action) for a in error.attempts] == [
        (401, "invalid_token", "raise")
    ]
    assert "its deadline (0.3s) ran out" in (error.attempts[0].note or "")
    assert remedy.attempts_of(error) == error.attempts
    assert len(origin.token_timeouts) == 1


# --------------------------------------------------------------------------------------------
# Waiting for another process's token fetch (the shared store)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "retry", "gives_up", "cap"),
    [(2, Retry(), 2, "its longest timeout (2s)"), (30, Retry(deadline=1), 1, "its deadline (1s)")],
    ids=["timeout", "deadline"],
)
def test_waiting_for_another_process_stops_when_the_requests_time_is_up(
    mode: Mode, clock: FakeClock, timeout: float, retry: Retry, gives_up: float, cap: str
) -> None:
    """Another process holds the store's refresh lock and never writes a token: this one gives
    up at its own limit instead of waiting three lock lifetimes (30 s) and fetching."""
    store = MemoryStore()
    source = creds(store=store)
    assert store.lock("lock:" + source.shared_key) is not None  # the other process
    origin = Origin()
    with (
        mode.client(origin, clock, timeout=timeout, credentials=source, retry=retry) as client,
        pytest.raises(TokenWaitTimeout) as info,
    ):
        client.get(API)
    assert sum(clock.sleeps) == pytest.approx(gives_up)
    assert info.value.cap == cap
    assert info.value.holder == "another process (through the shared store)"
    assert info.value.waited == pytest.approx(gives_up)
    assert origin.token_timeouts == []


# --------------------------------------------------------------------------------------------
# A token endpoint that accepts the connection and never answers (real sockets)
# --------------------------------------------------------------------------------------------

CALLERS = 4
#: The most any caller may take: the holder's three 0.5 s attempts and two short backoffs.
WITHIN = 4.0


def stalled(mode: Mode, server: RawServer, timeout: float, retry: Retry) -> Client:
    source = ClientCredentials(server.url + "/token", "app", SECRET)
    return mode.client(mode.network(), timeout=timeout, credentials=source, retry=retry)


def quick_retry() -> Retry:
    """The default policy, but with short backoffs and a budget of its own."""
    return Retry(budget=RetryBudget(), wait=tenacity.wait_random(0, 0.2))


def check_outcomes(outcomes: list[tuple[object, float]]) -> None:
    """One caller fetched and met the token endpoint's silence; the others gave up waiting."""
    assert len(outcomes) == CALLERS, outcomes
    errors = [type(error) for error, _ in outcomes]
    # The fetching caller's ReadTimeout is a TokenEndpointUnreachable too (it names the endpoint).
    assert sum(issubclass(kind, httpx.ReadTimeout) for kind in errors) == 1, errors
    assert errors.count(TokenWaitTimeout) == CALLERS - 1, errors
    for error, took in outcomes:
        assert took < WITHIN
        if isinstance(error, TokenWaitTimeout):
            assert took < 1.5
            assert error.cap == "its longest timeout (0.5s)"
        else:
            assert isinstance(error, httpx.ReadTimeout)
            assert [a.action for a in remedy.attempts_of(error)] == ["retry", "retry", "raise"]


@pytest.mark.integration  # a real socket that never answers: seconds on the wall clock
def test_a_stalled_token_endpoint_fails_every_concurrent_caller_within_seconds(
    mode: Mode,
) -> None:
    with RawServer(stall) as server, stalled(mode, server, 0.5, quick_retry()) as client:
        calls = [client.later("GET", server.url + "/api") for _ in range(CALLERS)]
        outcomes = mode.at_once(calls, within=WITHIN + 2)
        assert all(r.target == "/token" for r in server.received)
    check_outcomes(outcomes)


@pytest.mark.integration  # a real socket that never answers: seconds on the wall clock
def test_a_stalled_token_endpoint_is_bounded_by_a_deadline_the_user_sets(mode: Mode) -> None:
    """Client timeouts of 30 s, a 0.5 s deadline: the token request gets the time left."""
    retry = Retry(deadline=0.5, budget=RetryBudget())
    with RawServer(stall) as server, stalled(mode, server, 30, retry) as client:
        ((error, took),) = mode.at_once([client.later("GET", server.url + "/api")], within=5)
    assert isinstance(error, httpx.ReadTimeout)
    assert took < 1.5
