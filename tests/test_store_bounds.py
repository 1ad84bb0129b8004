"""What a store keeps, and what it costs: shared pauses are capped, the origins a RedisStore asks
about are bounded, and an idle process sends Redis nothing.

One answer with ``Retry-After: 31536000`` must not stop a fleet for a year: the announcing side
caps a pause at its policy's ``max_retry_after``, and every store caps what it writes, hears and
reads back at ``max_pause``. Against a real ``redis-server`` of this module's own, so that the
commands Redis counts are this module's alone (those tests are in the ``integration`` group).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

import httpx_remedy as remedy
from httpx_remedy import MemoryStore, RedisStore, Store
from httpx_remedy._budget import RetryBudget

from .fleet_worker import RedisServer
from .helpers import SYNC, FakeClock, Mode

ORIGIN = "https://api.example.com"
YEAR = 31_536_000


@pytest.fixture
def redis_stores(redis_server: RedisServer, prefix: str) -> Iterator[Callable[..., RedisStore]]:
    made: list[RedisStore] = []

    def make(**options: Any) -> RedisStore:
        options.setdefault("prefix", prefix)
        store = RedisStore(redis_server.url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
        if store._listener is not None:
            store._listener.join(timeout=2)


def eventually(check: Callable[[], bool], within: float) -> None:
    give_up = time.monotonic() + within
    while not check():
        if time.monotonic() > give_up:
            pytest.fail(f"not within {within}s")
        time.sleep(0.005)


# -- the store's own cap ---------------------------------------------------------------------


def test_memory_store_caps_a_pause_at_max_pause() -> None:
    store = MemoryStore()
    assert store.max_pause == 300.0
    store.pause(ORIGIN, YEAR)
    assert 299 < store.paused_for(ORIGIN) <= 300
    short = MemoryStore(max_pause=5)
    short.pause(ORIGIN, math.inf)
    assert 4 < short.paused_for(ORIGIN) <= 5


@pytest.mark.parametrize("seconds", [math.nan, -1.0, 0.0])
def test_a_pause_of_nothing_is_no_pause(seconds: float) -> None:
    store = MemoryStore()
    store.pause(ORIGIN, seconds)
    assert store.paused_for(ORIGIN) == 0.0


BAD_MAX_PAUSES = [-1, math.inf, math.nan, "300", True]


@pytest.mark.parametrize("value", BAD_MAX_PAUSES)
def test_max_pause_is_checked(value: Any) -> None:
    with pytest.raises(ValueError, match="max_pause"):
        MemoryStore(max_pause=value)


@pytest.mark.integration
@pytest.mark.parametrize("value", BAD_MAX_PAUSES)
def test_redis_max_pause_is_checked(value: Any, redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match="max_pause"):
        RedisStore(redis_server.url, max_pause=value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("poll_every", 0),
        ("poll_every", math.nan),
        ("forget_after", -1),
        ("forget_after", True),
        ("max_origins", 0),
        ("max_origins", 1.5),
        ("max_origins", True),
    ],
)
@pytest.mark.integration
def test_polling_knobs_are_checked(name: str, value: Any, redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match=name):
        RedisStore(redis_server.url, **{name: value})


def test_max_pause_zero_turns_shared_pauses_off() -> None:
    store = MemoryStore(max_pause=0)
    store.pause(ORIGIN, 30)
    assert store.paused_for(ORIGIN) == 0.0


def test_many_pauses_heard_are_pruned_once_expired() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock.monotonic)
    for i in range(2000):
        store.pause(f"https://h{i}.example.com", 0.001)
    clock.advance(0.01)
    store.pause(ORIGIN, 10)
    assert len(store._pauses) < 1100
    assert store.paused_for(ORIGIN) > 9


@pytest.mark.integration
def test_redis_store_caps_what_it_writes(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    store = redis_stores()
    store.pause(ORIGIN, YEAR)
    assert 295_000 < raw.pttl(prefix + "pause:" + ORIGIN) <= 300_000
    assert 295 < store.paused_for(ORIGIN) <= 300


@pytest.mark.integration
def test_redis_store_caps_what_it_hears(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    """Another process (configured differently, or not this library at all) says a year."""
    store = redis_stores(max_pause=30)
    store.paused_for(ORIGIN)  # starts the listener
    eventually(lambda: raw.pubsub_numsub(prefix + "pauses")[0][1] >= 1, within=2.0)
    raw.publish(prefix + "pauses", f"{ORIGIN} {YEAR}")
    eventually(lambda: store.paused_for(ORIGIN) > 0, within=1.0)
    assert 25 < store.paused_for(ORIGIN) <= 30


@pytest.mark.integration
def test_redis_store_caps_a_stale_key_it_reads_and_cuts_it(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    """A key left by an earlier run with a year to live: read back as max_pause, and cut to it
    in Redis, or it would be read again each time the capped pause ran out."""
    key = prefix + "pause:" + ORIGIN
    raw.set(key, b"1", px=YEAR * 1000)
    store = redis_stores(max_pause=30, poll_every=0.05)
    store.paused_for(ORIGIN)
    eventually(lambda: store.paused_for(ORIGIN) > 0, within=1.0)
    assert 25 < store.paused_for(ORIGIN) <= 30
    assert 25_000 < raw.pttl(key) <= 30_000


@pytest.mark.integration
def test_redis_store_replaces_a_stale_key_when_it_announces(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    key = prefix + "pause:" + ORIGIN
    raw.set(key, b"1", px=YEAR * 1000)
    redis_stores().pause(ORIGIN, 2.0)
    assert 1_500 < raw.pttl(key) <= 2_000


# -- the announcing side: no longer than its policy would wait -----------------------------


def always_429(request: httpx.Request) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": str(YEAR)})


def announced(store: Store, clock: FakeClock, retry: remedy.Retry | None, mode: Mode) -> Any:
    return mode.client(always_429, clock, retry=retry, store=store)


def test_a_pause_is_announced_for_no_longer_than_max_retry_after(
    mode: Mode, clock: FakeClock
) -> None:
    store = MemoryStore()
    retry = remedy.Retry(budget=RetryBudget(), max_retry_after=60)
    with announced(store, clock, retry, mode) as client, pytest.raises(remedy.TooManyRequests):
        client.get(ORIGIN + "/items")
    assert 59 < store.paused_for(ORIGIN) <= 60
    other = MemoryStore()
    with announced(other, clock, None, mode) as client, pytest.raises(remedy.TooManyRequests):
        client.get(ORIGIN + "/items")
    assert 299 < other.paused_for(ORIGIN) <= 300  # no policy: the store's cap


@pytest.mark.integration
def test_a_year_long_retry_after_pauses_the_fleet_for_max_retry_after_in_redis(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str, clock: FakeClock
) -> None:
    store = redis_stores()
    retry = remedy.Retry(budget=RetryBudget(), max_retry_after=60)
    with announced(store, clock, retry, SYNC) as client, pytest.raises(remedy.TooManyRequests):
        client.get(ORIGIN + "/items")
    assert 55_000 < raw.pttl(prefix + "pause:" + ORIGIN) <= 60_000


# -- the origins a RedisStore asks about: bounded, and forgotten when idle -----------------


@pytest.mark.integration
def test_origins_in_use_are_bounded_and_forgotten(redis_server: RedisServer) -> None:
    """Which origins the listener asks about, on an injected clock (no Redis involved)."""
    store = RedisStore(redis_server.url, forget_after=60, max_origins=3)
    now = [0.0]
    store._clock = lambda: now[0]
    try:
        store._used.update(["a", "b", "c", "d"])
        assert sorted(store._origins_in_use()) == sorted(store._interest)
        assert len(store._interest) == 3  # at most max_origins
        now[0] = 30.0
        store._used.add("e")
        assert store._origins_in_use()[-1] == "e"  # the most recent last
        assert len(store._interest) == 3
        now[0] = 89.0
        assert store._origins_in_use() == ["e"]  # the others were last used 89 s ago
        now[0] = 90.0
        assert store._origins_in_use() == []
    finally:
        store.close()


@pytest.mark.integration
def test_an_idle_process_sends_redis_nothing(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis
) -> None:
    """5,000 origins used once: while they are recent, each poll is one round trip asking about
    at most max_origins of them; once they are forgotten, nothing at all."""
    store = redis_stores(poll_every=0.05)
    now = [0.0]
    store._clock = lambda: now[0]
    sizes: list[int] = []
    pipeline = store._redis.pipeline

    def counting(*args: Any, **kwargs: Any) -> Any:
        made = pipeline(*args, **kwargs)
        execute = made.execute

        def counted(*a: Any, **k: Any) -> Any:
            sizes.append(len(made.command_stack))
            return execute(*a, **k)

        made.execute = counted
        return made

    store._redis.pipeline = counting  # type: ignore[method-assign]
    for i in range(5000):
        store.paused_for(f"https://h{i}.example.com")
    # The listener may poll while the loop above still runs (a loaded machine): those polls
    # ask about fewer origins. Judged from the polls after it, skipping one that may be under way.
    during = len(sizes) + 1
    eventually(lambda: len(sizes) >= during + 2, within=2.0)

    def calls() -> dict[str, int]:
        stats = raw.info("commandstats")
        return {
            name: int(stat["calls"])
            for name, stat in stats.items()
            if not name.startswith(("cmdstat_info", "cmdstat_config"))  # this test's own
        }

    raw.config_resetstat()
    polls = len(sizes)
    time.sleep(0.3)  # some polls of the listener thread, which runs on the wall clock
    busy, polls = calls(), len(sizes) - polls
    assert max(sizes) <= store.max_origins
    assert set(sizes[during:]) == {store.max_origins} == {256}
    assert polls >= 2
    assert set(busy) == {"cmdstat_pttl"}
    assert 0 < busy["cmdstat_pttl"] <= 256 * (polls + 1)

    now[0] += store.forget_after  # nothing requested for a minute
    eventually(lambda: store._interest == {}, within=2.0)
    polls = len(sizes)
    raw.config_resetstat()
    time.sleep(0.5)  # ten polls
    assert calls() == {}
    assert len(sizes) == polls

    store.paused_for(ORIGIN)  # in use again: asked about again, alone
    eventually(lambda: len(sizes) > polls, within=2.0)
    assert sizes[-1] == 1
