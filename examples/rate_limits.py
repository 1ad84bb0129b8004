"""Pacing on the server's rate-limit headers: no 429 collected, and a typed error at once when
the quota returns too late.

A mock API allows 5 requests per 0.5 s window and says so on every answer
(``X-RateLimit-Limit/Remaining/Reset``); 15 requests through the default policy all succeed,
without a single 429, because the client waits for each reset instead of sending into a spent
quota. Then an API whose quota is spent for 2 minutes: the client's pacing refuses at once
(``PacingRefused``) rather than wait longer than ``max_retry_after``.

Run: ``python examples/rate_limits.py``.
"""

from __future__ import annotations

import math
import time

import httpx

import httpx_remedy as remedy


class FixedWindow:
    """A server-side fixed-window limiter answering like slowapi/GitHub do."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.started = time.monotonic()
        self.counts: dict[int, int] = {}
        self.refused = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        elapsed = time.monotonic() - self.started
        index = math.floor(elapsed / self.window)
        used = self.counts[index] = self.counts.get(index, 0) + 1
        reset = (index + 1) * self.window - elapsed
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - used, 0)),
            "X-RateLimit-Reset": f"{reset:.3f}",
        }
        if used > self.limit:
            self.refused += 1
            return httpx.Response(429, headers={**headers, "Retry-After": "1"})
        return httpx.Response(200, headers=headers, json={"ok": True})


def paced() -> None:
    server = FixedWindow(limit=5, window=0.5)
    # Each policy gets a pacer of its own here; the default shares one per process.
    transport = remedy.RemedyTransport(
        httpx.MockTransport(server), retry=remedy.Retry(pace=remedy.Pacer())
    )
    started = time.monotonic()
    with httpx.Client(transport=transport) as client:
        statuses = [client.get("https://api.example.com/items").status_code for _ in range(15)]
    took = time.monotonic() - started
    assert statuses == [200] * 15, statuses
    assert server.refused == 0, server.refused
    print(f"15 requests, limit 5 per 0.5 s: {server.refused} refused by the server, {took:.2f}s")

    # Pacing off, for the policy or for one request: the 429s come back, and are retried.
    unpaced = FixedWindow(limit=5, window=0.5)
    transport = remedy.RemedyTransport(
        httpx.MockTransport(unpaced), retry=remedy.Retry(pace=False), raise_errors=False
    )
    with httpx.Client(transport=transport) as client:
        for _ in range(7):
            client.get("https://api.example.com/items", extensions={"remedy.pace": False})
    print(f"without pacing: {unpaced.refused} answers were 429")


def refused() -> None:
    def spent(request: httpx.Request) -> httpx.Response:
        headers = {"RateLimit": '"hourly";r=0;t=120', "RateLimit-Policy": '"hourly";q=100;w=3600'}
        return httpx.Response(200, headers=headers, json={"ok": True})

    transport = remedy.RemedyTransport(
        httpx.MockTransport(spent), retry=remedy.Retry(pace=remedy.Pacer(), max_retry_after=60)
    )
    with httpx.Client(transport=transport) as client:
        client.get("https://api.example.com/items")  # the answer says: spent for 120 s
        error: remedy.PacingRefused | None = None
        try:
            client.get("https://api.example.com/items")
        except remedy.PacingRefused as refused:
            error = refused
    assert error is not None, "the pacing should have refused"
    assert error.remaining == 0
    assert error.limit == 100
    assert error.retry_after > 60
    print(f"PacingRefused: {error}")


if __name__ == "__main__":
    paced()
    refused()
