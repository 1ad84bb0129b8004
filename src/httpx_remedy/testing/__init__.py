"""Helpers for testing code that uses httpx-remedy.

- :func:`no_wait`: every retry wait becomes zero inside the block (like stamina's testing mode),
  so a suite can exercise retries without sleeping.
- :func:`use_clock`: a transport reads the time from your clock and waits with your sleep, so a
  test can check every wait and deadline without waiting.
- :func:`error_response`: the keyword arguments of a realistic error response for any catalog
  code, for pytest-httpx's ``httpx_mock.add_response(**...)`` or ``httpx.Response(**...)``.
- :class:`OAuthServer` (with :class:`TokenCall` and :class:`ApiCall`, its records), in
  ``httpx_remedy.testing.oauth_server``: a real OAuth 2.0 authorization server and protected
  API on 127.0.0.1, built from authlib's server components, with knobs to expire, revoke and
  fail. Loaded on first use: importing this module loads neither it nor authlib's server parts
  nor Flask; starting it needs the ``demo`` extra (Flask).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, overload

from .. import _policy
from .._catalog import catalog
from .._transport import AsyncRemedyTransport, RemedyTransport

if TYPE_CHECKING:
    from .oauth_server import ApiCall, OAuthServer, TokenCall

__all__ = ["ApiCall", "OAuthServer", "TokenCall", "error_response", "no_wait", "use_clock"]

#: The names this module hands out from ``oauth_server``, loading it on first access.
_FROM_OAUTH_SERVER = frozenset({"ApiCall", "OAuthServer", "TokenCall"})


def __getattr__(name: str) -> Any:
    if name in _FROM_OAUTH_SERVER:
        module = importlib.import_module(".oauth_server", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM_OAUTH_SERVER})


@contextmanager
def no_wait() -> Iterator[None]:
    """Make every retry wait zero while the block runs (in every thread and task).

    The decisions are unchanged (a server delay over ``max_retry_after`` is still raised at
    once); only the sleeping is skipped. The process-wide default retry budget is not drawn on
    inside the block either, so that one test's retries cannot use up the next one's (a
    ``RetryBudget`` you pass to ``Retry(budget=...)`` still applies). A wait for another
    process (a pause heard through a store, another's token refresh) still runs.
    """
    _policy.set_no_wait(True)
    try:
        yield
    finally:
        _policy.set_no_wait(False)


@overload
def use_clock(
    transport: RemedyTransport,
    *,
    monotonic: Callable[[], float] | None = None,
    wall: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> RemedyTransport: ...
@overload
def use_clock(
    transport: AsyncRemedyTransport,
    *,
    monotonic: Callable[[], float] | None = None,
    wall: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AsyncRemedyTransport: ...
def use_clock(
    transport: RemedyTransport | AsyncRemedyTransport,
    *,
    monotonic: Callable[[], float] | None = None,
    wall: Callable[[], float] | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> RemedyTransport | AsyncRemedyTransport:
    """Put ``transport`` on a clock of your own, for tests; returns it.

    From then on the transport reads the time from ``monotonic`` (instead of
    ``time.monotonic``: deadlines, elapsed times, token lifetimes, the retry budget's window)
    and from ``wall`` (instead of ``time.time``: ``Retry-After`` dates, rate-limit resets, token
    expiries shared through a store), and waits with ``sleep`` (instead of ``time.sleep``; for
    an :class:`~httpx_remedy.AsyncRemedyTransport`, an ``async`` function instead of
    ``anyio.sleep``). Leave one out to keep it as it is. A fake clock whose ``sleep`` only
    moves its own time runs every retry, wait and deadline of a test at once::

        clock = FakeClock()  # monotonic(), time() and sleep(seconds) that adds to both
        transport = use_clock(
            RemedyTransport(inner), monotonic=clock.monotonic, wall=clock.time, sleep=clock.sleep
        )

    The time a body may take to arrive (``MAX_BODY_SECONDS``) bounds real I/O and stays on the
    real clock; a store keeps its own clock.
    """
    if not isinstance(transport, (RemedyTransport, AsyncRemedyTransport)):
        raise TypeError(
            f"use_clock() takes a RemedyTransport or AsyncRemedyTransport, not {transport!r}"
        )
    transport._use_clock(monotonic, wall, sleep)
    return transport


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Codes a resource server reports in a WWW-Authenticate challenge rather than a JSON body
# (RFC 6750 §3, RFC 9470 §3, RFC 9449 §7.1).
_CHALLENGE_CODES = {
    "invalid_token": "Bearer",
    "insufficient_scope": "Bearer",
    "insufficient_user_authentication": "Bearer",
    "use_dpop_nonce": "DPoP",
    "invalid_dpop_proof": "DPoP",
}


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
