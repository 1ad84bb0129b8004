"""The retry budget counted across processes through a RedisStore: four processes in a storm
share one budget's fixed part, instead of each spending its own."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest

from .budget_worker import storm
from .fleet_worker import RedisServer

pytestmark = pytest.mark.integration

PROCESSES, REQUESTS = 4, 100


def retries(redis_url: str | None) -> int:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(PROCESSES)
    sends = context.Queue()
    prefix = f"budget-{uuid.uuid4().hex}:"
    workers = [
        context.Process(target=storm, args=(redis_url, prefix, REQUESTS, ready, sends))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    total = sum(sends.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    return total - PROCESSES * REQUESTS


def test_four_processes_share_one_budget(redis_server: RedisServer) -> None:
    # Alone, each process spends its own minimum of 10 retries: 40 in all.
    assert retries(None) == PROCESSES * 10
    # Counted together, the fleet spends about one minimum (a share is at most a tenth of the
    # window old, so a process may overshoot by what it retried meanwhile).
    shared = retries(redis_server.url)
    assert 10 <= shared <= 20
