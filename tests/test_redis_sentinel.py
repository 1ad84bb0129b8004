"""RedisStore with a Sentinel-managed client: a redis-server and a sentinel watching it, both
started by the test on 127.0.0.1; the store takes ``Sentinel(...).master_for(...)`` as any
``redis.Redis``. Skipped without redis-server, unless ``HTTPX_REMEDY_REQUIRE_REDIS=1``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import httpx_remedy as remedy

from .fleet_worker import RedisServer, free_port

pytestmark = pytest.mark.integration


def test_a_sentinel_managed_client_is_a_store(redis_server: RedisServer, tmp_path: Path) -> None:
    from redis.sentinel import Sentinel

    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor mymaster 127.0.0.1 {redis_server.port} 1\n"
    )
    sentinel = subprocess.Popen(
        [redis_server.executable, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        watcher = Sentinel([("127.0.0.1", port)], socket_timeout=0.5)
        give_up = time.monotonic() + 20
        while True:
            try:
                watcher.discover_master("mymaster")
                break
            except Exception:
                if time.monotonic() > give_up:
                    raise
                time.sleep(0.1)
        store = remedy.RedisStore(client=watcher.master_for("mymaster", socket_timeout=0.5))
        try:
            lock = store.lock("lock:token:s")
            assert lock is not None
            assert store.put_fenced("lock:token:s", lock, "token:s", b"value", 30)
            store.unlock("lock:token:s", lock)
            assert store.get("token:s") == b"value"
            store.pause("https://api.example.com", 3)
            assert 0 < store.paused_for("https://api.example.com") <= 3
        finally:
            store.close()
    finally:
        sentinel.kill()
        sentinel.wait()
