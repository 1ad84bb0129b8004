"""The fixtures: the anyio backends, the fake clock, a budget of one's own, ``mode`` (one test
for the sync transport and the async one under asyncio and trio), ``collect_garbage``, and a
Redis of the module's own (``redis_server``, ``raw``, ``prefix``). What they hand out is in
``tests/helpers``, where tests import it from."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

import httpx_remedy as remedy
from httpx_remedy import RetryBudget
from httpx_remedy._pacer import DEFAULT_PACER

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

if TYPE_CHECKING:
    import redis

    from .fleet_worker import RedisServer


@pytest.fixture(autouse=True)
def _process_listeners_restored() -> Iterator[None]:
    """A test (or a docs snippet) that installs process-wide listeners leaves them behind for the
    next test otherwise: an OpenTelemetry listener would report every later test's events twice."""
    previous = remedy.get_listeners()
    yield
    remedy.set_listeners(previous)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _forget_quotas() -> Iterator[None]:
    """The process-wide pacer forgets the quotas a test's servers announced, so that they
    cannot hold back the next test's requests."""
    yield
    DEFAULT_PACER.clear()


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


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A ``redis-server`` of the module's own on a free port of 127.0.0.1 (so that the commands
    Redis counts are the module's alone); the test is skipped without one, unless
    ``HTTPX_REMEDY_REQUIRE_REDIS=1``. A test that uses it belongs in the integration group."""
    from .fleet_worker import redis_for_tests

    yield from redis_for_tests()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain redis-py client, to look at what a RedisStore wrote."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix of the test's own: tests share one Redis and must not see each other."""
    return f"test-{uuid.uuid4().hex[:12]}:"
