"""The same calls with a sync client, and with an async one under asyncio and under trio.

``RemedyTransport`` and ``AsyncRemedyTransport`` take the same arguments and do the same
things: attach and refresh the token, retry 429s, raise typed errors. The async one sleeps and
locks with anyio, so it works under both event loops. Against a real OAuth server and API on
127.0.0.1. Run: ``python examples/sync_and_async.py``.
"""

from __future__ import annotations

import anyio
import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer

SECRET = "app-secret-0123456789"


def sync_calls(server: OAuthServer) -> None:
    creds = remedy.ClientCredentials(server.token_url, "app", SECRET, scope="read")
    transport = remedy.RemedyTransport(credentials=creds)
    with httpx.Client(base_url=server.url, transport=transport) as client:
        print("  items:", [item["name"] for item in client.get("/api/items").json()["items"]])

        server.expire_all()  # the token dies: refreshed once, the request replayed
        print("  after expiry:", client.get("/api/items").status_code)

        server.fail_next_api_requests(1, 429, retry_after=0.1)  # rate limited once: retried
        print("  after a 429:", client.get("/api/items").status_code)

        try:
            client.get("/api/admin")
        except remedy.InsufficientScope as e:
            print("  InsufficientScope, needs", repr(e.scope))


async def async_calls(server: OAuthServer) -> None:
    # Line for line the same as sync_calls, with "async with" and "await".
    creds = remedy.ClientCredentials(server.token_url, "app", SECRET, scope="read")
    transport = remedy.AsyncRemedyTransport(credentials=creds)
    async with httpx.AsyncClient(base_url=server.url, transport=transport) as client:
        response = await client.get("/api/items")
        print("  items:", [item["name"] for item in response.json()["items"]])

        server.expire_all()
        print("  after expiry:", (await client.get("/api/items")).status_code)

        server.fail_next_api_requests(1, 429, retry_after=0.1)
        print("  after a 429:", (await client.get("/api/items")).status_code)

        try:
            await client.get("/api/admin")
        except remedy.InsufficientScope as e:
            print("  InsufficientScope, needs", repr(e.scope))


def main() -> None:
    with OAuthServer() as server:
        server.add_client("app", SECRET, scope="read write")

        runs = [
            ("sync, httpx.Client + RemedyTransport", lambda: sync_calls(server)),
            (
                "asyncio, httpx.AsyncClient + AsyncRemedyTransport",
                lambda: anyio.run(async_calls, server, backend="asyncio"),
            ),
            (
                "trio, httpx.AsyncClient + AsyncRemedyTransport",
                lambda: anyio.run(async_calls, server, backend="trio"),
            ),
        ]
        for title, run in runs:
            tokens, calls = server.token_requests, server.api_requests
            print(f"\n{title}")
            run()
            # What the server saw: the 401 and the 429 were each fixed by one more send.
            seen = [call.status for call in server.api_log[calls:]]
            print("  the API answered:", " ".join(map(str, seen)))
            # One token at the start, one after the expiry: never one per request.
            print("  token requests:", server.token_requests - tokens)


if __name__ == "__main__":
    main()
