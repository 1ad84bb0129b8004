"""A retry storm: 1000 requests to an origin that always answers 503, ``max_attempts=4``.

Prints the sends per request with the retry budget on and off, beside httpx-retries with the
same attempt count. Waits are turned off (``testing.no_wait()``), so only the decisions count.
Run: ``python benchmarks/retry_storm.py``.
"""

from __future__ import annotations

import contextlib

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


def storm(make: type[httpx.BaseTransport] | None, retry: remedy.Retry | None) -> int:
    origin = AlwaysUnavailable()
    transport: httpx.BaseTransport
    if make is None:
        transport = RetryTransport(
            transport=origin, retry=HRRetry(total=3, backoff_factor=0, max_backoff_wait=0.001)
        )
    else:
        transport = remedy.RemedyTransport(origin, retry=retry)
    with httpx.Client(transport=transport) as client, no_wait():
        for _ in range(REQUESTS):
            with contextlib.suppress(remedy.ServiceUnavailable):
                client.get("https://storm.example/items")
    return origin.sends


def main() -> None:
    rows = {
        "httpx-remedy, budget on (default RetryBudget)": storm(
            remedy.RemedyTransport, remedy.Retry(max_attempts=4, budget=remedy.RetryBudget())
        ),
        "httpx-remedy, budget off": storm(
            remedy.RemedyTransport, remedy.Retry(max_attempts=4, budget=None)
        ),
        "httpx-retries, total=3 (4 attempts)": storm(None, None),
    }
    print(f"\n{REQUESTS} requests to an origin that always answers 503, 4 attempts each")
    print(f"  {'case':<48} {'sends':>7} {'sends/request':>14}")
    for name, sends in rows.items():
        print(f"  {name:<48} {sends:>7} {sends / REQUESTS:>14.3f}")
    on = rows["httpx-remedy, budget on (default RetryBudget)"] / REQUESTS
    print(f"\n  target: budget on <= 1.15 sends/request -> {'met' if on <= 1.15 else 'MISSED'}")


if __name__ == "__main__":
    main()
