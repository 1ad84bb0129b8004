"""A user's hook never breaks a request, and never holds a connection.

A retried response is closed before ``on_retry`` runs, so a hook that raises (or blocks) cannot
keep its connection out of the pool: checked over real sockets with a pool of one connection,
where a leaked response makes the next request wait for the pool and fail with PoolTimeout. The
hook's exception is logged once in a while, and the request goes on.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import _hooks
from httpx_remedy._budget import RetryBudget

from .helpers import API, SECRET, FakeAS, FakeClock, Mode, cc, sync_client
from .rawserver import RawServer, Received, head

LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)
TIMEOUT = httpx.Timeout(5.0, pool=0.5)
BODY = b"busy, come back later " * 10


def busy_then_ok(conn: socket.socket, request: Received, server: RawServer) -> None:
    """The first request gets a 503 with a body (its connection stays busy until the body is
    read or the response closed); every later one a 200."""
    if len(server.received) == 1:
        conn.sendall(head(503, [("Retry-After", "0"), ("Content-Length", str(len(BODY)))]) + BODY)
    else:
        conn.sendall(head(200, [("Content-Length", "2")]) + b"ok")


@pytest.fixture
def server() -> Iterator[RawServer]:
    with RawServer(busy_then_ok) as running:
        yield running


def retry_with(hook: Any) -> remedy.Retry:
    return remedy.Retry(budget=RetryBudget(), on_retry=hook)


def hook_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "httpx_remedy" and r.levelno == logging.WARNING and "hook" in r.getMessage()
    ]


def test_a_raising_hook_neither_breaks_the_request_nor_holds_the_connection(
    mode: Mode, server: RawServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    calls: list[remedy.Attempt] = []

    def hook(attempt: remedy.Attempt) -> None:
        calls.append(attempt)
        raise RuntimeError("the hook broke")

    transport = mode.transport(mode.network(limits=LIMITS), retry=retry_with(hook))
    with mode.wrap(transport, timeout=TIMEOUT) as client:
        assert client.get(server.url + "/items").text == "ok"
        # A leaked response would hold the only connection: this one would time out.
        assert client.get(server.url + "/items").text == "ok"
    assert [a.status for a in calls] == [503]
    (record,) = hook_warnings(caplog)
    assert "on_retry" in record.getMessage()
    assert "RuntimeError" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "the hook broke"


def test_a_hook_may_use_the_client_itself(server: RawServer) -> None:
    """The sync transport: a hook that sends a request through the same client gets the pool's
    only connection, because the retried response was closed before the hook was called."""
    inside: list[int] = []

    def hook(attempt: remedy.Attempt) -> None:
        inside.append(client.get(server.url + "/inside").status_code)

    transport = remedy.RemedyTransport(httpx.HTTPTransport(limits=LIMITS), retry=retry_with(hook))
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        assert client.get(server.url + "/items").text == "ok"
    assert inside == [200]


class FailingStore(remedy.MemoryStore):
    def pause(self, origin: str, seconds: float) -> None:
        raise RuntimeError("the store broke")


def test_a_store_that_raises_does_not_hold_the_connection(mode: Mode, server: RawServer) -> None:
    """A store is user code too: the 503's response is closed before its error goes up."""
    transport = mode.transport(
        mode.network(limits=LIMITS), retry=retry_with(None), store=FailingStore()
    )
    with mode.wrap(transport, timeout=TIMEOUT) as client:
        with pytest.raises(RuntimeError, match="the store broke"):
            client.get(server.url + "/items")
        # A leaked response would hold the only connection: this one would time out.
        assert client.get(server.url + "/items").text == "ok"


# -- the log: what it says, and how often --------------------------------------------------


def always_busy(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": "0"})


def test_a_hook_that_always_raises_is_logged_once_a_minute(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    calls: list[int] = []

    def hook(attempt: remedy.Attempt) -> None:
        calls.append(attempt.number)
        raise ValueError("again")

    def other(attempt: remedy.Attempt) -> None:
        raise KeyError("other")

    def get(client: httpx.Client) -> None:
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://api.example.com/items")

    with sync_client(always_busy, clock, retry=retry_with(hook)) as client:
        get(client)  # two retries, two calls: one warning
        clock.now += _hooks.QUIET - 1
        get(client)  # within the quiet time: none
        assert len(hook_warnings(caplog)) == 1
        clock.now += 1
        get(client)  # a minute after the first: one more
    with sync_client(always_busy, clock, retry=retry_with(other)) as client:
        get(client)  # another hook has its own minute
    assert calls == [1, 2] * 3
    messages = [r.getMessage() for r in hook_warnings(caplog)]
    assert len(messages) == 3
    assert "ValueError" in messages[0]
    assert "ValueError" in messages[1]
    assert "KeyError" in messages[2]
    assert ".other " in messages[2]


def test_the_hook_warning_holds_no_secret(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the hook by name (not by a repr that could show its object's state)
    and carries the hook's own traceback; no token, secret or Authorization header."""
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    fake = FakeAS()
    fake.api_script.append(httpx.Response(503, headers={"Retry-After": "0"}))

    class Holder:
        def __init__(self) -> None:
            self.secret = SECRET

        def __repr__(self) -> str:
            return f"Holder({self.secret})"

        def hook(self, attempt: remedy.Attempt) -> None:
            raise RuntimeError(f"could not record {attempt}")

    with sync_client(fake, clock, credentials=cc(), retry=retry_with(Holder().hook)) as client:
        assert client.get(API + "/items").json()["token"] == "access-1"
    (record,) = hook_warnings(caplog)
    assert "Holder.hook" in record.getMessage()
    assert "Traceback" in caplog.text
    assert "could not record attempt 1/3: 503" in caplog.text
    for secret in (SECRET, "access-1", "Bearer "):
        assert secret not in caplog.text


def test_an_unhashable_hook_is_rate_limited_too(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="httpx_remedy")

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, attempt: remedy.Attempt) -> None:
            raise RuntimeError("no")

    with sync_client(always_busy, clock, retry=retry_with(Unhashable())) as client:
        for _ in range(3):
            with pytest.raises(remedy.ServiceUnavailable):
                client.get("https://api.example.com/items")
    (record,) = hook_warnings(caplog)
    assert "Unhashable" in record.getMessage()


def test_the_remembered_hooks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hooks, "_last_logged", {})

    def boom(argument: object) -> None:
        raise RuntimeError

    hooks = [lambda a, boom=boom: boom(a) for _ in range(_hooks._REMEMBERED + 10)]
    for hook in hooks:
        _hooks.call_hook("test", hook, None, 0.0)
    assert len(_hooks._last_logged) == _hooks._REMEMBERED
    assert hooks[0] not in _hooks._last_logged
    assert hooks[-1] in _hooks._last_logged
