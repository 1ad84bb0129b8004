"""``httpx-remedy demo``: every fix at work against real servers on 127.0.0.1.

Starts an OAuth 2.0 authorization server and a protected API (``testing.oauth_server``), then
drives a client through each fix the catalog promises, printing what the server said and what
the library did, in order. No network, nothing to configure; exits 0 when every scenario ends as
expected, 1 otherwise.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TextIO

import tenacity

from . import _timeline
from ._events import Event
from ._log_listener import level_of

CLIENT_ID = "demo-app"
CLIENT_SECRET = "demo-secret-0123456789"


class Timeline(_timeline.Timeline):
    """The public :class:`~httpx_remedy.Timeline`, printed live and in colour, with the
    demo's headings and verdicts: what the client and the server did (:meth:`line`) between
    the library's events (the ones its log shows at INFO and above)."""

    COLORS = {"server": "36", "library": "33", "client": "35", "ok": "32", "fail": "31"}

    def __init__(self, out: TextIO, color: bool) -> None:
        super().__init__(out=out)
        self.color = color
        self.grouped: dict[tuple[str, str], int] | None = None
        self._print_lock = threading.Lock()

    def paint(self, text: str, kind: str) -> str:
        if not self.color:
            return text
        return f"\033[{self.COLORS.get(kind, '0')}m{text}\033[0m"

    def __call__(self, event: Event, /) -> None:
        if level_of(event) >= logging.INFO:
            super().__call__(event)

    def line(self, who: str, text: str) -> None:
        self.note(who, text)

    def show(self, at: float, who: str, text: str) -> None:
        stamp = f"+{at - self.started:6.2f}s"
        with self._print_lock:
            if self.grouped is not None:
                key = (who, text)
                self.grouped[key] = self.grouped.get(key, 0) + 1
                return
            print(f"  {stamp}  {self.paint(f'{who:<8}', who)} {text}", file=self.out, flush=True)

    @contextmanager
    def summarised(self) -> Iterator[None]:
        """Print the block's lines once each with a count, not interleaved one by one."""
        with self._print_lock:
            self.grouped = {}
        try:
            yield
        finally:
            with self._print_lock:
                grouped, self.grouped = self.grouped, None
            for (who, text), count in (grouped or {}).items():
                self.line(who, text + (f"  (x{count})" if count > 1 else ""))

    def heading(self, number: int, title: str) -> None:
        with self._print_lock:
            print(f"\n{self.paint(f'{number}. {title}', 'client')}", file=self.out, flush=True)

    def verdict(self, ok: bool, text: str) -> None:
        mark = self.paint("ok  ", "ok") if ok else self.paint("FAIL", "fail")
        with self._print_lock:
            print(f"  {mark}  {text}", file=self.out, flush=True)


def _describe_call(call: Any) -> str:
    from .testing.oauth_server import TokenCall

    if isinstance(call, TokenCall):
        said = f" {call.error}" if call.error else ""
        return (
            f"token endpoint: {call.grant_type} for {call.client_id} "
            f"({call.client_auth}) -> {call.status}{said}"
        )
    said = f" {call.error}" if call.error else ""
    scheme = " (DPoP)" if call.scheme == "DPoP" else ""
    return f"{call.method} {call.path}{scheme} -> {call.status}{said}"


