"""The retry budget: its arithmetic with explicit clocks, its locking, and its effect through the
transports (sync, and async under asyncio and trio).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import tenacity

import httpx_remedy as remedy
from httpx_remedy import Retry, RetryBudget
from httpx_remedy._budget import DEFAULT_BUDGET
from httpx_remedy.testing import no_wait

from .helpers import FakeClock, Mode, async_client, on_clock, sync_client

A = "https://a.example.test:443"
B = "https://b.example.test:443"


def _always(status: int) -> Any:
    sends: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sends.append(request)
        return httpx.Response(status)

    handler.sends = sends  # type: ignore[attr-defined]
    return handler


def _spends(budget: RetryBudget, origin: str, now: float, tries: int = 1000) -> int:
    return sum(budget.try_spend(origin, now) for _ in range(tries))


# --------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------


def test_defaults() -> None:
    budget = RetryBudget()
    assert (budget.ratio, budget.minimum, budget.window) == (0.1, 5, 10.0)
    assert repr(budget) == "RetryBudget(ratio=0.1, minimum=5, window=10, reserve=20)"


def test_accepts_good_values() -> None:
    budget = RetryBudget(reserve=0, ratio=0, minimum=0, window=0.5)
    assert (budget.ratio, budget.minimum, budget.window) == (0.0, 0, 0.5)
    assert isinstance(RetryBudget(reserve=0, ratio=1).ratio, float)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"ratio": -0.1}, "ratio"),
        ({"ratio": math.nan}, "ratio"),
        ({"ratio": math.inf}, "ratio"),
        ({"ratio": "0.1"}, "ratio"),
        ({"ratio": None}, "ratio"),
        ({"minimum": -1}, "minimum"),
        ({"minimum": 1.5}, "minimum"),
        ({"minimum": "5"}, "minimum"),
        ({"minimum": None}, "minimum"),
        ({"window": 0}, "window"),
        ({"window": -10}, "window"),
        ({"window": math.inf}, "window"),
        ({"window": math.nan}, "window"),
        ({"window": "10"}, "window"),
    ],
)
def test_validates_its_arguments(options: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        RetryBudget(**options)


# --------------------------------------------------------------------------------------------
# The arithmetic, with explicit clock readings
# --------------------------------------------------------------------------------------------


def test_minimum_without_any_request() -> None:
    budget = RetryBudget(reserve=0, ratio=0.1, minimum=5)
    assert _spends(budget, A, 0.0) == 5


def test_nothing_at_all_when_ratio_and_minimum_are_zero() -> None:
    budget = RetryBudget(reserve=0, ratio=0, minimum=0)
    for _ in range(100):
        budget.record_request(A, 0.0)
    assert not budget.try_spend(A, 0.0)


@pytest.mark.parametrize(
    ("ratio", "minimum", "firsts", "allowed"),
    [
        (0.1, 0, 100, 10),
        (0.1, 5, 100, 15),
        (0.5, 3, 20, 13),
        (0.25, 0, 8, 2),
        (1.0, 0, 7, 7),
        (2.0, 1, 3, 7),
        (0.0, 4, 1000, 4),
    ],
)
def test_ratio_of_first_attempts_plus_minimum(
    ratio: float, minimum: int, firsts: int, allowed: int
) -> None:
    budget = RetryBudget(reserve=0, ratio=ratio, minimum=minimum)
    for _ in range(firsts):
        budget.record_request(A, 1.0)
    assert _spends(budget, A, 1.0) == allowed


@pytest.mark.parametrize(
    ("ratio", "minimum", "firsts", "allowed"),
    [
        (0.1, 0, 9, 0),  # the cap is 0.9: a first retry would exceed it
        (0.1, 0, 1, 0),  # one request must not earn a whole retry at ratio 0.1
        (0.1, 5, 1, 5),  # the cap is 5.1: a sixth retry would exceed it
        (0.5, 0, 3, 1),  # the cap is 1.5
    ],
)
def test_a_fractional_cap_is_never_exceeded(
    ratio: float, minimum: int, firsts: int, allowed: int
) -> None:
    """ "Retries may not exceed ratio x first attempts + minimum": no rounding up."""
    budget = RetryBudget(reserve=0, ratio=ratio, minimum=minimum)
    for _ in range(firsts):
        budget.record_request(A, 1.0)
    assert _spends(budget, A, 1.0) == allowed


def test_retries_never_exceed_ratio_times_firsts_plus_minimum_as_traffic_grows() -> None:
    budget = RetryBudget(reserve=0, ratio=0.1, minimum=5)
    retries = 0
    for firsts in range(1, 301):
        budget.record_request(A, 2.0)
        retries += _spends(budget, A, 2.0, tries=3)
        assert retries <= 0.1 * firsts + 5
    assert retries == 35


def test_old_first_attempts_drop_out_after_the_window() -> None:
    budget = RetryBudget(reserve=0, ratio=0.1, minimum=0, window=10)
    for _ in range(100):
        budget.record_request(A, 0.0)
    assert _spends(budget, A, 0.0, tries=5) == 5
    # Still within the window: the 100 firsts count, 5 more retries are allowed.
    assert _spends(budget, A, 9.0) == 5
    # 11 s: the firsts (and the retries) of t=0 are gone; the 5 retries of t=9 are not.
    for _ in range(20):
        budget.record_request(A, 11.0)
    assert not budget.try_spend(A, 11.0)  # 5 retries >= 0.1 x 20
    # 20 s: the retries of t=9 are gone too; the 20 firsts of t=11 earn 2 retries.
    assert _spends(budget, A, 20.0) == 2
    # 22 s: everything is gone.
    assert not budget.try_spend(A, 22.0)


def test_old_retries_drop_out_after_the_window() -> None:
    budget = RetryBudget(reserve=0, ratio=0, minimum=2, window=10)
    assert _spends(budget, A, 100.0) == 2
    assert not budget.try_spend(A, 105.0)
    assert not budget.try_spend(A, 109.0)
    assert _spends(budget, A, 111.0) == 2


def test_a_sliding_window_forgets_slot_by_slot() -> None:
    budget = RetryBudget(reserve=0, ratio=1, minimum=0, window=10)
    budget.record_request(A, 0.0)
    budget.record_request(A, 5.0)
    assert _spends(budget, A, 5.0) == 2
    # At 11 s the request of 0 s has gone, the one of 5 s has not; so have the retries of 5 s.
    assert not budget.try_spend(A, 11.0)
    assert not budget.try_spend(A, 14.5)
    # At 16 s both requests and both retries are gone.
    budget.record_request(A, 16.0)
    assert _spends(budget, A, 16.0) == 1


def test_a_long_gap_forgets_everything() -> None:
    budget = RetryBudget(reserve=0, ratio=1, minimum=0, window=10)
    for _ in range(50):
        budget.record_request(A, 0.0)
    assert _spends(budget, A, 0.0) == 50
    assert not budget.try_spend(A, 10_000.0)
    budget.record_request(A, 10_000.0)
    assert _spends(budget, A, 10_000.0) == 1


def test_each_origin_has_its_own_budget() -> None:
    budget = RetryBudget(reserve=0, ratio=0, minimum=3)
    assert _spends(budget, A, 0.0) == 3
    assert _spends(budget, B, 0.0) == 3
    budget.record_request(A, 0.0)
    assert not budget.try_spend(A, 0.0)


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch every microsecond, so that a missing lock shows up as a race."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _in_threads(count: int, work: Callable[[], int]) -> list[int]:
    start = threading.Barrier(count)
    results: list[int] = []

    def worker() -> None:
        start.wait()
        results.append(work())

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == count
    return results


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_spending_never_exceeds_a_fixed_cap() -> None:
    for _ in range(5):
        budget = RetryBudget(reserve=0, ratio=0, minimum=300)
        spent = _in_threads(8, lambda b=budget: sum(b.try_spend(A, 0.0) for _ in range(400)))
        assert sum(spent) == 300


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_requests_and_retries_never_exceed_the_ratio() -> None:
    budget = RetryBudget(reserve=0, ratio=0.5, minimum=20)

    def work() -> int:
        mine = 0
        for _ in range(300):
            budget.record_request(A, 3.0)
            mine += budget.try_spend(A, 3.0)
        return mine

    spent = _in_threads(8, work)
    assert sum(spent) <= 0.5 * 8 * 300 + 20
    assert sum(spent) > 20  # the ratio did earn retries


# --------------------------------------------------------------------------------------------
# Through the transports
# --------------------------------------------------------------------------------------------


def _budget_policy(budget: RetryBudget, **options: Any) -> Retry:
    options.setdefault("wait", tenacity.wait_fixed(0.01))
    return Retry(budget=budget, **options)


def test_a_failing_origin_sees_a_trickle_of_retries(mode: Mode, clock: FakeClock) -> None:
    handler = _always(503)
    policy = _budget_policy(RetryBudget(reserve=0, ratio=0.1, minimum=5), max_attempts=4)
    with mode.client(handler, clock, retry=policy) as client:
        for _ in range(200):
            with pytest.raises(remedy.ServiceUnavailable):
                client.get("https://a.example.test/items")
    sends = len(handler.sends)
    assert sends <= 200 * 1.15
    assert sends > 200  # the minimum and the ratio did allow some retries


def test_without_a_budget_every_request_retries_fully(clock: FakeClock) -> None:
    handler = _always(503)
    policy = Retry(budget=None, wait=tenacity.wait_fixed(0.01), max_attempts=4)
    with sync_client(handler, clock, retry=policy) as client:
        for _ in range(20):
            with pytest.raises(remedy.ServiceUnavailable):
                client.get("https://a.example.test/items")
    assert len(handler.sends) == 80


def test_a_spent_budget_raises_at_once_and_says_so(mode: Mode, clock: FakeClock) -> None:
    handler = _always(503)
    policy = _budget_policy(RetryBudget(reserve=0, ratio=0, minimum=2), max_attempts=5)
    with mode.client(handler, clock, retry=policy) as client:
        with pytest.raises(remedy.ServiceUnavailable) as first:
            client.get("https://a.example.test/items")
        assert len(handler.sends) == 3  # two retries, then the budget is spent
        handler.sends.clear()
        sleeps_before = len(clock.sleeps)
        with pytest.raises(remedy.ServiceUnavailable) as info:
            client.get("https://a.example.test/items")
    assert len(handler.sends) == 1
    assert len(clock.sleeps) == sleeps_before
    for error in (first.value, info.value):
        note = error.attempts[-1].note or ""
        assert "retry budget" in note
        assert "spent" in note
        assert "a.example.test" in note
    assert len(info.value.attempts) == 1


def test_the_budget_is_per_origin(mode: Mode, clock: FakeClock) -> None:
    handler = _always(503)
    policy = _budget_policy(RetryBudget(reserve=0, ratio=0, minimum=2), max_attempts=3)
    with mode.client(handler, clock, retry=policy) as client:
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://a.example.test/")
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://a.example.test/")
        handler.sends.clear()
        with pytest.raises(remedy.ServiceUnavailable) as info:
            client.get("https://b.example.test/")
    assert len(handler.sends) == 3  # b still has its own two retries
    assert "max_attempts" in (info.value.attempts[-1].note or "")


def test_scheme_and_port_make_different_origins(clock: FakeClock) -> None:
    handler = _always(503)
    policy = _budget_policy(RetryBudget(reserve=0, ratio=0, minimum=1), max_attempts=2)
    with sync_client(handler, clock, retry=policy) as client:
        for url in (
            "https://a.example.test/",
            "http://a.example.test/",
            "https://a.example.test:8443/",
        ):
            handler.sends.clear()
            with pytest.raises(remedy.ServiceUnavailable):
                client.get(url)
            assert len(handler.sends) == 2


def test_one_origin_spelled_two_ways_shares_one_budget(clock: FakeClock) -> None:
    handler = _always(503)
    policy = _budget_policy(RetryBudget(reserve=0, ratio=0, minimum=1), max_attempts=2)
    with sync_client(handler, clock, retry=policy) as client:
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://A.Example.test:443/one")
        assert len(handler.sends) == 2
        handler.sends.clear()
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://a.example.test/two")
    assert len(handler.sends) == 1


def test_a_success_still_counts_as_a_first_attempt(clock: FakeClock) -> None:
    """Healthy traffic earns retries: 99 successes and a failure give 10 retries at ratio 0.1."""
    statuses = iter([200] * 99 + [503] * 1000)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses))

    policy = _budget_policy(RetryBudget(reserve=0, ratio=0.1, minimum=0), max_attempts=100)
    with sync_client(handler, clock, retry=policy) as client:
        for _ in range(99):
            client.get("https://a.example.test/")
        with pytest.raises(remedy.ServiceUnavailable) as info:
            client.get("https://a.example.test/")
    # 100 first attempts (the failing one included) at ratio 0.1: 10 retries.
    assert len(info.value.attempts) == 11


def test_the_default_policy_shares_one_process_wide_budget() -> None:
    assert Retry().budget is Retry().budget
    assert Retry().budget is DEFAULT_BUDGET
    assert isinstance(DEFAULT_BUDGET, RetryBudget)
    sync = remedy.RemedyTransport(httpx.MockTransport(_always(200)))
    async_ = remedy.AsyncRemedyTransport(httpx.MockTransport(_always(200)))
    assert sync.retry is not None
    assert async_.retry is not None
    assert sync.retry.budget is async_.retry.budget is DEFAULT_BUDGET


def test_two_transports_given_one_budget_pool_it(clock: FakeClock) -> None:
    budget = RetryBudget(reserve=0, ratio=0, minimum=2)
    first, second = _always(503), _always(503)
    policy = _budget_policy(budget, max_attempts=5)
    with (
        sync_client(first, clock, retry=policy) as one,
        pytest.raises(remedy.ServiceUnavailable),
    ):
        one.get("https://a.example.test/")
    assert len(first.sends) == 3
    with (
        sync_client(second, clock, retry=_budget_policy(budget, max_attempts=5)) as two,
        pytest.raises(remedy.ServiceUnavailable) as info,
    ):
        two.get("https://a.example.test/")
    assert len(second.sends) == 1
    assert "retry budget" in (info.value.attempts[-1].note or "")


def test_transports_with_their_own_budgets_do_not_pool(clock: FakeClock) -> None:
    first, second = _always(503), _always(503)
    with (
        sync_client(
            first, clock, retry=_budget_policy(RetryBudget(reserve=0, ratio=0, minimum=2))
        ) as one,
        pytest.raises(remedy.ServiceUnavailable),
    ):
        one.get("https://a.example.test/")
    with (
        sync_client(
            second, clock, retry=_budget_policy(RetryBudget(reserve=0, ratio=0, minimum=2))
        ) as two,
        pytest.raises(remedy.ServiceUnavailable),
    ):
        two.get("https://a.example.test/")
    assert len(first.sends) == len(second.sends) == 3


def test_a_per_request_policy_draws_on_its_own_budget(clock: FakeClock) -> None:
    handler = _always(503)
    spent = RetryBudget(reserve=0, ratio=0, minimum=0)
    roomy = RetryBudget(reserve=0, ratio=0, minimum=10)
    with sync_client(handler, clock, retry=_budget_policy(spent)) as client:
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://a.example.test/")
        assert len(handler.sends) == 1
        handler.sends.clear()
        with pytest.raises(remedy.ServiceUnavailable):
            client.get(
                "https://a.example.test/",
                extensions={"remedy.retry": _budget_policy(roomy, max_attempts=3)},
            )
    assert len(handler.sends) == 3


def test_the_transport_records_first_attempts_on_its_clock(clock: FakeClock) -> None:
    """The window runs on the transport's monotonic clock: after it, old traffic is forgotten."""
    handler = _always(503)
    budget = RetryBudget(reserve=0, ratio=0, minimum=1, window=10)
    transport = on_clock(
        remedy.RemedyTransport(
            httpx.MockTransport(handler), retry=_budget_policy(budget, max_attempts=2)
        ),
        clock,
    )
    with httpx.Client(transport=transport) as client:
        for _ in range(2):
            with pytest.raises(remedy.ServiceUnavailable):
                client.get("https://a.example.test/")
        assert len(handler.sends) == 3  # 2 + 1: the second request found the budget spent
        clock.now += 11  # the window goes by
        handler.sends.clear()
        with pytest.raises(remedy.ServiceUnavailable):
            client.get("https://a.example.test/")
    assert len(handler.sends) == 2


