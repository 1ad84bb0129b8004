"""The store interface: MemoryStore and RedisStore, one method at a time.

Every behaviour the interface promises is checked on both stores (the ``make_store`` fixture is
parametrized), the async twins under asyncio and trio. Time passes on a fake clock for the
``MemoryStore`` (its ``clock=``), and on the wall clock for Redis, whose TTLs run in the server:
those sleeps are the only ones, each well under 1.5 s. The Redis-only parts (the key prefix, the
pause listener, faults) run against a real ``redis-server`` started on a free port of 127.0.0.1
for this module (skipped when it is not installed, unless ``HTTPX_REMEDY_REQUIRE_REDIS=1``).
Every Redis test is in the ``integration`` group. Also the token record that travels through
the store and the key it is stored under.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
import redis

import httpx_remedy as remedy
from httpx_remedy import ClientCredentials, MemoryStore, RedisStore, RefreshToken, Store, Token
from httpx_remedy._token import token_from_record, token_record

from .fleet_worker import RedisServer, free_port
from .helpers import FakeClock

ORIGIN = "https://api.example.com"
WALL = 1_764_000_000.0


def close_store(store: Store) -> None:
    """Close a RedisStore and wait for its listener thread, so nothing outlives the test."""
    if isinstance(store, RedisStore):
        store.close()
        listener = store._listener
        if listener is not None:
            listener.join(timeout=2)


@pytest.fixture
def redis_stores(redis_server: RedisServer, prefix: str) -> Iterator[Callable[..., RedisStore]]:
    """Make RedisStores (another instance stands for another process); closed at teardown."""
    made: list[RedisStore] = []

    def make(**options: Any) -> RedisStore:
        options.setdefault("prefix", prefix)
        url = options.pop("url", redis_server.url)
        store = RedisStore(url, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        close_store(store)


class Stores:
    """Makes stores of one kind (``lock_ttl`` and the like passed through), and lets time pass
    for them: a ``MemoryStore`` runs on a fake clock, moved at once; Redis keeps its own time,
    so its TTLs are waited out on the wall clock."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, prefix: str) -> None:
        self.kind = kind
        self.request = request
        self.prefix = prefix
        self.clock = FakeClock()
        self.made: list[Store] = []

    def __call__(self, **options: Any) -> Store:
        store: Store
        if self.kind == "memory":
            store = MemoryStore(clock=self.clock.monotonic, **options)
        else:
            server = self.request.getfixturevalue("redis_server")
            store = RedisStore(server.url, prefix=self.prefix, **options)
        self.made.append(store)
        return store

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass for the stores made."""
        if self.kind == "memory":
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)  # Redis expires keys by its own clock


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def make_store(request: pytest.FixtureRequest, prefix: str) -> Iterator[Stores]:
    """Make stores of each kind (see :class:`Stores`)."""
    stores = Stores(str(request.param), request, prefix)
    yield stores
    for store in stores.made:
        close_store(store)


def eventually(check: Callable[[], bool], within: float, step: float = 0.005) -> float:
    """Seconds until ``check()`` held; fails after ``within`` seconds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            pytest.fail(f"not within {within}s")
        time.sleep(step)
    return time.monotonic() - start


def remedy_warnings(caplog: pytest.LogCaptureFixture, about: str) -> list[logging.LogRecord]:
    """The library's warnings that name ``about`` (a store's address): the threads of stores
    from other tests may still be logging about theirs."""
    return [
        r
        for r in caplog.records
        if r.name == "httpx_remedy" and r.levelno >= logging.WARNING and about in r.getMessage()
    ]


# -- the interface, on both stores ---------------------------------------------------------


def test_store_is_an_interface() -> None:
    with pytest.raises(TypeError):
        Store()  # type: ignore[abstract]
    assert issubclass(MemoryStore, Store)
    assert issubclass(RedisStore, Store)
    assert repr(MemoryStore()) == "MemoryStore()"


