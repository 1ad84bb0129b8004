"""The token flows: the single-flight fetch of a new access token, in this process and across
processes sharing a store, within the time the request that needs the token has.

:func:`first_token` and :func:`token_lock` give the drivers a :class:`~._commands.Locked` flow
(:func:`authorize` under the credentials' lock); :func:`fetch` makes the token request (a request
like any other, recovered by ``_recovery``) or calls the user's token source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from . import _recovery
from ._body import BodyRead, cut_note, read_body, time_left
from ._catalog_errors import UseDPoPNonce
from ._classify import error_scrubber
from ._commands import CallSource, Flow, Locked, Sleep, StoreOp
from ._dpop import Proof
from ._exceptions import TokenWaitTimeout, token_endpoint_unreachable
from ._first_send import IDEMPOTENT_EXTENSION, RETRY_EXTENSION, Start, begin
from ._grants import MAX_TOKEN_BODY, Grant, parse_token_response
from ._http import TRANSPORT_ERRORS, Request
from ._listen import emit, listening
from ._manager import Ticket
from ._policy import NO_RETRY, Retry
from ._redact import redact_url
from ._settings import Settings
from ._store import Store
from ._token import Token, token_from_record, token_record

#: Seconds a token request may take for each phase (connect, read, write, pool) the client
#: gives no timeout for (``timeout=None``): a token endpoint that accepts the connection and
#: never answers must not hold up every request that needs the token for ever.
TOKEN_TIMEOUT = 30.0
_TIMEOUT_PHASES = ("connect", "read", "write", "pool")


@dataclass(frozen=True)
class TokenCall:
    """The time a token fetch has, inherited from the request that needs the token."""

    #: The token request's timeouts: the request's own, ``TOKEN_TIMEOUT`` for each it lacks.
    timeouts: dict[str, float]
    #: When the request's deadline ends (a clock reading), if the user set one; else None.
    deadline_at: float | None
    #: When the request stops waiting for another's fetch (a clock reading).
    wait_until: float
    #: When the request started waiting (a clock reading).
    since: float
    #: The limit behind ``wait_until`` and what the request did before, for the error.
    cap: str
    before: str

    def timed_out(self, holder: str, waited: float) -> TokenWaitTimeout:
        return TokenWaitTimeout(waited, self.cap, holder, self.before)


def token_call(
    settings: Settings, request: Request, policy: Retry | None, started: float, before: str
) -> TokenCall:
    """The time a token fetch for ``request`` has: the token request goes out with the
    request's own timeouts (``TOKEN_TIMEOUT`` for each it lacks); a deadline the user set
    shrinks them to the time left, and bounds the token request's retries. Waiting for another
    request's fetch stops at the request's longest timeout, or at its deadline if sooner."""
    now = settings.clock()
    timeouts = dict.fromkeys(_TIMEOUT_PHASES, TOKEN_TIMEOUT)
    given = request.extensions.get("timeout")
    if isinstance(given, dict):
        timeouts.update((phase, value) for phase, value in given.items() if value is not None)
    longest = max(timeouts.values())
    wait_until, cap = now + longest, f"its longest timeout ({longest:g}s)"
    deadline_at = None
    if policy is not None and policy.shrinks_timeouts:
        assert policy.deadline is not None
        deadline_at = started + policy.deadline
        if deadline_at <= wait_until:
            wait_until, cap = deadline_at, f"its deadline ({policy.deadline:g}s)"
    return TokenCall(timeouts, deadline_at, wait_until, now, cap, before)


def token_lock(
    settings: Settings, call: TokenCall, rejected: Token | None, scope: str | None
) -> Locked:
    """The single-flight token fetch for one request: :func:`authorize` under the lock, which
    the request waits for no longer than its time allows."""
    auth = settings.auth
    assert auth is not None
    wait = max(call.wait_until - settings.clock(), 0.0)
    ticket = auth.manager.join_queue()  # given back when the flow starts under the lock
    return Locked(auth.manager, authorize(settings, rejected, scope, call, ticket), wait, call)


def first_token(settings: Settings, request: Request, start: Start) -> Locked:
    """The token fetch before a request's first send (none yet, or it is due for refresh)."""
    before = f"before sending {request.method} {redact_url(request.url)}"
    call = token_call(settings, request, start.policy, start.started, before)
    return token_lock(settings, call, None, None)


def authorize(
    settings: Settings,
    rejected: Token | None,
    scope: str | None,
    call: TokenCall,
    ticket: Ticket | None = None,
) -> Flow[tuple[Token, bool]]:
    """Under the manager's lock: the token to use, and whether it was fetched just now.

    Another request may have replaced ``rejected`` while this one waited for the lock; then
    that token is used and nothing is fetched. A fetch that fails for good is remembered, so
    the token endpoint is not asked again on every request.
    """
    auth = settings.auth
    assert auth is not None
    if ticket is not None:
        auth.manager.leave_queue(ticket)
    now = settings.clock()
    token = auth.manager.reusable(rejected, now, scope)
    if token is not None:
        if listening(settings):
            from ._events import TokenReused  # loaded by the first event (import time)

            emit(settings, TokenReused(now, False))
        return token, False
    store = auth.store
    if store is None or scope is not None or not isinstance(auth.source, Grant):
        return (yield from _fetch_for(settings, rejected, scope, call))
    if auth.source.logs_in(None):
        return (yield from _login_shared(settings, store, auth.source, rejected, call))
    return (yield from _authorize_shared(settings, store, auth.source, rejected, call))


