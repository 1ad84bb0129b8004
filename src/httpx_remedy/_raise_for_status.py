"""The typed error for any response, without the transport: :func:`raise_for_status` and
:func:`araise_for_status` (for an ``event_hooks`` response hook, say)."""

from __future__ import annotations

import time

from ._body import cut_note, read_body
from ._classify import MAX_ERROR_BODY, build_error, describe, error_scrubber
from ._http import SYNC_BYTE_STREAMS, Response, body_in_memory, buffered, see_httpx2
from ._policy import Attempt
from ._read import read_async, read_sync
from ._redact import redact_url


def raise_for_status(response: Response) -> Response:
    """Raise the typed error for ``response`` if it is a 4xx or 5xx; return it otherwise.

    Works on any response, without the transport (an ``event_hooks`` response hook, say). The
    body is used when it was read; an unread sync body is read up to 64 KiB (decoded) and for
    ``MAX_BODY_SECONDS`` at most; an unread async body is left alone (use
    :func:`araise_for_status`).

    Unlike ``httpx.Response.raise_for_status()``, which raises ``HTTPStatusError`` for every
    status that is not 2xx (1xx and 3xx included), this raises only for 4xx and 5xx, as the
    transport does. A response hook runs on every hop of a redirect chain before httpx follows
    it, so raising on a 3xx would break every ``follow_redirects=True`` client the hook is
    given to; a ``304 Not Modified`` is an answer, not an error; and a 1xx never reaches a hook
    (httpcore handles it). To treat a redirect left unfollowed as an error, check
    ``response.is_redirect`` (or ``response.next_request``) yourself. A status of 600 or more
    raises as a 5xx.
    """
    if response.status_code < 400:
        return response
    see_httpx2()  # an httpx2 response: its stack joins before its classes are checked
    body = body_in_memory(response)
    cut = None
    if body is None and not _is_async_stream(response):
        command = read_body(response, MAX_ERROR_BODY)
        body, cut = read_sync(command)
        response = buffered(response, body, response.request)
        cut = cut_note(command, cut, "error body", "64 KiB")
    raise _error_for(response, body, cut)


async def araise_for_status(response: Response) -> Response:
    """:func:`raise_for_status` for async responses: reads an unread body up to 64 KiB."""
    if response.status_code < 400:
        return response
    see_httpx2()  # an httpx2 response: its stack joins before its classes are checked
    body = body_in_memory(response)
    cut = None
    if body is None:
        command = read_body(response, MAX_ERROR_BODY)
        body, cut = await read_async(command)
        response = buffered(response, body, response.request)
        cut = cut_note(command, cut, "error body", "64 KiB")
    raise _error_for(response, body, cut)


def _is_async_stream(response: Response) -> bool:
    return not isinstance(response.stream, SYNC_BYTE_STREAMS)


def _error_for(response: Response, body: bytes | None, body_cut: str | None) -> Exception:
    request = response.request
    details = describe(
        response.status_code, response.headers, body, time.time(), error_scrubber(request)
    )
    attempt = Attempt(
        1,
        1,
        request.method,
        redact_url(request.url),
        response.status_code,
        details.error,
        0.0,
        "raise",
    )
    return build_error(request, response, details, attempts=(attempt,), body_cut=body_cut)
