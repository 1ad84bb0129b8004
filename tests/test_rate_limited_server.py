"""Pacing against a real rate-limited API (slowapi on FastAPI/uvicorn, in a process of its
own on 127.0.0.1): threads pushing as hard as they can collect no 429 after the first window,
and get the allowed throughput."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

import httpx_remedy as remedy

pytestmark = pytest.mark.integration

LIMIT, WINDOW, SECONDS, THREADS = 10, 2.0, 7.0, 4


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    from . import rate_limited_server

    process, url = rate_limited_server.start(f"{LIMIT}/{WINDOW:g} seconds")
    yield url
    process.kill()
    process.wait()


def push(api: str, pace: bool) -> dict[str, list[float]]:
    key = uuid.uuid4().hex
    retry = remedy.Retry(pace=remedy.Pacer() if pace else False)
    transport = remedy.RemedyTransport(retry=retry)
    until = time.monotonic() + SECONDS

    def one(client: httpx.Client) -> None:
        while time.monotonic() < until:
            with contextlib.suppress(remedy.HTTPError, remedy.RemedyError):
                client.get(api + "/items")

    with httpx.Client(transport=transport, headers={"x-client-key": key}) as client:
        threads = [threading.Thread(target=one, args=(client,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    stats: dict[str, list[float]] = httpx.get(api + "/stats", params={"key": key}).json()
    return stats


def test_pacing_collects_no_429_after_the_first_window(api: str) -> None:
    stats = push(api, pace=True)
    start = min(stats["ok"])
    late = [at - start for at in stats["refused"] if at > start + WINDOW + 1]
    assert late == []
    # slowapi announces its reset 1 s late, so a trusting client gets a window per 3 s here.
    assert len(stats["ok"]) >= LIMIT * (SECONDS // (WINDOW + 1))


def test_without_pacing_the_429s_keep_coming(api: str) -> None:
    stats = push(api, pace=False)
    start = min(stats["ok"])
    assert [at for at in stats["refused"] if at > start + WINDOW + 1]
