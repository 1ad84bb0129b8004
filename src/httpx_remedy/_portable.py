"""Copies of the typed errors that may leave the process: pickled, or handed to a reporter.

An error raised here carries the live request (its ``Authorization`` header included, as in
httpx) and the raw error body. A copy made by :func:`redacted`, or by pickling, keeps what a
reader needs (class, status, the server's words, method, URL, headers, the body read) and
drops what carries a secret: the request's credential headers (``Authorization``, ``Cookie``,
``Proxy-Authorization``, ``DPoP``, ``X-API-Key``, any ``*token*`` / ``*secret*`` header) and its
body, the response's ``Set-Cookie`` and credential headers, the URL's userinfo and query values;
the request's own secrets in every echoed form are scrubbed from what is kept, and so are
credential-named members of a JSON or form response body.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar, cast

from ._challenges import Challenge
from ._exceptions import HTTPError, RemedyError
from ._http import REQUESTS, RESPONSES, Request, Response, body_in_memory, stack_of
from ._policy import Attempt
from ._redact import (
    Scrubber,
    is_secret_header,
    redact_url,
    request_secrets,
    without_credential_members,
)

E = TypeVar("E", bound=BaseException)

_MAX_CHAIN: Final = 8  # causes and contexts followed by redacted()


def redacted(error: E) -> E:
    """A copy of ``error`` safe to hand to an error reporter or another process.

    For the typed errors of this library (:class:`HTTPError`, :class:`RemedyError` and their
    subclasses) the copy is what unpickling gives: same class and attributes, a request without
    its credential headers and body, a response without ``Set-Cookie``, secrets scrubbed (see
    the module docstring); it keeps the traceback, and its cause and context are redacted too.
    Any other exception is returned as it is.
    """
    return _redacted(error, _MAX_CHAIN)


def _redacted(error: E, depth: int) -> E:
    if not isinstance(error, (HTTPError, RemedyError)):
        return error
    restore, args = cast("tuple[Callable[..., E], tuple[Any, ...]]", error.__reduce__()[:2])
    copy = restore(*args)
    copy.__traceback__ = error.__traceback__
    copy.__suppress_context__ = error.__suppress_context__
    if depth > 0:
        if error.__cause__ is not None:
            copy.__cause__ = _redacted(error.__cause__, depth - 1)
        if error.__context__ is not None:
            copy.__context__ = _redacted(error.__context__, depth - 1)
    return copy


def portable_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """An error's ``__dict__`` made safe to leave the process (see the module docstring)."""
    request = state.get("_request")
    response = state.get("response")
    if not isinstance(request, REQUESTS) and isinstance(response, RESPONSES):
        request = getattr(response, "_request", None)
    scrubber = Scrubber(request_secrets(request) if isinstance(request, REQUESTS) else ())
    return {name: _portable(value, scrubber) for name, value in state.items()}


def _portable(value: object, scrubber: Scrubber) -> Any:
    if isinstance(value, str):
        return scrubber.text(value)
    if isinstance(value, REQUESTS):
        return portable_request(value, scrubber)
    if isinstance(value, RESPONSES):
        return portable_response(value, scrubber)
    if isinstance(value, (HTTPError, RemedyError)):
        return redacted(value)
    if isinstance(value, MappingProxyType):  # the problem members: plain dict, made read-only again
        return {scrubber.text(str(k)): scrubber.value(v) for k, v in value.items()}
    if isinstance(value, Challenge):
        return Challenge(
            value.scheme,
            {name: scrubber.text(v) for name, v in value.params.items()},
            None if value.token68 is None else scrubber.text(value.token68),
        )
    if isinstance(value, Attempt):
        return dataclasses.replace(
            value,
            url=scrubber.text(value.url),
            error=None if value.error is None else scrubber.text(value.error),
            note=None if value.note is None else scrubber.text(value.note),
        )
    if isinstance(value, tuple):
        return tuple(_portable(item, scrubber) for item in value)
    if isinstance(value, list):
        return [_portable(item, scrubber) for item in value]
    return value


def portable_request(request: Request, scrubber: Scrubber) -> Request:
    """The request as a reader needs it: method, redacted URL, headers without credentials;
    no body (a token request's body holds the client secret or the refresh token)."""
    copy: Request = stack_of(request).Request(
        request.method, redact_url(request.url), headers=_portable_headers(request, scrubber)
    )
    return copy


def portable_response(response: Response, scrubber: Scrubber) -> Response:
    """The response as read: status, headers without cookies or credentials, the body read,
    scrubbed; its request made portable too."""
    request = getattr(response, "_request", None)
    body = scrubber.cut_bytes(body_in_memory(response) or b"")
    copy: Response = stack_of(response).Response(
        response.status_code,
        headers=_portable_headers(response, scrubber),
        content=without_credential_members(body),
        request=portable_request(request, scrubber) if isinstance(request, REQUESTS) else None,
        extensions={
            key: response.extensions[key]
            for key in ("http_version", "reason_phrase")
            if key in response.extensions
        },
    )
    return copy


def _portable_headers(message: Request | Response, scrubber: Scrubber) -> list[tuple[bytes, bytes]]:
    """The headers without credentials, each value scrubbed, kept as bytes in the encoding they
    came in: decoded to text, a byte outside ASCII (``caf\\xe9``) could not be encoded again."""
    encoding = message.headers.encoding
    return [
        (name, scrubber.text(value.decode(encoding)).encode(encoding, "replace"))
        for name, value in message.headers.raw
        if not is_secret_header(name.decode(encoding))
    ]
