"""Back off and retry: the policy object, the transports' decisions, and the pure rules.

Every transport test takes the ``mode`` fixture: it runs with the sync transport and with the
async one under asyncio and trio. Every test runs on the fake clock (waits are recorded in
``clock.sleeps``, never slept) and a fresh :class:`RetryBudget`, unless it checks the defaults
themselves. The rules themselves, without a transport, are at the end (``retry_kind``,
``decide``); the flow that applies them, command by command, is in ``test_flow.py``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import anyio
import httpx
import pytest
import tenacity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import httpx_remedy as remedy
from httpx_remedy import Attempt, Remedy, Retry, RetryBudget
from httpx_remedy._budget import DEFAULT_BUDGET
from httpx_remedy._pacer import DEFAULT_PACER
from httpx_remedy._policy import Decision, decide, retry_kind
from httpx_remedy.testing import no_wait, use_clock

from .helpers import FakeClock, Mode, RecordingStream, Server

URL = "https://api.example.test/items"
ORIGIN = ("https", "api.example.test", 8443)  # as httpx_remedy._http.origin_of makes it
UUID_KEY = re.compile(r'^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$')

_UNSET: Any = object()


def _retry(budget: RetryBudget | None = _UNSET, **options: Any) -> Retry:
    """A policy on a budget of its own (``budget=None`` turns the budget off)."""
    return Retry(budget=RetryBudget() if budget is _UNSET else budget, **options)


def _unique_url() -> str:
    """A URL on an origin no other test uses (for tests on the process-wide budget)."""
    return f"https://{uuid.uuid4().hex}.example.test/items"


# --------------------------------------------------------------------------------------------
# The policy object
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_attempts", 5),
        ("statuses", frozenset({500})),
        ("max_retry_after", 1.0),
        ("deadline", None),
        ("budget", None),
        ("idempotency_keys", True),
        ("wait", tenacity.wait_fixed(1)),
        ("on_retry", print),
    ],
)
def test_retry_is_immutable(name: str, value: object) -> None:
    policy = Retry()
    before = getattr(policy, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(policy, name, value)
    assert getattr(policy, name) is before


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"max_attempts": -1}, ValueError, "max_attempts"),
        ({"max_attempts": 2.5}, ValueError, "max_attempts"),
        ({"max_attempts": "3"}, ValueError, "max_attempts"),
        ({"max_attempts": True}, ValueError, "max_attempts"),
        ({"max_attempts": None}, ValueError, "max_attempts"),
        ({"max_retry_after": -1}, ValueError, "max_retry_after"),
        ({"max_retry_after": -0.001}, ValueError, "max_retry_after"),
        ({"max_retry_after": math.nan}, ValueError, "max_retry_after"),
        ({"max_retry_after": math.inf}, ValueError, "max_retry_after"),
        ({"max_retry_after": "60"}, ValueError, "max_retry_after"),
        ({"deadline": 0}, ValueError, "deadline"),
        ({"deadline": -5}, ValueError, "deadline"),
        ({"deadline": math.inf}, ValueError, "deadline"),
        ({"statuses": {200}}, ValueError, "400-599"),
        ({"statuses": {399, 503}}, ValueError, "400-599"),
        ({"statuses": {600}}, ValueError, "400-599"),
        ({"statuses": {"503"}}, ValueError, "400-599"),
        ({"statuses": {True}}, ValueError, "400-599"),
        ({"statuses": 503}, TypeError, "statuses"),
        ({"statuses": "503"}, TypeError, "statuses"),
        ({"wait": 2}, TypeError, "wait"),
        ({"wait": "exponential"}, TypeError, "wait"),
        ({"wait": None}, TypeError, "wait"),
        ({"budget": 10}, TypeError, "budget"),
        ({"on_retry": "log"}, TypeError, "on_retry"),
    ],
)
def test_retry_validates_its_arguments(
    options: dict[str, Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=re.escape(words)):
        Retry(**options)


def test_retry_accepts_good_arguments() -> None:
    policy = Retry(
        max_attempts=1,
        statuses=[429, 503],
        wait=tenacity.wait_fixed(0),
        max_retry_after=0,
        deadline=0.5,
        budget=None,
        idempotency_keys=True,
        on_retry=lambda attempt: None,
    )
    assert policy.statuses == frozenset({429, 503})
    assert isinstance(policy.statuses, frozenset)
    assert Retry(deadline=None).deadline is None


def test_default_policy_values() -> None:
    policy = Retry()
    assert policy.max_attempts == 3
    assert {408, 429, 500, 502, 503, 504} <= policy.statuses
    assert policy.max_retry_after == 60
    assert policy.deadline == 120
    assert policy.idempotency_keys is False


@pytest.mark.parametrize("bad", [3, "retry", {"max_attempts": 1}, Retry])
def test_transport_rejects_a_retry_that_is_not_a_policy(mode: Mode, bad: object) -> None:
    with pytest.raises(TypeError, match="Retry"):
        mode.transport(Server(), retry=bad)


def test_retry_none_turns_retrying_off(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    with (
        mode.client(server, clock, retry=None) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert server.sends == 1
    assert clock.sleeps == []
    assert len(info.value.attempts) == 1
    assert info.value.attempts[0].action == "raise"


def test_retry_none_does_not_retry_transport_errors(mode: Mode, clock: FakeClock) -> None:
    server = Server(httpx.ConnectError, 200)
    with mode.client(server, clock, retry=None) as client, pytest.raises(httpx.ConnectError):
        client.get(URL)
    assert server.sends == 1


def test_max_attempts_one_disables_retrying(mode: Mode, clock: FakeClock) -> None:
    server = Server(503, 200)
    with (
        mode.client(server, clock, retry=_retry(max_attempts=1)) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert server.sends == 1
    assert "max_attempts (1)" in (info.value.attempts[-1].note or "")


def test_default_policy_is_on_and_no_wait_skips_the_sleep(mode: Mode) -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    transport = mode.transport(server)
    assert transport.retry == Retry()
    assert transport.retry is not None
    assert transport.retry.budget is DEFAULT_BUDGET
    slept: list[float] = []
    use_clock(transport, sleep=mode.hook(slept.append))
    with mode.wrap(transport) as client, no_wait():
        response = client.get(_unique_url())
    assert response.status_code == 200
    assert server.sends == 2
    assert slept == []


def test_default_policy_sleeps_through_the_transport_sleep(mode: Mode) -> None:
    """The twin of the test above without ``no_wait()``: the recording sleep does get called."""
    server = Server((503, {"Retry-After": "1"}), 200)
    transport = mode.transport(server)
    slept: list[float] = []
    use_clock(transport, sleep=mode.hook(slept.append))
    with mode.wrap(transport) as client:
        response = client.get(_unique_url())
    assert response.status_code == 200
    assert server.sends == 2
    assert slept == [1.0]


@pytest.mark.anyio
@pytest.mark.parametrize("header", [{"Retry-After": "0.05"}, {"retry-after-ms": "50"}])
async def test_async_transport_really_sleeps_through_anyio(header: dict[str, str]) -> None:
    """The real sleep: anyio's, so it works under trio too, and lets other tasks run (time
    itself is under test: 50 ms of wall clock)."""
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
def test_per_request_override_turns_retrying_off(
    mode: Mode, clock: FakeClock, override: Any
) -> None:
    server = Server(503, 200)
    with mode.client(server, clock) as client:
        with pytest.raises(remedy.ServiceUnavailable):
            client.get(URL, extensions={"remedy.retry": override})
        assert server.sends == 1
        # The transport's own policy still applies to the next request.
        server.script = [503, 200]
        server.requests.clear()
        assert client.get(URL).status_code == 200
    assert server.sends == 2


def test_per_request_override_turns_retrying_on(mode: Mode, clock: FakeClock) -> None:
    server = Server(503, 503, 200)
    with mode.client(server, clock, retry=None) as client:
        response = client.get(URL, extensions={"remedy.retry": _retry(max_attempts=3)})
    assert response.status_code == 200
    assert server.sends == 3


@pytest.mark.parametrize("bad", [3, "off", {"max_attempts": 1}, Retry, False])
def test_per_request_override_rejects_a_bad_value(
    mode: Mode, clock: FakeClock, bad: object
) -> None:
    server = Server(200)
    with mode.client(server, clock) as client, pytest.raises(TypeError, match=r"remedy\.retry"):
        client.get(URL, extensions={"remedy.retry": bad})
    assert server.sends == 0


# --------------------------------------------------------------------------------------------
# How long to wait: the server's delay wins over the computed backoff
# --------------------------------------------------------------------------------------------

SERVER_DELAYS = [
    pytest.param(503, lambda c: {"Retry-After": "3"}, 3.0, "retry-after", id="retry-after"),
    pytest.param(
        503,
        lambda c: {"Retry-After": formatdate(c.time() + 5, usegmt=True)},
        5.0,
        "retry-after",
        id="retry-after-http-date",
    ),
    pytest.param(
        429, lambda c: {"retry-after-ms": "1500"}, 1.5, "retry-after-ms", id="retry-after-ms"
    ),
    pytest.param(
        503,
        lambda c: {"Retry-After": "2", "retry-after-ms": "2500"},
        2.5,
        "retry-after-ms",
        id="retry-after-ms-beats-retry-after",
    ),
    pytest.param(
        429, lambda c: {"RateLimit": '"default";r=0;t=4'}, 4.0, "ratelimit", id="ratelimit"
    ),
    pytest.param(
        429,
        lambda c: {"X-RateLimit-Reset": str(int(c.time()) + 7)},
        7.0,
        "x-ratelimit-reset",
        id="x-ratelimit-reset-timestamp",
    ),
    pytest.param(
        429, lambda c: {"RateLimit-Reset": "2"}, 2.0, "ratelimit-reset", id="ratelimit-reset"
    ),
    pytest.param(
        429,
        lambda c: {"Retry-After": "1", "RateLimit": '"default";r=0;t=4'},
        1.0,
        "retry-after",
        id="retry-after-beats-ratelimit",
    ),
]


@pytest.mark.parametrize(("status", "headers", "wait", "reason"), SERVER_DELAYS)
def test_server_delay_wins_over_backoff(
    mode: Mode,
    clock: FakeClock,
    status: int,
    headers: Callable[[FakeClock], dict[str, str]],
    wait: float,
    reason: str,
) -> None:
    server = Server((status, headers(clock)), 200)
    with mode.client(server, clock, retry=_retry(wait=tenacity.wait_fixed(0.25))) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps == [pytest.approx(wait)]


@pytest.mark.parametrize(("status", "headers", "wait", "reason"), SERVER_DELAYS)
def test_attempt_record_says_why_it_waited(
    mode: Mode,
    clock: FakeClock,
    status: int,
    headers: Callable[[FakeClock], dict[str, str]],
    wait: float,
    reason: str,
) -> None:
    server = Server((status, headers(clock)))
    policy = _retry(max_attempts=2, wait=tenacity.wait_fixed(0.25))
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.HTTPError) as info,
    ):
        client.get(URL)
    first, last = info.value.attempts
    assert (first.action, first.wait, first.wait_reason) == ("retry", pytest.approx(wait), reason)
    assert (last.action, last.wait, last.wait_reason) == ("raise", None, None)
    assert clock.sleeps == [pytest.approx(wait)]


def test_no_server_delay_uses_the_computed_backoff(mode: Mode, clock: FakeClock) -> None:
    server = Server(503, 503, 200)
    policy = _retry(wait=tenacity.wait_exponential(multiplier=1, max=100))
    with mode.client(server, clock, retry=policy) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps == [1.0, 2.0]


def test_rate_limit_headers_only_count_on_a_429(mode: Mode, clock: FakeClock) -> None:
    """A 503's ``RateLimit-Reset`` is not a delay request; the backoff applies."""
    server = Server((503, {"RateLimit-Reset": "7"}), 200)
    with mode.client(server, clock, retry=_retry(wait=tenacity.wait_fixed(0.25))) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps == [0.25]


