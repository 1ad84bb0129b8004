"""A fleet of worker processes sharing a Redis store, for tests/test_fleet.py and the benchmark.

Two halves:

- For the parent (the tests, ``benchmarks/fleet.py``): :class:`RedisServer` starts a real
  ``redis-server`` on a free port of 127.0.0.1 and stops it; :class:`Fleet` starts workers,
  releases them together through files in a directory (a start barrier), and reads what they
  report.
- For the workers: ``python tests/fleet_worker.py CONFIG_JSON`` builds ``ClientCredentials``
  with a ``RedisStore`` (or no store) and a ``RemedyTransport``, and runs one ``mode``:

  ``burst``   for each wave: wait for ``go-<wave>``, fire ``requests`` requests at once from as
              many threads, write ``result-<name>-<wave>.json`` (one outcome per request).
  ``loop``    a request per thread (a token, connections), then wait for ``go-loop`` and send
              from ``threads``
              threads, one after the other, for ``duration`` seconds; every request's start,
              end and outcome go to ``result-<name>-loop.json``.
  ``probe``   ``requests`` requests, then wait for ``go-probe``, fire as many at once, wait out the
              origin's pause, fire as many again (``result-<name>-probe.json``).
  ``hold``    take the refresh lock of the credentials in the store, print ``locked <time>``
              and sleep until killed: a token refresh that crashed half-way.

Every worker writes ``ready-<name>`` once it is set up; the parent creates ``go-...`` files.
The outcome of a request is its status as a string, or the name of the exception it raised.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

WORKER = Path(__file__).resolve()
POLL = 0.002


# -- the parent's side ---------------------------------------------------------------------


def redis_server_path() -> str | None:
    """The ``redis-server`` executable, or None when it is not installed."""
    found = shutil.which("redis-server")
    if found is None and os.access("/usr/bin/redis-server", os.X_OK):
        found = "/usr/bin/redis-server"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_ping(port: int, timeout: float = 0.2) -> bool:
    """True when something on ``port`` answers a Redis PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A throwaway ``redis-server`` on 127.0.0.1: no persistence, in the foreground."""

    def __init__(self, executable: str, port: int | None = None) -> None:
        self.executable = executable
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start it and wait until it answers PING (a port taken meanwhile: another port)."""
        for _ in range(5):
            self.process = subprocess.Popen(
                [
                    self.executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            give_up = time.monotonic() + timeout
            while time.monotonic() < give_up and self.process.poll() is None:
                if answers_ping(self.port):
                    return self
                time.sleep(0.01)
            self.stop()
            self.port = free_port()
        raise RuntimeError(f"redis-server ({self.executable}) did not start")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def redis_for_tests() -> Iterator[RedisServer]:
    """The body of the tests' ``redis_server`` fixture: a started server, stopped afterwards.

    Without ``redis-server`` the tests are skipped, unless ``HTTPX_REMEDY_REQUIRE_REDIS=1`` (CI
    sets it): then they fail.
    """
    import pytest

    path = redis_server_path()
    if path is None:
        if os.environ.get("HTTPX_REMEDY_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed, and HTTPX_REMEDY_REQUIRE_REDIS=1")
        pytest.skip("redis-server is not installed")
    with RedisServer(path) as server:
        yield server


class Fleet:
    """Worker processes, their start barrier and their reports, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, config: dict[str, Any], *, stdout: Any = None) -> None:
        config = {**config, "name": name, "dir": str(self.directory)}
        with open(self.directory / f"{name}.err", "wb") as errors:
            self.processes[name] = subprocess.Popen(
                [sys.executable, str(WORKER), json.dumps(config)],
                stdout=stdout if stdout is not None else subprocess.DEVNULL,
                stderr=errors,
            )

    def errors(self) -> str:
        """What the workers printed on stderr, for failure messages."""
        out = []
        for name in self.processes:
            text = (self.directory / f"{name}.err").read_text(errors="replace").strip()
            if text:
                out.append(f"--- {name} ---\n{text}")
        return "\n".join(out)

    def wait_for(self, files: Iterable[str], timeout: float = 30.0) -> None:
        """Wait until every file exists; fail early when a worker died."""
        wanted = [self.directory / f for f in files]
        give_up = time.monotonic() + timeout
        while not all(path.exists() for path in wanted):
            dead = [n for n, p in self.processes.items() if p.poll() not in (None, 0)]
            if dead or time.monotonic() > give_up:
                missing = [p.name for p in wanted if not p.exists()]
                raise RuntimeError(
                    f"workers {dead or 'too slow'}; missing {missing}\n{self.errors()}"
                )
            time.sleep(0.01)

    def ready(self, names: Iterable[str], timeout: float = 30.0) -> None:
        self.wait_for([f"ready-{n}" for n in names], timeout)

    def go(self, tag: str) -> None:
        (self.directory / f"go-{tag}").touch()

    def results(self, names: Iterable[str], tag: str, timeout: float = 30.0) -> dict[str, Any]:
        names = list(names)
        self.wait_for([f"result-{n}-{tag}.json" for n in names], timeout)
        return {
            n: json.loads((self.directory / f"result-{n}-{tag}.json").read_text()) for n in names
        }

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for every worker to exit; each must exit 0."""
        give_up = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                code = process.wait(timeout=max(0.1, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"worker {name} did not exit\n{self.errors()}") from None
            if code != 0:
                raise RuntimeError(f"worker {name} exited {code}\n{self.errors()}")

    def close(self) -> None:
        """Kill whatever still runs (after a failure) and reap everything."""
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def worker_config(
    server: Any, redis_url: str | None, prefix: str, *, client_id: str = "app", **extra: Any
) -> dict[str, Any]:
    """The common part of a worker's configuration, for an ``OAuthServer`` client."""
    return {
        "redis": redis_url,
        "prefix": prefix,
        "token_url": server.token_url,
        "api": server.url + "/api/items",
        "client_id": client_id,
        "secret": "s3cret",
        "scope": "read",
        **extra,
    }


# -- the worker's side ---------------------------------------------------------------------


def _touch(path: Path) -> None:
    path.touch()


def _write(path: Path, data: object) -> None:
    """Write JSON so that a reader never sees half of it."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(POLL)


def _build(config: dict[str, Any]) -> tuple[Any, Any, Any]:
    import httpx

    import httpx_remedy as remedy

    store = None
    if config.get("redis"):
        store = remedy.RedisStore(
            config["redis"],
            prefix=config["prefix"],
            lock_ttl=float(config.get("lock_ttl", 10.0)),
            retry_in=float(config.get("retry_in", 5.0)),
        )
    creds = remedy.ClientCredentials(
        config["token_url"],
        config["client_id"],
        config["secret"],
        scope=config.get("scope"),
        store=store,
    )
    retry = remedy.Retry(
        budget=None, max_retry_after=float(config.get("max_retry_after", 60.0)), deadline=None
    )
    transport = remedy.RemedyTransport(credentials=creds, store=store, retry=retry)
    client = httpx.Client(transport=transport, limits=httpx.Limits(max_connections=200), timeout=30)
    return store, creds, client


def _outcome(send: Callable[[], Any]) -> dict[str, Any]:
    start = time.time()
    try:
        status = send().status_code
    except Exception as error:
        found: dict[str, Any] = {"outcome": type(error).__name__, "message": str(error)}
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            found["retry_after"] = retry_after
    else:
        found = {"outcome": str(status)}
    found.update(start=start, end=time.time())
    return found


def _at_once(send: Callable[[], Any], count: int, release: Callable[[], None]) -> list[Any]:
    """``count`` calls of ``send`` from as many threads, all let go by ``release``."""
    gate = threading.Event()
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        gate.wait()
        results[i] = _outcome(send)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    release()
    gate.set()
    for thread in threads:
        thread.join()
    return results


def run_worker(config: dict[str, Any]) -> None:
    directory = Path(config["dir"])
    name = config["name"]
    mode = config["mode"]
    store, creds, client = _build(config)
    api = config["api"]
    try:
        if mode == "hold":
            lock = store.lock("lock:" + creds.shared_key)
            print(f"locked {time.time()!r} {lock}", flush=True)
            time.sleep(120)  # until the parent kills us, holding the lock
            return
        if mode == "burst":
            _touch(directory / f"ready-{name}")
            for wave in config["waves"]:
                results = _at_once(
                    lambda: client.get(api),
                    int(config["requests"]),
                    lambda wave=wave: _wait_for(directory / f"go-{wave}"),
                )
                _write(directory / f"result-{name}-{wave}.json", results)
            return
        # loop and probe: a token first, and a connection per thread (so that a burst of new
        # connections does not queue at the server), so that what is measured is the pause.
        warm = int(config.get("threads", config.get("requests", 1)))
        _at_once(lambda: client.get(api), warm, lambda: None)
        _touch(directory / f"ready-{name}")
        if mode == "loop":
            _wait_for(directory / "go-loop")
            until = time.time() + float(config["duration"])
            gap = float(config.get("gap", 0.01))
            records: list[dict[str, Any]] = []

            def loop() -> None:
                while time.time() < until:
                    records.append(_outcome(lambda: client.get(api)))
                    time.sleep(gap)

            threads = [threading.Thread(target=loop) for _ in range(int(config["threads"]))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            _write(directory / f"result-{name}-loop.json", records)
        elif mode == "probe":
            count = int(config["requests"])
            first = _at_once(
                lambda: client.get(api), count, lambda: _wait_for(directory / "go-probe")
            )
            left = store.paused_for(config["origin"])
            time.sleep(left + 0.1)
            second = _at_once(lambda: client.get(api), count, lambda: None)
            _write(
                directory / f"result-{name}-probe.json",
                {"during": first, "paused_for": left, "after": second},
            )
        else:
            raise ValueError(f"unknown mode {mode!r}")
    finally:
        client.close()
        if store is not None:
            store.close()


if __name__ == "__main__":
    run_worker(json.loads(sys.argv[1]))
