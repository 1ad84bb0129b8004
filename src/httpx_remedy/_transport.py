"""The transports: thin drivers that carry out the flows' commands, sync and async.

They send, read, close, sleep, lock and call, and decide nothing: every decision is made in the
core (``_first_send`` for the first send and whether its outcome needs recovery, ``_recovery``
and ``_token_flow`` for everything after, ``_commands`` for how long a wait lasts). A 2xx response
goes straight back to httpx, unread and untouched.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import anyio
import anyio.to_thread

from ._body import ReadBody
from ._classify import MAX_ERROR_BODY
from ._commands import (
    CallSource,
    Close,
    Command,
    Flow,
    Locked,
    Send,
    Sleep,
    StoreOp,
    T,
    sleep_seconds,
    unknown_command,
)
from ._device import DeviceCode
from ._dpop import DPoPKey, Proof
from ._first_send import (
    DETOUR,
    POLICY,
    RETRY_EXTENSION,
    SENT,
    Start,
    enters_flow,
    pause_before_send,
    plain_start,
    prepare,
    start_of,
)
from ._grants import ClientCredentials, Grant, RefreshToken
from ._http import (
    ASYNC_BASE_TRANSPORTS,
    BASE_TRANSPORTS,
    TRANSPORT_ERRORS,
    URL,
    AsyncBaseTransport,
    BaseTransport,
    CertTypes,
    Limits,
    Origin,
    ProxyTypes,
    Request,
    Response,
    SocketOption,
    VerifyTypes,
    default_transport,
    origin_of,
    see_httpx2,
    set_authorization,
    stack_of,
)
from ._listen import Listener
from ._manager import TokenManager
from ._pacing import hear_quota, pace_first_send
from ._policy import DEFAULT_RETRY, Retry
from ._quota import QUOTA_NAMES
from ._read import read_async, read_sync
from ._settings import Auth, Settings
from ._sources import AsyncTokenSource, TokenSource
from ._store import Store
from ._token import Token, require_secure

if TYPE_CHECKING:
    from ._recovery import run
    from ._token_flow import first_token
else:

    def run(*args: Any) -> Any:
        """``_recovery.run``, loaded with the first error (the recovery flow and the token
        flow are a fifth of ``import httpx_remedy``, and a 2xx never needs them)."""
        from ._recovery import run

        return run(*args)

    def first_token(*args: Any) -> Any:
        """``_token_flow.first_token``, loaded with the first token fetched."""
        from ._token_flow import first_token

        return first_token(*args)


#: What a sync transport takes as ``credentials=``.
SyncCredentials = ClientCredentials | RefreshToken | DeviceCode | TokenSource
#: What an async transport takes as ``credentials=``.
AsyncCredentials = ClientCredentials | RefreshToken | DeviceCode | TokenSource | AsyncTokenSource

Wrapped = TypeVar("Wrapped", BaseTransport, AsyncBaseTransport)
Credentials = TypeVar("Credentials", SyncCredentials, AsyncCredentials)


_managers: weakref.WeakKeyDictionary[object, TokenManager] = weakref.WeakKeyDictionary()


def _auth_of(
    credentials: object,
    origins: Iterable[str] | None,
    step_up: bool,
    store: Store | None,
    is_async: bool,
    dpop: DPoPKey | None = None,
) -> Auth | None:
    """The transport's view of its credentials, with the token state shared per credentials."""
    if credentials is None:
        if dpop is not None:
            raise ValueError("dpop= is the key of a token source's DPoP tokens: pass credentials")
        return None
    if isinstance(credentials, Grant):
        if dpop is not None and dpop != credentials.dpop:
            raise ValueError(
                f"pass the DPoP key to the credentials ({type(credentials).__name__}(..., "
                "dpop=key)), whose token requests prove possession of it too; the transport's "
                "dpop= is for a token source"
            )
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
            "credentials must be ClientCredentials, RefreshToken, DeviceCode or a TokenSource"
            + (" / AsyncTokenSource" if is_async else "")
            + f", not {credentials!r}"
        )
    if dpop is not None and not isinstance(credentials, Grant):
        manager.use_key(dpop)
    bound: frozenset[Origin] | None = None
    if origins is not None:
        named = [origins] if isinstance(origins, str) else list(origins)
        for origin in named:
            require_secure(origin, "access tokens")
        bound = frozenset(origin_of(URL(origin)) for origin in named)
    # The credentials' own store first; else the transport's.
    shared = getattr(credentials, "store", None) if isinstance(credentials, Grant) else None
    return Auth(credentials, manager, bound, bool(step_up), shared or store)


