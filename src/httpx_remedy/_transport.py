"""The transports: thin drivers that carry out the request flow, sync and async.

They send, read, close, sleep, and nothing else; every decision is made in ``_flow`` and the
pure modules below it. A 2xx response goes straight back to httpx, unread and untouched.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, overload

import anyio
import anyio.to_thread

from . import _policy
from ._body import BodyRead, ReadBody, cut_note, read_body
from ._classify import MAX_ERROR_BODY, build_error, describe, error_scrubber
from ._flow import (
    Auth,
    Close,
    Command,
    Flow,
    Locked,
    Send,
    Settings,
    Sleep,
    StoreOp,
    T,
    begin,
    first_token,
    pause_before_send,
    run,
)
from ._grants import Grant
from ._http import (
    ASYNC_BASE_TRANSPORTS,
    ASYNC_CLIENTS,
    BASE_TRANSPORTS,
    CLIENTS,
    SYNC_BYTE_STREAMS,
    TRANSPORT_ERRORS,
    URL,
    AsyncBaseTransport,
    AsyncClient,
    BaseTransport,
    Client,
    Origin,
    Request,
    Response,
    body_in_memory,
    buffered,
    decode_body,
    default_transport,
    origin_of,
    origin_text,
    set_authorization,
    stack_of,
)
from ._manager import TokenManager
from ._policy import Attempt, Retry
from ._redact import redact_url
from ._sources import AsyncTokenSource, TokenSource
from ._store import Store
from ._token import require_secure

_DEFAULT: Any = object()

# How reading an error body may end: its end, a body that breaks off, or one already consumed
# (httpx.StreamConsumed is a RuntimeError). What was read until then still counts.
BODY_END: tuple[type[BaseException], ...] = (StopIteration, RuntimeError, *TRANSPORT_ERRORS)
ASYNC_BODY_END: tuple[type[BaseException], ...] = (
    StopAsyncIteration,
    RuntimeError,
    *TRANSPORT_ERRORS,
)


_managers: weakref.WeakKeyDictionary[object, TokenManager] = weakref.WeakKeyDictionary()


def _auth(
    credentials: object,
    origins: Iterable[str] | None,
    step_up: bool,
    store: Store | None,
    is_async: bool,
) -> Auth | None:
    """The transport's view of its credentials, with the token state shared per credentials."""
    if credentials is None:
        return None
    if isinstance(credentials, Grant):
        manager = credentials.manager
    elif isinstance(credentials, TokenSource) or (
        is_async and isinstance(credentials, AsyncTokenSource)
    ):
        try:
            manager = _managers.setdefault(credentials, TokenManager(credentials))
        except TypeError:  # not weak-referenceable: this transport's own state
            manager = TokenManager(credentials)
    else:
        raise TypeError(
            "credentials must be ClientCredentials, RefreshToken or a TokenSource"
            + (" / AsyncTokenSource" if is_async else "")
            + f", not {credentials!r}"
        )
    bound: frozenset[Origin] | None = None
    if origins is not None:
        named = [origins] if isinstance(origins, str) else list(origins)
        for origin in named:
            require_secure(origin, "access tokens")
        bound = frozenset(origin_of(URL(origin)) for origin in named)
    # The credentials' own store first; else the transport's.
    shared = getattr(credentials, "store", None) if isinstance(credentials, Grant) else None
    return Auth(credentials, manager, bound, bool(step_up), shared or store)


def _wrapped(transport: Any, *, is_async: bool) -> Any:
    """The transport to wrap, checked; httpx's own when none is given."""
    kinds = ASYNC_BASE_TRANSPORTS if is_async else BASE_TRANSPORTS
    if transport is None:
        return default_transport(is_async=is_async)
    if not isinstance(transport, kinds):
        kind = "httpx.AsyncBaseTransport" if is_async else "httpx.BaseTransport"
        raise TypeError(f"transport must be an {kind}, not {transport!r}")
    return transport


def _settings(
    retry: Retry | None,
    raise_errors: bool,
    max_error_body: int,
    transport: object,
    store: Store | None,
    auth: Auth | None,
) -> Settings:
    if retry is _DEFAULT:
        retry = Retry()
    if retry is not None and not isinstance(retry, Retry):
        raise TypeError(f"retry must be a httpx_remedy.Retry or None, not {retry!r}")
    if (
        isinstance(max_error_body, bool)
        or not isinstance(max_error_body, int)
        or (max_error_body < 0)
    ):
        raise ValueError(f"max_error_body must be an int >= 0, not {max_error_body!r}")
    if store is not None and not isinstance(store, Store):
        raise TypeError(f"store must be a httpx_remedy.Store, not {store!r}")
    return Settings(
        store=store,
        retry=retry,
        raise_errors=bool(raise_errors),
        max_error_body=max_error_body,
        auth=auth,
        stack=stack_of(transport),
    )


