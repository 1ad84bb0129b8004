"""Many workers, one token and one backoff: the shared RedisStore.

Two workers stand for two processes here (each with its own credentials object and its own
RedisStore, as separate processes would have): they share one token, and a 429 one of them meets
pauses the other. Starts its own redis-server on 127.0.0.1; without one, a MemoryStore (the same
interface, within one process) stands in.
Run: ``python examples/fleet_with_redis.py``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import httpx
import redis

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):  # until it answers
        try:
            redis.Redis.from_url(url).ping()
            return server, url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def worker(server: OAuthServer, store: remedy.Store, max_retry_after: float) -> httpx.Client:
    creds = remedy.ClientCredentials(server.token_url, "app", "s3cret", scope="read", store=store)
    policy = remedy.Retry(max_retry_after=max_retry_after)
    transport = remedy.RemedyTransport(credentials=creds, store=store, retry=policy)
    return httpx.Client(transport=transport)


def main() -> None:
    redis_server = None
    stores: list[remedy.Store]
    if shutil.which("redis-server") is None:
        # The same interface within one process: both workers share one MemoryStore.
        print("redis-server is not installed: a MemoryStore stands in for Redis")
        stores = [remedy.MemoryStore()] * 2
    else:
        redis_server, url = start_redis()
        # One store per process, on the same Redis and prefix.
        stores = [remedy.RedisStore(url, prefix="example:") for _ in range(2)]
    try:
        with OAuthServer() as server:
            server.add_client("app", "s3cret", scope="read")
            items = server.url + "/api/items"
            with (
                worker(server, stores[0], max_retry_after=60) as one,
                worker(server, stores[1], max_retry_after=0.5) as two,
            ):
                print(
                    "worker one:",
                    one.get(items).status_code,
                    "| worker two:",
                    two.get(items).status_code,
                )
                print("token requests for both workers:", server.token_requests)

                server.fail_next_api_requests(1, 429, retry_after=1)
                try:
                    one.get(items, extensions={"remedy.retry": remedy.Retry(max_attempts=1)})
                except remedy.TooManyRequests as e:
                    print(f"worker one: TooManyRequests, retry after {e.retry_after:g}s")
                time.sleep(0.2)  # the announcement travels over Redis pub/sub
                try:
                    two.get(items)  # the pause (about 0.8 s left) exceeds its max_retry_after
                except remedy.OriginPaused as e:
                    print(f"worker two: OriginPaused for {e.retry_after:.1f}s, nothing sent")
                started = time.monotonic()
                print(
                    "worker one, patient:",
                    one.get(items).status_code,
                    f"after waiting {time.monotonic() - started:.1f}s for the pause to end",
                )
    finally:
        for store in stores:
            if isinstance(store, remedy.RedisStore):
                store.close()
        if redis_server is not None:
            redis_server.terminate()
            redis_server.wait()


if __name__ == "__main__":
    main()
