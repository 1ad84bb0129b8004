"""What httpx-remedy keeps in memory: per origin, and for a huge error body.

1. **Per origin**: requests to 10,000 distinct origins (then 20,000), through a transport with
   a retry budget of its own and credentials, and what stays allocated afterwards
   (``tracemalloc``, after a garbage collection), divided by the origins. The budget keeps
   counts for at most ``MAX_BUDGET_ORIGINS`` origins; the token manager keeps one binding
   (the first origin), and a DPoP signer at most ``MAX_NONCES`` nonces: what they hold stops
   growing at those caps.
2. **A 500 MB error body**: an origin answers 503 with a 500 MB body streamed in 64 KiB chunks.
   The transport reads at most ``max_error_body`` of it (64 KiB by default) for the typed
   error, closes the stream, and raises; the peak of what Python allocated during the call
   is printed, and how much of the body was pulled.

Run: ``python benchmarks/memory.py``.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy._budget import MAX_BUDGET_ORIGINS
from httpx_remedy._dpop import MAX_NONCES

TOKEN_URL = "https://auth.example.com/token"
API = "https://api.example.com"
TOKEN = {"access_token": "bench-token", "token_type": "Bearer", "expires_in": 10**8}
DPOP_TOKEN = {**TOKEN, "token_type": "DPoP"}


def answer(token: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json=token)
        return httpx.Response(200, content=b"ok", headers={"DPoP-Nonce": "n-" + request.url.host})

    return handler


def retained(send: Callable[[str], object], origins: int) -> float:
    """Bytes still allocated after requests to ``origins`` distinct origins, per origin."""
    send(API + "/warm-up")  # imports, the token, the first slot
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(origins):
        send(f"https://h{n}.example.com/items")
    gc.collect()
    return (tracemalloc.get_traced_memory()[0] - before) / origins


def per_origin() -> None:
    print("\nMemory kept per origin (tracemalloc, after a garbage collection)")
    print(f"  {'what':<58} {'origins':>8} {'bytes/origin':>13} {'kept':>8}")
    for origins in (10_000, 20_000):
        budget = remedy.RetryBudget()
        with httpx.Client(
            transport=remedy.RemedyTransport(
                httpx.MockTransport(answer(TOKEN)), retry=remedy.Retry(budget=budget)
            )
        ) as client:
            cost = retained(client.get, origins)
        name = "retry budget (default policy, a budget of its own)"
        print(f"  {name:<58} {origins:>8,} {cost:>13.0f} {len(budget._origins):>8,}")
    for origins in (10_000, 20_000):
        bearer = remedy.ClientCredentials(TOKEN_URL, "app", "bench-secret-value")
        with httpx.Client(
            transport=remedy.RemedyTransport(
                httpx.MockTransport(answer(TOKEN)), retry=None, credentials=bearer
            )
        ) as client:
            cost = retained(client.get, origins)
        bound = len(bearer.manager.origins or ())
        name = "token manager, Bearer (bound to its first origin)"
        print(f"  {name:<58} {origins:>8,} {cost:>13.0f} {bound:>8,}")
    for origins in (10_000, 20_000):
        named = [f"https://h{n}.example.com" for n in range(origins)]
        dpop = remedy.ClientCredentials(
            TOKEN_URL, "app", "bench-secret-value", dpop=remedy.DPoPKey.generate("ES256")
        )
        with httpx.Client(
            transport=remedy.RemedyTransport(
                httpx.MockTransport(answer(DPOP_TOKEN)),
                retry=None,
                credentials=dpop,
                origins=[API, *named],
            )
        ) as client:
            cost = retained(client.get, origins)
        signer = dpop.manager.dpop
        assert signer is not None
        name = "token manager, DPoP: a nonce per origin (all bound)"
        print(f"  {name:<58} {origins:>8,} {cost:>13.0f} {len(signer.nonces):>8,}")
    print(f"  (caps: MAX_BUDGET_ORIGINS={MAX_BUDGET_ORIGINS:,}, MAX_NONCES={MAX_NONCES})")


def _serving(bodies: list[HugeBody], size: int) -> Callable[[httpx.Request], httpx.Response]:
    """A 503 with a body of ``size`` bytes for every request, each body noted in ``bodies``."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = HugeBody(size)
        bodies.append(body)
        return httpx.Response(503, stream=body)

    return handler


def _no_wait(state: object) -> float:
    return 0.0


class HugeBody(httpx.SyncByteStream):
    """``size`` bytes in 64 KiB chunks, one chunk object reused: the body costs no memory of
    its own, so what the peak shows is what the library kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        chunk = b"x" * 65536
        while self.pulled < self.size:
            self.pulled += len(chunk)
            yield chunk

    def close(self) -> None:
        self.closed = True


def huge_error_body() -> None:
    size = 500 * 1024 * 1024
    print(
        "\nAn error response with a 500 MB streaming body "
        "(503: retried once when the policy says so, then raised)"
    )
    print(f"  {'case':<44} {'sends':>5} {'peak MiB':>9} {'pulled KiB':>11} {'closed':>7} {'ms':>8}")
    for name, retry in (
        ("retry=None (typed error at once)", None),
        ("default policy, max_attempts=2, no wait", remedy.Retry(max_attempts=2, wait=_no_wait)),
    ):
        bodies: list[HugeBody] = []
        transport = remedy.RemedyTransport(httpx.MockTransport(_serving(bodies, size)), retry=retry)
        with httpx.Client(transport=transport) as client:
            gc.collect()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            started = time.perf_counter()
            try:
                with client.stream("GET", API + "/big"):
                    raise AssertionError("a 503 must raise")
            except remedy.HTTPError as error:
                kept = len(error.response.content)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] - base
        pulled = sum(body.pulled for body in bodies) / 1024
        closed = all(body.closed for body in bodies)
        print(
            f"  {name:<44} {len(bodies):>5} {peak / 2**20:>9.2f} {pulled:>11,.0f} {closed!s:>7} "
            f"{elapsed * 1e3:>8.1f}"
        )
    print(f"  (the error keeps {kept:,} bytes of the last body: max_error_body)")


def main() -> None:
    tracemalloc.start()
    per_origin()
    huge_error_body()


if __name__ == "__main__":
    main()
