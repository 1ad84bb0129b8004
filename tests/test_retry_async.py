"""The async twins of ``test_retry.py``: the same decisions through AsyncRemedyTransport, under
asyncio and trio (the ``anyio_backend`` fixture runs every test on both).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
import tenacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import httpx_remedy as remedy
from httpx_remedy import Attempt, Retry
from httpx_remedy._policy import DEFAULT_BUDGET
from httpx_remedy.testing import no_wait, use_clock

from .conftest import FakeClock, async_client, on_clock
from .test_retry import (
    ALL_METHODS,
    DELAY_HEADERS,
    IDEMPOTENT,
    MAYBE_SENT,
    NOT_IDEMPOTENT,
    NOT_SENT,
    OVER_THE_CAP,
    POLICIES,
    SERVER_DELAYS,
    URL,
    UUID_KEY,
    RecordingStream,
    Server,
    _retry,
    _unique_url,
)

pytestmark = pytest.mark.anyio


class AsyncStreamingTransport(httpx.AsyncBaseTransport):
    """Sends like a real connection does: reads the request stream once, never buffers it."""

    def __init__(self, server: Server) -> None:
        self.server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        return self.server.respond(request, body)


def _client(
    transport: httpx.AsyncBaseTransport, clock: FakeClock, **options: Any
) -> httpx.AsyncClient:
    options.setdefault("retry", _retry())
    return httpx.AsyncClient(
        transport=on_clock(remedy.AsyncRemedyTransport(transport, **options), clock)
    )


async def _one_shot(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


# --------------------------------------------------------------------------------------------
# Turning retrying on and off
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [3, "retry", {"max_attempts": 1}, Retry])
async def test_transport_rejects_a_retry_that_is_not_a_policy(bad: object) -> None:
    with pytest.raises(TypeError, match="Retry"):
        remedy.AsyncRemedyTransport(httpx.MockTransport(Server()), retry=bad)  # type: ignore[arg-type]


async def test_retry_none_turns_retrying_off(clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    async with async_client(server, clock, retry=None) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.get(URL)
    assert server.sends == 1
    assert clock.sleeps == []
    assert len(info.value.attempts) == 1


async def test_retry_none_does_not_retry_transport_errors(clock: FakeClock) -> None:
    server = Server(httpx.ConnectError, 200)
    async with async_client(server, clock, retry=None) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(URL)
    assert server.sends == 1


async def test_default_policy_is_on_and_no_wait_skips_the_sleep() -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    transport = remedy.AsyncRemedyTransport(httpx.MockTransport(server))
    assert transport.retry == Retry()
    assert transport.retry is not None
    assert transport.retry.budget is DEFAULT_BUDGET
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    use_clock(transport, sleep=sleep)
    async with httpx.AsyncClient(transport=transport) as client:
        with no_wait():
            response = await client.get(_unique_url())
    assert response.status_code == 200
    assert server.sends == 2
    assert slept == []


async def test_default_policy_sleeps_through_the_transport_sleep() -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    transport = remedy.AsyncRemedyTransport(httpx.MockTransport(server))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    use_clock(transport, sleep=sleep)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(_unique_url())
    assert response.status_code == 200
    assert slept == [1.0]


@pytest.mark.parametrize("header", [{"Retry-After": "0.05"}, {"retry-after-ms": "50"}])
async def test_async_transport_really_sleeps_through_anyio(header: dict[str, str]) -> None:
    """The real sleep: anyio's, so it works under trio too, and lets other tasks run."""
    server = Server((503, header), 200)
    transport = remedy.AsyncRemedyTransport(httpx.MockTransport(server), retry=_retry())
    spins = 0

    async def spinner() -> None:
        # Runs at every scheduling round; a blocking sleep would leave it a handful.
        nonlocal spins
        while True:
            await anyio.sleep(0)
            spins += 1

    async with httpx.AsyncClient(transport=transport) as client, anyio.create_task_group() as tg:
        tg.start_soon(spinner)
        before = spins
        started = time.monotonic()
        response = await client.get(URL)
        elapsed = time.monotonic() - started
        during = spins - before
        tg.cancel_scope.cancel()
    assert response.status_code == 200
    assert server.sends == 2
    assert elapsed >= 0.04
    assert elapsed < 1.0
    assert during >= 20, during  # the event loop kept running during the wait