def _wrapped(transport: Any, options: dict[str, Any], owner: str, *, is_async: bool) -> Any:
    """The transport to wrap, checked; httpx's own, built with ``options``, when none is given
    (the arguments of ``httpx.HTTPTransport`` given to ``owner``, None left out)."""
    see_httpx2()  # an httpx2 transport: httpx2 joins the stacks before the check below
    kinds = ASYNC_BASE_TRANSPORTS if is_async else BASE_TRANSPORTS
    given = [name for name, value in options.items() if value is not None]
    if transport is None:
        return default_transport(is_async, {name: options[name] for name in given})
    if given:
        built = "httpx.AsyncHTTPTransport" if is_async else "httpx.HTTPTransport"
        names = ", ".join(given)
        raise TypeError(
            f"{owner}(transport, {given[0]}=...) cannot apply {names}: the transport it wraps "
            f"is already built. Pass {names} to that transport ({built}({given[0]}=...)), or "
            f"leave transport out and {owner} builds one with them"
        )
    if not isinstance(transport, kinds):
        kind = "httpx.AsyncBaseTransport" if is_async else "httpx.BaseTransport"
        raise TypeError(f"transport must be an {kind}, not {transport!r}")
    return transport


def _build_settings(
    retry: Retry | None,
    raise_errors: bool,
    max_error_body: int,
    transport: object,
    store: Store | None,
    auth: Auth | None,
    listeners: Iterable[Listener] = (),
) -> Settings:
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
    own = tuple(listeners)
    for listener in own:
        if not callable(listener):
            raise TypeError(f"a listener must be callable, not {listener!r}")
    return Settings(
        listeners=own,
        store=store,
        retry=retry,
        raise_errors=bool(raise_errors),
        max_error_body=max_error_body,
        auth=auth,
        stack=stack_of(transport),
    )


class _RemedyTransportBase(Generic[Wrapped, Credentials]):
    """What the sync and async transports share: their arguments, their settings, their repr."""

    _is_async: ClassVar[bool]
    _sleep: Callable[[float], Any]

    def __init__(
        self,
        transport: Wrapped | None = None,
        *,
        retry: Retry | None = DEFAULT_RETRY,
        raise_errors: bool = True,
        max_error_body: int = MAX_ERROR_BODY,
        credentials: Credentials | None = None,
        origins: Iterable[str] | None = None,
        step_up: bool = False,
        store: Store | None = None,
        verify: VerifyTypes | None = None,
        cert: CertTypes | None = None,
        trust_env: bool | None = None,
        http1: bool | None = None,
        http2: bool | None = None,
        limits: Limits | None = None,
        proxy: ProxyTypes | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int | None = None,
        socket_options: Iterable[SocketOption] | None = None,
        dpop: DPoPKey | None = None,
        listeners: Iterable[Listener] = (),
    ) -> None:
        inner = {
            "verify": verify,
            "cert": cert,
            "trust_env": trust_env,
            "http1": http1,
            "http2": http2,
            "limits": limits,
            "proxy": proxy,
            "uds": uds,
            "local_address": local_address,
            "retries": retries,
            "socket_options": socket_options,
        }
        self._transport: Wrapped = _wrapped(
            transport, inner, type(self).__name__, is_async=self._is_async
        )
        self._settings = _build_settings(
            retry,
            raise_errors,
            max_error_body,
            self._transport,
            store,
            _auth_of(credentials, origins, step_up, store, is_async=self._is_async, dpop=dpop),
            listeners,
        )

    @property
    def transport(self) -> Wrapped:
        """The wrapped transport."""
        return self._transport

    @property
    def retry(self) -> Retry | None:
        """The default retry policy."""
        return self._settings.retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._transport!r}, retry={self._settings.retry!r})"

    def _use_clock(
        self,
        monotonic: Callable[[], float] | None,
        wall: Callable[[], float] | None,
        sleep: Callable[[float], Any] | None,
    ) -> None:
        """Read time from ``monotonic`` and ``wall`` and wait with ``sleep`` from now on (see
        ``httpx_remedy.testing.use_clock``); None leaves that one as it is."""
        settings = self._settings
        self._settings = dataclasses.replace(
            settings,
            clock=monotonic or settings.clock,
            wall_clock=wall or settings.wall_clock,
        )
        if sleep is not None:
            self._sleep = sleep