OVER_THE_CAP = [
    pytest.param(429, lambda c: {"Retry-After": "120"}, remedy.TooManyRequests, id="429"),
    pytest.param(503, lambda c: {"Retry-After": "120"}, remedy.ServiceUnavailable, id="503"),
    pytest.param(
        429,
        lambda c: {"Retry-After": formatdate(c.time() + 120, usegmt=True)},
        remedy.TooManyRequests,
        id="http-date",
    ),
    pytest.param(503, lambda c: {"retry-after-ms": "120000"}, remedy.ServiceUnavailable, id="ms"),
    pytest.param(
        429, lambda c: {"RateLimit": '"default";r=0;t=120'}, remedy.TooManyRequests, id="ratelimit"
    ),
]


@pytest.mark.parametrize(("status", "headers", "error"), OVER_THE_CAP)
def test_server_delay_over_max_retry_after_is_raised_at_once(
    mode: Mode,
    clock: FakeClock,
    status: int,
    headers: Callable[[FakeClock], dict[str, str]],
    error: type[Exception],
) -> None:
    server = Server((status, headers(clock)), 200)
    with (
        mode.client(server, clock, retry=_retry(max_attempts=5, max_retry_after=60)) as client,
        pytest.raises(error) as info,
    ):
        client.get(URL)
    assert server.sends == 1
    assert clock.sleeps == []
    assert info.value.retry_after == pytest.approx(120)
    (attempt,) = info.value.attempts
    assert attempt.action == "raise"
    assert "max_retry_after" in (attempt.note or "")