_DOC_ARGS = """
    Args:
        transport: the transport to wrap; default ``httpx.HTTPTransport()``.
        retry: the :class:`Retry` policy; ``None`` turns retrying off. A request can override
            it with ``extensions={"remedy.retry": Retry(...)}``.
        raise_errors: False returns error responses as they are instead of raising.
        max_error_body: the most bytes read from an error body (default 64 KiB).
        credentials: :class:`ClientCredentials`, :class:`RefreshToken` or a
            :class:`TokenSource`: the transport attaches its access token, refreshes it before
            it expires and once when the server rejects it, and replays the request.
        origins: the origins (``https://api.example.com``) this transport may send the token
            to; they apply to this transport alone. Default: the credentials' own binding,
            shared by every transport given no ``origins=``: the origin of the first request
            any of them sends with these credentials (decided once). No other origin ever gets
            the token, redirects included.
        step_up: on ``insufficient_scope``, fetch a token for the missing scope on top of the
            current ones and replay once, instead of raising at once.
"""


class RemedyTransport(BaseTransport):
    """An ``httpx.BaseTransport`` that turns error responses into typed exceptions and applies
    the catalog's fixes (retry with backoff, token refresh) around the transport it wraps.
    """

    __doc__ = (__doc__ or "") + _DOC_ARGS

    def __init__(
        self,
        transport: BaseTransport | None = None,
        *,
        retry: Retry | None = _DEFAULT,
        raise_errors: bool = True,
        max_error_body: int = MAX_ERROR_BODY,
        credentials: Grant | TokenSource | None = None,
        origins: Iterable[str] | None = None,
        step_up: bool = False,
        store: Store | None = None,
    ) -> None:
        self._transport: BaseTransport = _wrapped(transport, is_async=False)
        self._settings = _settings(
            retry,
            raise_errors,
            max_error_body,
            self._transport,
            store,
            _auth(credentials, origins, step_up, store, is_async=False),
        )
        self._sleep: Callable[[float], None] = time.sleep

    @property
    def transport(self) -> BaseTransport:
        """The wrapped transport."""
        return self._transport

    @property
    def retry(self) -> Retry | None:
        """The default retry policy."""
        return self._settings.retry

    def __repr__(self) -> str:
        return f"RemedyTransport({self._transport!r}, retry={self._settings.retry!r})"

    def handle_request(self, request: Request) -> Response:
        settings = self._settings
        start = begin(settings, request)
        policy, started, auth, _ = start
        if settings.store is not None:
            pause = pause_before_send(settings, request, policy)
            if pause is not None:
                self._execute(pause)
        token = None
        if auth is not None:
            token = auth.manager.current(started)
            if token is None:
                token = self._drive(first_token(settings, request, start))[0]
            set_authorization(request, token.authorization)
        try:
            response = self._transport.handle_request(request)
        except TRANSPORT_ERRORS as error:
            if policy is None:
                raise
            return self._drive(run(settings, request, error, start, token))
        if response.status_code < 400 or (
            policy is None and not settings.raise_errors and token is None
        ):
            return response
        return self._drive(run(settings, request, response, start, token))

    def _drive(self, flow: Flow[T] | Locked) -> T:
        if isinstance(flow, Locked):
            lock = flow.manager.sync_lock
            if not lock.acquire(timeout=flow.wait):
                flow.flow.close()
                raise flow.timed_out()
            try:
                return self._drive(flow.flow)  # type: ignore[no-any-return]
            finally:
                lock.release()
        value: object = None
        failure: Exception | None = None
        while True:
            try:
                command = flow.throw(failure) if failure is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, failure = None, None
            try:
                value = self._execute(command)
            except Exception as error:
                failure = error

    def _execute(self, command: Command) -> object:
        if isinstance(command, Send):
            return self._transport.handle_request(command.request)
        if isinstance(command, ReadBody):
            return _read_sync(command)
        if isinstance(command, Close):
            command.response.close()
        elif isinstance(command, Sleep):
            if command.seconds > 0 and (command.always or not _policy.waits_disabled()):
                self._sleep(command.seconds)
        elif isinstance(command, Locked):
            return self._drive(command)
        elif isinstance(command, StoreOp):
            return getattr(command.store, command.method)(*command.args)
        else:
            fetch_token = getattr(command.source, "fetch_token", None)
            if fetch_token is None:
                raise TypeError(f"{command.source!r} has no fetch_token() for a sync transport")
            return fetch_token(command.scope)
        return None

    def close(self) -> None:
        self._transport.close()