class RemedyTransport(_RemedyTransportBase[BaseTransport, SyncCredentials], BaseTransport):
    """An ``httpx.BaseTransport`` that turns error responses into typed exceptions and applies
    the catalog's fixes (retry with backoff, token refresh) around the transport it wraps.

    Args:
        transport: the transport to wrap; default ``httpx.HTTPTransport()``, built with the
            connection arguments below.
        retry: the :class:`Retry` policy; ``None`` turns retrying off. The default is
            ``Retry()``. A request can override it with
            ``extensions={"remedy.retry": Retry(...)}``.
        raise_errors: False returns error responses as they are instead of raising.
        max_error_body: the most bytes read from an error body (default 64 KiB).
        credentials: :class:`ClientCredentials`, :class:`RefreshToken`, :class:`DeviceCode` or
            a :class:`TokenSource`: the transport attaches its access token, refreshes it before
            it expires and once when the server rejects it, and replays the request. A DPoP
            token (``token_type=DPoP``) goes as ``Authorization: DPoP`` with a proof on every
            request (RFC 9449); a Bearer token never carries one.
        origins: the origins (``https://api.example.com``) this transport may send the token
            to; they apply to this transport alone. Default: the credentials' own binding,
            shared by every transport given no ``origins=``: the origin of the first request
            any of them sends with these credentials (decided once). No other origin ever gets
            the token, redirects included.
        step_up: on ``insufficient_scope``, fetch a token for the missing scope on top of the
            current ones and replay once, instead of raising at once.
        store: a :class:`Store` (``MemoryStore``, ``RedisStore``) shared with other processes:
            a 429/503 with a server delay pauses the origin in every process, and the
            credentials' token is shared when they have no store of their own.
        verify: TLS verification for the ``httpx.HTTPTransport`` built when no ``transport``
            is given (see the note below), as httpx takes it: False, a CA bundle path or an
            ``ssl.SSLContext``.
        cert: the client certificate for that transport.
        trust_env: whether it reads the proxy and TLS settings of the environment.
        http1: whether it speaks HTTP/1.1.
        http2: whether it speaks HTTP/2 (needs ``pip install 'httpx[http2]'``).
        limits: its ``httpx.Limits`` (connection pool sizes, keep-alive).
        proxy: its proxy URL or ``httpx.Proxy``.
        uds: a Unix domain socket to connect through.
        local_address: the local IP address to connect from.
        retries: how many times it retries a failed connection attempt, below this transport.
        socket_options: its socket options.

    **Connection settings.** httpx ignores a client's own ``verify``, ``cert``, ``http2``,
    ``limits``, ``proxy``, ``trust_env`` ... when it is given a ``transport`` (its rule for
    explicit transports): ``httpx.Client(transport=RemedyTransport(), verify=False)`` still
    verifies. Give them to this transport instead (``RemedyTransport(verify=False)``), which
    passes them to the ``httpx.HTTPTransport`` it builds; None leaves httpx's default. With
    ``transport=``, configure that transport yourself: passing these as well raises
    ``TypeError``. Or build the client as usual (``httpx.Client(verify=False, http2=True)``)
    and :func:`wrap` it: its transports keep those settings.
        dpop: the :class:`DPoPKey` that proves possession of the DPoP tokens a
            :class:`TokenSource` returns. A grant takes its key itself
            (``ClientCredentials(..., dpop=key)``): its token requests carry proofs too.
        listeners: callables that receive every event of this transport (retries, token
            fetches, the final outcome of a failed request: see ``httpx_remedy.events``), as
            well as the process-wide ones (:func:`set_listeners`); one that raises never
            breaks a request.
    """

    _is_async = False
    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def handle_request(self, request: Request) -> Response:
        settings = self._settings
        if settings.plain and RETRY_EXTENSION not in request.extensions:
            # No policy, no credentials, no store: typed errors only (see Settings.plain).
            started = settings.clock()
            response = self._transport.handle_request(request)
            if response.status_code < 400 or not settings.raise_errors:
                return response
            start = plain_start(settings, request, started)
            return self._drive(run(settings, request, response, start, None))
        prepared = prepare(settings, request)
        request = prepared[SENT]  # a copy of the user's when it carries our token
        if prepared[DETOUR]:
            return self._detour(request, start_of(prepared))
        try:
            response = self._transport.handle_request(request)
        except TRANSPORT_ERRORS as error:
            start = start_of(prepared)
            if not enters_flow(start, None):
                raise
            return self._drive(run(settings, request, error, start, start.token))
        policy = prepared[POLICY]
        # The gate every response passes, 2xx included: a quota the server announces
        # (_quota.mentions_quota, inlined: a plain loop over the names httpx keeps lower-cased).
        if policy is not None and policy.pace is not None:
            for row in response.headers._list:
                if row[1] in QUOTA_NAMES:
                    self._heard_quota(request, policy, response)
                    break
        # enters_flow() is False below 400: a 2xx or 3xx costs one comparison.
        if response.status_code < 400:
            return response
        start = start_of(prepared)
        if not enters_flow(start, response.status_code):
            return response
        return self._drive(run(settings, request, response, start, start.token))

    def _heard_quota(self, request: Request, policy: Retry | None, response: Response) -> None:
        """Take in the quota a first send's response announces (shared through the store
        when it is spent)."""
        share = hear_quota(self._settings, request, policy, response)
        if share is not None:
            self._execute(share)

    def _detour(self, request: Request, start: Start) -> Response:
        """The first send when something comes before it (``Start.detour``): the pace a
        quota asks for, a pause heard from the store, the token to fetch, a DPoP proof to
        sign."""
        settings = self._settings
        policy = start.policy
        pace = pace_first_send(settings, request, policy)
        if pace is not None:
            self._execute(pace)
        if settings.store is not None:
            pause = pause_before_send(settings, request, policy)
            if pause is not None:
                self._execute(pause)
        token = start.token
        if start.auth is not None and token is None:
            token = start.auth.manager.current(start.started)
            if token is None:
                token = self._drive(first_token(settings, request, start))[0]
            set_authorization(request, token.authorization)
            if token._dpop is not None:
                return self._send_proven(request, start, token, token._dpop)
        try:
            response = self._transport.handle_request(request)
        except TRANSPORT_ERRORS as error:
            if not enters_flow(start, None):
                raise
            return self._drive(run(settings, request, error, start, token))
        self._heard_quota(request, policy, response)
        if not enters_flow(start, response.status_code):
            return response
        return self._drive(run(settings, request, response, start, token))

    def _send_proven(self, request: Request, start: Start, token: Token, proof: Proof) -> Response:
        """The first send of a request carrying a DPoP token: with its proof, and the nonce
        the answer brings remembered (a 2xx's too)."""
        settings = self._settings
        proof.sign(request, settings.wall_clock())
        try:
            response = self._transport.handle_request(request)
        except TRANSPORT_ERRORS as error:
            if not enters_flow(start, None):
                raise
            return self._drive(run(settings, request, error, start, token))
        proof.heard(request, response)
        self._heard_quota(request, start.policy, response)
        if not enters_flow(start, response.status_code):
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
            return read_sync(command)
        if isinstance(command, Close):
            command.response.close()
            return None
        if isinstance(command, Sleep):
            seconds = sleep_seconds(command)
            if seconds and command.cancel is not None and self._sleep is time.sleep:
                command.cancel.wait(seconds)
            elif seconds:
                self._sleep(seconds)
            return None
        if isinstance(command, Locked):
            return self._drive(command)
        if isinstance(command, StoreOp):
            return getattr(command.store, command.method)(*command.args)
        if isinstance(command, CallSource):
            fetch_token = getattr(command.source, "fetch_token", None)
            if fetch_token is None:
                raise TypeError(f"{command.source!r} has no fetch_token() for a sync transport")
            return fetch_token(command.scope)
        return unknown_command(command)

    def close(self) -> None:
        self._transport.close()


