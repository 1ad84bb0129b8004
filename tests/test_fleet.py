"""Fleet scale: one token refresh and one backoff across many processes, on Redis.

Against the real OAuth server of ``httpx_remedy.testing`` and a real ``redis-server`` (started
on a free port of 127.0.0.1 for this module; skipped when it is not installed, unless
``HTTPX_REMEDY_REQUIRE_REDIS=1``), each test under its own key prefix:

- real OS processes (``tests/fleet_worker.py``, released together by a start barrier): 8 x 25
  requests make one token request; a 429 ``Retry-After: 1`` seen by one process pauses them
  all; a lock holder killed mid-refresh blocks the others no longer than the lock's expiry;
- "processes" simulated in this one (each with its own RedisStore and credentials object, so
  nothing is shared but Redis), sync and async (asyncio and trio): single flight, pauses,
  rotated refresh tokens, which store is used for what, and Redis down, hanging or back.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

import httpx_remedy as remedy
from httpx_remedy import (
    ClientCredentials,
    MemoryStore,
    OriginPaused,
    RedisStore,
    RefreshToken,
    Retry,
    RetryBudget,
)
from httpx_remedy.testing.oauth_server import ApiCall, OAuthServer, TokenCall

from .fleet_worker import Fleet, RedisServer, free_port, worker_config
from .helpers import SYNC, Client, FakeClock, Mode, on_clock

pytestmark = pytest.mark.integration  # real processes, Redis, a real OAuth server

LIMITS = httpx.Limits(max_connections=200)


@dataclasses.dataclass
class Timeline:
    """The server's calls, each stamped with ``time.time()`` when it was answered."""

    calls: list[tuple[float, TokenCall | ApiCall]] = dataclasses.field(default_factory=list)

    def __call__(self, call: TokenCall | ApiCall) -> None:
        self.calls.append((time.time(), call))

    def api(self) -> list[tuple[float, ApiCall]]:
        return [(t, c) for t, c in self.calls if isinstance(c, ApiCall)]

    def tokens(self) -> list[tuple[float, TokenCall]]:
        return [(t, c) for t, c in self.calls if isinstance(c, TokenCall)]


@pytest.fixture
def server() -> Iterator[OAuthServer]:
    with OAuthServer() as started:
        started.add_client("app", "s3cret", scope="read write")
        started.on_call = Timeline()
        yield started


def timeline(server: OAuthServer) -> Timeline:
    assert isinstance(server.on_call, Timeline)
    return server.on_call


def granted(server: OAuthServer) -> list[TokenCall]:
    """The token requests that got a token."""
    return [c for c in server.token_log if c.status == 200]


def close_store(store: remedy.Store | None) -> None:
    if isinstance(store, RedisStore):
        store.close()
        if store._listener is not None:
            store._listener.join(timeout=2)


# -- "processes" simulated in this one ---------------------------------------------------------


@dataclasses.dataclass
class Proc:
    """What one process of the fleet has: its own store connection, credentials and client."""

    store: remedy.Store | None
    creds: ClientCredentials | RefreshToken
    client: Client

    def get(self, server: OAuthServer) -> httpx.Response:
        return self.client.get(server.url + "/api/items")


@pytest.fixture
def procs(
    request: pytest.FixtureRequest, server: OAuthServer, prefix: str
) -> Iterator[Callable[..., Proc]]:
    """Make simulated processes (``procs(redis_url=..., lock_ttl=..., ...)``; the module's
    Redis by default); all closed at teardown."""
    made: list[Proc] = []
    stores: list[remedy.Store] = []

    def make(
        *,
        redis_url: str | None = "fleet",
        mode: Mode = SYNC,
        creds: Any = None,
        lock_ttl: float = 10.0,
        retry_in: float = 5.0,
        max_retry_after: float = 60.0,
        deadline: float | None = None,
        transport_store: bool = True,
    ) -> Proc:
        store: remedy.Store | None = None
        if redis_url == "fleet":
            redis_url = request.getfixturevalue("redis_server").url
        if redis_url is not None:
            store = RedisStore(redis_url, prefix=prefix, lock_ttl=lock_ttl, retry_in=retry_in)
            stores.append(store)
        if creds is None:
            creds = ClientCredentials(server.token_url, "app", "s3cret", scope="read", store=store)
        options: dict[str, Any] = {
            "credentials": creds,
            "store": store if transport_store else None,
            "retry": Retry(
                budget=RetryBudget(), max_retry_after=max_retry_after, deadline=deadline
            ),
        }
        transport = mode.transport(mode.network(limits=LIMITS), **options)
        proc = Proc(store, creds, mode.wrap(transport, timeout=10))
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.client.close()
    for store in stores:
        close_store(store)


