"""A fleet of worker processes against one OAuth server, with and without a shared RedisStore.

N processes x M concurrent requests each (real OS processes, ``tests/fleet_worker.py``), against
the real ``OAuthServer`` of ``httpx_remedy.testing`` and a ``redis-server`` started here on a
free port of 127.0.0.1. Prints, with and without the store:

(a) every access token expires at the server, then each process fires M requests at once:
    the token requests made, and the API hits (the 401s and their replays included);
(b) the processes send continuously, and one of them gets ``429 Retry-After: 1``: the API hits
    in the second that follows (the pause), and in all.

Plain figures, no timed assertions. Run from the repository root: ``python benchmarks/fleet.py``
(skipped, with a message, when ``redis-server`` is not installed).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from httpx_remedy.testing.oauth_server import ApiCall, OAuthServer

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 8
REQUESTS = 25
LOOP_SECONDS = 2.5
#: When the 429 comes, after the go (past the burst of new connections at the start).
PAUSE_AFTER = 1.0
#: How long the pause takes to reach every process (pub/sub), at most.
HEARD_WITHIN = 0.05


def _load_fleet() -> Any:
    """``tests/fleet_worker.py``: the workers and the redis-server helper the tests use."""
    spec = importlib.util.spec_from_file_location(
        "fleet_worker", ROOT / "tests" / "fleet_worker.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fleet_worker"] = module
    spec.loader.exec_module(module)
    return module


fleet_worker = _load_fleet()


class Stamps:
    """The API calls the server answered, each with the time it answered."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, ApiCall]] = []

    def __call__(self, call: object) -> None:
        if isinstance(call, ApiCall):
            self.calls.append((time.time(), call))


def expired_token(server: OAuthServer, redis_url: str | None, workdir: Path) -> dict[str, int]:
    """(a): a cold start, then every token expired, each process firing at once."""
    names = [f"w{i}" for i in range(PROCESSES)]
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    config = fleet_worker.worker_config(
        server, redis_url, prefix, mode="burst", requests=REQUESTS, waves=["cold", "expired"]
    )
    tokens0, api0 = server.token_requests, server.api_requests
    with fleet_worker.Fleet(workdir / prefix.strip(":")) as fleet:
        for name in names:
            fleet.spawn(name, config)
        fleet.ready(names)
        fleet.go("cold")
        cold = fleet.results(names, "cold")
        tokens1, api1 = server.token_requests, server.api_requests
        server.expire_all()
        fleet.go("expired")
        expired = fleet.results(names, "expired")
        fleet.wait()
    failed = sum(
        r["outcome"] != "200" for wave in (cold, expired) for rs in wave.values() for r in rs
    )
    return {
        "cold tokens": tokens1 - tokens0,
        "tokens": server.token_requests - tokens1,
        "api": server.api_requests - api1,
        "cold api": api1 - api0,
        "failed": failed,
    }


def one_429(server: OAuthServer, redis_url: str | None, workdir: Path) -> dict[str, int]:
    """(b): everyone sends; one request gets 429 Retry-After: 1."""
    names = [f"w{i}" for i in range(PROCESSES)]
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    config = fleet_worker.worker_config(
        server,
        redis_url,
        prefix,
        mode="loop",
        threads=REQUESTS,
        duration=LOOP_SECONDS,
        gap=0.05,
    )
    stamps = Stamps()
    with fleet_worker.Fleet(workdir / prefix.strip(":")) as fleet:
        for name in names:
            fleet.spawn(name, config)
        fleet.ready(names)
        server.on_call = stamps
        fleet.go("loop")
        time.sleep(PAUSE_AFTER)
        server.fail_next_api_requests(1, 429, retry_after=1)
        results = fleet.results(names, "loop")
        fleet.wait()
    server.on_call = None
    at = [t for t, c in stamps.calls if c.status == 429]
    paused = at[0] if at else float("inf")
    records = [r for rs in results.values() for r in rs]
    return {
        # Started once every process could know of the pause, answered before it ended: sent
        # to the origin during the pause.
        "sent": sum(
            paused + HEARD_WITHIN < r["start"] and r["end"] < paused + 1.0 for r in records
        ),
        # What the origin answered in that second, requests already on their way included (a
        # saturated server holds up to one per thread).
        "answered": sum(paused < t < paused + 1.0 for t, _ in stamps.calls),
        "api": len(stamps.calls),
        "429": len(at),
        "failed": sum(r["outcome"] != "200" for r in records),
    }


def main() -> int:
    executable = fleet_worker.redis_server_path()
    if executable is None:
        print("redis-server is not installed: skipping the fleet benchmark")
        return 0
    started = time.monotonic()
    with (
        fleet_worker.RedisServer(executable) as redis_server,
        OAuthServer() as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        server.add_client("app", "s3cret", scope="read write")
        workdir = Path(tmp)
        cases = {"no store (per process)": None, "RedisStore (shared)": redis_server.url}
        expired = {name: expired_token(server, url, workdir) for name, url in cases.items()}
        paused = {name: one_429(server, url, workdir) for name, url in cases.items()}

    print(
        f"\nFleet: {PROCESSES} processes x {REQUESTS} concurrent requests, against a real OAuth "
        "server and redis-server on 127.0.0.1"
    )
    print("\n(a) no token yet (cold), then every access token expired at the server")
    print(
        f"  {'case':<26} {'token requests':>15} {'API hits':>9} {'cold: tokens':>13} {'failed':>7}"
    )
    for name, row in expired.items():
        print(
            f"  {name:<26} {row['tokens']:>15} {row['api']:>9} {row['cold tokens']:>13} "
            f"{row['failed']:>7}"
        )
    print(
        f"\n(b) all processes sending ({REQUESTS} threads each, {LOOP_SECONDS:g}s); one request "
        "gets 429 Retry-After: 1"
    )
    print(
        f"  {'':<26} {'in the second after the 429':^34}\n"
        f"  {'case':<26} {'requests sent':>14} {'API answers':>19} {'API hits':>9} "
        f"{'429s':>5} {'failed':>7}"
    )
    for name, row in paused.items():
        print(
            f"  {name:<26} {row['sent']:>14} {row['answered']:>19} {row['api']:>9} "
            f"{row['429']:>5} {row['failed']:>7}"
        )
    print(
        "  (requests sent: started after the pause was announced and answered before its end;"
        "\n   API answers: what the origin answered then, requests already on their way included)"
    )
    print(f"\n  ({time.monotonic() - started:.1f}s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
