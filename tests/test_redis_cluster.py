"""RedisStore on a real Redis Cluster: three masters started by the tests on 127.0.0.1
(``redis-server --cluster-enabled yes``, joined with ``redis-cli --cluster create``). A token
and its lock share a hash slot, so the fenced write's script runs; pauses are heard across
nodes. Skipped without redis-server and redis-cli, unless ``HTTPX_REMEDY_REQUIRE_REDIS=1``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import httpx_remedy as remedy


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free and valid too: an ephemeral port
    from ``free_port()`` may be above 55535, where redis-server refuses to start."""
    import random
    import socket

    while True:
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        if os.environ.get("HTTPX_REMEDY_REQUIRE_REDIS"):
            pytest.fail("redis-server and redis-cli are required (HTTPX_REMEDY_REQUIRE_REDIS)")
        pytest.skip("redis-server and redis-cli are not installed")
    ports: list[int] = []
    while len(ports) < 3:
        port = cluster_port()
        if port not in ports:
            ports.append(port)
    processes = []
    for port in ports:
        folder: Path = tmp_path_factory.mktemp(f"node{port}")
        processes.append(
            subprocess.Popen(
                [
                    server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(folder / "nodes.conf"),
                    "--dir",
                    str(folder),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        for port in ports:
            _wait(lambda port=port: _cli(cli, port, "ping") == "PONG")
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        _wait(lambda: all("cluster_state:ok" in _cli(cli, p, "cluster", "info") for p in ports))
        yield ports
    finally:
        for process in processes:
            process.kill()
            process.wait()


def _cli(cli: str, port: int, *command: str) -> str:
    done = subprocess.run(
        [cli, "-p", str(port), *command], capture_output=True, text=True, timeout=5, check=False
    )
    return done.stdout.strip()


def _wait(ready: object, timeout: float = 20.0) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError("the Redis Cluster did not come up")


def store(port: int) -> remedy.RedisStore:
    from redis.cluster import RedisCluster

    return remedy.RedisStore(client=RedisCluster(host="127.0.0.1", port=port), prefix="rc:")


def test_the_fenced_token_write_runs_on_a_cluster(cluster: list[int]) -> None:
    one = store(cluster[0])
    try:
        for name in ("token:a", "token:b", "token:c", "token:d"):  # several slots, nodes
            lock = one.lock("lock:" + name)
            assert lock is not None
            assert one.lock("lock:" + name) is None  # held
            assert one.put_fenced("lock:" + name, lock, name, b"value-" + name.encode(), 30)
            assert not one.put_fenced("lock:" + name, "not-the-token", name, b"x", 30)
            one.unlock("lock:" + name, lock)
            assert one.get(name) == b"value-" + name.encode()
            assert one.lock("lock:" + name) is not None  # released
    finally:
        one.close()


def test_a_pause_is_heard_across_the_cluster(cluster: list[int]) -> None:
    one, two = store(cluster[0]), store(cluster[2])
    try:
        assert two.paused_for("https://api.example.com") == 0  # starts listening
        time.sleep(0.5)
        one.pause("https://api.example.com", 5)
        _wait(lambda: two.paused_for("https://api.example.com") > 0, timeout=5)
        assert 0 < two.paused_for("https://api.example.com") <= 5
    finally:
        one.close()
        two.close()