def test_server_delay_equal_to_max_retry_after_is_slept(mode: Mode, clock: FakeClock) -> None:
    server = Server((429, {"Retry-After": "60"}), 200)
    with mode.client(server, clock, retry=_retry(max_retry_after=60)) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps == [60.0]


def test_server_delay_that_would_overrun_the_deadline_is_raised_at_once(
    mode: Mode, clock: FakeClock
) -> None:
    server = Server((503, {"Retry-After": "30"}), 200)
    policy = _retry(max_attempts=5, max_retry_after=60, deadline=10)
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert server.sends == 1
    assert clock.sleeps == []
    assert info.value.retry_after == 30
    assert "deadline" in (info.value.attempts[-1].note or "")


@pytest.mark.parametrize("value", ["-1", "soon", "1e400", "nan", "inf", "", "0x10", "-0.5"])
def test_garbage_retry_after_falls_back_to_the_backoff(
    mode: Mode, clock: FakeClock, value: str
) -> None:
    server = Server((503, {"Retry-After": value}), 200)
    with mode.client(server, clock, retry=_retry(wait=tenacity.wait_fixed(0.25))) as client:
        assert client.get(URL).status_code == 200
    assert clock.sleeps == [0.25]


@pytest.mark.parametrize("value", ["-1", "soon", "1e400", "nan", ""])
def test_garbage_retry_after_waits_the_default_backoff(
    mode: Mode, clock: FakeClock, value: str
) -> None:
    server = Server((503, {"Retry-After": value}))
    with (
        mode.client(server, clock, retry=_retry(max_attempts=2)) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    first = info.value.attempts[0]
    assert first.wait_reason == "backoff"
    assert first.wait is not None
    assert 0 <= first.wait <= 8  # the default backoff's cap
    assert clock.sleeps == ([first.wait] if first.wait > 0 else [])
    assert info.value.retry_after is None


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
DELAY_VALUES = st.one_of(
    HEADER_TEXT,
    st.integers(min_value=-(10**6), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda s: formatdate(1_764_000_000 + s)),
)
DELAY_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Retry-After",
            "retry-after-ms",
            "x-ms-retry-after-ms",
            "RateLimit-Reset",
            "X-RateLimit-Reset",
            "RateLimit",
        ]
    ),
    DELAY_VALUES,
    max_size=3,
)
POLICIES = st.builds(
    Retry,
    max_attempts=st.integers(min_value=1, max_value=4),
    max_retry_after=st.floats(min_value=0, max_value=200),
    deadline=st.one_of(st.none(), st.floats(min_value=0.001, max_value=500)),
    wait=st.one_of(
        st.just(Retry().wait),
        st.floats(min_value=0, max_value=1e6).map(tenacity.wait_fixed),
    ),
    budget=st.builds(RetryBudget),
)


@settings(
    max_examples=80,
    deadline=None,
    # ``mode`` only says which transport to build: nothing in it carries over between examples.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    policy=POLICIES,
    status=st.sampled_from([429, 503, 500, 502]),
    headers=st.lists(DELAY_HEADERS, min_size=1, max_size=4),
)
def test_no_wait_ever_exceeds_max_retry_after(
    mode: Mode, policy: Retry, status: int, headers: list[dict[str, str]]
) -> None:
    DEFAULT_PACER.clear()  # an earlier example's quota headers are not this one's
    clock = FakeClock()
    server = Server(*[(status, h) for h in headers])
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.HTTPError) as info,
    ):
        client.get(URL)
    assert server.sends <= policy.max_attempts
    for slept in clock.sleeps:
        assert math.isfinite(slept)
        assert 0 <= slept <= policy.max_retry_after
    if policy.deadline is not None:
        assert sum(clock.sleeps) < policy.deadline
    for attempt in info.value.attempts:
        if attempt.wait is not None:
            assert 0 <= attempt.wait <= policy.max_retry_after