class AsyncRemedyTransport(AsyncBaseTransport):
    """The ``httpx.AsyncBaseTransport`` twin of :class:`RemedyTransport`, with the same
    arguments. Sleeps and locks with anyio, so it runs under asyncio and trio alike.
    """

    __doc__ = (__doc__ or "") + _DOC_ARGS

    def __init__(
        self,
        transport: AsyncBaseTransport | None = None,
        *,
        retry: Retry | None = _DEFAULT,
        raise_errors: bool = True,
        max_error_body: int = MAX_ERROR_BODY,
        credentials: Grant | TokenSource | AsyncTokenSource | None = None,
        origins: Iterable[str] | None = None,
        step_up: bool = False,
        store: Store | None = None,
    ) -> None:
        self._transport: AsyncBaseTransport = _wrapped(transport, is_async=True)
        self._settings = _settings(
            retry,
            raise_errors,
            max_error_body,
            self._transport,
            store,
            _auth(credentials, origins, step_up, store, is_async=True),
        )
        self._sleep: Callable[[float], Awaitable[None]] = anyio.sleep

    @property
    def transport(self) -> AsyncBaseTransport:
        """The wrapped transport."""
        return self._transport

    @property
    def retry(self) -> Retry | None:
        """The default retry policy."""
        return self._settings.retry

    def __repr__(self) -> str:
        return f"AsyncRemedyTransport({self._transport!r}, retry={self._settings.retry!r})"

    async def handle_async_request(self, request: Request) -> Response:
        settings = self._settings
        start = begin(settings, request)
        policy, started, auth, _ = start
        if settings.store is not None:
            pause = pause_before_send(settings, request, policy)
            if pause is not None:
                await self._execute(pause)
        token = None
        if auth is not None:
            token = auth.manager.current(started)
            if token is None:
                token = (await self._drive(first_token(settings, request, start)))[0]
            set_authorization(request, token.authorization)
        try:
            response = await self._transport.handle_async_request(request)
        except TRANSPORT_ERRORS as error:
            if policy is None:
                raise
            return await self._drive(run(settings, request, error, start, token))
        if response.status_code < 400 or (
            policy is None and not settings.raise_errors and token is None
        ):
            return response
        return await self._drive(run(settings, request, response, start, token))

    async def _drive(self, flow: Flow[T] | Locked) -> T:
        if isinstance(flow, Locked):
            lock = flow.manager.async_lock()
            try:
                lock.acquire_nowait()
            except anyio.WouldBlock:
                acquired = False
                with anyio.move_on_after(flow.wait):
                    await lock.acquire()
                    acquired = True
                if not acquired:
                    flow.flow.close()
                    raise flow.timed_out() from None
            try:
                return await self._drive(flow.flow)
            finally:
                lock.release()
        value: object = None
        failure: Exception | None = None
        while True:
            try:
                command = flow.throw(failure) if failure is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, failure = None, None
            try:
                value = await self._execute(command)
            except Exception as error:
                failure = error

    async def _execute(self, command: Command) -> object:
        if isinstance(command, Send):
            return await self._transport.handle_async_request(command.request)
        if isinstance(command, ReadBody):
            return await _read_async(command)
        if isinstance(command, Close):
            await command.response.aclose()
        elif isinstance(command, Sleep):
            if command.seconds > 0 and (command.always or not _policy.waits_disabled()):
                await self._sleep(command.seconds)
        elif isinstance(command, Locked):
            return await self._drive(command)
        elif isinstance(command, StoreOp):
            return await getattr(command.store, "a" + command.method)(*command.args)
        else:
            afetch_token = getattr(command.source, "afetch_token", None)
            if afetch_token is not None:
                return await afetch_token(command.scope)
            # A sync source runs in a worker thread, so it never blocks the event loop.
            fetch_token = getattr(command.source, "fetch_token", None)
            if fetch_token is None:
                raise TypeError(f"{command.source!r} has neither afetch_token() nor fetch_token()")
            return await anyio.to_thread.run_sync(fetch_token, command.scope)
        return None

    async def aclose(self) -> None:
        await self._transport.aclose()


def _read_sync(command: ReadBody) -> BodyRead:
    """The body as the command asks (at most ``limit`` bytes once decoded, no further chunk
    after ``seconds``); the response is closed either way.

    The raw stream is read, not ``iter_bytes()``: httpx would inflate a compressed body whole,
    and a body that fails to decode still yields its bytes.
    """
    response, limit = command.response, command.limit
    body = body_in_memory(response)
    if body is not None:
        response.close()
        return body[:limit], "size" if len(body) > limit else None
    raw = bytearray()
    late = False
    give_up = time.monotonic() + command.seconds
    iterator = iter(response.stream)  # type: ignore[arg-type]
    try:
        while len(raw) < limit:
            raw += next(iterator)
            if len(raw) < limit and time.monotonic() >= give_up:
                late = True
                break
    except BODY_END:
        # The end, a body that breaks off, or one already consumed: what was read still counts.
        pass
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        response.close()
    return _decoded(response, raw, limit, late)