def run(out: TextIO = sys.stdout, color: bool | None = None) -> int:
    """Run every scenario; returns the exit status."""
    import httpx_remedy as remedy

    from ._http import Client
    from .testing.oauth_server import OAuthServer

    timeline = Timeline(out, out.isatty() if color is None else color)
    results: list[bool] = []

    def check(ok: bool, text: str) -> None:
        results.append(ok)
        timeline.verdict(ok, text)

    # The library's events go to the timeline, in place of the log lines they would make.
    listeners = remedy.set_listeners([timeline])
    try:
        with OAuthServer(dpop_nonce=True) as server:
            server.add_client(CLIENT_ID, CLIENT_SECRET, scope="read write")
            server.on_call = lambda call: timeline.line("server", _describe_call(call))
            api = server.url + "/api"

            def client(secret: str = CLIENT_SECRET, storm: bool = False) -> Client:
                creds = remedy.ClientCredentials(
                    server.token_url, CLIENT_ID, secret, scope="read write"
                )
                policy = remedy.Retry(budget=remedy.RetryBudget())
                if storm:
                    fast = tenacity.wait_random_exponential(multiplier=0.02, max=0.1)
                    policy = remedy.Retry(max_attempts=4, wait=fast, budget=remedy.RetryBudget())
                transport = remedy.RemedyTransport(
                    credentials=creds, retry=policy, origins=[server.url]
                )
                return Client(transport=transport, timeout=10)

            print(f"httpx-remedy demo: OAuth server and API on {server.url}", file=out)
            with client() as c:
                _token_expires(timeline, check, server, c, api)
                _burst(timeline, check, server, c, api)
                _rate_limited(timeline, check, server, c, api)
            with client(storm=True) as c:
                _storm(timeline, check, server, c, api)
            with client() as c:
                _insufficient_scope(timeline, check, c, api)
                _invalid_request(timeline, check, server, c, api)
            with client(secret="not-the-secret") as c:
                _wrong_secret(timeline, check, server, c, api)
            _dpop_nonce(timeline, check, server, api)
    finally:
        remedy.set_listeners(listeners)
    passed = sum(results)
    verdict = "every fix worked" if all(results) else "SOMETHING WENT WRONG"
    print(f"\n{passed}/{len(results)} checks passed: {verdict}.", file=out)
    return 0 if all(results) else 1


Check = Callable[[bool, str], None]


def _token_expires(t: Timeline, check: Check, server: Any, c: Any, api: str) -> None:
    t.heading(1, "An access token expires mid-run: refreshed once, the request replayed")
    t.line("client", "GET /api/items")
    c.get(api + "/items")
    before = server.token_requests
    t.line("client", "(the server expires every token) GET /api/items")
    server.expire_all()
    response = c.get(api + "/items")
    check(
        response.status_code == 200 and server.token_requests == before + 1,
        f"200 after one refresh ({server.token_requests - before} token request)",
    )


def _burst(t: Timeline, check: Check, server: Any, c: Any, api: str) -> None:
    t.heading(2, "20 concurrent requests meet a revoked token: one refresh for all")
    server.revoke_all()
    before = server.token_requests
    t.line("client", "(the server revokes every token) 20 x GET /api/items on 20 threads")
    with t.summarised(), ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: c.get(api + "/items").status_code, range(20)))
    fetched = server.token_requests - before
    check(
        statuses == [200] * 20 and fetched == 1,
        f"20 x 200 with {fetched} token request (single flight)",
    )


def _rate_limited(t: Timeline, check: Check, server: Any, c: Any, api: str) -> None:
    import httpx_remedy as remedy

    t.heading(3, "429 Too Many Requests with Retry-After: 1: waited exactly that long")
    server.fail_next_api_requests(1, 429, retry_after=1)
    t.line("client", "GET /api/items")
    started = time.monotonic()
    seen: list[remedy.Attempt] = []
    policy = remedy.Retry(budget=remedy.RetryBudget(), on_retry=seen.append)
    response = c.get(api + "/items", extensions={"remedy.retry": policy})
    waited = time.monotonic() - started
    check(
        response.status_code == 200 and len(seen) == 1 and seen[0].wait == 1.0,
        f"200 after waiting {waited:.2f}s as the server asked ({seen[0].wait_reason})"
        if seen
        else "no retry happened",
    )


def _storm(t: Timeline, check: Check, server: Any, c: Any, api: str) -> None:
    import httpx_remedy as remedy

    t.heading(4, "A 503 storm: backoff, then the retry budget stops it")
    server.fail_next_api_requests(100, 503)
    before = server.api_requests
    t.line("client", "10 x GET /api/items, max_attempts=4 (40 sends without a budget)")
    failures = 0
    last: remedy.HTTPError | None = None
    for _ in range(10):
        try:
            c.get(api + "/items")
        except remedy.ServiceUnavailable as e:
            failures += 1
            last = e
    server.clear_failures()
    sends = server.api_requests - before
    if last is not None:
        t.line("client", f"last error: {last.attempts[-1]}")
    check(
        failures == 10 and sends < 40,
        f"10 typed ServiceUnavailable errors after {sends} sends, not 40",
    )