def at_once(calls: list[Callable[[], Any]], mode: Mode = SYNC) -> list[Any]:
    """Run the calls at the same moment (threads, or tasks: see ``Mode.at_once``); their
    results or errors."""
    return [outcome for outcome, _ in mode.at_once(calls)]


def statuses(results: list[Any]) -> list[Any]:
    return [r.status_code if isinstance(r, httpx.Response) else r for r in results]


# -- real processes ----------------------------------------------------------------------------


def test_eight_processes_make_one_token_request(
    server: OAuthServer, redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    """8 processes x 25 concurrent requests, no token anywhere: one token request. Then every
    token expires at the server: one more token request, for the whole fleet."""
    names = [f"w{i}" for i in range(8)]
    config = worker_config(server, redis_server.url, prefix, mode="burst", requests=25)
    with Fleet(tmp_path) as fleet:
        for name in names:
            fleet.spawn(name, {**config, "waves": ["first", "expired"]})
        fleet.ready(names)
        fleet.go("first")
        first = fleet.results(names, "first")
        outcomes = [r["outcome"] for results in first.values() for r in results]
        assert outcomes == ["200"] * 200, fleet.errors()
        assert server.token_requests == 1

        server.expire_all()
        fleet.go("expired")
        second = fleet.results(names, "expired")
        outcomes = [r["outcome"] for results in second.values() for r in results]
        assert outcomes == ["200"] * 200, fleet.errors()
        fleet.wait()
    assert server.token_requests == 2
    assert [(c.grant_type, c.status) for c in server.token_log] == [
        ("client_credentials", 200),
        ("client_credentials", 200),
    ]
    assert server.api_requests >= 400


def test_a_429_pauses_every_process(
    server: OAuthServer, redis_server: RedisServer, prefix: str, tmp_path: Path, raw: redis.Redis
) -> None:
    """One process meets ``429 Retry-After: 1``: for that second no process sends to the
    origin (but for what was already on its way); their requests wait and then succeed, and a
    process whose ``max_retry_after`` is shorter raises OriginPaused at once instead."""
    loopers = [f"loop{i}" for i in range(4)]
    config = worker_config(server, redis_server.url, prefix)
    with Fleet(tmp_path) as fleet:
        for name in loopers:
            fleet.spawn(
                name, {**config, "mode": "loop", "threads": 3, "duration": 2.5, "gap": 0.02}
            )
        fleet.spawn(
            "probe",
            {
                **config,
                "mode": "probe",
                "requests": 5,
                "max_retry_after": 0.5,
                "origin": server.url,
            },
        )
        fleet.ready([*loopers, "probe"])
        assert server.token_requests == 1  # the warm-up: single flight too
        fleet.go("loop")
        time.sleep(0.5)  # the fleet is busy with the origin
        server.fail_next_api_requests(1, 429, retry_after=1)
        give_up = time.monotonic() + 5
        while not any(c.status == 429 for _, c in timeline(server).api()):
            assert time.monotonic() < give_up, fleet.errors()
            time.sleep(0.005)
        # The announcement is out: now the impatient process tries.
        while not raw.exists(prefix + "pause:" + server.url):
            assert time.monotonic() < give_up
            time.sleep(0.005)
        time.sleep(0.05)
        fleet.go("probe")
        looped = fleet.results(loopers, "loop")
        probed = fleet.results(["probe"], "probe")["probe"]
        fleet.wait()

    calls = timeline(server).api()
    (paused_at,) = [t for t, c in calls if c.status == 429]
    records = [r for results in looped.values() for r in results]
    assert {r["outcome"] for r in records} == {"200"}, fleet.errors()
    end = paused_at + 0.97  # every process's pause ends a second after it heard of it

    # The clients' view: no request started once the pause was known was answered in it.
    heard = paused_at + 0.1  # the announcement reaches every process (pub/sub) by then
    sent = [r for r in records if heard < r["start"] and r["end"] < end]
    assert sent == [], "requests were sent during the pause"
    waited = [r for r in records if paused_at < r["start"] < paused_at + 0.8 and r["end"] > end]
    assert len(waited) >= 3  # made during the pause, answered after it

    # The origin's view: after the requests already on their way when the 429 was answered,
    # nothing until the pause is over.
    in_flight = 0.15
    reached = [t for t, _ in calls if paused_at + in_flight < t < end]
    on_their_way = [
        r
        for r in records
        if r["start"] < heard and paused_at + in_flight - 0.02 < r["end"] < end + 0.02
    ]
    assert len(reached) <= len(on_their_way), "requests reached the origin during the pause"
    assert any(paused_at + 1.0 <= t for t, _ in calls)  # and resumed after it

    assert [r["outcome"] for r in probed["during"]] == ["OriginPaused"] * 5
    for record in probed["during"]:
        assert 0.5 < record["retry_after"] <= 1.0
        assert record["end"] - record["start"] < 0.2  # at once, not after a wait
    assert [r["outcome"] for r in probed["after"]] == ["200"] * 5
    assert [c.status for _, c in calls].count(429) == 1


def test_a_killed_lock_holder_blocks_the_others_no_longer_than_the_lock_expiry(
    server: OAuthServer, redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    """A process takes the refresh lock and is SIGKILLed before it writes a token. The others
    wait for the lock (they do not stampede the token endpoint), and once it expires one of
    them fetches: one token request, everything answered within lock_ttl and a margin."""
    lock_ttl = 1.0
    names = ["w0", "w1", "w2"]
    config = worker_config(server, redis_server.url, prefix, lock_ttl=lock_ttl)
    with Fleet(tmp_path) as fleet:
        for name in names:
            fleet.spawn(name, {**config, "mode": "burst", "requests": 5, "waves": ["go"]})
        fleet.ready(names)
        fleet.spawn("holder", {**config, "mode": "hold"}, stdout=subprocess.PIPE)
        holder = fleet.processes["holder"]
        assert holder.stdout is not None
        line = holder.stdout.readline().decode()
        assert line.startswith("locked "), fleet.errors()
        locked_at = float(line.split()[1])
        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=5) == -signal.SIGKILL
        fleet.processes.pop("holder")
        holder.stdout.close()
        fleet.go("go")
        results = fleet.results(names, "go")
        fleet.wait()
    records = [r for rs in results.values() for r in rs]
    assert [r["outcome"] for r in records] == ["200"] * 15, fleet.errors()
    assert len(granted(server)) == 1
    assert server.token_requests == 1
    ((fetched_at, _),) = timeline(server).tokens()
    assert fetched_at >= locked_at + lock_ttl - 0.05  # the lock was respected...
    assert fetched_at < locked_at + lock_ttl + 0.5  # ...and no longer than its expiry
    assert max(r["end"] for r in records) < locked_at + lock_ttl + 0.75


# -- simulated processes: tokens -----------------------------------------------------------------


def test_simulated_processes_share_one_fetch_and_one_refresh(
    mode: Mode, server: OAuthServer, procs: Callable[..., Proc]
) -> None:
    fleet = [procs(mode=mode) for _ in range(4)]

    def calls() -> list[Callable[[], Any]]:
        return [p.client.later("GET", server.url + "/api/items") for p in fleet for _ in range(10)]

    assert statuses(at_once(calls(), mode)) == [200] * 40
    assert server.token_requests == 1
    server.expire_all()
    assert statuses(at_once(calls(), mode)) == [200] * 40
    assert [c.status for c in server.token_log] == [200, 200]
    tokens = {p.creds.manager.token.access_token for p in fleet}  # type: ignore[union-attr]
    assert len(tokens) == 1  # everyone uses the one refreshed token


def test_no_secret_in_redis_and_the_token_under_the_shared_key(
    server: OAuthServer, procs: Callable[..., Proc], raw: redis.Redis, prefix: str
) -> None:
    proc = procs()
    assert proc.get(server).status_code == 200
    keys = raw.keys(prefix + "*")
    assert (prefix + proc.creds.shared_key).encode() in keys
    for key in keys:
        assert b"s3cret" not in key
        if raw.type(key) == b"string":
            assert b"s3cret" not in (raw.get(key) or b"")
    assert 3_000_000 < raw.pttl(prefix + proc.creds.shared_key) <= 3_600_000


def test_credentials_store_wins_for_tokens_transport_store_holds_pauses(
    server: OAuthServer, redis_server: RedisServer, prefix: str, raw: redis.Redis
) -> None:
    shared = RedisStore(redis_server.url, prefix=prefix)
    local = MemoryStore()
    creds = ClientCredentials(server.token_url, "app", "s3cret", scope="read", store=shared)
    transport = remedy.RemedyTransport(
        credentials=creds, store=local, retry=Retry(budget=None, max_retry_after=2)
    )
    try:
        with httpx.Client(transport=transport) as client:
            assert client.get(server.url + "/api/items").status_code == 200
            assert raw.get(prefix + creds.shared_key) is not None  # the credentials' store
            assert local.get(creds.shared_key) is None
            server.fail_next_api_requests(1, 503, retry_after=5)
            with pytest.raises(remedy.ServiceUnavailable):
                client.get(server.url + "/api/items")
        # The transport's store, for no longer than the policy would wait itself.
        assert 1 < local.paused_for(server.url) <= 2
        assert not raw.exists(prefix + "pause:" + server.url)
    finally:
        close_store(shared)


def test_transport_store_shares_tokens_of_credentials_without_one(server: OAuthServer) -> None:
    store = MemoryStore()
    one = ClientCredentials(server.token_url, "app", "s3cret", scope="read")
    two = ClientCredentials(server.token_url, "app", "s3cret", scope="read")
    with (
        httpx.Client(transport=remedy.RemedyTransport(credentials=one, store=store)) as a,
        httpx.Client(transport=remedy.RemedyTransport(credentials=two, store=store)) as b,
    ):
        assert a.get(server.url + "/api/items").status_code == 200
        assert store.get(one.shared_key) is not None
        assert b.get(server.url + "/api/items").status_code == 200
    assert server.token_requests == 1


def test_rotated_refresh_token_is_taken_by_the_sibling(
    server: OAuthServer, procs: Callable[..., Proc], redis_server: RedisServer, prefix: str
) -> None:
    """Two processes hold the same token pair. A refreshes (the server rotates the refresh
    token and revokes the old one); B's next refresh must use A's rotated refresh token."""
    pair = server.issue_token("app", "read")
    stores = [RedisStore(redis_server.url, prefix=prefix) for _ in range(2)]
    saved: list[list[dict[str, Any]]] = [[], []]  # what each process persisted via on_token
    try:
        a_creds, b_creds = (
            RefreshToken(
                server.token_url,
                "app",
                token=pair,
                client_secret="s3cret",
                store=s,
                share_as="user-1",
                on_token=saved[i].append,
            )
            for i, s in enumerate(stores)
        )
        a = procs(redis_url=None, creds=a_creds)
        b = procs(redis_url=None, creds=b_creds)
        server.expire_all()
        assert a.get(server).status_code == 200  # A refreshes with the first refresh token
        rotated_by_a = a_creds.token["refresh_token"]
        assert rotated_by_a != pair["refresh_token"]
        server.expire_all()  # A's new access token expires before B ever used it
        assert b.get(server).status_code == 200  # B refreshes: with A's refresh token
        assert b_creds.token["refresh_token"] not in (pair["refresh_token"], None)
        server.expire_all()
        assert a.get(server).status_code == 200  # and A, in turn, with B's
        assert [(c.grant_type, c.status, c.error) for c in server.token_log] == [
            ("refresh_token", 200, None),
            ("refresh_token", 200, None),
            ("refresh_token", 200, None),
        ]
        # B persisted the refresh token A rotated to before using it (on_token on adoption),
        # and A persisted the one B rotated to: no process keeps a spent one on disk.
        assert rotated_by_a in [item["refresh_token"] for item in saved[1]]
        assert saved[1][-1]["refresh_token"] in [item["refresh_token"] for item in saved[0]]
    finally:
        for store in stores:
            close_store(store)


def test_rotated_refresh_token_outlives_the_access_token_in_the_store(
    redis_server: RedisServer, prefix: str
) -> None:
    """The shared record is the only place a sibling can learn the rotated refresh token, so
    it must stay in the store after the access token it came with expires: here A refreshes
    to a 1-second access token, and B needs a refresh 1.2 s later."""
    with OAuthServer(expires_in=1) as short:
        short.add_client("app", "s3cret", scope="read write")
        pair = short.issue_token("app", "read", expires_in=3600)
        stores = [RedisStore(redis_server.url, prefix=prefix) for _ in range(2)]
        clients: list[httpx.Client] = []
        try:
            a_creds, b_creds = (
                RefreshToken(
                    short.token_url,
                    "app",
                    token=pair,
                    client_secret="s3cret",
                    store=s,
                    share_as="user-1",
                )
                for s in stores
            )
            a, b = (
                httpx.Client(
                    transport=remedy.RemedyTransport(credentials=c, retry=Retry(budget=None))
                )
                for c in (a_creds, b_creds)
            )
            clients += [a, b]
            short.expire_all()
            assert a.get(short.url + "/api/items").status_code == 200
            time.sleep(1.2)  # A's access token (and its record's TTL) runs out
            response = b.get(short.url + "/api/items")
            assert response.status_code == 200
            assert [(c.status, c.error) for c in short.token_log] == [(200, None), (200, None)]
        except remedy.HTTPError as error:
            pytest.fail(f"B refreshed with the spent refresh token: {error!r}")
        except remedy.ReauthenticationRequired as error:
            pytest.fail(f"B refreshed with the spent refresh token: {error!r}")
        finally:
            for client in clients:
                client.close()
            for store in stores:
                close_store(store)


def test_adopting_does_not_postpone_the_refresh(clock: FakeClock) -> None:
    """With a store, a token is refreshed at the same point as without one: a process whose
    token reached its refresh time must not re-adopt that very token from the store."""
    counts = {}
    for label, store in (("no store", None), ("store", MemoryStore())):
        with OAuthServer(expires_in=100) as short:
            short.add_client("app", "s3cret", scope="read")
            creds = ClientCredentials(short.token_url, "app", "s3cret", scope="read", store=store)
            transport = on_clock(remedy.RemedyTransport(credentials=creds), clock)
            with httpx.Client(transport=transport) as client:
                assert client.get(short.url + "/api/items").status_code == 200
                clock.sleep(60)  # past the refresh point (half of 100 s), before expiry
                assert client.get(short.url + "/api/items").status_code == 200
            counts[label] = short.token_requests
    assert counts == {"no store": 2, "store": 2}


def test_waiters_after_a_crashed_holder_still_make_one_request(
    server: OAuthServer, procs: Callable[..., Proc], redis_server: RedisServer, prefix: str
) -> None:
    """A holder crashed with the lock (it is never released). Three processes wait; when it
    expires one of them takes it and fetches, with a token endpoint that is slow to answer
    (a 503 and a short Retry-After first). The other two must go on waiting for the new
    holder, not give up and fetch on their own: single flight survives the crash."""
    fleet = [procs(lock_ttl=1.0) for _ in range(3)]
    crashed = RedisStore(redis_server.url, prefix=prefix, lock_ttl=1.0)
    try:
        assert crashed.lock("lock:" + fleet[0].creds.shared_key) is not None
    finally:
        close_store(crashed)
    server.fail_next_token_requests(1, 503, retry_after=0.3)
    start = time.monotonic()
    assert statuses(at_once([lambda p=p: p.get(server) for p in fleet])) == [200] * 3
    assert time.monotonic() - start < 1.0 + 0.3 + 0.6
    assert len(granted(server)) == 1, [(c.status, c.error) for c in server.token_log]


# -- simulated processes: pauses -----------------------------------------------------------------


def test_simulated_processes_wait_out_a_pause_or_raise(
    mode: Mode, server: OAuthServer, procs: Callable[..., Proc]
) -> None:
    hit, patient = procs(mode=mode), procs(mode=mode)
    impatient, hurried = procs(mode=mode, max_retry_after=0.5), procs(mode=mode, deadline=0.5)
    items = server.url + "/api/items"
    for proc in (hit, patient, impatient, hurried):
        assert proc.get(server).status_code == 200
        proc.store.paused_for(server.url)  # type: ignore[union-attr]  # listening from now on
    assert server.token_requests == 1
    server.fail_next_api_requests(1, 429, retry_after=1)
    first = hit.client.start("GET", items)
    for proc in (patient, impatient, hurried):
        eventually(lambda p=proc: p.store.paused_for(server.url) > 0, within=0.5)
    paused_at = time.time()
    waiting = patient.client.start("GET", items)
    for proc, why in ((impatient, "max_retry_after"), (hurried, "deadline")):
        start = time.monotonic()
        with pytest.raises(OriginPaused, match=why) as raised:
            proc.get(server)
        assert time.monotonic() - start < 0.2
        assert 0.5 < raised.value.retry_after <= 1.0
        assert raised.value.origin == server.url
    assert first.result(timeout=5).status_code == 200
    assert waiting.result(timeout=5).status_code == 200
    calls = timeline(server).api()
    (at_429,) = [t for t, c in calls if c.status == 429]
    after = [t - at_429 for t, c in calls if t > at_429]
    assert len(after) == 2  # the retry of the 429 and the patient one, nothing from the others
    assert min(after) >= 0.95
    assert paused_at - at_429 < 0.3


def test_a_503_with_retry_after_pauses_too(server: OAuthServer) -> None:
    store = MemoryStore()
    creds = ClientCredentials(server.token_url, "app", "s3cret", scope="read")
    one = remedy.RemedyTransport(credentials=creds, store=store, retry=Retry(budget=None))
    two = remedy.RemedyTransport(credentials=creds, store=store, retry=Retry(budget=None))
    with httpx.Client(transport=one) as a, httpx.Client(transport=two) as b:
        assert a.get(server.url + "/api/items").status_code == 200
        server.fail_next_api_requests(1, 503, retry_after=0.3)
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(a.get, server.url + "/api/items")
            eventually(lambda: store.paused_for(server.url) > 0, within=0.5)
            start = time.monotonic()
            assert b.get(server.url + "/api/items").status_code == 200
            assert time.monotonic() - start > 0.15
            assert first.result().status_code == 200


def test_pause_waits_are_planned_not_sent(clock: FakeClock) -> None:
    """Before sending, a request looks at the store: it sleeps out the pause (on the
    transport's clock) or raises OriginPaused, without sending anything."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    store = MemoryStore()
    store.pause("https://api.example.com", 5.0)

    def client(retry: Retry | None) -> httpx.Client:
        transport = remedy.RemedyTransport(httpx.MockTransport(handler), store=store, retry=retry)
        return httpx.Client(transport=on_clock(transport, clock))

    with client(Retry(budget=None, max_retry_after=2)) as c, pytest.raises(OriginPaused):
        c.get("https://api.example.com/items")
    with client(Retry(budget=None, deadline=3)) as c, pytest.raises(OriginPaused, match="deadl"):
        c.get("https://api.example.com/items")
    assert sent == []
    with client(Retry(budget=None)) as c:
        assert c.get("https://api.example.com/items").status_code == 200
        assert c.get("https://other.example.com/items").status_code == 200
    with client(None) as c:  # no policy: waits too
        assert c.get("https://api.example.com/items").status_code == 200
    assert len(sent) == 3
    assert len(clock.sleeps) == 2
    assert all(4.5 < s <= 5.0 for s in clock.sleeps)


def eventually(check: Callable[..., bool], within: float) -> None:
    give_up = time.monotonic() + within
    while not check():
        if time.monotonic() > give_up:
            pytest.fail(f"not within {within}s")
        time.sleep(0.005)


# -- Redis down, hanging, back -------------------------------------------------------------------


def warnings_about(caplog: pytest.LogCaptureFixture, address: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "httpx_remedy" and r.levelno >= logging.WARNING and address in r.getMessage()
    ]


def test_redis_down_each_process_goes_on_by_itself(
    server: OAuthServer, procs: Callable[..., Proc], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    address = f"127.0.0.1:{free_port()}"
    one = procs(redis_url=f"redis://{address}/0")
    start = time.monotonic()
    assert statuses(at_once([lambda: one.get(server)] * 25)) == [200] * 25
    assert time.monotonic() - start < 2.0
    assert server.token_requests == 1  # single flight within the process still holds
    assert len(warnings_about(caplog, address)) == 1
    assert "unavailable" in warnings_about(caplog, address)[0]
    # A second process: its own token (per-process behaviour), its own one warning.
    two = procs(redis_url=f"redis://{address}/0")
    assert statuses(at_once([lambda: two.get(server)] * 10)) == [200] * 10
    assert server.token_requests == 2
    # A 429 is still retried, and paused for within the process.
    server.fail_next_api_requests(1, 429, retry_after=0.3)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(one.get, server)
        eventually(lambda: one.store.paused_for(server.url) > 0, within=0.5)  # type: ignore[union-attr]
        start = time.monotonic()
        assert one.get(server).status_code == 200
        assert time.monotonic() - start > 0.15
        assert first.result().status_code == 200
    assert len(warnings_about(caplog, address)) == 2


def test_unresponsive_redis_never_fails_a_request(
    server: OAuthServer, procs: Callable[..., Proc], caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis that accepts connections and never answers: one timeout, then local."""
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    hole = silent_listener()
    try:
        address = f"127.0.0.1:{hole.getsockname()[1]}"
        proc = procs(redis_url=f"redis://{address}/0")
        start = time.monotonic()
        assert statuses(at_once([lambda: proc.get(server)] * 5)) == [200] * 5
        assert time.monotonic() - start < 1.5
        assert server.token_requests == 1
        assert len(warnings_about(caplog, address)) == 1
    finally:
        hole.close()


def silent_listener() -> socket.socket:
    """A listening socket nobody accepts from: connections complete (the kernel's backlog),
    and nothing is ever answered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def test_redis_stopped_and_back(
    server: OAuthServer,
    procs: Callable[..., Proc],
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis stops mid-way: requests go on (a refresh per process), one warning each; Redis
    comes back: after ``retry_in`` the processes share a refresh again."""
    caplog.set_level(logging.WARNING, logger="httpx_remedy")
    own = RedisServer(redis_server.executable).start()
    try:
        a = procs(redis_url=own.url, retry_in=0.2)
        b = procs(redis_url=own.url, retry_in=0.2)
        assert a.get(server).status_code == 200
        assert b.get(server).status_code == 200
        assert server.token_requests == 1

        own.stop()
        server.expire_all()
        assert a.get(server).status_code == 200
        assert b.get(server).status_code == 200
        assert server.token_requests == 3  # one refresh each: nothing is shared
        outage = warnings_about(caplog, own.url)
        assert len(outage) == 2  # one per process
        assert all("unavailable" in m for m in outage)

        own.start()
        time.sleep(0.3)  # retry_in
        server.expire_all()
        assert a.get(server).status_code == 200
        assert b.get(server).status_code == 200
        assert server.token_requests == 4  # shared again: B took A's token
        assert all(c.status == 200 for c in server.token_log)
    finally:
        own.stop()


def test_worker_processes_without_redis_each_fetch(
    server: OAuthServer, prefix: str, tmp_path: Path
) -> None:
    """The baseline the store improves on: without one, every process fetches its own token."""
    names = ["w0", "w1", "w2"]
    config = worker_config(server, None, prefix, mode="burst", requests=5, waves=["go"])
    with Fleet(tmp_path) as fleet:
        for name in names:
            fleet.spawn(name, config)
        fleet.ready(names)
        fleet.go("go")
        results = fleet.results(names, "go")
        fleet.wait()
    assert [r["outcome"] for rs in results.values() for r in rs] == ["200"] * 15
    assert server.token_requests == 3