# --------------------------------------------------------------------------------------------
# Across the sync and async transports
# --------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_and_sync_transports_given_one_budget_pool_it(clock: FakeClock) -> None:
    budget = RetryBudget(reserve=0, ratio=0, minimum=2)
    first, second = _always(503), _always(503)
    with (
        sync_client(first, clock, retry=_budget_policy(budget)) as one,
        pytest.raises(remedy.ServiceUnavailable),
    ):
        one.get("https://a.example.test/")
    assert len(first.sends) == 3
    async with async_client(second, clock, retry=_budget_policy(budget)) as two:
        with pytest.raises(remedy.ServiceUnavailable):
            await two.get("https://a.example.test/")
    assert len(second.sends) == 1


def test_no_wait_leaves_the_process_wide_budget_alone() -> None:
    """Inside testing.no_wait() the shared default budget is not drawn on, so a user's test
    suite can retry against one host in test after test; an explicit budget still applies."""

    def always_503(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    origin = ("https", "no-wait-budget.example", None)
    for _ in range(50):  # far more retries than ratio * firsts + minimum allows
        DEFAULT_BUDGET.record_request(origin, 0.0)
    transport = remedy.RemedyTransport(httpx.MockTransport(always_503))
    assert transport.retry is not None
    assert transport.retry.budget is DEFAULT_BUDGET
    with httpx.Client(transport=transport) as client, no_wait():
        for _ in range(20):
            with pytest.raises(remedy.ServiceUnavailable) as caught:
                client.get("https://no-wait-budget.example/")
            assert len(caught.value.attempts) == 3
            assert "budget" not in (caught.value.attempts[-1].note or "")

    own = RetryBudget(reserve=0, ratio=0.0, minimum=0)
    explicit = remedy.RemedyTransport(
        httpx.MockTransport(always_503), retry=remedy.Retry(budget=own)
    )
    with (
        httpx.Client(transport=explicit) as client,
        no_wait(),
        pytest.raises(remedy.ServiceUnavailable) as caught,
    ):
        client.get("https://no-wait-budget.example/")
    assert len(caught.value.attempts) == 1
    assert "budget" in (caught.value.attempts[-1].note or "")


def test_the_budget_remembers_at_most_ten_thousand_origins() -> None:
    budget = RetryBudget(reserve=0, ratio=0.0, minimum=1)
    for i in range(10_050):
        budget.record_request(f"https://h{i}.example.test", 1.0)
    assert len(budget._origins) == 10_000
    # The oldest went first: the first origin starts afresh, the last keeps its count.
    assert "https://h0.example.test" not in budget._origins
    assert "https://h10049.example.test" in budget._origins