# --------------------------------------------------------------------------------------------
# The deadline
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wait",
    [tenacity.wait_fixed(3), tenacity.wait_exponential(multiplier=1, max=100), Retry().wait],
    ids=["fixed-3", "exponential", "default"],
)
def test_deadline_bounds_the_sum_of_the_waits(mode: Mode, clock: FakeClock, wait: Any) -> None:
    server = Server(503)
    policy = _retry(max_attempts=50, deadline=10, wait=wait, budget=None)
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert sum(clock.sleeps) < 10
    assert server.sends < 50
    assert "deadline" in (info.value.attempts[-1].note or "")


def test_deadline_stops_fixed_waits_before_the_overrun(mode: Mode, clock: FakeClock) -> None:
    server = Server(503)
    policy = _retry(max_attempts=50, deadline=10, wait=tenacity.wait_fixed(3))
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert clock.sleeps == [3, 3, 3]  # a fourth would end at 12 s
    assert server.sends == 4
    assert "deadline" in (info.value.attempts[-1].note or "")


@pytest.mark.parametrize(
    "timeout",
    [httpx.Timeout(30.0), httpx.Timeout(None), httpx.Timeout(30.0, connect=2.0)],
    ids=["30s", "none", "short-connect"],
)
def test_each_attempt_timeout_is_shrunk_to_the_time_left(
    mode: Mode, clock: FakeClock, timeout: httpx.Timeout
) -> None:
    server = Server((503, {"Retry-After": "4"}), (503, {"Retry-After": "3"}), 200)
    policy = _retry(max_attempts=5, deadline=10)
    with mode.client(server, clock, retry=policy) as client:
        assert client.get(URL, timeout=timeout).status_code == 200
    original = timeout.as_dict()
    assert len(server.timeouts) == 3
    for timeouts, elapsed in zip(server.timeouts, [0, 4, 7], strict=True):
        assert set(timeouts) == set(original)
        for name, value in timeouts.items():
            assert value is not None
            assert value <= 10 - elapsed
            wanted = original[name]
            assert value == pytest.approx(
                10 - elapsed if wanted is None else min(wanted, 10 - elapsed)
            )


def test_no_deadline_leaves_timeouts_alone(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "4"}), 200)
    with mode.client(server, clock, retry=_retry(deadline=None)) as client:
        client.get(URL, timeout=30)
    assert server.timeouts == [httpx.Timeout(30).as_dict()] * 2


# --------------------------------------------------------------------------------------------
# Safety: what may be retried for which method
# --------------------------------------------------------------------------------------------

ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"]
IDEMPOTENT = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]
NOT_IDEMPOTENT = ["POST", "PATCH"]


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("status", [429, 503])
def test_refused_statuses_are_retried_for_every_method(
    mode: Mode, clock: FakeClock, method: str, status: int
) -> None:
    server = Server(status, status, 200)
    with mode.client(server, clock) as client:
        assert client.request(method, URL, content=b"x").status_code == 200
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
def test_maybe_processed_statuses_are_not_retried_for_post(
    mode: Mode, clock: FakeClock, method: str, status: int, error: type[Exception]
) -> None:
    server = Server(status, 200)
    with mode.client(server, clock) as client, pytest.raises(error) as info:
        client.request(method, URL, json={"a": 1})
    assert server.sends == 1
    assert clock.sleeps == []
    (attempt,) = info.value.attempts
    assert attempt.action == "raise"
    assert "not idempotent" in (attempt.note or "")


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_maybe_processed_statuses_are_retried_for_idempotent_methods(
    mode: Mode, clock: FakeClock, method: str, status: int
) -> None:
    server = Server(status, 200)
    with mode.client(server, clock) as client:
        assert client.request(method, URL).status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_post_with_an_idempotency_key_is_retried(
    mode: Mode, clock: FakeClock, method: str, status: int
) -> None:
    server = Server(status, status, 200)
    key = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'
    with mode.client(server, clock) as client:
        response = client.request(method, URL, json={"a": 1}, headers={"Idempotency-Key": key})
    assert response.status_code == 200
    assert server.sends == 3
    assert [h["idempotency-key"] for h in server.headers] == [key] * 3


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
def test_idempotency_keys_are_added_to_post_and_patch(
    mode: Mode, clock: FakeClock, method: str
) -> None:
    server = Server(500, 500, 200)
    with mode.client(server, clock, retry=_retry(idempotency_keys=True)) as client:
        assert client.request(method, URL, json={"a": 1}).status_code == 200
    assert server.sends == 3
    keys = [h.get("idempotency-key") for h in server.headers]
    assert keys[0] is not None
    assert UUID_KEY.match(keys[0])
    assert keys == [keys[0]] * 3


def test_idempotency_keys_differ_between_requests(mode: Mode, clock: FakeClock) -> None:
    server = Server(200)
    with mode.client(server, clock, retry=_retry(idempotency_keys=True)) as client:
        client.post(URL, json={})
        client.post(URL, json={})
    first, second = (h["idempotency-key"] for h in server.headers)
    assert first != second


@pytest.mark.parametrize("method", IDEMPOTENT)
def test_idempotency_keys_are_not_added_to_idempotent_methods(
    mode: Mode, clock: FakeClock, method: str
) -> None:
    server = Server(503, 200)
    with mode.client(server, clock, retry=_retry(idempotency_keys=True)) as client:
        client.request(method, URL)
    assert all("idempotency-key" not in h for h in server.headers)


def test_idempotency_keys_keep_the_callers_own_key(mode: Mode, clock: FakeClock) -> None:
    server = Server(500, 200)
    with mode.client(server, clock, retry=_retry(idempotency_keys=True)) as client:
        client.post(URL, json={}, headers={"Idempotency-Key": '"mine"'})
    assert [h["idempotency-key"] for h in server.headers] == ['"mine"', '"mine"']


def test_idempotency_keys_are_off_by_default(mode: Mode, clock: FakeClock) -> None:
    server = Server(200)
    with mode.client(server, clock) as client:
        client.post(URL, json={})
    assert "idempotency-key" not in server.headers[0]