class AsyncRemedyTransport(
    _RemedyTransportBase[AsyncBaseTransport, AsyncCredentials], AsyncBaseTransport
):
    """The ``httpx.AsyncBaseTransport`` twin of :class:`RemedyTransport`, with the same
    arguments: ``transport`` is an ``httpx.AsyncBaseTransport`` (default
    ``httpx.AsyncHTTPTransport()``, built with the connection arguments ``verify``, ``cert``,
    ``http2``, ``proxy``, ``limits``, ... when they are given, as for
    :class:`RemedyTransport`), and ``credentials`` may also be an :class:`AsyncTokenSource` (a
    sync :class:`TokenSource` is called in a worker thread). Sleeps and locks with anyio, so it
    runs under asyncio and trio alike.
    """

    _is_async = True
    _sleep: Callable[[float], Awaitable[None]] = staticmethod(anyio.sleep)

    async def handle_async_request(self, request: Request) -> Response:
        settings = self._settings
        if settings.plain and RETRY_EXTENSION not in request.extensions:
            # No policy, no credentials, no store: typed errors only (see Settings.plain).
            started = settings.clock()
            response = await self._transport.handle_async_request(request)
            if response.status_code < 400 or not settings.raise_errors:
                return response
            start = plain_start(settings, request, started)
            return await self._drive(run(settings, request, response, start, None))
        prepared = prepare(settings, request)
        request = prepared[SENT]  # a copy of the user's when it carries our token
        if prepared[DETOUR]:
            return await self._detour(request, start_of(prepared))
        try:
            response = await self._transport.handle_async_request(request)
        except TRANSPORT_ERRORS as error:
            start = start_of(prepared)
            if not enters_flow(start, None):
                raise
            return await self._drive(run(settings, request, error, start, start.token))
        policy = prepared[POLICY]
        # The gate every response passes, 2xx included: a quota the server announces
        # (_quota.mentions_quota, inlined: a plain loop over the names httpx keeps lower-cased).
        if policy is not None and policy.pace is not None:
            for row in response.headers._list:
                if row[1] in QUOTA_NAMES:
                    await self._heard_quota(request, policy, response)
                    break
        # enters_flow() is False below 400: a 2xx or 3xx costs one comparison.
        if response.status_code < 400:
            return response
        start = start_of(prepared)
        if not enters_flow(start, response.status_code):
            return response
        return await self._drive(run(settings, request, response, start, start.token))

    async def _heard_quota(
        self, request: Request, policy: Retry | None, response: Response
    ) -> None:
        """Take in the quota a first send's response announces (shared through the store
        when it is spent)."""
        share = hear_quota(self._settings, request, policy, response)
        if share is not None:
            await self._execute(share)

    async def _detour(self, request: Request, start: Start) -> Response:
        """The first send when something comes before it (``Start.detour``): the pace a
        quota asks for, a pause heard from the store, the token to fetch, a DPoP proof to
        sign."""
        settings = self._settings
        policy = start.policy
        pace = pace_first_send(settings, request, policy)
        if pace is not None:
            await self._execute(pace)
        if settings.store is not None:
            pause = pause_before_send(settings, request, policy)
            if pause is not None:
                await self._execute(pause)
        token = start.token
        if start.auth is not None and token is None:
            token = start.auth.manager.current(start.started)
            if token is None:
                token = (await self._drive(first_token(settings, request, start)))[0]
            set_authorization(request, token.authorization)
            if token._dpop is not None:
                return await self._send_proven(request, start, token, token._dpop)
        try:
            response = await self._transport.handle_async_request(request)
        except TRANSPORT_ERRORS as error:
            if not enters_flow(start, None):
                raise
            return await self._drive(run(settings, request, error, start, token))
        await self._heard_quota(request, policy, response)
        if not enters_flow(start, response.status_code):
            return response
        return await self._drive(run(settings, request, response, start, token))

    async def _send_proven(
        self, request: Request, start: Start, token: Token, proof: Proof
    ) -> Response:
        """The first send of a request carrying a DPoP token: with its proof, and the nonce
        the answer brings remembered (a 2xx's too)."""
        settings = self._settings
        proof.sign(request, settings.wall_clock())
        try:
            response = await self._transport.handle_async_request(request)
        except TRANSPORT_ERRORS as error:
            if not enters_flow(start, None):
                raise
            return await self._drive(run(settings, request, error, start, token))
        proof.heard(request, response)
        await self._heard_quota(request, start.policy, response)
        if not enters_flow(start, response.status_code):
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
            return await read_async(command)
        if isinstance(command, Close):
            await command.response.aclose()
            return None
        if isinstance(command, Sleep):
            seconds = sleep_seconds(command)
            if seconds and command.cancel is not None and self._sleep is anyio.sleep:
                await _wait_event(command.cancel, seconds)
            elif seconds:
                await self._sleep(seconds)
            return None
        if isinstance(command, Locked):
            return await self._drive(command)
        if isinstance(command, StoreOp):
            return await getattr(command.store, "a" + command.method)(*command.args)
        if isinstance(command, CallSource):
            afetch_token = getattr(command.source, "afetch_token", None)
            if afetch_token is not None:
                return await afetch_token(command.scope)
            # A sync source runs in a worker thread, so it never blocks the event loop.
            fetch_token = getattr(command.source, "fetch_token", None)
            if fetch_token is None:
                raise TypeError(f"{command.source!r} has neither afetch_token() nor fetch_token()")
            return await anyio.to_thread.run_sync(fetch_token, command.scope)
        return unknown_command(command)

    async def aclose(self) -> None:
        await self._transport.aclose()


async def _wait_event(event: threading.Event, seconds: float) -> None:
    """Sleep ``seconds`` on the event loop, ending early once ``event`` (a thread's) is set."""
    with anyio.move_on_after(seconds):
        while not event.is_set():
            await anyio.sleep(_EVENT_POLL)


#: How often an async wait looks at a thread's cancel event.
_EVENT_POLL = 0.05
