"""Peak memory of a process that meets decompression bombs, run as a subprocess by the tests.

    python -m tests.memory_probe sync|async error|token BOMB_FILE

BOMB_FILE holds a body sent with ``Content-Encoding: gzip, gzip``. The process first meets a
normal error (so that imports, pools and buffers are all warm), then the bomb: as a 401's body
(``error``) or as the token endpoint's 200 (``token``), through the real ``httpx`` transports
and a socket. It prints one JSON object: the peak resident set (``ru_maxrss``, KiB) after the
normal error and after the bomb, and the error the bomb gave.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx

import httpx_remedy as remedy

from .rawserver import RawServer, answer, route

NORMAL = answer(401, b'{"error": "invalid_token"}' + b" " * 60_000, [("Content-Type", "text/json")])


def peak_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def bomb_script(status: int, bomb: bytes) -> Any:
    return answer(
        status, bomb, [("Content-Encoding", "gzip, gzip"), ("Content-Type", "application/json")]
    )


def credentials(server: RawServer) -> remedy.ClientCredentials:
    return remedy.ClientCredentials(server.url + "/token", "app", "s3cret-value")


def run_sync(target: str, bomb: bytes) -> dict[str, Any]:
    found: dict[str, Any] = {}
    scripts = {"/normal": NORMAL, "/bomb": bomb_script(401, bomb), "/token": bomb_script(200, bomb)}
    with RawServer(route(scripts)) as server:
        with httpx.Client(transport=remedy.RemedyTransport(retry=None)) as client:
            try:
                client.get(f"{server.url}/normal")
            except remedy.HTTPError:
                found["normal"] = peak_kib()
        auth = credentials(server) if target == "token" else None
        with httpx.Client(transport=remedy.RemedyTransport(retry=None, credentials=auth)) as client:
            try:
                client.get(f"{server.url}/bomb")
            except (remedy.HTTPError, remedy.TokenResponseError) as error:
                found.update(bomb=peak_kib(), error=type(error).__name__, message=str(error))
    return found


async def run_async(target: str, bomb: bytes) -> dict[str, Any]:
    found: dict[str, Any] = {}
    scripts = {"/normal": NORMAL, "/bomb": bomb_script(401, bomb), "/token": bomb_script(200, bomb)}
    with RawServer(route(scripts)) as server:
        async with httpx.AsyncClient(transport=remedy.AsyncRemedyTransport(retry=None)) as client:
            try:
                await client.get(f"{server.url}/normal")
            except remedy.HTTPError:
                found["normal"] = peak_kib()
        auth = credentials(server) if target == "token" else None
        transport = remedy.AsyncRemedyTransport(retry=None, credentials=auth)
        async with httpx.AsyncClient(transport=transport) as client:
            try:
                await client.get(f"{server.url}/bomb")
            except (remedy.HTTPError, remedy.TokenResponseError) as error:
                found.update(bomb=peak_kib(), error=type(error).__name__, message=str(error))
    return found


def main() -> None:
    mode, target, path = sys.argv[1:4]
    bomb = Path(path).read_bytes()
    found = run_sync(target, bomb) if mode == "sync" else anyio.run(run_async, target, bomb)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