def _fetch_for(
    settings: Settings, rejected: Token | None, scope: str | None, call: TokenCall
) -> Flow[tuple[Token, bool]]:
    """Fetch a token; a failure for good is remembered, a passing one keeps the current."""
    auth = settings.auth
    assert auth is not None
    grant = grant_name(auth.source, scope)
    began = settings.clock()
    try:
        token = yield from fetch(settings, scope, call)
    except Exception as error:
        now = settings.clock()
        fallback = auth.manager.failed(error, rejected, now, scope)
        if listening(settings):
            from ._events import TokenFetchFailed

            remembered = auth.manager.rejection is error
            failed = TokenFetchFailed(
                now, grant, type(error).__name__, remembered, fallback is not None
            )
            emit(settings, failed)
        if fallback is None:
            raise
        return fallback, False
    if scope is not None and isinstance(auth.source, Grant):
        auth.source.scope = scope
    if listening(settings):
        from ._events import TokenFetched

        now = settings.clock()
        proactive = rejected is None and scope is None
        waiting = auth.manager.queued
        fetched = TokenFetched(now, grant, now - began, proactive, waiting, scope, call.before)
        emit(settings, fetched)
    return auth.manager.store(token), True


def grant_name(source: object, scope: str | None) -> str:
    """What a fetch from ``source`` is called in events: the grant type, ``device_code`` for a
    login, or a token source's class name."""
    if isinstance(source, Grant):
        return "device_code" if source.logs_in(scope) else source.grant_type
    return type(source).__name__


#: How often a process waiting for another's refresh looks for the new token.
SHARED_POLL = 0.05


def _authorize_shared(
    settings: Settings, store: Store, source: Grant, rejected: Token | None, call: TokenCall
) -> Flow[tuple[Token, bool]]:
    """Single flight across processes: the token in the store if another process already has
    a good one; otherwise the store's lock, a last look (a holder may have written just before
    it let go), one fetch, and a fenced write, so a holder whose lock expired cannot overwrite
    a newer token. Waiting for another process stops when the request's time is up."""
    key = source.shared_key
    lock_key = "lock:" + key
    # A lock outlives its holder by at most lock_ttl, and then the next waiter takes it: waiting
    # goes on through a crashed holder and a slow successor, up to three lock lifetimes, after
    # which this process fetches on its own rather than wait forever.
    give_up = settings.clock() + 3 * store.lock_ttl
    lock: str | None = None
    while True:
        shared = yield from _adopt_shared(settings, store, source, key, rejected)
        if shared is not None:
            return shared, False
        lock = cast("str | None", (yield StoreOp(store, "lock", (lock_key,))))
        now = settings.clock()
        if lock is not None or now >= give_up:
            break
        if now >= call.wait_until:
            holder = "another process (through the shared store)"
            raise call.timed_out(holder, now - call.since)
        yield Sleep(min(SHARED_POLL, call.wait_until - now), always=True)
    if lock is not None:
        shared = yield from _adopt_shared(settings, store, source, key, rejected)
        if shared is not None:
            yield StoreOp(store, "unlock", (lock_key, lock))
            return shared, False
    try:
        token, fetched = yield from _fetch_for(settings, rejected, None, call)
    except Exception:
        if lock is not None:
            yield StoreOp(store, "unlock", (lock_key, lock))
        raise
    if lock is not None:
        if fetched:
            record, ttl = token_record(token, settings.clock(), settings.wall_clock())
            yield StoreOp(store, "put_fenced", (lock_key, lock, key, record, ttl))
        yield StoreOp(store, "unlock", (lock_key, lock))
    return token, fetched


def _login_shared(
    settings: Settings, store: Store, source: Grant, rejected: Token | None, call: TokenCall
) -> Flow[tuple[Token, bool]]:
    """A login (a person approves it) is not held under the store's lock, which expires in
    seconds: the tokens another process's login got are taken when there are any; otherwise
    this process logs in and stores what it got for the others."""
    key = source.shared_key
    shared = yield from _adopt_shared(settings, store, source, key, rejected)
    if shared is not None:
        return shared, False
    token, fetched = yield from _fetch_for(settings, rejected, None, call)
    if fetched:
        record, ttl = token_record(token, settings.clock(), settings.wall_clock())
        yield StoreOp(store, "put", (key, record, ttl))
    return token, fetched


