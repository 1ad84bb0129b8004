"""The binding to the HTTP stack: ``httpx``, and ``httpx2`` when it is installed.

This is the only module of the library that imports either. ``httpx2`` (the continuation of
httpx under another module name) has the same API, so the library is written once against
these names: the static types are httpx's, and at run time every check accepts either stack's
classes and every object the library builds is made by the stack of the object it stands for.
A process that imports both gets both.
"""

from __future__ import annotations

import contextlib
import copy
import ssl
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from ._decode import decode_bounded

AsyncBaseTransport = httpx.AsyncBaseTransport
AsyncClient = httpx.AsyncClient
BaseTransport = httpx.BaseTransport
Client = httpx.Client
Request = httpx.Request
Response = httpx.Response
TransportError = httpx.TransportError
URL = httpx.URL
Limits = httpx.Limits

# The types of httpx's own transport arguments (``httpx.HTTPTransport(verify=..., ...)``), spelt
# out here because httpx keeps them in private modules. The same in httpx 0.27, 0.28 and httpx2.
VerifyTypes = ssl.SSLContext | str | bool
CertTypes = str | tuple[str, str] | tuple[str, str, str]
ProxyTypes = str | httpx.URL | httpx.Proxy
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# httpx2 is never imported here: importing it would double the cost of ``import httpx_remedy``
# for the many processes that never use it. An httpx2 object can only exist once the user
# imported httpx2, so the library looks for it in ``sys.modules`` (:func:`see_httpx2`) where
# objects of a stack it does not know yet may come in: at import, when a transport, a client or
# a response is handed to it, when a type is new to :func:`stack_of`, and when one of its
# ``HTTPStatusError``s is made. Until then every tuple below holds httpx's classes alone.

#: The stacks in this process, httpx first: httpx2 joins once it is imported. One entry when
#: ``httpx2.alias_httpx()`` made ``import httpx`` load httpx2.
STACKS: tuple[ModuleType, ...] = (httpx,)


def _all(name: str) -> tuple[Any, ...]:
    return tuple(getattr(stack, name) for stack in STACKS)


#: For ``isinstance`` and ``except``: the class of that name in every stack. Imported by name
#: across the library (an ``except TRANSPORT_ERRORS`` stays one global read, free on the success
#: path): when httpx2 joins, :func:`see_httpx2` rebinds those names where they were imported.
REQUESTS: tuple[type[httpx.Request], ...]
RESPONSES: tuple[type[httpx.Response], ...]
ASYNC_BASE_TRANSPORTS: tuple[type[httpx.AsyncBaseTransport], ...]
ASYNC_CLIENTS: tuple[type[httpx.AsyncClient], ...]
BASE_TRANSPORTS: tuple[type[httpx.BaseTransport], ...]
CLIENTS: tuple[type[httpx.Client], ...]
SYNC_BYTE_STREAMS: tuple[type[httpx.SyncByteStream], ...]
TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...]
#: Every error a stack raises while sending (``httpx.HTTPError``) or for a bad URL.
REQUEST_ERRORS: tuple[type[Exception], ...]
#: Transport errors raised before any byte of the request reached the server: safe to retry
#: for every method.
NOT_SENT_ERRORS: tuple[type[Exception], ...]
#: Transport errors after which the server may have received and processed the request:
#: retried only when the request is idempotent.
MAYBE_SENT_ERRORS: tuple[type[Exception], ...]
#: How reading a body may end (``_read``): its end, a body that breaks off, or one already
#: consumed (``httpx.StreamConsumed`` is a RuntimeError). What was read until then still counts.
BODY_END: tuple[type[BaseException], ...]
ASYNC_BODY_END: tuple[type[BaseException], ...]


def _tuples() -> dict[str, tuple[Any, ...]]:
    """The tuples above, for the stacks in :data:`STACKS`."""
    transport_errors = _all("TransportError")
    return {
        "REQUESTS": _all("Request"),
        "RESPONSES": _all("Response"),
        "ASYNC_BASE_TRANSPORTS": _all("AsyncBaseTransport"),
        "ASYNC_CLIENTS": _all("AsyncClient"),
        "BASE_TRANSPORTS": _all("BaseTransport"),
        "CLIENTS": _all("Client"),
        "SYNC_BYTE_STREAMS": _all("SyncByteStream"),
        "TRANSPORT_ERRORS": transport_errors,
        "REQUEST_ERRORS": _all("HTTPError") + _all("InvalidURL"),
        "NOT_SENT_ERRORS": _all("ConnectError") + _all("ConnectTimeout") + _all("PoolTimeout"),
        "MAYBE_SENT_ERRORS": (
            _all("ReadTimeout")
            + _all("WriteTimeout")
            + _all("ReadError")
            + _all("WriteError")
            + _all("RemoteProtocolError")
        ),
        "BODY_END": (StopIteration, RuntimeError, *transport_errors),
        "ASYNC_BODY_END": (StopAsyncIteration, RuntimeError, *transport_errors),
    }


