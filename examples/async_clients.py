"""The async transport: the same behaviour under asyncio and trio.

Run: ``python examples/async_clients.py``.
"""

from __future__ import annotations

import anyio
import httpx

import httpx_remedy as remedy


def fake_api(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/admin":
        return httpx.Response(
            403,
            headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="admin"'},
        )
    return httpx.Response(200, json={"items": [1, 2, 3]})


async def main() -> None:
    transport = remedy.AsyncRemedyTransport(httpx.MockTransport(fake_api))
    async with httpx.AsyncClient(base_url="https://api.example.com", transport=transport) as c:
        print("items:", (await c.get("/items")).json())
        try:
            await c.get("/admin")
        except remedy.InsufficientScope as e:
            print("InsufficientScope: the server wants scope", repr(e.scope))
            print("  fix:", e.entry.fix)


if __name__ == "__main__":
    anyio.run(main, backend="asyncio")
    anyio.run(main, backend="trio")
