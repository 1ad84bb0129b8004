"""Helpers for testing code that uses httpx-remedy.

- :func:`no_wait`: every retry wait becomes zero inside the block (like stamina's testing mode),
  so a suite can exercise retries without sleeping.
- :func:`error_response`: the keyword arguments of a realistic error response for any catalog
  code, for pytest-httpx's ``httpx_mock.add_response(**...)`` or ``httpx.Response(**...)``.
- :class:`OAuthServer`: a real OAuth 2.0 authorization server and protected API on 127.0.0.1,
  built from authlib's server components, with knobs to expire, revoke and fail (needs the
  ``demo`` extra: flask).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from . import _policy
from ._catalog import catalog
from ._oauth_server import ApiCall, OAuthServer, TokenCall

__all__ = ["ApiCall", "OAuthServer", "TokenCall", "error_response", "no_wait"]

# Codes a resource server reports in a WWW-Authenticate challenge rather than a JSON body
# (RFC 6750 §3, RFC 9470 §3, RFC 9449 §7.1).
_CHALLENGE_CODES = {
    "invalid_token": "Bearer",
    "insufficient_scope": "Bearer",
    "insufficient_user_authentication": "Bearer",
    "use_dpop_nonce": "DPoP",
    "invalid_dpop_proof": "DPoP",
}


@contextmanager
def no_wait() -> Iterator[None]:
    """Make every retry wait zero while the block runs (in every thread and task).

    The decisions are unchanged (a server delay over ``max_retry_after`` is still raised at
    once); only the sleeping is skipped. The process-wide default retry budget is not drawn on
    inside the block either, so that one test's retries cannot use up the next one's (a
    ``RetryBudget`` you pass to ``Retry(budget=...)`` still applies).
    """
    _policy.set_no_wait(True)
    try:
        yield
    finally:
        _policy.set_no_wait(False)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_response(
    code: int | str,
    *,
    status_code: int | None = None,
    description: str | None = None,
    retry_after: float | str | None = None,
    scope: str | None = None,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
) -> dict[str, Any]:
    """Keyword arguments for a realistic error response for ``code`` (a status or OAuth code).

    The status, ``WWW-Authenticate`` challenge, JSON body and ``Retry-After`` are what real
    servers send for that code: an OAuth token-endpoint error is an RFC 6749 §5.2 JSON body,
    ``invalid_token`` and ``insufficient_scope`` are RFC 6750 Bearer challenges, a plain status
    gets an RFC 9457 problem body. Every part can be overridden::

        httpx_mock.add_response(**error_response("invalid_token"))
        httpx_mock.add_response(**error_response(429, retry_after=2))
        httpx.Response(**error_response("insufficient_scope", scope="admin"))

    Raises ``KeyError`` for a code the catalog does not know (``httpx-remedy catalog`` lists
    them).
    """
    entry = catalog[code]
    text = description if description is not None else entry.description
    out_headers: dict[str, str] = {}
    body: Any
    if entry.is_oauth:
        status = status_code or entry.status or 400
        scheme = _CHALLENGE_CODES.get(str(entry.code))
        if scheme is not None:
            params = [
                'realm="api"',
                f"error={_quote(str(entry.code))}",
                f"error_description={_quote(text)}",
            ]
            if scope is not None:
                params.append(f"scope={_quote(scope)}")
            out_headers["WWW-Authenticate"] = f"{scheme} " + ", ".join(params)
            if entry.code == "use_dpop_nonce":
                out_headers["DPoP-Nonce"] = "eyJ7S_zG.eyJH0-Z.HX4w-7v"
            body = {"error": entry.code, "error_description": text}
        else:
            if status == 401:
                out_headers["WWW-Authenticate"] = 'Basic realm="token"'
            body = {"error": entry.code, "error_description": text}
            if scope is not None:
                body["scope"] = scope
        out_headers["Cache-Control"] = "no-store"
    else:
        status = status_code or int(entry.code)
        body = {"type": "about:blank", "title": entry.title, "status": status, "detail": text}
        out_headers["Content-Type"] = "application/problem+json"
        if status == 401:
            out_headers["WWW-Authenticate"] = 'Bearer realm="api"'
        elif status == 405:
            out_headers["Allow"] = "GET, HEAD"
        elif status in (429, 503) and retry_after is None:
            retry_after = 1
    if retry_after is not None:
        out_headers["Retry-After"] = str(retry_after)
    if headers:
        out_headers.update(headers)
    return {
        "status_code": status,
        "headers": out_headers,
        "json": json if json is not None else body,
    }