# --------------------------------------------------------------------------------------------
# Per-request override
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("override", [Retry(max_attempts=1), None], ids=["max_attempts=1", "None"])
async def test_per_request_override_turns_retrying_off(clock: FakeClock, override: Any) -> None:
    server = Server(503, 200)
    async with async_client(server, clock) as client:
        with pytest.raises(remedy.ServiceUnavailable):
            await client.get(URL, extensions={"remedy.retry": override})
        assert server.sends == 1
        server.script = [503, 200]
        server.requests.clear()
        assert (await client.get(URL)).status_code == 200
    assert server.sends == 2


async def test_per_request_override_turns_retrying_on(clock: FakeClock) -> None:
    server = Server(503, 503, 200)
    async with async_client(server, clock, retry=None) as client:
        response = await client.get(URL, extensions={"remedy.retry": _retry(max_attempts=3)})
    assert response.status_code == 200
    assert server.sends == 3


@pytest.mark.parametrize("bad", [3, "off", {"max_attempts": 1}, Retry, False])
async def test_per_request_override_rejects_a_bad_value(clock: FakeClock, bad: object) -> None:
    server = Server(200)
    async with async_client(server, clock) as client:
        with pytest.raises(TypeError, match=r"remedy\.retry"):
            await client.get(URL, extensions={"remedy.retry": bad})
    assert server.sends == 0


# --------------------------------------------------------------------------------------------
# How long to wait
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "headers", "wait", "reason"), SERVER_DELAYS)
async def test_server_delay_wins_over_backoff(
    clock: FakeClock,
    status: int,
    headers: Callable[[FakeClock], dict[str, str]],
    wait: float,
    reason: str,
) -> None:
    server = Server((status, headers(clock)))
    policy = _retry(max_attempts=2, wait=tenacity.wait_fixed(0.25))
    async with async_client(server, clock, retry=policy) as client:
        with pytest.raises(remedy.HTTPError) as info:
            await client.get(URL)
    assert clock.sleeps == [pytest.approx(wait)]
    first, last = info.value.attempts
    assert (first.action, first.wait, first.wait_reason) == ("retry", pytest.approx(wait), reason)
    assert last.action == "raise"


async def test_no_server_delay_uses_the_computed_backoff(clock: FakeClock) -> None:
    server = Server(503, 503, 200)
    policy = _retry(wait=tenacity.wait_exponential(multiplier=1, max=100))
    async with async_client(server, clock, retry=policy) as client:
        assert (await client.get(URL)).status_code == 200
    assert clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize(("status", "headers", "error"), OVER_THE_CAP)
async def test_server_delay_over_max_retry_after_is_raised_at_once(
    clock: FakeClock,
    status: int,
    headers: Callable[[FakeClock], dict[str, str]],
    error: type[Exception],
) -> None:
    server = Server((status, headers(clock)), 200)
    async with async_client(
        server, clock, retry=_retry(max_attempts=5, max_retry_after=60)
    ) as client:
        with pytest.raises(error) as info:
            await client.get(URL)
    assert server.sends == 1
    assert clock.sleeps == []
    assert info.value.retry_after == pytest.approx(120)
    (attempt,) = info.value.attempts
    assert attempt.action == "raise"
    assert "max_retry_after" in (attempt.note or "")


async def test_server_delay_that_would_overrun_the_deadline_is_raised_at_once(
    clock: FakeClock,
) -> None:
    server = Server((503, {"Retry-After": "30"}), 200)
    policy = _retry(max_attempts=5, max_retry_after=60, deadline=10)
    async with async_client(server, clock, retry=policy) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.get(URL)
    assert server.sends == 1
    assert clock.sleeps == []
    assert "deadline" in (info.value.attempts[-1].note or "")


@pytest.mark.parametrize("value", ["-1", "soon", "1e400", "nan", ""])
async def test_garbage_retry_after_falls_back_to_the_backoff(clock: FakeClock, value: str) -> None:
    server = Server((503, {"Retry-After": value}))
    async with async_client(server, clock, retry=_retry(max_attempts=2)) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.get(URL)
    first = info.value.attempts[0]
    assert first.wait_reason == "backoff"
    assert first.wait is not None
    assert 0 <= first.wait <= 8
    assert clock.sleeps == ([first.wait] if first.wait > 0 else [])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    policy=POLICIES,
    status=st.sampled_from([429, 503, 500, 502]),
    headers=st.lists(DELAY_HEADERS, min_size=1, max_size=4),
)
async def test_no_wait_ever_exceeds_max_retry_after(
    policy: Retry, status: int, headers: list[dict[str, str]]
) -> None:
    clock = FakeClock()
    server = Server(*[(status, h) for h in headers])
    async with async_client(server, clock, retry=policy) as client:
        with pytest.raises(remedy.HTTPError):
            await client.get(URL)
    assert server.sends <= policy.max_attempts
    for slept in clock.sleeps:
        assert math.isfinite(slept)
        assert 0 <= slept <= policy.max_retry_after
    if policy.deadline is not None:
        assert sum(clock.sleeps) < policy.deadline


