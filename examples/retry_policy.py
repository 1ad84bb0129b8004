"""Configure retrying: a policy for the client, an override per request, and the history.

Against a real OAuth server and API on 127.0.0.1 that fails on demand; the server asks for
short waits (0.1 s) so the script runs fast. Run: ``python examples/retry_policy.py``.
"""

from __future__ import annotations

import httpx
import tenacity

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def on_retry(attempt: remedy.Attempt) -> None:
    """Called before each wait: a place for metrics. ``attempt`` is a frozen record.

    (The library also logs one INFO line per retry on the ``httpx_remedy`` logger:
    ``logging.basicConfig(level=logging.INFO)`` shows them.)
    """
    print("  on_retry:", attempt)


# Any callable taking the Attempt record fits the RetryHook protocol.
hook: remedy.RetryHook = on_retry


def main() -> None:
    retry = remedy.Retry(
        max_attempts=4,  # sends per request, the first included
        max_retry_after=5,  # a longer server delay is raised at once, not slept
        deadline=10,  # the whole call, every attempt and wait included
        idempotency_keys=True,  # POST/PATCH get an Idempotency-Key, so they can be retried
        wait=tenacity.wait_random_exponential(multiplier=0.05, max=0.2),  # when no Retry-After
        # Retries to an origin stay under 10% of its recent first attempts (plus 5): a storm of
        # failures cannot multiply the traffic. Pass one budget to several transports to pool it.
        budget=remedy.RetryBudget(ratio=0.1, minimum=5),
        on_retry=hook,
    )
    with OAuthServer() as server:
        server.add_client("app", "app-secret-0123456789", scope="read write")
        creds = remedy.ClientCredentials(server.token_url, "app", "app-secret-0123456789")
        transport = remedy.RemedyTransport(credentials=creds, retry=retry)
        with httpx.Client(base_url=server.url, transport=transport) as client:
            print("1. 503 twice with Retry-After: 0.1, then OK")
            server.fail_next_api_requests(2, 503, retry_after=0.1)
            print("  ->", client.get("/api/items").status_code)

            print("\n2. a POST meets a 500: retried, because it carries an Idempotency-Key")
            server.fail_next_api_requests(1, 500)
            response = client.post("/api/items", json={"name": "fig"})
            key = response.request.headers["Idempotency-Key"]
            print("  ->", response.status_code, "with Idempotency-Key", key)
            print("  (the server can use the key to process the order once, whatever happens)")

            print("\n3. per request: no retry for this one call (a health check, say)")
            server.fail_next_api_requests(1, 503, retry_after=0.1)
            try:
                client.get("/api/items", extensions={"remedy.retry": remedy.Retry(max_attempts=1)})
            except remedy.ServiceUnavailable as e:
                print("  ServiceUnavailable after", len(e.attempts), "attempt; e.attempts:")
                for attempt in e.attempts:
                    print("   ", attempt)

            print("\n4. 429 with Retry-After: 3600: raised at once instead of an hour's sleep")
            server.fail_next_api_requests(1, 429, retry_after=3600)
            try:
                client.get("/api/items")
            except remedy.TooManyRequests as e:
                print("  TooManyRequests, retry_after =", e.retry_after)
                print("  why not retried:", e.attempts[-1].note)

            print("\n5. the deadline: no wait may run past it")
            server.fail_next_api_requests(2, 503, retry_after=0.2)
            short = remedy.Retry(deadline=0.3)
            try:
                client.get("/api/items", extensions={"remedy.retry": short})
            except remedy.ServiceUnavailable as e:
                for attempt in e.attempts:
                    print("   ", attempt)
            server.clear_failures()


def transport_errors() -> None:
    """A connection refused is retried (the request never left); when the attempts run out,
    the original httpx error is raised, its history readable with attempts_of()."""
    policy = remedy.Retry(max_attempts=2, wait=tenacity.wait_fixed(0.05))
    with httpx.Client(transport=remedy.RemedyTransport(retry=policy)) as client:
        try:
            client.get("http://127.0.0.1:9/")  # nothing listens on port 9
        except httpx.ConnectError as e:
            print("ConnectError; attempts_of(e):")
            for attempt in remedy.attempts_of(e):
                print("  ", attempt)


if __name__ == "__main__":
    transport_errors()
    main()
