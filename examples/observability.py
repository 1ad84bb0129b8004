"""See what the library did: its log lines, a Timeline, and a listener of your own.

Against a real OAuth server and API on 127.0.0.1 that fails on demand (short waits, so the
script runs fast). Run: ``python examples/observability.py``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


class Tally:
    """A listener of your own: any callable taking an event. Here, counts for a dashboard."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, event: remedy.Event, /) -> None:
        # Every event has `at` (a monotonic clock reading); request events a method and a
        # redacted URL too. The kinds, each a frozen dataclass:
        if isinstance(event, remedy.RequestEvent):
            self.counts["request events"] += 1
        if isinstance(event, remedy.RequestSent):
            self.counts[f"attempt {event.attempt} sent"] += 1
        elif isinstance(event, remedy.ErrorClassified):
            self.counts[f"error {event.status or event.error}"] += 1
        elif isinstance(event, remedy.RetryScheduled):
            self.counts[f"retry ({event.reason})"] += 1
        elif isinstance(event, remedy.RetryRefused):
            self.counts[f"refused ({event.cap})"] += 1
        elif isinstance(event, remedy.GaveUp):
            self.counts[f"gave up: {event.error}"] += 1
        elif isinstance(event, remedy.Recovered):
            self.counts["recovered"] += 1
        elif isinstance(event, remedy.TokenRejected):
            self.counts["token rejected"] += 1
        elif isinstance(event, remedy.TokenFetched):
            self.counts[f"token fetched ({event.grant})"] += 1
        elif isinstance(event, remedy.TokenReused):
            self.counts["token reused"] += 1
        elif isinstance(event, remedy.TokenFetchFailed):
            self.counts["token fetch failed"] += 1
        elif isinstance(event, (remedy.PauseHeard, remedy.PauseHonoured)):
            self.counts["pause"] += 1
        elif isinstance(event, remedy.StoreFault):
            self.counts["store fault"] += 1
        elif isinstance(event, remedy.RequestPaced):  # a wait the server's quota asked for
            self.counts[f"paced ({event.source})"] += 1
        elif isinstance(event, remedy.NonceReplayed):  # DPoP: at the API or token endpoint
            self.counts[f"DPoP nonce replay ({event.where})"] += 1
        elif isinstance(event, remedy.PollingSlowed):  # a device login told to slow down
            self.counts[f"polling every {event.interval:g}s"] += 1
        elif isinstance(event, remedy.CredentialsBound):  # where the token may go, decided
            self.counts[f"credentials bound to {event.origin}"] += 1


def main() -> None:
    # 1. The default listener logs on the "httpx_remedy" logger: show its INFO lines.
    logging.basicConfig(level=logging.INFO, format="  log %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx's own line per request
    print("process-wide listeners:", remedy.get_listeners())

    tally = Tally()
    listener: remedy.Listener = tally  # any callable taking an Event fits the protocol
    with OAuthServer() as server:
        server.add_client("app", "app-secret-0123456789", scope="read")
        creds = remedy.ClientCredentials(server.token_url, "app", "app-secret-0123456789")
        policy = remedy.Retry(budget=remedy.RetryBudget())
        # 2. A listener for this transport alone (the process-wide ones hear it too).
        transport = remedy.RemedyTransport(credentials=creds, retry=policy, listeners=[listener])
        with httpx.Client(base_url=server.url, transport=transport) as client:
            print("\n1. 503 with Retry-After: 0.1, then 200; recorded on a Timeline")
            server.fail_next_api_requests(1, 503, retry_after=0.1)
            with remedy.Timeline() as timeline:
                client.get("/api/items")
            print(timeline)
            print("  retries on the timeline:", len(timeline.of(remedy.RetryScheduled)))

            print("\n2. a 404 raised as NotFound: one line for it (httpx's own goes to its logger)")
            with contextlib.suppress(remedy.NotFound):
                client.get("/api/nothing-here")

            print("\n3. 10 requests in flight meet a revoked token: one INFO line for the fetch")
            server.revoke_all()
            with ThreadPoolExecutor(10) as pool:
                list(pool.map(lambda _: client.get("/api/items"), range(10)))

            print("\n4. the library's own lines off: set_listeners([]) (returns the old ones)")
            previous = remedy.set_listeners([])
            server.fail_next_api_requests(1, 503, retry_after=0.1)
            client.get("/api/items")  # retried, and nothing logged
            remedy.set_listeners(previous)
            # LoggingListener takes the logger to write to: the same lines elsewhere.
            remedy.set_listeners([remedy.LoggingListener(logging.getLogger("my.app.http"))])
            remedy.set_listeners(previous)

    print("\nyour listener counted:")
    for name, count in sorted(tally.counts.items()):
        print(f"  {name}: {count}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