# --------------------------------------------------------------------------------------------
# The deadline
# --------------------------------------------------------------------------------------------


async def test_deadline_stops_fixed_waits_before_the_overrun(clock: FakeClock) -> None:
    server = Server(503)
    policy = _retry(max_attempts=50, deadline=10, wait=tenacity.wait_fixed(3))
    async with async_client(server, clock, retry=policy) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.get(URL)
    assert clock.sleeps == [3, 3, 3]
    assert sum(clock.sleeps) < 10
    assert "deadline" in (info.value.attempts[-1].note or "")


@pytest.mark.parametrize(
    "timeout",
    [httpx.Timeout(30.0), httpx.Timeout(None), httpx.Timeout(30.0, connect=2.0)],
    ids=["30s", "none", "short-connect"],
)
async def test_each_attempt_timeout_is_shrunk_to_the_time_left(
    clock: FakeClock, timeout: httpx.Timeout
) -> None:
    server = Server((503, {"Retry-After": "4"}), (503, {"Retry-After": "3"}), 200)
    policy = _retry(max_attempts=5, deadline=10)
    async with async_client(server, clock, retry=policy) as client:
        assert (await client.get(URL, timeout=timeout)).status_code == 200
    original = timeout.as_dict()
    for timeouts, elapsed in zip(server.timeouts, [0, 4, 7], strict=True):
        for name, value in timeouts.items():
            assert value is not None
            assert value <= 10 - elapsed
            wanted = original[name]
            assert value == pytest.approx(
                10 - elapsed if wanted is None else min(wanted, 10 - elapsed)
            )


# --------------------------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("status", [429, 503])
async def test_refused_statuses_are_retried_for_every_method(
    clock: FakeClock, method: str, status: int
) -> None:
    server = Server(status, status, 200)
    async with async_client(server, clock) as client:
        assert (await client.request(method, URL, content=b"x")).status_code == 200
    assert server.sends == 3


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, remedy.InternalServerError),
        (502, remedy.BadGateway),
        (504, remedy.GatewayTimeout),
        (408, remedy.RequestTimeout),
    ],
)
async def test_maybe_processed_statuses_are_not_retried_for_post(
    clock: FakeClock, method: str, status: int, error: type[Exception]
) -> None:
    server = Server(status, 200)
    async with async_client(server, clock) as client:
        with pytest.raises(error) as info:
            await client.request(method, URL, json={"a": 1})
    assert server.sends == 1
    (attempt,) = info.value.attempts
    assert "not idempotent" in (attempt.note or "")


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("status", [500, 502, 504, 408])
async def test_maybe_processed_statuses_are_retried_for_idempotent_methods(
    clock: FakeClock, method: str, status: int
) -> None:
    server = Server(status, 200)
    async with async_client(server, clock) as client:
        assert (await client.request(method, URL)).status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
async def test_post_with_an_idempotency_key_is_retried(clock: FakeClock, method: str) -> None:
    server = Server(500, 502, 200)
    key = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'
    async with async_client(server, clock) as client:
        response = await client.request(
            method, URL, json={"a": 1}, headers={"Idempotency-Key": key}
        )
    assert response.status_code == 200
    assert [h["idempotency-key"] for h in server.headers] == [key] * 3


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
async def test_idempotency_keys_are_added_to_post_and_patch(clock: FakeClock, method: str) -> None:
    server = Server(500, 500, 200)
    async with async_client(server, clock, retry=_retry(idempotency_keys=True)) as client:
        assert (await client.request(method, URL, json={"a": 1})).status_code == 200
    keys = [h.get("idempotency-key") for h in server.headers]
    assert keys[0] is not None
    assert UUID_KEY.match(keys[0])
    assert keys == [keys[0]] * 3


