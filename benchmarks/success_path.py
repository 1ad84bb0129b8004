"""What a 2xx costs through httpx-remedy, beside bare httpx and the anchors, in one run.

Two settings: an in-memory transport (the strictest view: httpx's own work is all there is to
compare against) and a real HTTP/1.1 server on 127.0.0.1 (what a user sees). Printed as ratios
to bare httpx. Run: ``python benchmarks/success_path.py [--quick]``.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import httpx
from _common import compare, report

import httpx_remedy as remedy

BODY = b'{"items": [1, 2, 3]}'


def fixed_transport(stack: ModuleType = httpx) -> type[httpx.BaseTransport]:
    """A transport class of ``stack`` that answers every request with one small 200."""

    class Fixed(stack.BaseTransport):  # type: ignore[name-defined,misc]
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return stack.Response(  # type: ignore[no-any-return]
                200, content=BODY, headers={"content-type": "application/json"}
            )

    return Fixed


Fixed = fixed_transport()


def authlib_stack() -> ModuleType:
    """The HTTP stack authlib's httpx integration runs on (httpx2 when it is installed)."""
    with warnings.catch_warnings():
        # authlib >= 1.9 warns when its httpx integration is imported with plain httpx.
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client
    for base in OAuth2Client.__mro__:
        module = sys.modules.get(base.__module__.split(".")[0])
        if module is not None and base is getattr(module, "Client", None):
            return module
    return httpx


class Source:
    """A token source whose token never expires (the success path never refreshes)."""

    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        return {"access_token": "bench-token", "token_type": "Bearer"}


def clients(make_inner: Callable[[], httpx.BaseTransport], url: str) -> dict[str, httpx.Client]:
    from httpx_retries import Retry as HRRetry
    from httpx_retries import RetryTransport

    with warnings.catch_warnings():
        # authlib >= 1.9 warns when its httpx integration is imported with plain httpx.
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client

    token = {"access_token": "bench-token", "token_type": "Bearer", "expires_at": 4_000_000_000}
    stack = authlib_stack()
    # authlib's client is built on its own stack, so it wraps a transport of that stack.
    authlib_inner = fixed_transport(stack)() if make_inner is Fixed else stack.HTTPTransport()
    extra = {}
    if stack is not httpx:
        bare_inner = fixed_transport(stack)() if make_inner is Fixed else stack.HTTPTransport()
        extra[f"bare {stack.__name__} (authlib's stack)"] = stack.Client(transport=bare_inner)
    return {
        "bare httpx": httpx.Client(transport=make_inner()),
        # Any Authorization header costs httpx some work (its cookie handling copies every
        # request header): the fair baseline for the credentials rows.
        "bare httpx + a static Authorization header": httpx.Client(
            transport=make_inner(), headers={"Authorization": "Bearer bench-token"}
        ),
        "httpx-remedy, retry=None": httpx.Client(
            transport=remedy.RemedyTransport(make_inner(), retry=None)
        ),
        "httpx-remedy, default policy": httpx.Client(
            transport=remedy.RemedyTransport(make_inner())
        ),
        "httpx-remedy, default policy + static header": httpx.Client(
            transport=remedy.RemedyTransport(make_inner()),
            headers={"Authorization": "Bearer bench-token"},
        ),
        "httpx-remedy, default policy + credentials": httpx.Client(
            transport=remedy.RemedyTransport(make_inner(), credentials=Source(), origins=[url])
        ),
        # Listeners hear nothing on a 2xx (no event is made): the same as the row above.
        "httpx-remedy, default + log, OTel listeners": httpx.Client(
            transport=remedy.RemedyTransport(make_inner(), listeners=listeners())
        ),
        "httpx-retries RetryTransport (total=3)": httpx.Client(
            transport=RetryTransport(transport=make_inner(), retry=HRRetry(total=3))
        ),
        **extra,
        f"authlib OAuth2Client on {stack.__name__} (token set)": OAuth2Client(
            "app", "secret", token=token, transport=authlib_inner
        ),
    }


def listeners() -> list[Any]:
    """The logging listener, and the OpenTelemetry one when the otel extra is installed."""
    found: list[Any] = [remedy.LoggingListener()]
    try:
        from httpx_remedy.otel import OpenTelemetryListener
    except ImportError:
        return found
    return [*found, OpenTelemetryListener()]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def loopback_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run(
    title: str, make_inner: Callable[[], httpx.BaseTransport], url: str, *, calls: int, rounds: int
) -> None:
    built = clients(make_inner, url)
    target = url + "/items"
    cases = {name: (lambda c=client: c.get(target)) for name, client in built.items()}
    for name, client in built.items():
        response = client.get(target)
        assert response.status_code == 200, name
    report(title, compare(cases, calls=calls, rounds=rounds), "bare httpx")
    for client in built.values():
        client.close()


def main() -> None:
    quick = "--quick" in sys.argv
    calls, rounds = (200, 5) if quick else (2000, 15)
    run(
        "In-memory transport (httpx's own cost is the whole baseline)",
        Fixed,
        "https://api.example.com",
        calls=calls,
        rounds=rounds,
    )
    with loopback_server() as url:
        run(
            "Real HTTP/1.1 server on 127.0.0.1 (keep-alive)",
            httpx.HTTPTransport,
            url,
            calls=max(calls // 4, 50),
            rounds=rounds,
        )


if __name__ == "__main__":
    main()