def test_a_memory_store_runs_on_the_clock_it_is_given() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock.monotonic, lock_ttl=10)
    store.put("k", b"v", 30)
    store.pause(ORIGIN, 5)
    assert store.lock("lock:a") is not None
    clock.advance(29.9)  # nothing sleeps: the store reads the clock it was given
    assert store.get("k") == b"v"
    assert store.paused_for(ORIGIN) == 0.0
    assert store.lock("lock:a") is not None  # the first holder's lock expired at 10 s
    clock.advance(0.1)
    assert store.get("k") is None
    with pytest.raises(TypeError, match="clock must be a callable"):
        MemoryStore(clock=1.0)  # type: ignore[arg-type]


def test_get_and_put(make_store: Stores) -> None:
    store = make_store()
    assert store.get("missing") is None
    store.put("k", b"v1", None)
    assert store.get("k") == b"v1"
    store.put("k", b"v2", None)
    assert store.get("k") == b"v2"
    store.put("binary", bytes(range(256)), None)
    assert store.get("binary") == bytes(range(256))


def test_put_with_ttl_expires(make_store: Stores) -> None:
    store = make_store()
    store.put("short", b"x", 0.1)
    store.put("long", b"y", 30)
    store.put("forever", b"z", None)
    assert store.get("short") == b"x"
    make_store.wait(0.15)
    assert store.get("short") is None
    assert store.get("long") == b"y"
    assert store.get("forever") == b"z"


def test_lock_is_exclusive_until_unlocked(make_store: Stores) -> None:
    store = make_store()
    token = store.lock("lock:a")
    assert isinstance(token, str)
    assert token
    assert store.lock("lock:a") is None
    assert store.lock("lock:b") is not None  # another key, another lock
    store.unlock("lock:a", token)
    again = store.lock("lock:a")
    assert again is not None
    assert again != token  # a fresh fencing token for every holder


def test_unlock_only_by_the_holder(make_store: Stores) -> None:
    store = make_store()
    token = store.lock("lock:a")
    assert token is not None
    store.unlock("lock:a", "not-the-holder")
    assert store.lock("lock:a") is None  # still held
    store.unlock("lock:never-taken", token)  # harmless
    store.unlock("lock:a", token)
    assert store.lock("lock:a") is not None


def test_lock_expires_after_lock_ttl(make_store: Stores) -> None:
    store = make_store(lock_ttl=0.2)
    assert store.lock_ttl == 0.2
    assert store.lock("lock:a") is not None  # the holder crashes: never unlocked
    assert store.lock("lock:a") is None
    make_store.wait(0.25)
    assert store.lock("lock:a") is not None


def test_put_fenced_writes_only_while_the_lock_is_held(make_store: Stores) -> None:
    store = make_store()
    token = store.lock("lock:a")
    assert token is not None
    assert store.put_fenced("lock:a", token, "k", b"mine", None) is True
    assert store.get("k") == b"mine"
    assert store.put_fenced("lock:a", "forged", "k", b"forged", None) is False
    assert store.put_fenced("lock:other", token, "k", b"wrong lock", None) is False
    assert store.get("k") == b"mine"
    store.unlock("lock:a", token)
    assert store.put_fenced("lock:a", token, "k", b"after unlock", None) is False
    assert store.get("k") == b"mine"


def test_put_fenced_with_ttl(make_store: Stores) -> None:
    store = make_store()
    token = store.lock("lock:a")
    assert token is not None
    assert store.put_fenced("lock:a", token, "k", b"v", 0.1) is True
    assert store.get("k") == b"v"
    make_store.wait(0.15)
    assert store.get("k") is None


def test_late_writer_cannot_overwrite_a_newer_value(make_store: Stores) -> None:
    """The fencing check: a holder whose lock expired, and was taken by the next holder who
    wrote a newer token, cannot overwrite it (nor write once nobody holds the lock)."""
    store = make_store(lock_ttl=0.15)
    late = store.lock("lock:a")
    assert late is not None
    make_store.wait(0.2)  # the late holder is slow: its lock expires
    assert store.put_fenced("lock:a", late, "k", b"late, nobody holds it", None) is False
    assert store.get("k") is None
    nxt = store.lock("lock:a")
    assert nxt is not None
    assert store.put_fenced("lock:a", nxt, "k", b"newer", None) is True
    assert store.put_fenced("lock:a", late, "k", b"older", None) is False
    store.unlock("lock:a", late)  # the late holder's unlock must not release the next holder's
    assert store.lock("lock:a") is None
    assert store.get("k") == b"newer"