globals().update(_tuples())

if TYPE_CHECKING:
    HTTPStatusErrorBase = httpx.HTTPStatusError
else:

    class HTTPStatusErrorBase(httpx.HTTPStatusError):
        """An ``HTTPStatusError`` of every stack, so that each stack's ``except`` catches it:
        httpx2's class joins its bases when httpx2 joins the stacks (:func:`see_httpx2`)."""

        def __init__(self, message: str, *, request: Any, response: Any) -> None:
            see_httpx2()
            # The stacks' __init__ chains do not cooperate (each passes only the message on),
            # so the state they keep is set here once, for all of them.
            Exception.__init__(self, message)
            self.request = request
            self.response = response


#: False once httpx2 joined the stacks or cannot (``import httpx`` loads httpx2): then
#: :func:`see_httpx2` is one global read.
_httpx2_pending = True
_httpx2_lock = threading.Lock()


def see_httpx2() -> None:
    """Add httpx2 to the stacks if the process imported it since we last looked.

    Cheap (a global read, then a dict lookup while httpx2 is not imported); called where
    objects of a stack the library does not know yet may come in, never on the success path.
    """
    if not _httpx2_pending:
        return
    module = sys.modules.get("httpx2")
    if module is None:
        return  # not imported, or blocked (``sys.modules["httpx2"] = None``)
    with _httpx2_lock:
        _join(module)


def _join(httpx2: ModuleType) -> None:
    global STACKS, _httpx2_pending
    if not _httpx2_pending:
        return
    if httpx2 is httpx:  # ``alias_httpx()``: one stack for good
        _httpx2_pending = False
        return
    if not hasattr(httpx2, "HTTPStatusError"):
        return  # still being imported: next time
    old = {name: globals()[name] for name in _tuples()}
    STACKS = (httpx, httpx2)
    new = _tuples()
    globals().update(new)
    # Every name of the library that holds an old tuple now holds the new one.
    replace = {id(value): (value, new[name]) for name, value in old.items()}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == __package__ or name.startswith(__package__ + ".")):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            found = replace.get(id(value))
            if found is not None and found[0] is value:
                namespace[key] = found[1]
    HTTPStatusErrorBase.__bases__ = _all("HTTPStatusError")
    _httpx2_pending = False


see_httpx2()  # imported before this library: joins now, as it always did

_stack_by_type: dict[type, ModuleType] = {}


def stack_of(obj: object) -> ModuleType:
    """The stack (``httpx`` or ``httpx2``) whose class ``obj`` is an instance of; httpx for
    anything else. Remembered per type, as requests ask on every send."""
    kind = type(obj)
    found = _stack_by_type.get(kind)
    if found is None:
        see_httpx2()  # a type never seen: maybe httpx2's, imported since
        found = httpx
        for stack in STACKS:
            bases = (
                stack.Request,
                stack.Response,
                stack.BaseTransport,
                stack.AsyncBaseTransport,
                stack.URL,
            )
            if issubclass(kind, bases):
                found = stack
                break
        if len(_stack_by_type) < 1024:  # bounded: types are few, but never trust that
            _stack_by_type[kind] = found
    return found


def authorization_of(request: httpx.Request) -> str | None:
    """The request's ``Authorization`` header, or None: asked on every authorized request.

    Reads the header list httpx keeps directly, which is cheaper than the generic lookup.
    """
    raw = getattr(request.headers, "_list", None)
    if type(raw) is not list:
        value: str | None = request.headers.get("authorization")
        return value
    for item in raw:
        if item[1] == b"authorization":
            return str(item[2].decode("latin-1"))
    return None


def set_authorization(request: httpx.Request, value: str) -> None:
    """Set the request's ``Authorization`` header: on every authorized request, so cheap.

    When it has none, as nearly always, the header is appended to the list httpx keeps,
    skipping the generic lookup-and-replace of ``headers[...] = ...``.
    """
    raw = getattr(request.headers, "_list", None)
    if type(raw) is list:
        for item in raw:
            if item[1] == b"authorization":
                break
        else:
            raw.append((b"Authorization", b"authorization", value.encode("ascii")))
            return
    request.headers["Authorization"] = value