NOT_SENT = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]
MAYBE_SENT = [
    httpx.ReadTimeout,
    httpx.RemoteProtocolError,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
]


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("error", NOT_SENT)
def test_errors_before_sending_are_retried_for_every_method(
    mode: Mode, clock: FakeClock, method: str, error: type[Exception]
) -> None:
    server = Server(error, 200)
    with mode.client(server, clock) as client:
        assert client.request(method, URL, content=b"x").status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("method", IDEMPOTENT)
@pytest.mark.parametrize("error", MAYBE_SENT)
def test_errors_after_sending_are_retried_for_idempotent_methods(
    mode: Mode, clock: FakeClock, method: str, error: type[Exception]
) -> None:
    server = Server(error, 200)
    with mode.client(server, clock) as client:
        assert client.request(method, URL).status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
@pytest.mark.parametrize("error", MAYBE_SENT)
def test_errors_after_sending_are_not_retried_for_post(
    mode: Mode, clock: FakeClock, method: str, error: type[Exception]
) -> None:
    server = Server(error, 200)
    with mode.client(server, clock) as client, pytest.raises(error) as info:
        client.request(method, URL, json={"a": 1})
    assert type(info.value) is error
    assert info.value is server.raised[0]
    assert server.sends == 1
    (attempt,) = remedy.attempts_of(info.value)
    assert attempt.action == "raise"
    assert attempt.error == error.__name__
    assert "not idempotent" in (attempt.note or "")


@pytest.mark.parametrize("error", MAYBE_SENT)
def test_errors_after_sending_are_retried_for_post_with_a_key(
    mode: Mode, clock: FakeClock, error: type[Exception]
) -> None:
    server = Server(error, 200)
    with mode.client(server, clock) as client:
        response = client.post(URL, json={}, headers={"Idempotency-Key": '"k"'})
    assert response.status_code == 200
    assert server.sends == 2


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout])
def test_the_original_transport_error_is_raised_when_attempts_run_out(
    mode: Mode, clock: FakeClock, error: type[Exception]
) -> None:
    server = Server(error)
    with (
        mode.client(server, clock, retry=_retry(max_attempts=3)) as client,
        pytest.raises(error) as info,
    ):
        client.get(URL)
    assert type(info.value) is error
    assert info.value is server.raised[-1]
    assert server.sends == 3
    attempts = remedy.attempts_of(info.value)
    assert [a.number for a in attempts] == [1, 2, 3]
    assert [a.action for a in attempts] == ["retry", "retry", "raise"]
    assert {a.error for a in attempts} == {error.__name__}
    assert {a.status for a in attempts} == {None}
    assert [a.wait_reason for a in attempts] == ["backoff", "backoff", None]
    assert "max_attempts (3)" in (attempts[-1].note or "")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_other_exceptions_propagate_untouched(mode: Mode, clock: FakeClock, method: str) -> None:
    server = Server(ValueError, 200)
    with mode.client(server, clock) as client, pytest.raises(ValueError, match="simulated") as info:
        client.request(method, URL)
    assert info.value is server.raised[0]
    assert server.sends == 1
    assert remedy.attempts_of(info.value) == ()
    assert clock.sleeps == []


def test_other_exceptions_on_a_retry_are_not_retried(mode: Mode, clock: FakeClock) -> None:
    server = Server(503, ValueError, 200)
    with mode.client(server, clock) as client, pytest.raises(ValueError, match="simulated") as info:
        client.get(URL)
    assert info.value is server.raised[0]
    assert server.sends == 2


def test_unknown_transport_errors_are_not_retried(mode: Mode, clock: FakeClock) -> None:
    server = Server(httpx.UnsupportedProtocol, 200)
    with mode.client(server, clock) as client, pytest.raises(httpx.UnsupportedProtocol):
        client.get(URL)
    assert server.sends == 1


def test_statuses_outside_the_policy_are_not_retried(mode: Mode, clock: FakeClock) -> None:
    server = Server(503, 200)
    with (
        mode.client(server, clock, retry=_retry(statuses={429})) as client,
        pytest.raises(remedy.ServiceUnavailable),
    ):
        client.get(URL)
    assert server.sends == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(mode: Mode, clock: FakeClock, status: int) -> None:
    server = Server(status, 200)
    with mode.client(server, clock) as client, pytest.raises(remedy.ClientError):
        client.get(URL)
    assert server.sends == 1


def test_oauth_temporarily_unavailable_is_retried_for_post(mode: Mode, clock: FakeClock) -> None:
    server = Server(
        lambda r: httpx.Response(400, json={"error": "temporarily_unavailable"}),
        200,
    )
    with mode.client(server, clock) as client:
        assert client.post(URL, data={"grant_type": "x"}).status_code == 200
    assert server.sends == 2


# --------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------