@pytest.mark.integration
def test_late_writer_across_two_redis_clients(redis_stores: Callable[..., RedisStore]) -> None:
    """The same, with two RedisStore instances standing for two processes."""
    slow, fast = redis_stores(lock_ttl=0.15), redis_stores(lock_ttl=0.15)
    late = slow.lock("lock:a")
    assert late is not None
    assert fast.lock("lock:a") is None
    time.sleep(0.2)
    mine = fast.lock("lock:a")
    assert mine is not None
    assert fast.put_fenced("lock:a", mine, "token", b"new", 10) is True
    assert slow.put_fenced("lock:a", late, "token", b"old", 10) is False
    slow.unlock("lock:a", late)
    assert slow.get("token") == b"new"
    assert slow.lock("lock:a") is None


def test_pause_and_paused_for(make_store: Stores) -> None:
    store = make_store()
    assert store.paused_for(ORIGIN) == 0.0
    store.pause(ORIGIN, 0.2)
    left = store.paused_for(ORIGIN)
    assert 0.1 < left < 0.2 + 1e-9  # (1e-9: the float sum on the fake clock)
    assert store.paused_for("https://other.example.com") == 0.0
    make_store.wait(0.25)
    assert store.paused_for(ORIGIN) == 0.0


def test_pause_keeps_the_longest(make_store: Stores) -> None:
    store = make_store()
    store.pause(ORIGIN, 2.0)
    store.pause(ORIGIN, 0.1)  # a shorter delay does not shorten the pause
    assert store.paused_for(ORIGIN) > 1.8
    store.pause(ORIGIN, 3.0)  # a longer one extends it
    assert store.paused_for(ORIGIN) > 2.8


@pytest.mark.anyio
async def test_async_twins(make_store: Stores) -> None:
    """The ``a``-prefixed methods, under asyncio and trio: the same results, loop unblocked."""
    store = make_store(lock_ttl=5.0)
    assert await store.aget("k") is None
    await store.aput("k", b"v", None)
    assert await store.aget("k") == b"v"
    await store.aput("t", b"short", 0.05)
    make_store.wait(0.1)
    assert await store.aget("t") is None
    token = await store.alock("lock:a")
    assert token is not None
    assert await store.alock("lock:a") is None
    assert await store.aput_fenced("lock:a", token, "k", b"fenced", 10) is True
    assert await store.aput_fenced("lock:a", "forged", "k", b"forged", 10) is False
    assert await store.aget("k") == b"fenced"
    await store.aunlock("lock:a", "forged")
    assert await store.alock("lock:a") is None
    await store.aunlock("lock:a", token)
    assert await store.alock("lock:a") is not None
    await store.apause(ORIGIN, 1.0)
    assert 0.5 < store.paused_for(ORIGIN) <= 1.0


@pytest.mark.anyio
async def test_async_twins_do_not_block_the_loop(make_store: Stores) -> None:
    """Many store calls at once from tasks: each runs in a worker thread, all complete."""
    store = make_store()
    got: list[bytes | None] = []

    async def one(i: int) -> None:
        await store.aput(f"k{i}", str(i).encode(), None)
        got.append(await store.aget(f"k{i}"))

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
    assert sorted(got) == sorted(str(i).encode() for i in range(20))  # type: ignore[type-var]


# -- Redis only ------------------------------------------------------------------------------


