"""Typed errors without replacing your transport: ``raise_for_status`` and ``wrap``.

Run: ``python examples/event_hooks_and_wrap.py``.
"""

from __future__ import annotations

import httpx

import httpx_remedy as remedy


def token_endpoint(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "Refresh token revoked"}
    )


def main() -> None:
    # 1. In an event hook: any client, any transport.
    with httpx.Client(
        transport=httpx.MockTransport(token_endpoint),
        event_hooks={"response": [remedy.raise_for_status]},
    ) as client:
        try:
            client.post("https://auth.example.com/oauth/token", data={"grant_type": "x"})
        except remedy.InvalidGrant as e:  # also a remedy.BadRequest
            print("event hook:", e.error, "-", e.error_description)
            print("  fix:", e.entry.fix)

    # 2. Wrap an existing client in place: its transport and every mounted one.
    client = remedy.wrap(httpx.Client(transport=httpx.MockTransport(token_endpoint)), retry=None)
    with client:
        try:
            client.post("https://auth.example.com/oauth/token")
        except remedy.BadRequest as e:
            print("wrap():", type(e).__name__, e.status_code, e.error)

    # 3. The catalog itself.
    entry = remedy.catalog["invalid_grant"]
    print("catalog:", entry.code, "->", entry.exception.__name__, "/", entry.remedy)


if __name__ == "__main__":
    main()
