"""A retry storm and a blip: does the retry budget tell them apart?

- Storm: 1000 requests to an origin that always answers 503, ``max_attempts=4``, as fast as
  they go; then a steady one, 50 requests a second for 4 seconds. Prints the sends per request
  with the retry budget on (today's default, and the share alone: ``reserve=0``, the budget
  before the reserve) and off, beside httpx-retries with the same attempt count.
- Blip: 50 concurrent requests (threads), of which 20 meet one ``503 Retry-After: 0.2`` and
  succeed when retried. Prints how many of the 50 succeed.

Waits are turned off in the storms (``testing.no_wait()``), so only the decisions count; the
blip waits its 0.2 s for real. Run: ``python benchmarks/retry_storm.py``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import httpx
from httpx_retries import Retry as HRRetry
from httpx_retries import RetryTransport

import httpx_remedy as remedy
from httpx_remedy.testing import no_wait

REQUESTS = 1000


class AlwaysUnavailable(httpx.BaseTransport):
    def __init__(self) -> None:
        self.sends = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sends += 1
        return httpx.Response(503, json={"error": "temporarily_unavailable"})


def storm(
    make: type[httpx.BaseTransport] | None,
    retry: remedy.Retry | None,
    requests: int = REQUESTS,
    every: float = 0.0,
) -> int:
    origin = AlwaysUnavailable()
    transport: httpx.BaseTransport
    if make is None:
        transport = RetryTransport(
            transport=origin, retry=HRRetry(total=3, backoff_factor=0, max_backoff_wait=0.001)
        )
    else:
        transport = remedy.RemedyTransport(origin, retry=retry)
    with httpx.Client(transport=transport) as client, no_wait():
        for _ in range(requests):
            with contextlib.suppress(remedy.ServiceUnavailable, httpx.HTTPStatusError):
                client.get("https://storm.example/items")
            if every:
                time.sleep(every)
    return origin.sends


class Blip(httpx.BaseTransport):
    """The first 20 requests meet one ``503 Retry-After: 0.2``; their retries succeed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            fail = self.failed < 20 and not hasattr(request, "blip_failed")
            if fail:
                self.failed += 1
                request.blip_failed = True  # type: ignore[attr-defined]
        if fail:
            return httpx.Response(503, headers={"Retry-After": "0.2"})
        return httpx.Response(200)


def blip(make: str, budget: remedy.RetryBudget | None) -> int:
    """Successes out of 50 concurrent requests through one client."""
    transport: httpx.BaseTransport
    if make == "httpx-retries":
        # It logs a warning per decimal Retry-After, which it reads as a date and ignores.
        logging.getLogger("httpx_retries").disabled = True
        transport = RetryTransport(transport=Blip(), retry=HRRetry(total=3))
    else:
        transport = remedy.RemedyTransport(Blip(), retry=remedy.Retry(budget=budget))
    successes = [0]
    lock = threading.Lock()
    with httpx.Client(transport=transport) as client:

        def one() -> None:
            with contextlib.suppress(remedy.ServiceUnavailable):
                if client.get("https://blip.example/items").status_code == 200:
                    with lock:
                        successes[0] += 1

        threads = [threading.Thread(target=one) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return successes[0]


def main() -> None:
    def budget(**options: int) -> remedy.Retry:
        return remedy.Retry(max_attempts=4, budget=remedy.RetryBudget(**options))

    cases: dict[str, tuple[type[httpx.BaseTransport] | None, remedy.Retry | None]] = {
        "httpx-remedy, default RetryBudget()": (remedy.RemedyTransport, budget()),
        "httpx-remedy, the share alone (reserve=0)": (remedy.RemedyTransport, budget(reserve=0)),
        "httpx-remedy, budget off": (
            remedy.RemedyTransport,
            remedy.Retry(max_attempts=4, budget=None),
        ),
        "httpx-retries, total=3 (4 attempts)": (None, None),
    }
    storms = {
        f"{REQUESTS} requests, as fast as they go": {
            name: storm(*case) / REQUESTS for name, case in cases.items()
        },
        "200 requests, 50 a second for 4 s": {
            name: storm(*case, requests=200, every=0.02) / 200 for name, case in cases.items()
        },
    }
    for title, rows in storms.items():
        print(f"\nStorm: {title}, to an origin that always answers 503, 4 attempts each")
        print(f"  {'case':<48} {'sends/request':>14}")
        for name, ratio in rows.items():
            print(f"  {name:<48} {ratio:>14.3f}")
        on = rows["httpx-remedy, default RetryBudget()"]
        print(
            f"  target: default budget <= 1.15 sends/request -> {'met' if on <= 1.15 else 'MISSED'}"
        )

    blips = {
        "httpx-remedy, default RetryBudget()": blip("remedy", remedy.RetryBudget()),
        "httpx-remedy, the share alone (reserve=0)": blip("remedy", remedy.RetryBudget(reserve=0)),
        "httpx-remedy, budget off": blip("remedy", None),
        "httpx-retries, total=3": blip("httpx-retries", None),
    }
    print("\nBlip: 50 concurrent requests, 20 meet one 503 Retry-After: 0.2")
    print(f"  {'case':<48} {'successes':>10}")
    for name, successes in blips.items():
        print(f"  {name:<48} {successes:>7}/50")
    met = blips["httpx-remedy, default RetryBudget()"] == 50
    print(f"  target: default budget 50/50 -> {'met' if met else 'MISSED'}")
    fleet_storm()


FLEET, FLEET_REQUESTS = 8, 200


def fleet_storm() -> None:
    """8 processes in a storm (200 requests each, 200 a second), the default budget counted
    alone in each process, then shared through a RedisStore (needs redis-server)."""
    import multiprocessing
    import shutil
    import sys
    import uuid
    from pathlib import Path

    if shutil.which("redis-server") is None:
        print("\nFleet storm: skipped (no redis-server)")
        return
    sys.path.insert(0, str(Path(__file__).parent.parent))
    from tests.budget_worker import storm as worker
    from tests.fleet_worker import RedisServer

    server = RedisServer(shutil.which("redis-server") or "").start()
    try:

        def run(url: str | None) -> float:
            context = multiprocessing.get_context("spawn")
            ready, sends = context.Barrier(FLEET), context.Queue()
            options: dict[str, object] = {}  # the default RetryBudget()
            prefix = f"bench-{uuid.uuid4().hex}:"  # one for the whole fleet
            workers = [
                context.Process(
                    target=worker,
                    args=(url, prefix, FLEET_REQUESTS, ready, sends, options),
                )
                for _ in range(FLEET)
            ]
            for process in workers:
                process.start()
            total = sum(sends.get(timeout=120) for _ in workers)
            for process in workers:
                process.join()
            return total / (FLEET * FLEET_REQUESTS)

        alone, shared = run(None), run(server.url)
    finally:
        server.stop()
    print(f"\nFleet storm: {FLEET} processes x {FLEET_REQUESTS} requests, always 503, 4 attempts")
    print(f"  {'case':<48} {'sends/request':>14}")
    print(f"  {'default budget, each process alone':<48} {alone:>14.3f}")
    print(f"  {'default budget, shared through a RedisStore':<48} {shared:>14.3f}")


if __name__ == "__main__":
    main()