def _insufficient_scope(t: Timeline, check: Check, c: Any, api: str) -> None:
    import httpx_remedy as remedy

    t.heading(5, "403 insufficient_scope: a typed error naming the scope, and the fix")
    t.line("client", "GET /api/admin")
    try:
        c.get(api + "/admin")
    except remedy.InsufficientScope as e:
        t.line("client", f"InsufficientScope: scope={e.scope!r}; fix: {e.entry.fix}")
        check(e.scope == "admin", "raised at once, with the scope the server requires")
    else:
        check(False, "no InsufficientScope was raised")


def _invalid_request(t: Timeline, check: Check, server: Any, c: Any, api: str) -> None:
    import httpx_remedy as remedy

    t.heading(6, "400 invalid_request: fail fast with the hint")
    server.fail_next_api_requests(1, 400, error="invalid_request")
    before = server.api_requests
    t.line("client", "GET /api/items")
    try:
        c.get(api + "/items")
    except remedy.InvalidRequest as e:
        t.line(
            "client",
            f"{type(e).__name__} (also BadRequest: {isinstance(e, remedy.BadRequest)})"
            f"; fix: {e.entry.fix}",
        )
        check(server.api_requests - before == 1, "raised after one send: no retry for a client bug")
    else:
        check(False, "no InvalidRequest was raised")


def _wrong_secret(t: Timeline, check: Check, server: Any, c: Any, api: str) -> None:
    import httpx_remedy as remedy

    t.heading(7, "A wrong client secret: InvalidClient, and no retry loop")
    before = server.token_requests
    t.line("client", "GET /api/items (with the wrong client secret)")
    try:
        c.get(api + "/items")
    except remedy.InvalidClient as e:
        t.line("client", f"InvalidClient: {e.error_description}")
    t.line("client", "GET /api/items again")
    try:
        c.get(api + "/items")
    except remedy.ReauthenticationRequired:
        t.line("client", "ReauthenticationRequired: the endpoint is not asked again")
    asked = server.token_requests - before
    check(asked == 1, f"{asked} token request for two calls: the rejection is remembered")


def _dpop_nonce(t: Timeline, check: Check, server: Any, api: str) -> None:
    import httpx_remedy as remedy

    from ._http import Client

    t.heading(8, "DPoP: the server's nonce asked for once, then carried")
    key = remedy.DPoPKey.generate()
    creds = remedy.ClientCredentials(
        server.token_url, CLIENT_ID, CLIENT_SECRET, scope="read write", dpop=key
    )
    transport = remedy.RemedyTransport(
        credentials=creds, retry=remedy.Retry(budget=remedy.RetryBudget()), origins=[server.url]
    )
    tokens, calls = len(server.token_log), len(server.api_log)
    with Client(transport=transport, timeout=10) as c:
        t.line("client", f"GET /api/items, the token bound to an {key.alg} key")
        c.get(api + "/items")
        t.line("client", "(the server moves to a new nonce) 3 x GET /api/items")
        server.rotate_dpop_nonce()
        for _ in range(3):
            c.get(api + "/items")
        t.line("client", "(the server forgets every nonce the client knows) GET /api/items")
        server.rotate_dpop_nonce()
        server.rotate_dpop_nonce()
        response = c.get(api + "/items")
    asked = [c.error for c in server.token_log[tokens:] + server.api_log[calls:]]
    check(
        response.status_code == 200 and asked.count("use_dpop_nonce") == 2,
        f"{asked.count('use_dpop_nonce')} nonce refusals for {len(asked)} requests: once at the "
        "token endpoint, once after the nonce was dropped, none when it was announced",
    )


def main(argv: list[str] | None = None) -> int:
    """The ``demo`` command."""
    from .testing.oauth_server import require_demo_extra

    try:
        require_demo_extra("httpx-remedy demo")
    except ModuleNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    return run()