def test_one_shot_body_is_never_replayed(mode: Mode, clock: FakeClock) -> None:
    """Over a transport that streams the body (as a real connection does)."""
    server = Server(503, 200)
    with (
        mode.client(mode.streaming(server.respond), clock) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.post(URL, content=mode.one_shot(b"chunk-1,", b"chunk-2"))
    assert server.sends == 1
    assert server.bodies == [b"chunk-1,chunk-2"]
    assert clock.sleeps == []
    note = info.value.attempts[-1].note or ""
    assert "one-shot" in note
    assert "cannot be replayed" in note


def test_one_shot_body_is_never_replayed_even_when_the_inner_transport_buffers_it(
    mode: Mode,
    clock: FakeClock,
) -> None:
    """httpx.MockTransport reads the body into memory; the decision must not change with it.

    Whether a body is one-shot is a property of what the caller passed, not of what the wrapped
    transport happened to do with it: a test suite on MockTransport must see the behaviour of
    production.
    """
    server = Server(503, 200)
    with mode.client(server, clock) as client, pytest.raises(remedy.ServiceUnavailable) as info:
        client.post(URL, content=mode.one_shot(b"chunk-1,", b"chunk-2"))
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
def test_replayable_bodies_are_sent_identically_on_every_attempt(
    mode: Mode, clock: FakeClock, body: dict[str, Any]
) -> None:
    server = Server(503, 429, 200)
    with mode.client(mode.streaming(server.respond), clock) as client:
        assert client.post(URL, **body).status_code == 200
    assert server.sends == 3
    assert server.bodies[0]
    assert server.bodies == [server.bodies[0]] * 3
    lengths = {h.get("content-length") for h in server.headers}
    assert len(lengths) == 1


# --------------------------------------------------------------------------------------------
# Closing
# --------------------------------------------------------------------------------------------


def test_retried_responses_are_closed_before_the_wait(mode: Mode, clock: FakeClock) -> None:
    streams: list[RecordingStream] = []

    def busy(request: httpx.Request) -> httpx.Response:
        streams.append(RecordingStream())
        return httpx.Response(503, headers={"Retry-After": "1"}, stream=streams[-1])

    server = Server(busy, busy, 200)
    client = mode.client(server, clock)
    closed_at_sleep: list[list[bool]] = []

    def sleep(seconds: float) -> None:
        closed_at_sleep.append([s.closed for s in streams])
        closed_at_sleep[-1] += [r.is_closed for r in server.responses]
        clock.sleep(seconds)

    use_clock(client.transport, sleep=mode.hook(sleep))
    with client:
        response = client.get(URL)
        assert response.status_code == 200
        assert response.json() == {"detail": "scripted"}  # the final one is left open to read
    assert closed_at_sleep == [[True, True], [True, True, True, True]]


def test_a_retried_transport_error_then_success_closes_nothing_it_returns(
    mode: Mode,
    clock: FakeClock,
) -> None:
    server = Server(httpx.ConnectError, 200)
    with mode.client(server, clock) as client:
        response = client.get(URL)
        assert json.loads(response.read()) == {"detail": "scripted"}


# --------------------------------------------------------------------------------------------
# Seeing what happened
# --------------------------------------------------------------------------------------------


def test_every_attempt_is_recorded_in_order(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "2"}), httpx.ConnectError, 502)
    policy = _retry(max_attempts=3, wait=tenacity.wait_fixed(0.5))
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.BadGateway) as info,
    ):
        client.get(URL + "?key=secret")
    attempts = info.value.attempts
    assert remedy.attempts_of(info.value) == attempts
    assert all(isinstance(a, Attempt) for a in attempts)
    assert [a.number for a in attempts] == [1, 2, 3]
    assert {a.max_attempts for a in attempts} == {3}
    assert {a.method for a in attempts} == {"GET"}
    assert {a.url for a in attempts} == {URL + "?key=[redacted]"}
    assert [a.status for a in attempts] == [503, None, 502]
    assert [a.error for a in attempts] == [None, "ConnectError", None]
    assert [a.action for a in attempts] == ["retry", "retry", "raise"]
    assert [a.wait for a in attempts] == [2.0, 0.5, None]
    assert [a.wait_reason for a in attempts] == ["retry-after", "backoff", None]
    assert [a.elapsed for a in attempts] == [0.0, 2.0, 2.5]
    assert "max_attempts (3)" in (attempts[-1].note or "")
    assert clock.sleeps == [2.0, 0.5]


