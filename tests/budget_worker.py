"""A worker process for tests/test_fleet_budget.py: a storm against an origin that always
answers 503 (an in-process mock), with a retry budget counted through a RedisStore or alone."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import no_wait


def storm(
    redis_url: str | None,
    prefix: str,
    requests: int,
    ready: Any,
    sends: Any,
    budget_options: dict[str, Any] | None = None,
) -> None:
    count = [0]

    def down(request: httpx.Request) -> httpx.Response:
        count[0] += 1
        return httpx.Response(503)

    store = remedy.RedisStore(redis_url, prefix=prefix) if redis_url else None
    options = (
        {"ratio": 0, "minimum": 10, "reserve": 0} if budget_options is None else budget_options
    )
    budget = remedy.RetryBudget(**options)
    transport = remedy.RemedyTransport(
        httpx.MockTransport(down), retry=remedy.Retry(max_attempts=4, budget=budget), store=store
    )
    with httpx.Client(transport=transport) as client, no_wait():
        ready.wait()
        for _ in range(requests):
            with contextlib.suppress(remedy.ServiceUnavailable):
                client.get("https://storm.example/items")
            time.sleep(0.005)
    if store is not None:
        store.close()
    sends.put(count[0])
