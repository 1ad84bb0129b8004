"""Configure retrying: a policy for the client, an override per request, and the history.

The flaky service is simulated in memory and the waits are real but short.
Run: ``python examples/retry_policy.py``.
"""

from __future__ import annotations

import itertools
import logging

import httpx

import httpx_remedy as remedy

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")


def flaky_service() -> httpx.MockTransport:
    """503 twice (asking for 0.1 s each time), then 200."""
    answers = itertools.chain(
        [httpx.Response(503, headers={"Retry-After": "0.1"})] * 2,
        itertools.repeat(httpx.Response(200, json={"ok": True})),
    )
    return httpx.MockTransport(lambda request: next(answers))


def on_retry(attempt: remedy.Attempt) -> None:
    print("  hook:", attempt)


def main() -> None:
    retry = remedy.Retry(
        max_attempts=4,  # sends per request, the first included
        max_retry_after=60,  # a longer server delay is raised at once, not slept
        deadline=30,  # the whole call, every attempt and wait included
        idempotency_keys=True,  # POST/PATCH get an Idempotency-Key, so they can be retried
        on_retry=on_retry,
    )
    transport = remedy.RemedyTransport(flaky_service(), retry=retry)
    with httpx.Client(base_url="https://api.example.com", transport=transport) as client:
        print("GET with the client's policy:", client.get("/status").json())

    transport = remedy.RemedyTransport(flaky_service(), retry=retry)
    with httpx.Client(base_url="https://api.example.com", transport=transport) as client:
        try:
            # One attempt only, for this request.
            client.get("/status", extensions={"remedy.retry": remedy.Retry(max_attempts=1)})
        except remedy.ServiceUnavailable as e:
            print("Per-request override: raised after", len(e.attempts), "attempt(s)")
            for attempt in e.attempts:
                print("  ", attempt)


if __name__ == "__main__":
    main()