def test_one_log_line_per_retry(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx_remedy")
    server = Server((503, {"Retry-After": "2"}), (503, {"Retry-After": "1"}), 200)
    with mode.client(server, clock) as client:
        client.get(URL + "?key=secret&page=2")
    lines = [r for r in caplog.records if r.name == "httpx_remedy"]
    assert len(lines) == 2
    assert all(r.levelno == logging.INFO for r in lines)
    first, second = (r.getMessage() for r in lines)
    for text in (first, second):
        assert "GET" in text
        assert URL + "?key=[redacted]&page=[redacted]" in text
        assert "503" in text
        assert "retry-after" in text
    assert "2s" in first
    assert "attempt 1 of 3" in first
    assert "1s" in second
    assert "attempt 2 of 3" in second
    assert "secret" not in caplog.text


def test_one_log_line_for_a_failure_not_retried(
    mode: Mode, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx_remedy")
    server = Server(404)
    with mode.client(server, clock) as client, pytest.raises(remedy.NotFound):
        client.get(URL)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx_remedy"]
    assert lines == [f"GET {URL} failed: 404 NotFound after 1 attempt in 0s"]


def test_secrets_in_the_query_stay_out_of_the_error(mode: Mode, clock: FakeClock) -> None:
    server = Server(503)
    with mode.client(server, clock) as client, pytest.raises(remedy.ServiceUnavailable) as info:
        client.get(URL + "?key=secret")
    assert "secret" not in str(info.value)
    assert "key=[redacted]" in str(info.value)
    assert all("secret" not in str(a) for a in info.value.attempts)


def test_on_retry_hook_gets_a_frozen_record_before_each_wait(mode: Mode, clock: FakeClock) -> None:
    seen: list[tuple[Attempt, int]] = []

    def hook(attempt: Attempt) -> None:
        seen.append((attempt, len(clock.sleeps)))

    server = Server((503, {"Retry-After": "2"}), httpx.ConnectError, 503)
    policy = _retry(max_attempts=3, on_retry=hook, wait=tenacity.wait_fixed(0.5))
    with (
        mode.client(server, clock, retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert [attempt for attempt, _ in seen] == list(info.value.attempts[:-1])
    assert [sleeps_before for _, sleeps_before in seen] == [0, 1]  # called before the wait
    first = seen[0][0]
    assert (first.status, first.wait, first.wait_reason, first.action) == (
        503,
        2.0,
        "retry-after",
        "retry",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.wait = 0  # type: ignore[misc]


def test_on_retry_hook_is_not_called_without_a_retry(mode: Mode, clock: FakeClock) -> None:
    seen: list[Attempt] = []
    server = Server(500)
    with (
        mode.client(server, clock, retry=_retry(on_retry=seen.append)) as client,
        pytest.raises(remedy.InternalServerError),
    ):
        client.post(URL)
    assert seen == []


def test_attempt_str_reads_well() -> None:
    attempt = Attempt(1, 3, "GET", URL, 503, None, 0.0, "retry", 2.0, "retry-after")
    assert str(attempt) == "attempt 1/3: 503 -> retry after 2s (retry-after)"
    stopped = Attempt(2, 3, "POST", URL, None, "ReadTimeout", 1.0, "raise", note="why")
    assert str(stopped) == "attempt 2/3: ReadTimeout -> raise [why]"


def test_no_wait_zeroes_waits_but_keeps_the_record(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "3"}), 503)
    with (
        mode.client(server, clock, retry=_retry(max_attempts=2)) as client,
        no_wait(),
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        client.get(URL)
    assert clock.sleeps == []
    assert server.sends == 2
    assert info.value.attempts[0].wait == 3.0
    assert info.value.attempts[0].wait_reason == "retry-after"


def test_no_wait_keeps_the_decisions(mode: Mode, clock: FakeClock) -> None:
    server = Server((429, {"Retry-After": "120"}), 200)
    with (
        mode.client(server, clock, retry=_retry(max_retry_after=60)) as client,
        no_wait(),
        pytest.raises(remedy.TooManyRequests) as info,
    ):
        client.get(URL)
    assert server.sends == 1
    assert info.value.retry_after == 120
    assert "max_retry_after" in (info.value.attempts[-1].note or "")


def test_no_wait_keeps_the_caps_on_a_later_attempt(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "3"}), (429, {"Retry-After": "120"}), 200)
    with (
        mode.client(server, clock, retry=_retry(max_retry_after=60)) as client,
        no_wait(),
        pytest.raises(remedy.TooManyRequests) as info,
    ):
        client.get(URL)
    assert clock.sleeps == []
    assert server.sends == 2
    assert info.value.attempts[0].wait == 3.0
    assert info.value.retry_after == 120
    assert "max_retry_after" in (info.value.attempts[-1].note or "")


def test_no_wait_ends_with_its_block(mode: Mode, clock: FakeClock) -> None:
    server = Server((503, {"Retry-After": "1"}), 200)
    with mode.client(server, clock) as client:
        with no_wait(), no_wait():  # nested blocks
            client.get(URL)
        assert clock.sleeps == []
        server.requests.clear()
        client.get(URL)
    assert clock.sleeps == [1.0]


# --------------------------------------------------------------------------------------------
# The pure rules: retry_kind() and decide()
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, None, Remedy.BACK_OFF),
        (503, None, Remedy.BACK_OFF),
        (500, None, Remedy.RETRY_IF_SAFE),
        (502, None, Remedy.RETRY_IF_SAFE),
        (504, None, Remedy.RETRY_IF_SAFE),
        (408, None, Remedy.RETRY_IF_SAFE),
        (400, None, None),
        (401, None, None),
        (404, None, None),
        (501, None, None),
        (400, "temporarily_unavailable", Remedy.BACK_OFF),
        (400, "server_error", Remedy.RETRY_IF_SAFE),
        (400, "invalid_grant", None),
        (401, "invalid_token", None),
        (503, "invalid_grant", Remedy.BACK_OFF),
        (503, "no_such_code", Remedy.BACK_OFF),
    ],
)
def test_retry_kind(status: int, code: str | None, kind: Remedy | None) -> None:
    assert retry_kind(Retry(), status, code) is kind


def test_retry_kind_follows_the_policy_statuses() -> None:
    policy = Retry(statuses={429})
    assert retry_kind(policy, 503, None) is None
    assert retry_kind(policy, 429, None) is Remedy.BACK_OFF
    assert retry_kind(Retry(statuses={404}), 404, None) is Remedy.RETRY_IF_SAFE


def _decide(policy: Retry | None = None, **changes: Any) -> Decision:
    arguments: dict[str, Any] = {
        "attempt": 1,
        "elapsed": 0.0,
        "kind": Remedy.BACK_OFF,
        "method": "GET",
        "has_idempotency_key": False,
        "replayable": True,
        "server_delay": None,
        "origin": ORIGIN,
        "now": 0.0,
    }
    arguments.update(changes)
    if policy is None:
        policy = Retry(budget=None, wait=tenacity.wait_fixed(1))
    return decide(policy, **arguments)


@pytest.mark.parametrize("method", [*IDEMPOTENT, "TRACE"])
@pytest.mark.parametrize("kind", [Remedy.BACK_OFF, Remedy.RETRY_IF_SAFE])
def test_decide_retries_idempotent_methods(method: str, kind: Remedy) -> None:
    assert _decide(method=method, kind=kind) == Decision(True, 1.0, "backoff")


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
def test_decide_retries_refused_post(method: str) -> None:
    assert _decide(method=method, kind=Remedy.BACK_OFF).retry


@pytest.mark.parametrize("method", NOT_IDEMPOTENT)
def test_decide_does_not_retry_maybe_processed_post(method: str) -> None:
    decision = _decide(method=method, kind=Remedy.RETRY_IF_SAFE)
    assert not decision.retry
    assert "not idempotent" in (decision.note or "")
    assert "Idempotency-Key" in (decision.note or "")


def test_decide_retries_maybe_processed_post_with_a_key() -> None:
    assert _decide(method="POST", kind=Remedy.RETRY_IF_SAFE, has_idempotency_key=True).retry


def test_decide_not_idempotent_beats_max_attempts() -> None:
    decision = _decide(method="POST", kind=Remedy.RETRY_IF_SAFE, attempt=3)
    assert "not idempotent" in (decision.note or "")


