"""Catch HTTP and OAuth errors by name, with the server's words and the catalog's fix.

The script starts a real OAuth 2.0 server and protected API on 127.0.0.1 (no network) and
makes requests that fail the way real APIs fail. Run: ``python examples/catch_by_name.py``.
"""

from __future__ import annotations

from typing import Any

import httpx

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
    """One request, and one ``except`` per error we want to handle differently."""
    print(f"\n{method} {path}")
    try:
        response = client.request(method, path, **kwargs)
    except remedy.InvalidToken as e:  # 401 + WWW-Authenticate: Bearer error="invalid_token"
        # The server's own words, then what the catalog says to do about it.
        print("  InvalidToken:", e.error_description)
        print("  fix:", e.entry.fix)
        # One object, two classes: the OAuth code's and the status's.
        print("  also an Unauthorized:", isinstance(e, remedy.Unauthorized))
    except remedy.TooManyRequests as e:
        # Retry-After is parsed for you (seconds, whatever form the server used).
        print("  TooManyRequests: the server asks us to retry in", e.retry_after, "seconds")
    except remedy.MethodNotAllowed as e:
        # The Allow header, parsed. RFC 9110 requires it on a 405, but not every server sends it.
        print("  MethodNotAllowed: allowed methods:", e.allowed_methods or "(no Allow header)")
    except remedy.NotFound as e:
        print("  NotFound:", e.status_code, e.response.reason_phrase, "/", e.error)
    except remedy.InsufficientScope as e:  # 403 + Bearer error="insufficient_scope"
        print("  InsufficientScope: this call needs the scope", repr(e.scope))
    except remedy.HTTPError as e:  # every other 4xx/5xx (also an httpx.HTTPStatusError)
        print(f"  {type(e).__name__} (caught as HTTPError):")
        print("  str(e) is one line:", e)
        # e.request is the request as sent, Authorization header included (as in httpx).
        # Before handing an error to a reporter, a log shipper or another process, take the
        # redacted copy: same class and attributes, no credential (pickling gives the same).
        report = remedy.redacted(e)
        print("  Authorization in the report:", "authorization" in report.request.headers)
    else:
        print("  ", response.status_code, response.json())


def main() -> None:
    with OAuthServer() as server:
        server.add_client("app", "app-secret-0123456789", scope="read write")
        # A token with the "read" scope only, as if the app had fetched it earlier.
        token = server.issue_token("app", scope="read")["access_token"]
        good = {"Authorization": f"Bearer {token}"}

        # No credentials here: we bring our own header, so nothing is refreshed for us and
        # every error surfaces as a typed exception (see client_credentials.py for the fixes).
        transport = remedy.RemedyTransport()
        with httpx.Client(base_url=server.url, transport=transport) as client:
            call(client, "GET", "/api/items", headers=good)  # works: 200
            call(client, "GET", "/api/items", headers={"Authorization": "Bearer not-a-token"})

            # 429 with Retry-After: 120. That is longer than the policy's max_retry_after
            # (60 s by default), so the library raises at once instead of blocking for 2 min.
            server.fail_next_api_requests(1, 429, retry_after=120)
            call(client, "GET", "/api/items", headers=good)

            call(client, "DELETE", "/api/items", headers=good)  # the API has no DELETE
            call(client, "GET", "/api/nothing-here", headers=good)
            call(client, "GET", "/api/admin", headers=good)  # needs the "admin" scope

            # A 500 on a POST: it may have been processed, so it is not retried (a POST is
            # not idempotent). No except clause names it: the HTTPError catch-all gets it.
            server.fail_next_api_requests(1, 500)
            call(client, "POST", "/api/items", headers=good, json={"name": "fig"})


if __name__ == "__main__":
    main()