@pytest.mark.parametrize("method", IDEMPOTENT)
async def test_idempotency_keys_are_not_added_to_idempotent_methods(
    clock: FakeClock, method: str
) -> None:
    server = Server(503, 200)
    async with async_client(server, clock, retry=_retry(idempotency_keys=True)) as client:
        await client.request(method, URL)
    assert all("idempotency-key" not in h for h in server.headers)


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("error", NOT_SENT)
async def test_errors_before_sending_are_retried_for_every_method(
    clock: FakeClock, method: str, error: type[Exception]
) -> None:
    server = Server(error, 200)
    async with async_client(server, clock) as client:
        assert (await client.request(method, URL, content=b"x")).status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("error", MAYBE_SENT)
async def test_errors_after_sending_are_retried_for_idempotent_methods(
    clock: FakeClock, method: str, error: type[Exception]
) -> None:
    server = Server(error, 200)
    async with async_client(server, clock) as client:
        assert (await client.request(method, URL)).status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
@pytest.mark.parametrize("error", MAYBE_SENT)
async def test_errors_after_sending_are_not_retried_for_post(
    clock: FakeClock, method: str, error: type[Exception]
) -> None:
    server = Server(error, 200)
    async with async_client(server, clock) as client:
        with pytest.raises(error) as info:
            await client.request(method, URL, json={"a": 1})
    assert type(info.value) is error
    assert info.value is server.raised[0]
    assert server.sends == 1
    (attempt,) = remedy.attempts_of(info.value)
    assert "not idempotent" in (attempt.note or "")


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout])
async def test_the_original_transport_error_is_raised_when_attempts_run_out(
    clock: FakeClock, error: type[Exception]
) -> None:
    server = Server(error)
    async with async_client(server, clock, retry=_retry(max_attempts=3)) as client:
        with pytest.raises(error) as info:
            await client.get(URL)
    assert type(info.value) is error
    assert info.value is server.raised[-1]
    assert server.sends == 3
    attempts = remedy.attempts_of(info.value)
    assert [a.action for a in attempts] == ["retry", "retry", "raise"]
    assert {a.error for a in attempts} == {error.__name__}
    assert "max_attempts (3)" in (attempts[-1].note or "")


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_other_exceptions_propagate_untouched(clock: FakeClock, method: str) -> None:
    server = Server(ValueError, 200)
    async with async_client(server, clock) as client:
        with pytest.raises(ValueError, match="simulated") as info:
            await client.request(method, URL)
    assert info.value is server.raised[0]
    assert server.sends == 1
    assert remedy.attempts_of(info.value) == ()


async def test_other_exceptions_on_a_retry_are_not_retried(clock: FakeClock) -> None:
    server = Server(503, ValueError, 200)
    async with async_client(server, clock) as client:
        with pytest.raises(ValueError, match="simulated"):
            await client.get(URL)
    assert server.sends == 2


# --------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------


async def test_one_shot_body_is_never_replayed(clock: FakeClock) -> None:
    server = Server(503, 200)
    async with _client(AsyncStreamingTransport(server), clock) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.post(URL, content=_one_shot(b"chunk-1,", b"chunk-2"))
    assert server.sends == 1
    assert server.bodies == [b"chunk-1,chunk-2"]
    assert clock.sleeps == []
    assert "cannot be replayed" in (info.value.attempts[-1].note or "")


async def test_one_shot_body_is_never_replayed_even_when_the_inner_transport_buffers_it(
    clock: FakeClock,
) -> None:
    """httpx.MockTransport reads the body into memory; the decision must not change with it."""
    server = Server(503, 200)
    async with async_client(server, clock) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.post(URL, content=_one_shot(b"chunk-1,", b"chunk-2"))
    assert server.sends == 1
    assert "cannot be replayed" in (info.value.attempts[-1].note or "")


@pytest.mark.parametrize(
    "body",
    [
        {"content": b"\x00raw bytes\xff"},
        {"content": "text body"},
        {"json": {"amount": 10, "currency": "EUR"}},
        {"data": {"grant_type": "client_credentials", "scope": "a b"}},
        {"files": {"upload": ("a.txt", b"file body", "text/plain")}},
    ],
    ids=["bytes", "str", "json", "form", "multipart"],
)
async def test_replayable_bodies_are_sent_identically_on_every_attempt(
    clock: FakeClock, body: dict[str, Any]
) -> None:
    server = Server(503, 429, 200)
    async with _client(AsyncStreamingTransport(server), clock) as client:
        assert (await client.post(URL, **body)).status_code == 200
    assert server.sends == 3
    assert server.bodies[0]
    assert server.bodies == [server.bodies[0]] * 3