@pytest.mark.integration
def test_keys_live_under_the_prefix(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    store = redis_stores()
    store.put("token:abc", b"v", None)
    assert raw.get(prefix + "token:abc") == b"v"
    other = redis_stores(prefix=prefix + "other:")
    assert other.get("token:abc") is None  # another prefix, another application
    token = store.lock("lock:x")
    assert raw.get(prefix + "lock:x") == (token or "").encode()
    assert 0 < raw.pttl(prefix + "lock:x") <= 10_000  # the lock expires on its own
    store.pause(ORIGIN, 2.0)
    assert 1_000 < raw.pttl(prefix + "pause:" + ORIGIN) <= 2_000
    assert repr(store) == f"RedisStore({store.url!r}, prefix={prefix!r})"


@pytest.mark.integration
def test_redis_pause_is_never_shortened(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    one, two = redis_stores(), redis_stores()
    one.pause(ORIGIN, 2.0)
    two.pause(ORIGIN, 0.1)
    assert raw.pttl(prefix + "pause:" + ORIGIN) > 1_500
    two.pause(ORIGIN, 3.0)
    assert raw.pttl(prefix + "pause:" + ORIGIN) > 2_500


def subscribed(raw: redis.Redis, prefix: str, count: int = 1) -> Callable[[], bool]:
    def check() -> bool:
        ((_, listeners),) = raw.pubsub_numsub(prefix + "pauses")
        return int(listeners) >= count

    return check


@pytest.mark.integration
def test_listener_hears_another_instances_pause(
    redis_stores: Callable[..., RedisStore], raw: redis.Redis, prefix: str
) -> None:
    """Another process's pause is heard within 0.3 s, through pub/sub."""
    announcer, listener = redis_stores(), redis_stores()
    assert listener.paused_for(ORIGIN) == 0.0  # the first look starts the listener
    eventually(subscribed(raw, prefix), within=2.0)
    announcer.pause(ORIGIN, 2.0)
    took = eventually(lambda: listener.paused_for(ORIGIN) > 0, within=0.3)
    assert took < 0.3
    assert 1.5 < listener.paused_for(ORIGIN) <= 2.0
    # Only that origin, and only this prefix's processes.
    assert listener.paused_for("https://other.example.com") == 0.0
    stranger = redis_stores(prefix=prefix + "other:")
    stranger.paused_for(ORIGIN)
    eventually(subscribed(raw, prefix + "other:"), within=2.0)
    time.sleep(0.1)  # that nothing arrives takes a wait: as long as the pause took to arrive
    assert stranger.paused_for(ORIGIN) == 0.0


@pytest.mark.integration
def test_listener_learns_a_pause_announced_before_it_listened(
    redis_stores: Callable[..., RedisStore],
) -> None:
    """A pause already in force when a process starts is found by asking Redis."""
    announcer = redis_stores()
    announcer.pause(ORIGIN, 2.0)
    late = redis_stores()
    late.paused_for(ORIGIN)
    eventually(lambda: late.paused_for(ORIGIN) > 1.0, within=0.3)
    assert late.paused_for(ORIGIN) <= 2.0  # what was announced, not more


@pytest.mark.integration
def test_listener_follows_the_client_it_was_given(
    redis_server: RedisServer, prefix: str, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """``client=`` is "a ready redis.Redis to use instead of connecting to url": the pause
    listener must use that Redis too, not the default URL (127.0.0.1:6379)."""
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    given = redis.Redis.from_url(redis_server.url, socket_timeout=0.25)
    store = RedisStore(client=given, prefix=prefix)
    announcer = RedisStore(redis_server.url, prefix=prefix)
    try:
        store.paused_for(ORIGIN)
        eventually(subscribed(raw, prefix), within=2.0)  # listening, through the given client
        announcer.pause(ORIGIN, 2.0)
        eventually(lambda: store.paused_for(ORIGIN) > 0, within=0.5)
        store.put("k", b"v", None)
        assert announcer.get("k") == b"v"
        assert remedy_warnings(caplog, "Redis") == []
    finally:
        close_store(store)
        close_store(announcer)
        given.close()


# -- Redis faults ----------------------------------------------------------------------------


def closed_port() -> int:
    return free_port()  # nothing listens there


@pytest.mark.integration
def test_redis_down_answers_locally_and_warns_once(
    caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="httpx_remedy")
    address = f"127.0.0.1:{closed_port()}"
    store = RedisStore(f"redis://{address}/0", prefix=prefix, lock_ttl=5.0)
    try:
        start = time.monotonic()
        assert store.get("k") is None
        store.put("k", b"v", None)
        assert store.get("k") == b"v"  # per-process: the local store answers
        token = store.lock("lock:a")
        assert token is not None
        assert store.lock("lock:a") is None  # still exclusive within the process
        assert store.put_fenced("lock:a", token, "k", b"w", None) is True
        store.unlock("lock:a", token)
        store.pause(ORIGIN, 1.0)
        assert store.paused_for(ORIGIN) > 0.5
        for _ in range(50):
            store.get("k")
        assert time.monotonic() - start < 1.0  # a dead Redis does not slow calls down
        time.sleep(0.05)  # the listener thread meets the outage too
    finally:
        close_store(store)
    warnings = remedy_warnings(caplog, address)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unavailable" in warnings[0].getMessage()


@pytest.mark.integration
@pytest.mark.anyio
async def test_redis_down_async_twins(caplog: pytest.LogCaptureFixture, prefix: str) -> None:
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    address = f"127.0.0.1:{closed_port()}"
    store = RedisStore(f"redis://{address}/0", prefix=prefix)
    try:
        assert await store.aget("k") is None
        await store.aput("k", b"v", None)
        token = await store.alock("lock:a")
        assert token is not None
        assert await store.aput_fenced("lock:a", token, "k", b"w", None) is True
        await store.aunlock("lock:a", token)
        await store.apause(ORIGIN, 1.0)
        assert await store.aget("k") == b"w"
    finally:
        close_store(store)
    assert len(remedy_warnings(caplog, address)) == 1


@pytest.mark.integration
def test_redis_password_stays_out_of_logs_and_repr(
    caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    """The library keeps secrets out of what it prints: a Redis URL's password too."""
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    address = f"127.0.0.1:{closed_port()}"
    store = RedisStore(f"redis://:hunter2-redis-password@{address}/0", prefix=prefix)
    try:
        store.get("k")
        assert "hunter2" not in repr(store)
    finally:
        close_store(store)
    assert len(remedy_warnings(caplog, address)) == 1
    assert "hunter2" not in caplog.text


class BlackHole:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.conns.append(conn)

    def close(self) -> None:
        self.closed.set()
        self.thread.join(timeout=2)
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


@pytest.mark.integration
def test_unresponsive_redis_times_out_and_answers_locally(
    black_hole: BlackHole, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    store = RedisStore(f"redis://127.0.0.1:{black_hole.port}/0", prefix=prefix, timeout=0.1)
    try:
        start = time.monotonic()
        assert store.get("k") is None
        store.put("k", b"v", None)
        assert store.get("k") == b"v"
        assert time.monotonic() - start < 1.0  # one timeout, then local answers
    finally:
        store.close()
    assert len(remedy_warnings(caplog, f"127.0.0.1:{black_hole.port}")) == 1


@pytest.mark.integration
def test_close_stops_the_listener_even_when_redis_hangs(black_hole: BlackHole, prefix: str) -> None:
    """``close()`` "stops listening for pauses": the listener thread must end, even when Redis
    accepted the connection and then never answered (a network partition). Its client has no
    read timeout, so it blocks forever in the subscribe handshake."""
    store = RedisStore(f"redis://127.0.0.1:{black_hole.port}/0", prefix=prefix, timeout=0.1)
    store.paused_for(ORIGIN)  # starts the listener
    time.sleep(0.3)  # long enough for the listener to be stuck in the handshake
    store.close()
    listener = store._listener
    assert listener is not None
    listener.join(timeout=1.5)
    assert not listener.is_alive(), "the pause listener is stuck on a Redis that never answers"


@pytest.mark.integration
def test_redis_comes_back(
    caplog: pytest.LogCaptureFixture, prefix: str, redis_server: RedisServer
) -> None:
    """A Redis stopped mid-way: local answers and one warning; back, sharing resumes after
    ``retry_in``."""
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    own = RedisServer(redis_server.executable).start()
    one = RedisStore(own.url, prefix=prefix, retry_in=0.2)
    two = RedisStore(own.url, prefix=prefix, retry_in=0.2)
    try:
        one.put("k", b"shared", None)
        assert two.get("k") == b"shared"
        own.stop()
        assert one.get("k") is None  # the fault: local answers from now on
        one.put("k", b"local", None)
        assert one.get("k") == b"local"
        for _ in range(20):
            one.get("k")
        outage = remedy_warnings(caplog, own.url)
        assert len(outage) == 1
        assert "unavailable" in outage[0].getMessage()
        own.start()
        time.sleep(0.25)  # retry_in
        one.put("k", b"shared again", None)
        assert two.get("k") == b"shared again"
        assert "answers again" in remedy_warnings(caplog, own.url)[-1].getMessage()
    finally:
        close_store(one)
        close_store(two)
        own.stop()


# -- the token record and its key ------------------------------------------------------------


def test_token_record_round_trip_keeps_wall_clock_expiry() -> None:
    """A token written by one process and read by another: monotonic clocks differ between
    processes, so the expiry travels as wall-clock time."""
    token = Token.from_response(
        {
            "access_token": "at-1",
            "token_type": "bearer",
            "expires_in": 100,
            "scope": "read write",
            "extra": "kept",
        },
        now=1_000.0,
        wall_now=WALL,
    )
    record, ttl = token_record(token, now=1_010.0, wall_now=WALL + 10)
    assert ttl == pytest.approx(90.0)  # kept as long as the token lives
    data = json.loads(record)
    assert data["expires_at"] == pytest.approx(WALL + 100)
    assert "expires_in" not in data
    found = token_from_record(record, now=55.0, wall_now=WALL + 20, leeway=60.0)
    assert found is not None
    other, raw_data = found
    assert other.access_token == "at-1"
    assert other.scope == "read write"
    assert other.token_type == "Bearer"
    assert other.expires_at == pytest.approx(55.0 + 80.0)  # 80 s left, on the reader's clock
    assert other.refresh_token is None
    assert other.raw["extra"] == "kept"
    assert raw_data["scope"] == "read write"


def test_token_record_round_trip_with_a_refresh_token() -> None:
    token = Token.from_response(
        {"access_token": "at-1", "expires_in": 100, "refresh_token": "rt-1"},
        now=1_000.0,
        wall_now=WALL,
    )
    record, ttl = token_record(token, now=1_000.0, wall_now=WALL)
    assert ttl is None or ttl >= 100  # not shorter than the access token's life
    found = token_from_record(record, now=0.0, wall_now=WALL + 30, leeway=60.0)
    assert found is not None
    other, raw_data = found
    assert other.refresh_token == "rt-1"
    assert raw_data["refresh_token"] == "rt-1"  # what a sibling adopts
    assert other.expires_at == pytest.approx(70.0)


def test_token_record_without_expiry() -> None:
    token = Token(access_token="at")
    record, ttl = token_record(token, now=1.0, wall_now=WALL)
    assert ttl is None
    assert "expires_at" not in json.loads(record)
    found = token_from_record(record, now=5.0, wall_now=WALL + 100, leeway=60.0)
    assert found is not None
    assert found[0].access_token == "at"
    assert found[0].expires_at is None
    assert found[0].fresh(1e9)


def test_token_record_of_an_expired_token_keeps_a_tiny_ttl() -> None:
    token = Token.from_response({"access_token": "at", "expires_in": 10}, now=0.0, wall_now=WALL)
    record, ttl = token_record(token, now=20.0, wall_now=WALL + 20)
    assert ttl == pytest.approx(0.001)
    found = token_from_record(record, now=0.0, wall_now=WALL + 20, leeway=60.0)
    assert found is not None
    assert not found[0].usable(0.01)


@pytest.mark.parametrize(
    "record", [None, b"", b"not json", b"[]", b"42", b'{"no": "token"}', b'{"access_token": 7}']
)
def test_token_from_garbage_is_none(record: bytes | None) -> None:
    assert token_from_record(record, now=0.0, wall_now=WALL, leeway=60.0) is None


def test_adopted_token_is_stale_past_its_refresh_point() -> None:
    """A token fetched 60 s ago with a 100 s lifetime is past its refresh point (the fetcher
    itself refreshes it at 50 s, half-way). Read back from the store it must not count as
    fresh again: the remaining 40 s are not "a new short-lived token" to use half of."""
    fetched = Token.from_response(
        {"access_token": "at", "expires_in": 100}, now=0.0, wall_now=WALL, leeway=60.0
    )
    assert not fetched.fresh(60.0)  # the fetching process would refresh now
    record, _ = token_record(fetched, now=0.0, wall_now=WALL)
    found = token_from_record(record, now=60.0, wall_now=WALL + 60, leeway=60.0)
    assert found is not None
    assert not found[0].fresh(60.0), "a token past its refresh point came back fresh"


def creds(**options: Any) -> ClientCredentials:
    options.setdefault("token_url", "https://auth.example.com/oauth/token")
    options.setdefault("client_id", "app")
    options.setdefault("client_secret", "the-client-secret")
    return ClientCredentials(**options)


def test_shared_key_never_holds_the_secret() -> None:
    one = creds(scope="read write")
    key = one.shared_key
    assert key.startswith("token:")
    assert len(key) == len("token:") + 40
    assert "the-client-secret" not in key
    assert "app" not in key  # hashed, not spelled out
    # The secret is not part of the key: rotating it keeps the shared token.
    assert creds(scope="read write", client_secret="a-new-secret").shared_key == key
    assert creds(scope="  read   write ").shared_key == key  # the same scope, spelled loosely


def test_shared_key_differs_by_token_url_client_and_scope() -> None:
    keys = {
        creds().shared_key,
        creds(scope="read").shared_key,
        creds(scope="read write").shared_key,
        creds(client_id="other").shared_key,
        creds(token_url="https://auth2.example.com/oauth/token").shared_key,
        creds(token_url="https://auth.example.com/other/token").shared_key,
    }
    assert len(keys) == 6


def test_refresh_token_shared_key_holds_no_token() -> None:
    pair = {"access_token": "the-access-token", "refresh_token": "the-refresh-token"}
    grant = RefreshToken("https://auth.example.com/oauth/token", "app", token=pair)
    assert "the-refresh-token" not in grant.shared_key
    assert "the-access-token" not in grant.shared_key
    assert grant.shared_key == creds(client_secret=None).shared_key  # token URL, client, scope


def test_store_argument_must_be_a_store() -> None:
    with pytest.raises(TypeError, match="Store"):
        creds(store={"not": "a store"})
    with pytest.raises(TypeError, match="Store"):
        remedy.RemedyTransport(store="redis://127.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Store"):
        remedy.AsyncRemedyTransport(store=object())  # type: ignore[arg-type]
    store = MemoryStore()
    assert creds(store=store).store is store
    with httpx.Client(transport=remedy.RemedyTransport(store=store)):
        pass


def test_a_shared_refresh_token_names_its_user() -> None:
    """Token URL and client id do not tell users apart: sharing a RefreshToken through a store
    needs share_as, and users get different keys."""
    pair = {"access_token": "a", "refresh_token": "r"}
    url = "https://auth.example.com/oauth/token"
    store = MemoryStore()
    with pytest.raises(ValueError, match="share_as"):
        RefreshToken(url, "app", token=pair, store=store)
    alice = RefreshToken(url, "app", token=pair, store=store, share_as="alice")
    bob = RefreshToken(url, "app", token=pair, store=store, share_as="bob")
    assert alice.shared_key != bob.shared_key
    assert "alice" not in alice.shared_key


def test_adopting_a_rotated_refresh_token_persists_it() -> None:
    saved: list[dict[str, Any]] = []
    grant = RefreshToken(
        "https://auth.example.com/oauth/token",
        "app",
        token={"access_token": "a", "refresh_token": "r0"},
        on_token=saved.append,
    )
    grant.adopt({"access_token": "b", "refresh_token": "r1"})
    grant.adopt({"access_token": "c", "refresh_token": "r1"})  # the same: nothing new to save
    assert [item["refresh_token"] for item in saved] == ["r1"]
    assert grant.token["refresh_token"] == "r1"
