"""Plug in any source of tokens: a cloud SDK, a vault, a file.

An object with ``fetch_token(scope)`` is a ``TokenSource`` (``async def afetch_token(scope)``:
an ``AsyncTokenSource``). The transport decides when to call it (before expiry, after a 401)
and makes sure only one call runs at a time. Here the "vault" mints tokens straight from the
embedded OAuth server. Run: ``python examples/token_source.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


class Vault:
    """A stand-in for a secrets manager that hands out access tokens."""

    def __init__(self, server: OAuthServer) -> None:
        self.server = server
        self.calls = 0

    def fetch_token(self, scope: str | None) -> dict[str, Any]:
        self.calls += 1
        # The token endpoint's JSON shape: access_token, expires_in, ...
        return self.server.issue_token("app", scope or "read", with_refresh=False)


class AsyncVault(Vault):
    async def afetch_token(self, scope: str | None) -> dict[str, Any]:
        await anyio.sleep(0)  # a real one would await its SDK here
        return self.fetch_token(scope)


def main() -> None:
    with OAuthServer() as server:
        server.add_client("app", "s3cret", scope="read")
        items = server.url + "/api/items"

        vault = Vault(server)
        assert isinstance(vault, remedy.TokenSource)
        transport = remedy.RemedyTransport(credentials=vault, origins=[server.url])
        with httpx.Client(transport=transport) as client:
            with ThreadPoolExecutor(10) as pool:  # ten threads, one token
                statuses = list(pool.map(lambda _: client.get(items).status_code, range(10)))
            print("sync:", statuses.count(200), "x 200, vault calls:", vault.calls)
            server.revoke_all()  # the server forgets it: one more call, then a replay
            print("after a revocation:", client.get(items).status_code, "vault calls:", vault.calls)

        async def use_async_vault() -> None:
            source = AsyncVault(server)
            assert isinstance(source, remedy.AsyncTokenSource)
            transport = remedy.AsyncRemedyTransport(credentials=source, origins=[server.url])
            async with httpx.AsyncClient(transport=transport) as client:
                response = await client.get(items)
            print("async:", response.status_code, "vault calls:", source.calls)

        anyio.run(use_async_vault)


if __name__ == "__main__":
    main()
