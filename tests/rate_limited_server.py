"""A realistic rate-limited API for the tests and ``benchmarks/rate_limits.py``: FastAPI on
uvicorn, limited by slowapi (the ``limits`` library's fixed window, in memory), which sends
``X-RateLimit-Limit/Remaining/Reset`` on every answer (``headers_enabled=True``) and a 429 with
``Retry-After`` past the limit.

The quota is per ``X-Client-Key`` request header (each scenario of a benchmark gets its own).
Run as a script: ``python tests/rate_limited_server.py PORT LIMIT`` (``LIMIT`` as slowapi
spells it, ``40/4 seconds``); :func:`start` runs it and waits until it listens. Counts are at
``GET /stats?key=...``: successes and 429s, each with the time of the answer.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Any

from fastapi import FastAPI, Request, Response
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded


def build(limit: str) -> FastAPI:
    limiter = Limiter(
        key_func=lambda request: request.headers.get("x-client-key", "anonymous"),
        headers_enabled=True,
    )
    app = FastAPI()
    app.state.limiter = limiter
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"ok": [], "refused": []})

    def refused(request: Request, exc: Exception) -> Response:
        stats[request.headers.get("x-client-key", "anonymous")]["refused"].append(time.time())
        return _rate_limit_exceeded_handler(request, exc)  # type: ignore[arg-type]

    app.add_exception_handler(RateLimitExceeded, refused)

    @app.get("/items")
    @limiter.limit(limit)
    async def items(request: Request, response: Response) -> dict[str, Any]:
        stats[request.headers.get("x-client-key", "anonymous")]["ok"].append(time.time())
        return {"items": [1, 2, 3]}

    @app.get("/stats")
    async def read_stats(key: str) -> dict[str, list[float]]:
        return stats[key]

    return app


def main() -> None:
    import uvicorn

    port, limit = int(sys.argv[1]), sys.argv[2]
    config = uvicorn.Config(build(limit), host="127.0.0.1", port=port, log_level="warning")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()


def start(limit: str) -> tuple[Any, str]:
    """Start the server in a process of its own on a free port of 127.0.0.1: the process and
    the base URL, once it accepts connections (within 30 s)."""
    import socket
    import subprocess
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(Path(__file__)), str(port), limit])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the rate-limited server did not start")
