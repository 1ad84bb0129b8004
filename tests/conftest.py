"""The fixtures: the anyio backends, the fake clock, a budget of one's own, and ``mode`` (one
test for the sync transport and the async one under asyncio and trio). What they hand out is
in ``tests/helpers``, where tests import it from."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from httpx_remedy import RetryBudget

# Re-exported for test files written against conftest before tests/helpers existed.
from .helpers import (  # noqa: F401
    MODES,
    EventLoops,
    FakeClock,
    Handler,
    Mode,
    async_client,
    on_clock,
    sync_client,
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fresh_budget() -> RetryBudget:
    """A budget of its own, so tests do not draw on the process-wide one."""
    return RetryBudget()


@pytest.fixture(scope="session")
def event_loops() -> Iterator[EventLoops]:
    """An asyncio and a trio event loop for the whole session, each in a thread of its own,
    started when a test first needs it (see :class:`helpers.Mode`)."""
    loops = EventLoops()
    yield loops
    loops.close()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, event_loops: EventLoops) -> Mode:
    """Run the test three times: with the sync transport, and with the async one under asyncio
    and under trio (see :class:`helpers.Mode`)."""
    return Mode(str(request.param), event_loops)


@pytest.fixture
def collect_garbage() -> Iterator[None]:
    """Collect garbage at the test's teardown, under its own warning filters: for a test that
    leaves async generators unclosed (httpcore does when a body is not read to its end), which
    trio reports when they are collected. The async modes' event loops live for the session,
    so without this they would be collected, and reported, during some later test."""
    yield
    gc.collect()
