"""Clients against a real rate-limited API, pushing as hard as they can for a fixed time.

The API is FastAPI on uvicorn limited by slowapi (``tests/rate_limited_server.py``: a fixed
window of ``LIMIT`` requests per ``WINDOW`` seconds, ``X-RateLimit-*`` on every answer, 429
past the limit). Each scenario gets a quota of its own and runs for ``SECONDS``:

- clients: httpx-remedy with pacing (the default), httpx-remedy without (``pace=False``),
  httpx-retries (``Retry(total=3)``, which waits for ``Retry-After``);
- concurrency: 8 threads sharing a client, 16 asyncio tasks sharing a client, and 4 OS
  processes with a client each (httpx-remedy's sharing a ``RedisStore`` on a redis-server of
  the benchmark's own, when ``redis-server`` is installed).

Prints, from the server's own counts: 429s received (all, and after the first window),
successes, and the ratio of successes to the allowed rate (``LIMIT / WINDOW`` x ``SECONDS``).

slowapi announces its reset one second late (``X-RateLimit-Reset`` is the window's end + 1 s),
so a client that trusts it idles 1 s per window: ``WINDOW / (WINDOW + 1)`` is the best a
trusting client can do here. Run: ``python benchmarks/rate_limits.py`` (about two minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from httpx_retries import Retry as HRRetry
from httpx_retries import RetryTransport

import httpx_remedy as remedy

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
import rate_limited_server

LIMIT, WINDOW, SECONDS = 40, 4.0, 12.0
THREADS, TASKS, PROCESSES = 8, 16, 4
KINDS = ("httpx-remedy, pacing", "httpx-remedy, no pacing", "httpx-retries")


def sync_transport(kind: str, store: remedy.Store | None = None) -> httpx.BaseTransport:
    if kind == "httpx-retries":
        return RetryTransport(retry=HRRetry(total=3))
    pace: bool | remedy.Pacer = remedy.Pacer() if kind == "httpx-remedy, pacing" else False
    return remedy.RemedyTransport(retry=remedy.Retry(pace=pace), store=store)


def push(client: httpx.Client, url: str, until: float) -> None:
    while time.monotonic() < until:
        with contextlib.suppress(remedy.RemedyError, remedy.HTTPError, httpx.HTTPError):
            client.get(url)


def threads(kind: str, url: str, key: str) -> None:
    until = time.monotonic() + SECONDS
    with httpx.Client(transport=sync_transport(kind), headers={"x-client-key": key}) as client:
        workers = [threading.Thread(target=push, args=(client, url, until)) for _ in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()


def tasks(kind: str, url: str, key: str) -> None:
    async def main() -> None:
        transport: httpx.AsyncBaseTransport
        if kind == "httpx-retries":
            transport = RetryTransport(retry=HRRetry(total=3))
        else:
            pace = remedy.Pacer() if kind == "httpx-remedy, pacing" else False
            transport = remedy.AsyncRemedyTransport(retry=remedy.Retry(pace=pace))
        until = time.monotonic() + SECONDS
        async with httpx.AsyncClient(transport=transport, headers={"x-client-key": key}) as client:

            async def one() -> None:
                while time.monotonic() < until:
                    with contextlib.suppress(remedy.RemedyError, remedy.HTTPError, httpx.HTTPError):
                        await client.get(url)

            await asyncio.gather(*(one() for _ in range(TASKS)))

    asyncio.run(main())


def _process(kind: str, url: str, key: str, redis_url: str | None, ready: Any) -> None:
    logging.getLogger("httpx_retries").disabled = True
    store = None
    if redis_url is not None and kind != "httpx-retries":
        store = remedy.RedisStore(redis_url, prefix=f"bench-{key}:")
    transport = sync_transport(kind, store)
    with httpx.Client(transport=transport, headers={"x-client-key": key}) as client:
        ready.wait()  # every process started (imports take seconds on a busy machine)
        push(client, url, time.monotonic() + SECONDS)


def processes(kind: str, url: str, key: str, redis_url: str | None) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_process, args=(kind, url, key, redis_url, ready))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def redis() -> tuple[Any, str] | None:
    if shutil.which("redis-server") is None:
        return None
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    server.kill()
    return None


def main() -> None:
    logging.getLogger("httpx_retries").disabled = True
    server, base = rate_limited_server.start(f"{LIMIT}/{WINDOW:g} seconds")
    store = redis()
    rows: list[tuple[str, str, dict[str, list[float]]]] = []
    try:
        modes: dict[str, Any] = {"threads": threads, "asyncio": tasks}
        for mode, run in modes.items():
            for kind in KINDS:
                key = uuid.uuid4().hex
                run(kind, base + "/items", key)
                rows.append((mode, kind, httpx.get(base + "/stats", params={"key": key}).json()))
        for kind in KINDS:
            key = uuid.uuid4().hex
            processes(kind, base + "/items", key, store[1] if store else None)
            rows.append(("processes", kind, httpx.get(base + "/stats", params={"key": key}).json()))
    finally:
        server.kill()
        if store is not None:
            store[0].kill()
    allowed = LIMIT / WINDOW * SECONDS
    print(
        f"\nslowapi fixed window, {LIMIT} per {WINDOW:g} s, {SECONDS:g} s per scenario "
        f"(allowed: {allowed:g} successes); {THREADS} threads / {TASKS} asyncio tasks / "
        f"{PROCESSES} processes{' with a RedisStore' if store else ' (no redis-server: no store)'}"
    )
    print(
        f"  {'concurrency':<11} {'client':<24} {'429s':>6} {'429s after 1st window':>22} "
        f"{'successes':>10} {'vs allowed':>11}"
    )
    for mode, kind, stats in rows:
        ok, refused = sorted(stats["ok"]), stats["refused"]
        start = min(ok + refused) if ok or refused else 0.0
        late = sum(1 for at in refused if at > start + WINDOW + 1)
        print(
            f"  {mode:<11} {kind:<24} {len(refused):>6} {late:>22} {len(ok):>10} "
            f"{len(ok) / allowed:>10.0%}"
        )
    print(f"  best a client trusting slowapi's reset can do: {WINDOW / (WINDOW + 1):.0%}")


if __name__ == "__main__":
    main()
