"""The binding to the HTTP stack.

This is the only module of the library that imports ``httpx``. Every other module takes the
names it needs from here, so that binding to a second stack with the same API (``httpx2``)
touches one file.
"""

from __future__ import annotations

import httpx

AsyncBaseTransport = httpx.AsyncBaseTransport
AsyncByteStream = httpx.AsyncByteStream
AsyncClient = httpx.AsyncClient
AsyncHTTPTransport = httpx.AsyncHTTPTransport
BaseTransport = httpx.BaseTransport
ByteStream = httpx.ByteStream
Client = httpx.Client
ConnectError = httpx.ConnectError
ConnectTimeout = httpx.ConnectTimeout
Headers = httpx.Headers
HTTPStatusError = httpx.HTTPStatusError
HTTPTransport = httpx.HTTPTransport
PoolTimeout = httpx.PoolTimeout
Request = httpx.Request
Response = httpx.Response
SyncByteStream = httpx.SyncByteStream
TransportError = httpx.TransportError
URL = httpx.URL

#: Transport errors raised before any byte of the request reached the server: safe to retry
#: for every method.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

#: Transport errors after which the server may have received and processed the request:
#: retried only when the request is idempotent.
MAYBE_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def is_replayable(request: httpx.Request) -> bool:
    """True when the request body can be sent again unchanged.

    ``ByteStream`` covers no body, bytes or str content, JSON, urlencoded forms and any body
    already read into memory. A multipart body is rendered afresh on every send, and httpx
    rewinds its files first, so it replays when every file can seek. Generators, iterators
    and file objects passed as ``content=`` are one-shot.
    """
    stream = request.stream
    if isinstance(stream, httpx.ByteStream):
        return True
    if isinstance(stream, httpx._multipart.MultipartStream):
        for field in stream.fields:
            file = getattr(field, "file", None)
            if file is None or isinstance(file, (bytes, str)):
                continue
            seekable = getattr(file, "seekable", None)
            if not (callable(seekable) and seekable()):
                return False
        return True
    return False


def body_in_memory(response: httpx.Response) -> bytes | None:
    """The body when it is already read (a response built with ``content=``), else None."""
    try:
        return response.content
    except httpx.ResponseNotRead:
        return None


def decode_body(response: httpx.Response, raw: bytes) -> bytes:
    """``raw`` decoded per the response's Content-Encoding; the raw bytes when that fails.

    The error body may be cut short or lie about its encoding, and what it says is still
    worth reading.
    """
    encoding = response.headers.get("content-encoding")
    if not raw or not encoding or encoding.strip().lower() == "identity":
        return raw
    try:
        return httpx.Response(200, headers={"content-encoding": encoding}, content=raw).content
    except httpx.DecodingError:
        return raw


def buffered(response: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
    """A copy of ``response`` holding ``body`` (already decoded), detached from the network.

    The error response travels on the exception long after its connection went back to the
    pool, so it must carry the bytes that were read instead of a stream.
    """
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=request,
        extensions=response.extensions,
    )


Origin = tuple[str, str, "int | None"]


def origin_of(url: httpx.URL) -> Origin:
    """``(scheme, host, port)`` of a URL, the key for per-origin state.

    The host is the normalised ASCII form and the port None when it is the scheme's default,
    so ``https://API.example.com:443`` and ``https://api.example.com`` are one origin. Read from
    the parsed form httpx keeps, as this runs on every request.
    """
    ref = url._uri_reference
    return (ref.scheme, ref.host, ref.port)


def origin_text(origin: Origin) -> str:
    """``https://api.example.com`` for people."""
    scheme, host, port = origin
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")