def _adopt_shared(
    settings: Settings, store: Store, source: Grant, key: str, rejected: Token | None
) -> Flow[Token | None]:
    """The token another process stored, when it is good to use here; its rotated refresh
    token is taken either way, so that no process refreshes with a spent one."""
    auth = settings.auth
    assert auth is not None
    record = cast("bytes | None", (yield StoreOp(store, "get", (key,))))
    found = token_from_record(
        record, now=settings.clock(), wall_now=settings.wall_clock(), leeway=source.leeway
    )
    if found is None:
        return None
    token, data = found
    source.adopt(data)
    if rejected is not None and token.access_token == rejected.access_token:
        return None
    if not token.fresh(settings.clock()):
        return None
    if listening(settings):
        from ._events import TokenReused

        emit(settings, TokenReused(settings.clock(), True))
    return auth.manager.store(token)


def fetch(settings: Settings, scope: str | None, call: TokenCall) -> Flow[Token]:
    """A new token from the source: a token request with the retry policy, or a user call.

    The token request takes the timeouts of the request that needs the token (``call``), and
    a deadline the user set for that request bounds it too. A :class:`DeviceCode` without a
    token pair logs in first (``_device``)."""
    auth = settings.auth
    assert auth is not None
    source = auth.source
    if not isinstance(source, Grant):
        data = yield CallSource(source, scope)
        if isinstance(data, Token):
            return data
        return Token.from_response(data, now=settings.clock(), wall_now=settings.wall_clock())
    if source.logs_in(scope):
        from ._device import DeviceCode, login

        assert isinstance(source, DeviceCode)
        data = yield from login(settings, source, call)
    else:
        data = yield from exchange(
            settings, lambda: source.token_request(scope, settings.stack), call
        )
    data = source.accept(data, settings.wall_clock())
    return Token.from_response(
        data, now=settings.clock(), wall_now=settings.wall_clock(), leeway=source.leeway
    )


def exchange(
    settings: Settings,
    build: Callable[[], Request],
    call: TokenCall,
    *,
    secrets: tuple[str, ...] = (),
    nonce_replay: bool = True,
) -> Flow[dict[str, Any]]:
    """One token request (``build`` makes it), with its retries, and the token JSON it got.

    With a DPoP key, the request carries a proof (a fresh one on each retry); a
    ``use_dpop_nonce`` answer that brings a new nonce is made again once, rebuilt (a client
    assertion may be used once only), unless ``nonce_replay`` is off: a device poll's next
    poll is its replay. ``secrets``: more values to keep out of what is raised.
    """
    auth = settings.auth
    assert auth is not None
    signer = auth.manager.dpop
    proof = None if signer is None else signer.proof(None)
    replayed = False
    while True:
        request = build()
        try:
            return (yield from _token_request(settings, request, call, proof, secrets))
        except UseDPoPNonce as error:
            if proof is None or replayed or not nonce_replay or not proof.new_nonce(request):
                raise
            replayed = True
            if listening(settings):
                from ._events import NonceReplayed  # loaded by the first event (import time)

                url = redact_url(request.url)
                status = error.status_code
                replay = NonceReplayed(
                    settings.clock(), request.method, url, status, "token_endpoint"
                )
                emit(settings, replay)


def _token_request(
    settings: Settings,
    request: Request,
    call: TokenCall,
    proof: Proof | None,
    secrets: tuple[str, ...],
) -> Flow[dict[str, Any]]:
    auth = settings.auth
    assert auth is not None
    extensions = {**request.extensions, IDEMPOTENT_EXTENSION: True, "timeout": dict(call.timeouts)}
    if call.deadline_at is not None:
        extensions[RETRY_EXTENSION] = _within(settings.retry, call.deadline_at - settings.clock())
    request.extensions = extensions
    known = auth.manager.secrets() + secrets
    token_settings = replace(settings, raise_errors=True, auth=None, secrets=known)
    if proof is not None:
        proof.sign(request, settings.wall_clock())
    start = begin(token_settings, request)
    try:
        response = yield from _recovery.send_first(token_settings, request, start, proof)
        left = time_left(start.policy, start.started, settings.clock())
        command = read_body(response, MAX_TOKEN_BODY, left)
        body, cut = cast(BodyRead, (yield command))
    except TRANSPORT_ERRORS as error:
        # The bare transport error would name nothing, and be met while calling the API.
        said = error_scrubber(request, token_settings.known_secrets()).text(f"{error!s}")
        cause = f"{type(error).__name__}: {said}" if said else type(error).__name__
        url = redact_url(request.url)
        raise token_endpoint_unreachable(error, url, call.before, cause) from error
    return parse_token_response(
        request,
        response,
        body,
        known,
        body_cut=cut_note(command, cut, "token response", "MAX_TOKEN_BODY"),
        proves=proof is not None,
    )


def _within(policy: Retry | None, left: float) -> Retry:
    """The token request's policy when the request that needs the token has ``left`` seconds
    of a deadline the user set: its attempts shrink, and its retries stop, within them."""
    left = max(left, 0.001)
    if policy is None:
        policy = NO_RETRY
    elif policy.deadline is not None:
        left = min(left, policy.deadline)
    # The strategy as given: reading ``wait`` would import tenacity for the default one.
    return replace(policy, deadline=left, wait=policy._wait)
