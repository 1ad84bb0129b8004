"""The default listener's log lines: what is logged, at which level, and what is not."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import LoggingListener, Retry

from .helpers import API, SYNC, FakeAS, FakeClock, Mode, Server, cc, sync_client

URL = "https://api.example.test/items"


def lines(caplog: pytest.LogCaptureFixture, name: str = "httpx_remedy") -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name]


def test_a_2xx_logs_nothing_even_at_debug(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    with mode.client(Server(200), clock) as client:
        client.get(URL)
    assert lines(caplog) == []


def test_a_raised_error_logs_what_httpx_would_have(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs its line when the transport returns; a typed error means it never does, so
    the listener logs the same line on httpx's logger."""
    caplog.set_level(logging.INFO)
    with mode.client(Server(404), clock, raise_errors=False) as client:
        client.get(URL)
    by_httpx = [r.getMessage() for r in lines(caplog, httpx.__name__)]
    caplog.clear()
    with mode.client(Server(404), clock) as client, pytest.raises(remedy.NotFound):
        client.get(URL)
    ours = [r.getMessage() for r in lines(caplog, httpx.__name__)]
    assert ours == by_httpx == [f'HTTP Request: GET {URL} "HTTP/1.1 404 Not Found"']
    (outcome,) = lines(caplog)
    assert outcome.levelno == logging.INFO
    assert outcome.getMessage() == f"GET {URL} failed: 404 NotFound after 1 attempt in 0s"


