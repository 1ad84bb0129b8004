"""Catch HTTP and OAuth errors by name, with the server's words and the catalog's fix.

The API here is simulated in memory (``httpx.MockTransport``) so the script runs anywhere;
swap in a real URL and drop the ``transport=`` argument of RemedyTransport to use the network.
Run: ``python examples/catch_by_name.py``.
"""

from __future__ import annotations

import httpx

import httpx_remedy as remedy


def fake_api(request: httpx.Request) -> httpx.Response:
    """An API that fails the way real ones do."""
    if request.url.path == "/items":
        return httpx.Response(
            401,
            headers={
                "WWW-Authenticate": 'Bearer realm="api", error="invalid_token", '
                'error_description="The access token expired"'
            },
        )
    if request.url.path == "/search":
        return httpx.Response(429, headers={"Retry-After": "120"}, json={"message": "slow down"})
    if request.url.path == "/orders":
        return httpx.Response(405, headers={"Allow": "GET, HEAD"})
    return httpx.Response(
        404,
        headers={"Content-Type": "application/problem+json"},
        json={"type": "about:blank", "title": "Not Found", "detail": "No such widget: 42"},
    )


def main() -> None:
    transport = remedy.RemedyTransport(httpx.MockTransport(fake_api))
    with httpx.Client(base_url="https://api.example.com", transport=transport) as client:
        try:
            client.get("/items")
        except remedy.InvalidToken as e:  # 401 + WWW-Authenticate: Bearer error="invalid_token"
            print("InvalidToken:", e.error_description, "->", e.entry.fix)

        try:
            # 120 s is more than the default max_retry_after (60 s): raised at once, not slept.
            client.get("/search", params={"q": "widgets"})
        except remedy.TooManyRequests as e:
            print("TooManyRequests: retry in", e.retry_after, "seconds")

        try:
            client.post("/orders", json={})
        except remedy.MethodNotAllowed as e:
            print("MethodNotAllowed: use one of", e.allowed_methods)

        try:
            client.get("/widgets/42")
        except remedy.HTTPError as e:  # any other 4xx/5xx; also an httpx.HTTPStatusError
            print(type(e).__name__, e.status_code, e.problem)
            print(e)  # one line: status, method, redacted URL, the server's words, the fix


if __name__ == "__main__":
    main()
