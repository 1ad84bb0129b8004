"""The event model: each decision of the core makes its record, heard by the transport's
listeners and the process's; no listener, no event; a listener that raises breaks nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import (
    ErrorClassified,
    Event,
    GaveUp,
    PauseHeard,
    PauseHonoured,
    Recovered,
    RequestSent,
    Retry,
    RetryBudget,
    RetryRefused,
    RetryScheduled,
    StoreFault,
    Timeline,
    TokenFetched,
    TokenFetchFailed,
    TokenRejected,
    TokenReused,
    _listen,
)
from httpx_remedy._events import CAPS, WAIT_REASONS
from httpx_remedy.testing import error_response

from .helpers import API, FakeAS, FakeClock, Mode, Server, cc, sync_client

URL = "https://api.example.test/items"


@pytest.fixture
def heard() -> Iterator[list[Event]]:
    """Every event of every transport during the test (the default logging listener stays)."""
    events: list[Event] = []
    _listen.add_listener(events.append)
    yield events
    _listen.remove_listener(events.append)


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_a_retry_that_recovers(mode: Mode, clock: FakeClock, heard: list[Event]) -> None:
    server = Server((503, {"Retry-After": "2"}), 200)
    with mode.client(server, clock) as client:
        assert client.get(URL + "?key=secret").status_code == 200
    assert kinds(heard) == [
        "RequestSent",
        "ErrorClassified",
        "RetryScheduled",
        "RequestSent",
        "Recovered",
    ]
    sent, classified, scheduled, again, recovered = heard
    assert isinstance(sent, RequestSent)
    assert sent.attempt == 1
    assert sent.at == 1_000.0
    assert sent.url == URL + "?key=[redacted]"
    assert sent.method == "GET"
    assert isinstance(classified, ErrorClassified)
    assert (classified.status, classified.retryable, classified.attempt) == (503, True, 1)
    assert isinstance(scheduled, RetryScheduled)
    assert (scheduled.wait, scheduled.reason, scheduled.max_attempts) == (2.0, "retry-after", 3)
    assert isinstance(again, RequestSent)
    assert again.attempt == 2
    assert again.at == 1_002.0
    assert isinstance(recovered, Recovered)
    assert (recovered.attempts, recovered.status, recovered.elapsed) == (2, 200, 2.0)
    assert "secret" not in " ".join(e.describe() for e in heard)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Retry-After": "1"}, "retry-after"),
        ({"RateLimit": "limit=10, remaining=0, reset=3"}, "ratelimit"),
        ({}, "backoff"),
    ],
)
def test_a_retry_says_why_it_waits(
    clock: FakeClock, heard: list[Event], headers: dict[str, str], reason: str
) -> None:
    assert reason in WAIT_REASONS
    with sync_client(Server((429, headers), 200), clock, retry=Retry(budget=None)) as client:
        client.get(URL)
    (scheduled,) = [e for e in heard if isinstance(e, RetryScheduled)]
    assert scheduled.reason == reason


def refusal(heard: list[Event]) -> RetryRefused:
    (refused,) = [e for e in heard if isinstance(e, RetryRefused)]
    return refused


def test_each_cap_that_refuses_a_retry_is_named(
    mode: Mode, clock: FakeClock, heard: list[Event]
) -> None:
    found: list[str] = []
    cases: list[tuple[Any, dict[str, Any], Retry]] = [
        (Server(503), {}, Retry(budget=None)),
        (Server((503, {"Retry-After": "600"})), {}, Retry(budget=None)),
        (Server((503, {"Retry-After": "30"})), {}, Retry(budget=None, deadline=10)),
        (Server(503), {}, Retry(budget=RetryBudget(ratio=0, minimum=0))),
        (Server(500), {"method": "POST"}, Retry(budget=None)),
        (Server(503), {"method": "POST", "one_shot": True}, Retry(budget=None)),
    ]
    for server, how, policy in cases:
        heard.clear()
        method = how.get("method", "GET")
        content = mode.one_shot(b"a", b"b") if how.get("one_shot") else None
        with mode.client(server, clock, retry=policy) as client, pytest.raises(remedy.HTTPError):
            client.request(method, URL, content=content)
        refused = refusal(heard)
        assert refused.note
        assert refused.method == method
        found.append(refused.cap)
        gave_up = heard[-1]
        assert isinstance(gave_up, GaveUp)
        assert gave_up.note == refused.note
    assert found == [
        "attempts",
        "max_retry_after",
        "deadline",
        "budget",
        "not_idempotent",
        "not_replayable",
    ]
    assert sorted(found) == sorted(CAPS)


def test_the_final_outcome_of_a_failed_request(
    mode: Mode, clock: FakeClock, heard: list[Event]
) -> None:
    with mode.client(Server(503, 503, 404), clock) as client, pytest.raises(remedy.NotFound):
        client.get(URL)
    gave_up = heard[-1]
    assert isinstance(gave_up, GaveUp)
    assert (gave_up.attempts, gave_up.status, gave_up.error, gave_up.raised) == (
        3,
        404,
        "NotFound",
        True,
    )
    assert (gave_up.http_version, gave_up.reason_phrase) == ("HTTP/1.1", "Not Found")
    waited = sum(e.wait for e in heard if isinstance(e, RetryScheduled))
    assert gave_up.elapsed == pytest.approx(waited)
    assert gave_up.elapsed > 0
    assert gave_up.describe().startswith(f"GET {URL} failed: 404 NotFound after 3 attempts in ")


def test_a_returned_error_and_a_transport_error_give_up_too(
    mode: Mode, clock: FakeClock, heard: list[Event]
) -> None:
    with mode.client(Server(404), clock, raise_errors=False) as client:
        assert client.get(URL).status_code == 404
    gave_up = heard[-1]
    assert isinstance(gave_up, GaveUp)
    assert not gave_up.raised
    assert gave_up.status == 404
    heard.clear()
    with (
        mode.client(Server(httpx.ConnectError), clock) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(URL)
    gave_up = heard[-1]
    assert isinstance(gave_up, GaveUp)
    assert (gave_up.status, gave_up.error, gave_up.attempts) == (None, "ConnectError", 3)
    classified = [e for e in heard if isinstance(e, ErrorClassified)]
    assert [c.error for c in classified] == ["ConnectError"] * 3


def test_a_2xx_makes_no_event_and_a_silent_process_makes_none_at_all(
    mode: Mode, clock: FakeClock, heard: list[Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    with mode.client(Server(200), clock) as client:
        client.get(URL)
    assert heard == []
    made: list[Event] = []
    monkeypatch.setattr(_listen, "emit", lambda settings, event: made.append(event))
    previous = remedy.set_listeners([])
    try:
        with mode.client(Server(503, 200), clock) as client:
            client.get(URL)
    finally:
        remedy.set_listeners(previous)
    assert made == []


def test_token_events(mode: Mode, clock: FakeClock, heard: list[Event]) -> None:
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.revoke_all()
        client.get(API + "/items")
    fetched = [e for e in heard if isinstance(e, TokenFetched)]
    assert [(f.grant, f.proactive, f.waiting) for f in fetched] == [
        ("client_credentials", True, 0),
        ("client_credentials", False, 0),
    ]
    (rejected,) = [e for e in heard if isinstance(e, TokenRejected)]
    assert (rejected.status, rejected.error, rejected.step_up) == (401, "invalid_token", False)
    assert "access-" not in " ".join(e.describe() for e in heard)


def test_a_failed_fetch_remembered_and_one_carried_past(
    clock: FakeClock, heard: list[Event]
) -> None:
    fake = FakeAS()
    fake.token_script.append(httpx.Response(**error_response("invalid_client")))
    with (
        sync_client(fake, clock, credentials=cc()) as client,
        pytest.raises(remedy.InvalidClient),
    ):
        client.get(API + "/items")
    (failed,) = [e for e in heard if isinstance(e, TokenFetchFailed)]
    assert (failed.grant, failed.error, failed.remembered, failed.kept) == (
        "client_credentials",
        "InvalidClient",
        True,
        False,
    )
    assert "remembered" in failed.describe()


def test_a_token_source_is_named_by_its_class(clock: FakeClock, heard: list[Event]) -> None:
    class Vault:
        def fetch_token(self, scope: str | None) -> dict[str, Any]:
            return {"access_token": "from-vault", "token_type": "Bearer", "expires_in": 60}

    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    with sync_client(api, clock, credentials=Vault()) as client:
        client.get(API + "/items")
    (fetched,) = [e for e in heard if isinstance(e, TokenFetched)]
    assert fetched.grant == "Vault"


def test_a_shared_pause_heard_and_honoured(clock: FakeClock, heard: list[Event]) -> None:
    store = remedy.MemoryStore(clock=clock.monotonic)
    server = Server((429, {"Retry-After": "3"}), 200, 200)
    with sync_client(server, clock, store=store, retry=Retry(budget=None)) as client:
        client.get(URL)
        store.pause("https://api.example.test", 2)
        client.get(URL)
    (pause,) = [e for e in heard if isinstance(e, PauseHeard)]
    assert (pause.origin, pause.seconds, pause.status) == ("https://api.example.test", 3.0, 429)
    (honoured,) = [e for e in heard if isinstance(e, PauseHonoured)]
    assert honoured.seconds == 2.0
    assert honoured.url == URL
    assert "asked every client to wait" in honoured.describe()


def test_a_transports_listeners_hear_its_events_and_only_its(
    clock: FakeClock, heard: list[Event]
) -> None:
    own: list[Event] = []
    with sync_client(Server(503, 200), clock, listeners=[own.append]) as client:
        client.get(URL)
    with sync_client(Server(503, 200), clock) as other:
        other.get(URL)
    assert kinds(own) == kinds(heard[: len(own)])
    assert len(heard) == 2 * len(own)
    with pytest.raises(TypeError, match="listener must be callable"):
        remedy.RemedyTransport(listeners=[42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="listener must be callable"):
        remedy.set_listeners([42])  # type: ignore[list-item]


def test_set_listeners_replaces_and_returns_the_previous(clock: FakeClock) -> None:
    mine: list[Event] = []
    previous = remedy.set_listeners([mine.append])
    try:
        assert remedy.get_listeners() == (mine.append,)
        assert any(isinstance(one, remedy.LoggingListener) for one in previous)
        with sync_client(Server(503, 200), clock) as client:
            client.get(URL)
    finally:
        assert remedy.set_listeners(previous) == (mine.append,)
    assert kinds(mine)[-1] == "Recovered"


def test_a_listener_that_raises_breaks_nothing_and_is_logged_once(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[Event] = []

    def broken(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("listener bug")

    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    with mode.client(Server(503, 503, 200), clock, listeners=[broken]) as client:
        assert client.get(URL).status_code == 200
    assert len(calls) > 3
    warnings = [r for r in caplog.records if "listener" in r.getMessage()]
    assert len(warnings) == 1
    assert "broken" in warnings[0].getMessage()
    assert "RuntimeError" in warnings[0].getMessage()


def test_store_fault_reads_well() -> None:
    down = StoreFault(1.0, "Redis at redis://cache:6379/0", "ConnectionError")
    assert "unavailable (ConnectionError)" in down.describe()
    back = StoreFault(2.0, "Redis at redis://cache:6379/0", "", recovered=True)
    assert back.describe() == "Redis at redis://cache:6379/0 answers again; sharing is back on"
    reused = TokenReused(3.0, shared=True)
    assert reused.describe() == "using the token another process fetched"


def test_events_are_frozen_and_slotted() -> None:
    event = RequestSent(1.0, "GET", URL, 1)
    with pytest.raises(AttributeError):
        event.attempt = 2  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert Event(0.0).describe() == "Event"


def test_timeline_in_the_async_modes_too(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    with Timeline(clock=clock.monotonic) as timeline, mode.client(server, clock) as client:
        client.get(URL)
    assert len(timeline.of(RetryScheduled)) == 1


def events_made(call: Any) -> list[str]:
    """The events constructed while ``call()`` runs (in this thread), by their class name."""
    import sys

    made: list[str] = []

    def profile(frame: Any, what: str, arg: Any) -> None:
        if what == "call" and frame.f_code.co_name == "__init__":
            self = frame.f_locals.get("self")
            if isinstance(self, Event):
                made.append(type(self).__name__)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return made


def test_no_event_is_even_constructed_without_a_listener_or_on_a_2xx(
    clock: FakeClock, heard: list[Event]
) -> None:
    with sync_client(Server(200), clock) as client:
        assert events_made(lambda: client.get(URL)) == []  # a listener is installed: none
    previous = remedy.set_listeners([])
    try:
        with sync_client(Server(503, 200), clock) as client:
            assert events_made(lambda: client.get(URL)) == []
    finally:
        remedy.set_listeners(previous)
    with sync_client(Server(503, 200), clock) as client:
        assert "RetryScheduled" in events_made(lambda: client.get(URL))  # the probe works