def test_the_httpx_line_has_the_url_redacted(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with sync_client(Server(403), clock) as client, pytest.raises(remedy.Forbidden):
        client.get(URL + "?api_key=hunter2")
    assert "hunter2" not in caplog.text
    assert "api_key=[redacted]" in lines(caplog, httpx.__name__)[0].getMessage()


def test_the_line_goes_to_the_logger_of_the_clients_own_stack(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An httpx2 client's raised error gets httpx2's line on the ``httpx2`` logger, as httpx2
    itself logs it; an httpx client's, on ``httpx`` (both stacks in one process)."""
    httpx2 = pytest.importorskip("httpx2")
    if httpx2 is httpx:
        pytest.skip("httpx is aliased to httpx2: there is only one stack")
    caplog.set_level(logging.INFO)
    for stack in (httpx, httpx2):
        transport = remedy.RemedyTransport(stack.MockTransport(lambda r, s=stack: s.Response(404)))
        with stack.Client(transport=transport) as client, pytest.raises(remedy.NotFound):
            client.get(URL)
    assert [r.name for r in caplog.records if r.getMessage().startswith("HTTP Request")] == [
        "httpx",
        "httpx2",
    ]


def test_a_failure_after_retrying_is_a_warning(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx_remedy")
    with mode.client(Server(503), clock) as client, pytest.raises(remedy.ServiceUnavailable):
        client.get(URL)
    records = lines(caplog)
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO, logging.WARNING]
    assert (
        records[-1]
        .getMessage()
        .startswith(f"GET {URL} failed: 503 ServiceUnavailable after 3 attempts in ")
    )
    assert records[-1].getMessage().endswith("(max_attempts (3) reached)")


def test_a_token_fetch_is_one_info_line(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx_remedy")
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
    messages = [r.getMessage() for r in lines(caplog) if "token" in r.getMessage()]
    assert messages == [
        f"fetched a new access token before sending GET {API}/items (client_credentials, 0s)"
    ]


def test_fifty_requests_meet_a_revoked_token_one_info_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """50 requests in flight get a 401 at once: one token request, one INFO line that says how
    many waited, and each request's own part at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    fake = FakeAS()
    in_flight = threading.Barrier(50, timeout=30)
    token = fake.token

    credentials = cc()

    def slow_token(request: httpx.Request) -> httpx.Response:
        # Answer once the other 49 queue for this one fetch (however loaded the machine is).
        manager = credentials.manager if fake.token_requests else None
        give_up = time.monotonic() + 30
        while manager is not None and manager.queued < 49 and time.monotonic() < give_up:
            time.sleep(0.01)
        return token(request)

    def held(request: httpx.Request) -> httpx.Response:
        in_flight.wait()
        return fake.api(request)

    fake.token = slow_token  # type: ignore[method-assign]
    transport = SYNC.transport(fake, credentials=credentials, retry=Retry(budget=None))
    with httpx.Client(transport=transport) as client:
        client.get(API + "/items")
        fake.revoke_all()
        fake.api_script.extend([held] * 50)
        caplog.clear()
        outcomes = SYNC.at_once([lambda: client.get(API + "/items")] * 50)
    assert [o.status_code for o, _ in outcomes] == [200] * 50
    assert len(fake.token_requests) == 2
    info = [r for r in lines(caplog) if r.levelno >= logging.INFO]
    assert len(info) == 1, [r.getMessage() for r in info]
    assert (
        info[0]
        .getMessage()
        .startswith(
            f"fetched a new access token after 401 invalid_token on GET {API}/items "
            "(client_credentials, "
        )
    )
    assert info[0].getMessage().endswith("s); 49 other requests waited for it")
    reused = [r for r in lines(caplog) if "another request fetched" in r.getMessage()]
    assert len(reused) == 49
    assert all(r.levelno == logging.DEBUG for r in reused)


def test_a_logging_listener_on_a_logger_of_ones_own(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    mine = LoggingListener(logging.getLogger("my.app"))
    assert repr(mine) == "LoggingListener('my.app')"
    previous = remedy.set_listeners([mine])
    try:
        with sync_client(Server((503, {"Retry-After": "1"}), 200), clock) as client:
            client.get(URL)
    finally:
        remedy.set_listeners(previous)
    assert lines(caplog) == []
    (retry,) = lines(caplog, "my.app")
    assert retry.getMessage() == (
        f"retrying GET {URL} after 503 in 1s (retry-after), attempt 1 of 3"
    )


def test_nothing_is_formatted_for_a_logger_that_is_off(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    described: list[str] = []

    class Spy(remedy.RetryScheduled):
        __slots__ = ()

        def describe(self) -> str:
            described.append("x")
            return "x"

    LoggingListener()(Spy(0.0, "GET", URL, 1, 3, 503, None, 1.0, "backoff"))
    assert described == []


@pytest.mark.integration  # waits 0.2 s on the wall clock: a lock's timeout
def test_a_wait_given_up_is_not_counted_as_waiting(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx_remedy")
    fake = FakeAS()
    with mode.client(fake, clock, timeout=0.2, credentials=cc()) as client:
        with mode.holding_token_lock(client.transport), pytest.raises(remedy.TokenWaitTimeout):
            client.get(API + "/items")
        import gc

        gc.collect()
        caplog.clear()
        assert client.get(API + "/items").status_code == 200
    (fetched,) = [r.getMessage() for r in lines(caplog) if "fetched" in r.getMessage()]
    assert "waited" not in fetched


@pytest.mark.integration  # waits 0.1 s on the wall clock
def test_a_wait_cancelled_is_not_counted_as_waiting(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A request cancelled (by its caller) while it waits for another's fetch is not among
    the requests the next fetch served."""
    if not mode.is_async:
        pytest.skip("cancelling a waiting request is an async thing")
    import anyio

    caplog.set_level(logging.INFO, logger="httpx_remedy")
    fake = FakeAS()
    with mode.client(fake, clock, credentials=cc()) as client:

        async def cancelled() -> None:
            with anyio.move_on_after(0.1):
                await client.httpx.get(API + "/items")

        with mode.holding_token_lock(client.transport):
            mode.run(cancelled)
        import gc

        gc.collect()
        caplog.clear()
        assert client.get(API + "/items").status_code == 200
    (fetched,) = [r.getMessage() for r in lines(caplog) if "fetched" in r.getMessage()]
    assert "waited" not in fetched
