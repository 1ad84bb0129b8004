"""The retry budget tells a blip from a storm: its reserve retries every request of a blip,
and closes as soon as retries fail too (a storm), leaving about ``1 + ratio`` sends per
request."""

from __future__ import annotations

import threading

import httpx
import pytest

import httpx_remedy as remedy
from httpx_remedy import Retry, RetryBudget
from httpx_remedy.testing import no_wait

A = ("https", "api.example.com", None)


def test_a_blip_is_retried_in_full() -> None:
    """50 requests, 20 of which fail once: 20 retries, where the share alone allows 10."""
    budget = RetryBudget()
    for _ in range(50):
        budget.record_request(A, 1.0)
    assert sum(budget.try_spend(A, 1.0) for _ in range(20)) == 20
    share_only = RetryBudget(reserve=0)
    for _ in range(50):
        share_only.record_request(A, 1.0)
    assert sum(share_only.try_spend(A, 1.0) for _ in range(20)) == 10


def test_the_reserve_closes_once_retries_fail_too() -> None:
    budget = RetryBudget(ratio=0, minimum=0, reserve=20)
    for _ in range(10):
        budget.record_request(A, 1.0)
    # Ten firsts failed: 10 failures <= 10 firsts, the reserve answers.
    assert sum(budget.try_spend(A, 1.0) for _ in range(10)) == 10
    # Their retries failed too: failures now outnumber firsts, a storm.
    assert not budget.try_spend(A, 1.0)


def test_the_reserve_is_refilled_by_successes() -> None:
    budget = RetryBudget(ratio=0.1, minimum=0, reserve=2, window=10)
    budget.record_request(A, 1.0)
    assert budget.try_spend(A, 1.0)  # reserve 2 -> 1
    budget.record_request(A, 1.0)
    assert budget.try_spend(A, 1.0)  # 1 -> 0
    budget.record_request(A, 1.0)
    assert not budget.try_spend(A, 1.0)  # spent (0.1 x 3 firsts is no whole retry either)
    # 100 s later: 30 successes earn 3 retries, capped at the reserve of 2.
    for _ in range(30):
        budget.record_request(A, 100.0)
    budget.record_request(A, 100.0)
    assert budget.try_spend(A, 100.0)  # the share: 0.1 x 31 = 3.1
    budget.record_request(A, 200.0)
    assert sum(budget.try_spend(A, 200.0) for _ in range(3)) == 1  # the reserve, refilled


def test_a_blip_of_50_concurrent_requests_ends_50_of_50() -> None:
    """The issue's blip: 50 concurrent requests, 20 meet one 503 Retry-After: 0.2."""
    lock = threading.Lock()
    failed = [0]

    def origin(request: httpx.Request) -> httpx.Response:
        # The first 20 requests fail once; a retry (the same request, sent again) succeeds.
        with lock:
            fail = failed[0] < 20 and not hasattr(request, "blip_failed")
            if fail:
                failed[0] += 1
                request.blip_failed = True  # type: ignore[attr-defined]
        if fail:
            return httpx.Response(503, headers={"Retry-After": "0.2"})
        return httpx.Response(200)

    transport = remedy.RemedyTransport(
        httpx.MockTransport(origin), retry=Retry(budget=RetryBudget())
    )
    results: list[int] = []
    with httpx.Client(transport=transport) as client, no_wait():

        def one() -> None:
            try:
                status = client.get("https://api.example.com/items").status_code
            except remedy.ServiceUnavailable:
                status = 503
            with lock:
                results.append(status)

        threads = [threading.Thread(target=one) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failed[0] == 20
    assert results.count(200) == 50


@pytest.mark.parametrize("requests", [200, 1000])
def test_a_storm_stays_under_1_15_sends_per_request(requests: int) -> None:
    sends = [0]

    def down(request: httpx.Request) -> httpx.Response:
        sends[0] += 1
        return httpx.Response(503)

    transport = remedy.RemedyTransport(
        httpx.MockTransport(down), retry=Retry(max_attempts=4, budget=RetryBudget())
    )
    with httpx.Client(transport=transport) as client, no_wait():
        for _ in range(requests):
            with pytest.raises(remedy.ServiceUnavailable):
                client.get("https://api.example.com/items")
    assert sends[0] / requests <= 1.15


def test_a_store_that_shares_nothing_leaves_the_budget_local() -> None:
    import anyio

    store = remedy.MemoryStore()
    assert not store.shares_counts
    assert store.share_counts("https://api.example.com", 3, 1, 10.0) is None
    assert anyio.run(store.ashare_counts, "https://api.example.com", 3, 1, 10.0) is None


def test_a_redis_that_is_down_shares_nothing() -> None:
    from .fleet_worker import free_port

    store = remedy.RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)
    try:
        assert store.share_counts("https://api.example.com", 3, 1, 10.0) is None
        assert store.share_counts("https://api.example.com", 3, 1, 10.0) is None  # resting
    finally:
        store.close()


def test_the_fleet_counts_are_taken_in() -> None:
    budget = RetryBudget(ratio=0, minimum=10, reserve=0)
    budget.record_request(A, 1.0)
    assert budget.to_share(A, 1.0, 1.0) == (1, 0)  # the first share: the window's counts
    budget.shared(A, 1.0, (100, 10))  # the fleet spent its 10 already
    assert budget.to_share(A, 1.5, 1.0) is None  # not due: recent, no retry since
    assert not budget.try_spend(A, 1.5)
    assert budget.to_share(A, 2.0, 1.0) == (0, 0)  # due by time
    budget.shared(A, 2.0, (100, 2))
    assert budget.try_spend(A, 2.0)
    assert budget.try_spend(A, 2.0)
    assert budget.to_share(A, 2.1, 1.0) == (0, 2)  # due: two retries since (10 / 5)
    budget.shared(A, 2.1, None)  # the store stopped sharing: local counts again
    assert budget.try_spend(A, 2.1)
