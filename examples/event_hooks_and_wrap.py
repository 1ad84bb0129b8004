"""Typed errors without replacing your transport: ``raise_for_status`` and ``wrap``.

For a client you do not build yourself (an SDK hands it to you), or when you only want the
typed errors. Against a real OAuth server and API on 127.0.0.1.
Run: ``python examples/event_hooks_and_wrap.py``.
"""

from __future__ import annotations

import asyncio

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def main() -> None:
    with OAuthServer() as server:
        server.add_client("app", "app-secret-0123456789", scope="read write")

        # 1. As an event hook, on any client and any transport: every 4xx/5xx response is
        # raised as its typed error. No retrying, no tokens: only the errors.
        print("1. raise_for_status as a response hook")
        with httpx.Client(event_hooks={"response": [remedy.raise_for_status]}) as client:
            try:
                # A token request with the wrong secret.
                client.post(
                    server.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=("app", "not-the-secret"),
                )
            except remedy.InvalidClient as e:  # also a remedy.Unauthorized (401)
                print("  InvalidClient:", e.error_description)
                print("  fix:", e.entry.fix)

        # 2. wrap(): put a RemedyTransport around a client's transport AND every mounted
        # transport, in place. Here the API's origin is mounted on its own transport.
        print("\n2. wrap() an existing client")
        client = httpx.Client(base_url=server.url, mounts={server.url: httpx.HTTPTransport()})
        token = server.issue_token("app", scope="read")["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        with remedy.wrap(client):  # the keyword arguments of RemedyTransport go here too
            # Typed errors...
            try:
                client.get("/api/admin")
            except remedy.InsufficientScope as e:
                print("  InsufficientScope: needs", repr(e.scope))
            # ...and the default retry policy: a 503 with Retry-After is waited out.
            server.fail_next_api_requests(1, 503, retry_after=0.1)
            response = client.get("/api/items")
            statuses = [c.status for c in server.api_log[-2:]]
            print(f"  after a 503: {response.status_code} (the API answered {statuses})")

        # 3. The async hook reads the body without blocking the event loop.
        print("\n3. araise_for_status on an AsyncClient")
        asyncio.run(async_hook(server))


async def async_hook(server: OAuthServer) -> None:
    hooks = {"response": [remedy.araise_for_status]}
    async with httpx.AsyncClient(base_url=server.url, event_hooks=hooks) as client:
        try:
            await client.get("/api/items")  # no token at all
        except remedy.Unauthorized as e:  # 401 without an error code: a plain Unauthorized
            print(f"  {type(e).__name__}: {e.server_message!r}")
            print("  str(e):", e)


if __name__ == "__main__":
    main()