# --------------------------------------------------------------------------------------------
# Closing
# --------------------------------------------------------------------------------------------


async def test_retried_responses_are_closed_before_the_wait(clock: FakeClock) -> None:
    streams: list[RecordingStream] = []

    def busy(request: httpx.Request) -> httpx.Response:
        streams.append(RecordingStream())
        return httpx.Response(503, headers={"Retry-After": "1"}, stream=streams[-1])

    server = Server(busy, busy, 200)
    client = async_client(server, clock)
    closed_at_sleep: list[list[bool]] = []

    async def sleep(seconds: float) -> None:
        closed_at_sleep.append([s.closed for s in streams])
        closed_at_sleep[-1] += [r.is_closed for r in server.responses]
        clock.sleep(seconds)

    use_clock(client._transport, sleep=sleep)  # type: ignore[arg-type]
    async with client:
        response = await client.get(URL)
        assert response.status_code == 200
        assert response.json() == {"detail": "scripted"}
    assert closed_at_sleep == [[True, True], [True, True, True, True]]


# --------------------------------------------------------------------------------------------
# Seeing what happened
# --------------------------------------------------------------------------------------------


async def test_every_attempt_is_recorded_in_order(clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "2"}), httpx.ConnectError, 502)
    policy = _retry(max_attempts=3, wait=tenacity.wait_fixed(0.5))
    async with async_client(server, clock, retry=policy) as client:
        with pytest.raises(remedy.BadGateway) as info:
            await client.get(URL + "?key=secret")
    attempts = info.value.attempts
    assert [a.number for a in attempts] == [1, 2, 3]
    assert {a.url for a in attempts} == {URL + "?key=[redacted]"}
    assert [a.status for a in attempts] == [503, None, 502]
    assert [a.error for a in attempts] == [None, "ConnectError", None]
    assert [a.action for a in attempts] == ["retry", "retry", "raise"]
    assert [a.wait for a in attempts] == [2.0, 0.5, None]
    assert [a.wait_reason for a in attempts] == ["retry-after", "backoff", None]
    assert [a.elapsed for a in attempts] == [0.0, 2.0, 2.5]
    assert clock.sleeps == [2.0, 0.5]


async def test_one_log_line_per_retry(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx_remedy")
    server = Server((503, {"Retry-After": "2"}), (503, {"Retry-After": "1"}), 200)
    async with async_client(server, clock) as client:
        await client.get(URL + "?key=secret&page=2")
    lines = [r for r in caplog.records if r.name == "httpx_remedy"]
    assert len(lines) == 2
    first, second = (r.getMessage() for r in lines)
    for text in (first, second):
        assert "GET" in text
        assert URL + "?key=[redacted]&page=[redacted]" in text
        assert "503" in text
    assert "2s" in first
    assert "attempt 1 of 3" in first
    assert "attempt 2 of 3" in second
    assert "secret" not in caplog.text


async def test_on_retry_hook_gets_a_frozen_record_before_each_wait(clock: FakeClock) -> None:
    seen: list[tuple[Attempt, int]] = []

    def hook(attempt: Attempt) -> None:
        seen.append((attempt, len(clock.sleeps)))

    server = Server((503, {"Retry-After": "2"}), httpx.ConnectError, 503)
    policy = _retry(max_attempts=3, on_retry=hook, wait=tenacity.wait_fixed(0.5))
    async with async_client(server, clock, retry=policy) as client:
        with pytest.raises(remedy.ServiceUnavailable) as info:
            await client.get(URL)
    assert [attempt for attempt, _ in seen] == list(info.value.attempts[:-1])
    assert [sleeps_before for _, sleeps_before in seen] == [0, 1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0][0].wait = 0  # type: ignore[misc]


async def test_no_wait_zeroes_waits_but_keeps_the_decisions(clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "3"}), (429, {"Retry-After": "120"}), 200)
    async with async_client(server, clock, retry=_retry(max_retry_after=60)) as client:
        with no_wait(), pytest.raises(remedy.TooManyRequests) as info:
            await client.get(URL)
    assert clock.sleeps == []
    assert server.sends == 2
    assert info.value.attempts[0].wait == 3.0
    assert info.value.retry_after == 120
    assert "max_retry_after" in (info.value.attempts[-1].note or "")