def test_decide_not_idempotent_beats_one_shot() -> None:
    decision = _decide(method="POST", kind=Remedy.RETRY_IF_SAFE, replayable=False)
    assert "not idempotent" in (decision.note or "")


def test_decide_one_shot_body() -> None:
    decision = _decide(method="POST", replayable=False)
    assert not decision.retry
    assert "cannot be replayed" in (decision.note or "")
    # ...and it beats max_attempts
    assert "cannot be replayed" in (_decide(replayable=False, attempt=3).note or "")


def test_decide_max_attempts() -> None:
    assert _decide(attempt=2).retry
    decision = _decide(attempt=3)
    assert not decision.retry
    assert decision.note == "max_attempts (3) reached"
    assert "max_attempts (3)" in (
        _decide(attempt=3, server_delay=(500.0, "retry-after")).note or ""
    )


def test_decide_server_delay_wins_over_backoff() -> None:
    assert _decide(server_delay=(5.0, "retry-after")) == Decision(True, 5.0, "retry-after")
    assert _decide(server_delay=(0.0, "ratelimit")) == Decision(True, 0.0, "ratelimit")


def test_decide_server_delay_over_max_retry_after() -> None:
    policy = Retry(budget=None, max_retry_after=60)
    assert _decide(policy, server_delay=(60.0, "retry-after")) == Decision(
        True, 60.0, "retry-after"
    )
    decision = _decide(policy, server_delay=(60.5, "retry-after"))
    assert not decision.retry
    assert "max_retry_after (60s)" in (decision.note or "")
    assert "60.5" in (decision.note or "")


def test_decide_caps_the_backoff_at_max_retry_after() -> None:
    policy = Retry(budget=None, wait=tenacity.wait_fixed(100), max_retry_after=5, deadline=None)
    assert _decide(policy) == Decision(True, 5.0, "backoff")


def test_decide_deadline() -> None:
    policy = Retry(budget=None, deadline=10, wait=tenacity.wait_fixed(1))
    assert _decide(policy, elapsed=8.9).retry
    decision = _decide(policy, elapsed=9.0)
    assert not decision.retry
    assert "deadline" in (decision.note or "")
    assert not _decide(policy, elapsed=2.0, server_delay=(8.0, "retry-after")).retry
    assert _decide(policy, elapsed=2.0, server_delay=(7.9, "retry-after")).retry
    no_deadline = Retry(budget=None, deadline=None, wait=tenacity.wait_fixed(1))
    assert _decide(no_deadline, elapsed=1e6).retry


def test_decide_spends_the_budget_only_when_every_other_rule_allows() -> None:
    budget = RetryBudget(ratio=0, minimum=1, reserve=0)
    policy = Retry(budget=budget, max_retry_after=10, deadline=20, wait=tenacity.wait_fixed(1))
    refused = [
        {"method": "POST", "kind": Remedy.RETRY_IF_SAFE},
        {"replayable": False},
        {"attempt": 3},
        {"server_delay": (11.0, "retry-after")},
        {"elapsed": 19.5},
    ]
    for changes in refused:
        decision = _decide(policy, **changes)
        assert not decision.retry
        assert "budget" not in (decision.note or "")
    assert _decide(policy).retry  # the one retry the budget holds is still there
    decision = _decide(policy)
    assert not decision.retry
    assert "retry budget" in (decision.note or "")
    assert "spent" in (decision.note or "")
    assert "https://api.example.test:8443" in (decision.note or "")


def test_decide_without_a_budget_never_runs_out() -> None:
    policy = Retry(budget=None, wait=tenacity.wait_fixed(0))
    assert all(_decide(policy).retry for _ in range(100))


def test_decide_is_pure() -> None:
    policy = Retry(budget=None, wait=tenacity.wait_fixed(1.5))
    before = dataclasses.replace(policy)
    results = {_decide(policy, attempt=2, elapsed=3.0) for _ in range(5)}
    assert results == {Decision(True, 1.5, "backoff")}
    assert policy == before


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 10])
def test_default_backoff_is_full_jitter_within_its_cap(attempt: int) -> None:
    cap = min(0.5 * 2 ** (attempt - 1), 8)
    waits = [Retry().backoff(attempt, 0.0) for _ in range(200)]
    assert all(0 <= w <= cap for w in waits)
    assert len(set(waits)) > 1  # jittered


@pytest.mark.parametrize(
    "wait",
    [lambda state: -1.0, lambda state: math.nan, lambda state: math.inf, lambda state: 1 / 0],
    ids=["negative", "nan", "inf", "raises"],
)
def test_backoff_from_a_broken_strategy_is_zero(wait: Any) -> None:
    assert Retry(wait=wait).backoff(1, 0.0) == 0.0


def test_backoff_passes_attempt_and_elapsed_to_the_strategy() -> None:
    seen: list[tuple[int, float]] = []

    def wait(state: tenacity.RetryCallState) -> float:
        seen.append((state.attempt_number, round(state.seconds_since_start or 0.0, 6)))
        return 0.125

    assert Retry(wait=wait).backoff(2, 7.5) == 0.125
    assert seen == [(2, 7.5)]


def test_the_first_send_fits_every_timeout_into_the_deadline_after_a_cached_fit(
    mode: Mode,
    clock: FakeClock,
) -> None:
    """begin() remembers the last timeouts that fitted the deadline; a request whose timeouts
    differ (here: none at all) must still be shrunk before its first send."""
    seen: list[dict[str, float | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200)

    policy = Retry(deadline=7.5, budget=RetryBudget())
    with mode.client(record, clock, retry=policy) as client:
        client.get(URL)  # the client's 5 s timeouts fit 7.5 s: remembered
        client.get(URL, timeout=None)  # no timeout at all: capped at the deadline
        client.get(URL, timeout=30.0)
        client.get(URL)
    assert seen[0] == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    assert seen[1] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert seen[2] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}
    assert seen[3] == seen[0]