def is_replayable(request: httpx.Request, stream: object = None) -> bool:
    """True when the request body can be sent again unchanged.

    ``ByteStream`` covers no body, bytes or str content, JSON, urlencoded forms and any body
    already read into memory. A multipart body is rendered afresh on every send, and httpx
    rewinds its files first, so it replays when every file can seek. Generators, iterators
    and file objects passed as ``content=`` are one-shot. ``stream``: judge this stream (the
    request's before its first send) instead of the request's current one.
    """
    if stream is None:
        stream = request.stream
    stack = stack_of(request)
    if isinstance(stream, stack.ByteStream):
        return True
    if isinstance(stream, stack._multipart.MultipartStream):
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
    except _all("ResponseNotRead"):
        return None


def decode_body(response: httpx.Response, raw: bytes, limit: int) -> tuple[bytes, bool]:
    """``raw`` decoded per the response's Content-Encoding, at most ``limit`` bytes of it, and
    whether more was there (see :func:`decode_bounded`: a bomb stops at ``limit``, a body that
    does not decode comes back raw)."""
    encodings = response.headers.get_list("content-encoding", split_commas=True)
    return decode_bounded(encodings, raw, limit)


def buffered(response: httpx.Response, body: bytes, request: httpx.Request) -> httpx.Response:
    """A copy of ``response`` holding ``body`` (already decoded), detached from the network.

    The error response travels on the exception long after its connection went back to the
    pool, so it must carry the bytes that were read instead of a stream. The headers are copied
    as the bytes that arrived: decoded to text, a byte outside ASCII (``caf\\xe9``) could not be
    encoded again.
    """
    headers = [
        (name, value)
        for name, value in response.headers.raw
        if name.lower() not in (b"content-encoding", b"content-length", b"transfer-encoding")
    ]
    copy: httpx.Response = stack_of(response).Response(
        response.status_code,
        headers=headers,
        content=body,
        request=request,
        extensions=response.extensions,
    )
    return copy


def new_request(
    stack: ModuleType, method: str, url: str, *, headers: dict[str, str], content: bytes
) -> httpx.Request:
    """A request made by ``stack`` (our own token requests go through the user's stack)."""
    request: httpx.Request = stack.Request(method, url, headers=headers, content=content)
    return request


def default_transport(is_async: bool, options: dict[str, Any]) -> Any:
    """The transport a remedy transport wraps when given none: httpx's own, built with
    ``options`` (``verify``, ``http2``, ``proxy``, ...: the arguments it takes)."""
    kind = httpx.AsyncHTTPTransport if is_async else httpx.HTTPTransport
    return kind(**options)


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


#: The request classes whose token travels on a copy, copied field by field (httpx's own
#: ``Request``), and those that carry it themselves (httpx2's): filled on first sight by
#: :func:`carrying`, read by the hot path (``_first_send.prepare``).
COPIED_REQUESTS: set[type[Any]] = set()
UNCOPIED_REQUESTS: set[type[Any]] = set()
_new = object.__new__


def carrying(request: httpx.Request) -> httpx.Request:
    """The request to send with the library's headers (the token's ``Authorization``, a DPoP
    proof): on httpx, a copy of ``request`` with a header list of its own, the user's request
    left as it was built; on httpx2, ``request`` itself.

    Why a copy on httpx: httpx 0.28 copies every header of ``response.request`` (the user's
    request) into its cookie jar's view after every response, so a token on it costs each
    request about 18k instructions (3%), more than the whole library; the copy costs about 4k.
    httpx2 copies nothing when a response sets no cookie: there the copy would be pure cost.
    Shallow and field by field as httpx keeps them: the body stream and the extensions are
    shared with the original. A subclass of httpx's ``Request`` (which may keep fields of its
    own) is copied whole. The hot path inlines the copy.
    """
    kind = type(request)
    if kind in UNCOPIED_REQUESTS:
        return request
    if kind not in COPIED_REQUESTS:
        if not any(
            base.__name__ == "Request" and base.__module__ == "httpx" for base in kind.__mro__
        ):
            UNCOPIED_REQUESTS.add(kind)
            return request
        if kind.__module__ != "httpx" or type(getattr(request.headers, "_list", None)) is not list:
            whole = copy.copy(request)
            whole.headers = request.headers.copy()
            return whole
        COPIED_REQUESTS.add(kind)
    sent = _new(kind)
    sent.method = request.method
    sent.url = request.url
    headers = _new(type(request.headers))
    headers._list = request.headers._list.copy()
    headers._encoding = request.headers._encoding
    sent.headers = headers
    sent.extensions = request.extensions
    sent.stream = request.stream
    with contextlib.suppress(AttributeError):  # a streaming body, not read, has none
        sent._content = request._content
    return sent
