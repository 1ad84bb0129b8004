"""The fake clock, and clients on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy import RetryBudget
from httpx_remedy.testing import use_clock

Handler = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic and a wall clock that only move when something sleeps on them."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_764_000_000.0) -> None:
        self.now = start
        self.wall_start = wall
        self.start = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall_start + (self.now - self.start)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` go by without anyone sleeping (not recorded in ``sleeps``)."""
        self.now += seconds


def on_clock(transport: Any, clock: FakeClock) -> Any:
    """Put a remedy transport on ``clock``: its waits are recorded, never slept."""
    is_async = isinstance(transport, remedy.AsyncRemedyTransport)
    return use_clock(
        transport,
        monotonic=clock.monotonic,
        wall=clock.time,
        sleep=clock.asleep if is_async else clock.sleep,
    )


def sync_client(handler: Handler, clock: FakeClock, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` over a ``RemedyTransport`` over ``httpx.MockTransport(handler)``, on
    ``clock``, with a retry budget of its own unless ``retry=`` is given."""
    options.setdefault("retry", remedy.Retry(budget=RetryBudget()))
    transport = on_clock(remedy.RemedyTransport(httpx.MockTransport(handler), **options), clock)
    return httpx.Client(transport=transport)


def async_client(handler: Handler, clock: FakeClock, **options: Any) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` twin of :func:`sync_client`."""
    options.setdefault("retry", remedy.Retry(budget=RetryBudget()))
    transport = on_clock(
        remedy.AsyncRemedyTransport(httpx.MockTransport(handler), **options), clock
    )
    return httpx.AsyncClient(transport=transport)