async def _read_async(command: ReadBody) -> BodyRead:
    """The async twin of :func:`_read_sync`.

    The iterator is closed explicitly: an async generator left unfinished is reported (trio
    turns it into a ResourceWarning) when it is garbage collected.
    """
    response, limit = command.response, command.limit
    body = body_in_memory(response)
    if body is not None:
        await response.aclose()
        return body[:limit], "size" if len(body) > limit else None
    raw = bytearray()
    late = False
    give_up = time.monotonic() + command.seconds
    iterator = response.stream.__aiter__()  # type: ignore[union-attr]
    try:
        while len(raw) < limit:
            raw += await iterator.__anext__()
            if len(raw) < limit and time.monotonic() >= give_up:
                late = True
                break
    except ASYNC_BODY_END:
        pass
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        await response.aclose()
    return _decoded(response, raw, limit, late)


def _decoded(response: Response, raw: bytearray, limit: int, late: bool) -> BodyRead:
    """The body read, decoded within ``limit``, and why it stops short: a body exactly
    ``limit`` bytes long is not said to be cut (nothing more was read to tell)."""
    body, more = decode_body(response, bytes(raw[:limit]), limit)
    return body, "time" if late else "size" if more or len(raw) > limit else None


def raise_for_status(response: Response) -> Response:
    """Raise the typed error for ``response`` if it is a 4xx or 5xx; return it otherwise.

    Works on any response, without the transport (an ``event_hooks`` response hook, say). The
    body is used when it was read; an unread sync body is read up to 64 KiB (decoded) and for
    ``MAX_BODY_SECONDS`` at most; an unread async body is left alone (use
    :func:`araise_for_status`).
    """
    if response.status_code < 400:
        return response
    body = _body_of(response)
    cut = None
    if body is None and not _is_async_stream(response):
        command = read_body(response, MAX_ERROR_BODY)
        body, cut = _read_sync(command)
        response = buffered(response, body, response.request)
        cut = cut_note(command, cut, "error body", "64 KiB")
    raise _error_for(response, body, cut)


async def araise_for_status(response: Response) -> Response:
    """:func:`raise_for_status` for async responses: reads an unread body up to 64 KiB."""
    if response.status_code < 400:
        return response
    body = _body_of(response)
    cut = None
    if body is None:
        command = read_body(response, MAX_ERROR_BODY)
        body, cut = await _read_async(command)
        response = buffered(response, body, response.request)
        cut = cut_note(command, cut, "error body", "64 KiB")
    raise _error_for(response, body, cut)


def _body_of(response: Response) -> bytes | None:
    try:
        return response.content
    except Exception:
        return None


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


@overload
def wrap(client: Client, **options: Any) -> Client: ...
@overload
def wrap(client: AsyncClient, **options: Any) -> AsyncClient: ...
def wrap(client: Client | AsyncClient, **options: Any) -> Client | AsyncClient:
    """Wrap an existing client's default transport and every mounted one, in place.

    ``options`` are the transport's keyword arguments (``retry=``, ``raise_errors=``, ...).
    With ``credentials=`` and no ``origins=``, a client with a ``base_url`` sends the token to
    the origin of its ``base_url`` only (as if ``origins=[it]`` were given to every transport);
    one without shares the credentials' binding across its mounts (see ``origins``).
    Transports already wrapped are left as they are. Returns the client.
    """
    if options.get("credentials") is not None and "origins" not in options:
        base = client.base_url
        if base.host:
            options = {**options, "origins": [origin_text(origin_of(base))]}
    if isinstance(client, CLIENTS):

        def wrap_sync(transport: BaseTransport) -> BaseTransport:
            if isinstance(transport, RemedyTransport):
                return transport
            return RemedyTransport(transport, **options)

        client._transport = wrap_sync(client._transport)
        client._mounts = {
            pattern: None if t is None else wrap_sync(t) for pattern, t in client._mounts.items()
        }
        return client
    if isinstance(client, ASYNC_CLIENTS):

        def wrap_async(transport: AsyncBaseTransport) -> AsyncBaseTransport:
            if isinstance(transport, AsyncRemedyTransport):
                return transport
            return AsyncRemedyTransport(transport, **options)

        client._transport = wrap_async(client._transport)
        client._mounts = {
            pattern: None if t is None else wrap_async(t) for pattern, t in client._mounts.items()
        }
        return client
    raise TypeError(f"wrap() takes an httpx.Client or httpx.AsyncClient, not {client!r}")
