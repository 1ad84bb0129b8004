"""The request flow: everything that happens after the first send went wrong.

Written once as generators that yield commands (send, read the error body, close, sleep, run a
sub-flow under a lock, call a token source) and receive their results, in the sans-I/O style:
the sync and async transports each run them with a small loop that carries out the commands and
decides nothing. The first send, and the whole success path, stay in the transports, so that a
2xx response never enters this module.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, TypeVar, cast

from ._body import BodyRead, ReadBody, cut_note, read_body, time_left
from ._catalog import catalog
from ._challenges import Challenge, find_challenge, parse_www_authenticate
from ._classify import Details, build_error, delay_requested, describe, error_scrubber
from ._entry import Remedy
from ._exceptions import OriginPaused, TokenWaitTimeout
from ._grants import MAX_TOKEN_BODY, Grant, parse_token_response
from ._hooks import call_hook
from ._http import (
    MAYBE_SENT_ERRORS,
    NOT_SENT_ERRORS,
    Origin,
    Request,
    Response,
    authorization_of,
    buffered,
    is_replayable,
    origin_of,
    origin_text,
    set_authorization,
    stack_of,
)
from ._manager import TokenManager
from ._policy import NO_RETRY, Attempt, Decision, Retry, decide, retry_kind
from ._redact import redact_url
from ._store import Store
from ._token import Token, token_from_record, token_record, union_scope

logger = logging.getLogger("httpx_remedy")

RETRY_EXTENSION = "remedy.retry"
#: Marks a request as safe to repeat although its method is not (our own token requests).
IDEMPOTENT_EXTENSION = "remedy.idempotent"
#: Seconds a token request may take for each phase (connect, read, write, pool) the client
#: gives no timeout for (``timeout=None``): a token endpoint that accepts the connection and
#: never answers must not hold up every request that needs the token for ever.
TOKEN_TIMEOUT = 30.0
_TIMEOUT_PHASES = ("connect", "read", "write", "pool")

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    request: Request


@dataclass(frozen=True)
class Close:
    response: Response


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds``; a retry's wait is skipped inside ``testing.no_wait()``, a wait for
    another process (``always``) is not."""

    seconds: float
    always: bool = False


@dataclass(frozen=True)
class StoreOp:
    """Call ``store.<method>(*args)`` (its async twin in the async transport)."""

    store: Store
    method: str
    args: tuple[Any, ...]


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


@dataclass(frozen=True)
class Locked:
    """Run ``flow`` while holding ``manager``'s lock (the single-flight token fetch), after
    waiting at most ``wait`` seconds for it; past that, raise :meth:`timed_out` instead."""

    manager: TokenManager
    flow: Generator[Any, Any, Any]
    wait: float
    call: TokenCall

    def timed_out(self) -> TokenWaitTimeout:
        return self.call.timed_out("another request in this process", self.wait)


@dataclass(frozen=True)
class CallSource:
    """Ask a user's token source for a token."""

    source: object
    scope: str | None


Command = Send | ReadBody | Close | Sleep | Locked | CallSource | StoreOp
Flow = Generator[Command, Any, T]


@dataclass
class Auth:
    """A transport's credentials: the shared token state, and where tokens may go."""

    source: object
    manager: TokenManager
    #: The transport's own ``origins=`` (they win); None: the credentials' own binding, shared
    #: by every transport that names none (``manager.origins``).
    origins: frozenset[Origin] | None
    step_up: bool
    #: Where the token is shared with other processes (None: this process only).
    store: Store | None = None

    def wants(self, request: Request, origin: Origin) -> bool:
        """True when the request goes to a bound origin and has no Authorization of its own."""
        origins = self.origins
        if origins is None:
            # Read without a lock once decided (every request); the first decision is taken
            # under the manager's lock, once for every transport using these credentials.
            origins = self.manager.origins
            if origins is None:
                origins = self.manager.bind(origin, str(request.url))
        if origin not in origins:
            return False
        own = authorization_of(request)
        # Ours when it is a token we issued (httpx copies it onto a same-origin redirect).
        return own is None or self.manager.issued(own)

    def bound_to(self) -> frozenset[Origin]:
        """The origins the token goes to from this transport (empty: none bound yet)."""
        return self.origins if self.origins is not None else self.manager.origins or frozenset()


@dataclass(frozen=True)
class Settings:
    """The transport's configuration, as the flows need it."""

    retry: Retry | None
    raise_errors: bool
    max_error_body: int
    auth: Auth | None = None
    #: Where pauses per origin are shared with other processes (None: this process only).
    store: Store | None = None
    #: The HTTP stack (``httpx`` or ``httpx2``) of the wrapped transport.
    stack: ModuleType = field(default_factory=lambda: stack_of(None))
    #: Secret values to scrub from error messages, for flows that run without ``auth`` (the
    #: token request's own).
    secrets: tuple[str, ...] = ()
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time


#: What :func:`begin` found out about a request before its first send: the policy in force,
#: the start time, the credentials to apply (or None), and the body stream as it was before the
#: first send (whether it can be sent again is judged on that, and only after a failure).
#: A plain tuple: it is made for every request.
Start = tuple["Retry | None", float, "Auth | None", object]


def begin(settings: Settings, request: Request) -> Start:
    """Ready a request for its first send: the hot path, run for every request.

    Returns the policy in force, the start time, the credentials when the request should carry
    their token, and the body stream before the first send. Adds the idempotency key, counts
    the first attempt in the retry budget, and fits the timeouts into the deadline.
    """
    extensions = request.extensions
    policy = settings.retry
    if RETRY_EXTENSION in extensions:
        policy = extensions[RETRY_EXTENSION]
        if policy is not None and not isinstance(policy, Retry):
            raise TypeError(
                f'request.extensions["{RETRY_EXTENSION}"] must be a '
                f"httpx_remedy.Retry or None, not {policy!r}"
            )
    started = settings.clock()
    auth = settings.auth
    if policy is None and auth is None:
        return None, started, None, None
    origin = origin_of(request.url)
    if policy is not None:
        if (
            policy.idempotency_keys
            and request.method in ("POST", "PATCH")
            and "idempotency-key" not in request.headers
        ):
            # Structured-Field String, as the Idempotency-Key draft defines it.
            request.headers["Idempotency-Key"] = f'"{uuid.uuid4()}"'
        if policy.budget is not None:
            policy.budget.record_request(origin, started)
        # Only a deadline the user set bounds the attempts: the default one leaves the client's
        # timeouts alone (and costs the hot path one attribute read).
        if policy.shrinks_timeouts:
            deadline = policy.deadline
            assert deadline is not None
            timeout = extensions.get("timeout")
            # Nearly every request carries its client's timeouts, which fit the deadline: one
            # dict comparison with the last ones that did replaces checking each value.
            if (
                timeout != _fitting_timeouts.get(deadline)
                and shrink_timeouts(request, deadline)
                and len(_fitting_timeouts) < 64
            ):
                _fitting_timeouts[deadline] = dict(timeout or ())
    if auth is not None and not auth.wants(request, origin):
        auth = None
    return policy, started, auth, request.stream


# deadline -> the last timeouts found to fit it whole (bounded: deadlines are few).
_fitting_timeouts: dict[float, dict[str, Any]] = {}


def pause_before_send(settings: Settings, request: Request, policy: Retry | None) -> Sleep | None:
    """Before a first send: the wait for a pause another process heard for this origin (None
    when there is none), or :class:`OriginPaused` at once when it is longer than the policy lets
    a request wait. A plain function, not a flow: it runs for every request of a transport with
    a store, and nearly always answers None from a dictionary lookup."""
    store = settings.store
    assert store is not None
    origin = origin_text(origin_of(request.url))
    left = store.paused_for(origin)
    if left <= 0:
        return None
    if policy is not None and left > policy.max_retry_after:
        raise OriginPaused(origin, left, f"more than max_retry_after ({policy.max_retry_after:g}s)")
    if policy is not None and policy.deadline is not None:
        if left >= policy.deadline:
            raise OriginPaused(origin, left, f"past the deadline ({policy.deadline:g}s)")
        if policy.shrinks_timeouts:
            # The wait comes out of the deadline: the first attempt gets what is left after it.
            shrink_timeouts(request, policy.deadline - left)
    logger.info(
        "waiting %.3gs before %s %s: the origin asked every client to wait",
        left,
        request.method,
        redact_url(request.url),
    )
    return Sleep(left)


def shrink_timeouts(request: Request, remaining: float) -> bool:
    """Cap every timeout of the request at ``remaining`` seconds (the deadline's time left).

    Returns True when they all fitted already (nothing changed).
    """
    timeout = request.extensions.get("timeout")
    if type(timeout) is not dict:
        return False
    values = timeout.values()
    if None not in values and max(values, default=0.0) <= remaining:
        return True
    remaining = max(remaining, 0.001)
    request.extensions = {
        **request.extensions,
        "timeout": {k: remaining if v is None or v > remaining else v for k, v in timeout.items()},
    }
    return False


def attach_attempts(error: BaseException, attempts: tuple[Attempt, ...]) -> None:
    """Record the attempt history on a transport error that is re-raised as it is."""
    error.remedy_attempts = attempts  # type: ignore[attr-defined]
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note("httpx_remedy attempts:\n  " + "\n  ".join(map(str, attempts)))


def attempts_of(error: BaseException) -> tuple[Attempt, ...]:
    """The attempt history of an error raised through a remedy transport, oldest first.

    Works for the typed :class:`HTTPError` (its ``attempts``) and for a transport error such as
    ``httpx.ConnectError`` raised after retrying; empty for anything else.
    """
    found = getattr(error, "attempts", None)
    if not isinstance(found, tuple):
        found = getattr(error, "remedy_attempts", ())
    return found if isinstance(found, tuple) else ()


def _secrets(settings: Settings) -> tuple[str, ...]:
    if settings.auth is not None:
        return settings.auth.manager.secrets()
    return settings.secrets


def run(
    settings: Settings,
    request: Request,
    first: Response | Exception,
    start: Start,
    token: Token | None = None,
) -> Flow[Response]:
    """The flow after a first send that failed (an error status or a transport error).

    ``start`` is what :func:`begin` found before the first send; ``token`` the access token
    the first send carried, if the transport authorized it.
    """
    policy, started, _, stream = start
    # Judged on the stream the request had before its first send: sending may read a one-shot
    # body into memory (a mock or a middleware calls request.read()) and make it look replayable.
    replayable = is_replayable(request, stream)
    history: list[Attempt] = []
    max_attempts = policy.max_attempts if policy is not None else 1
    origin = origin_of(request.url)
    minted = False  # a token fetched for this very request was sent
    auth_resends = 0
    outcome = first
    while True:
        attempt = len(history) + 1
        now = settings.clock()
        elapsed = now - started
        url = redact_url(request.url)
        response: Response | None = None
        body: bytes | None = None
        body_cut: str | None = None
        details: Details | None = None
        status: int | None = None
        code: str | None = None
        shown: str | None = None  # the code as logged and recorded
        delay: tuple[float, str] | None = None
        kind: Remedy | None = None
        if isinstance(outcome, Exception):
            if isinstance(outcome, NOT_SENT_ERRORS):
                kind = Remedy.BACK_OFF
            elif isinstance(outcome, MAYBE_SENT_ERRORS):
                kind = Remedy.RETRY_IF_SAFE
        else:
            response = outcome
            status = response.status_code
            if settings.raise_errors and (policy is None or status not in policy.statuses):
                # Not retryable by its status: read the body now, as the typed error needs it
                # anyway and it may hold an OAuth code that is retryable after all.
                body, body_cut = yield from _read_error_body(settings, response, policy, started)
                details = describe(
                    status,
                    response.headers,
                    body,
                    settings.wall_clock(),
                    error_scrubber(request, _secrets(settings)),
                )
                code, delay = details.error, _delay_of(details)
                shown = code
            else:
                code = _challenge_error(response)
                # The code is logged and recorded: a hostile server may have put a secret there.
                shown = _scrubbed(code, settings, request)
                delay = delay_requested(status, response.headers, settings.wall_clock())
            if policy is not None:
                kind = retry_kind(policy, status, code)
            if settings.store is not None and delay is not None and status in (429, 503):
                # Tell every process: this origin asked all its clients to wait; no longer than
                # this policy would wait itself (a delay it would not wait is not a pause to
                # impose on others). A store is user code too: should it raise, the response
                # is closed first.
                pause = delay[0] if policy is None else min(delay[0], policy.max_retry_after)
                try:
                    yield StoreOp(settings.store, "pause", (origin_text(origin), pause))
                except Exception:
                    if body is None:
                        yield Close(response)
                    raise

        # The token fixes first: refresh on invalid_token, step up on insufficient_scope.
        if response is not None and token is not None and settings.auth is not None:
            scope = _auth_fix(settings.auth, token, response, details, code, minted, auth_resends)
            if scope is not False and replayable:
                if body is None:
                    yield Close(response)
                wanted = scope if isinstance(scope, str) else None
                call = token_call(
                    settings,
                    request,
                    policy,
                    started,
                    f"after {status} {code or '(no error code)'} on {request.method} {url}",
                )
                try:
                    token, fetched = cast(
                        "tuple[Token, bool]", (yield token_lock(settings, call, token, wanted))
                    )
                except TokenWaitTimeout as error:
                    history.append(
                        Attempt(
                            attempt,
                            max_attempts,
                            request.method,
                            url,
                            status,
                            code,
                            elapsed,
                            "raise",
                            note=f"gave up waiting for another's token fetch: {call.cap} ran out",
                        )
                    )
                    error.attempts = tuple(history)
                    raise
                minted = minted or fetched
                auth_resends += 1
                logger.info(
                    "%s after %s %s for %s %s; replaying",
                    "fetched a new access token"
                    if fetched
                    else "using the token another request fetched",
                    status,
                    shown or "(no error code)",
                    request.method,
                    url,
                )
                history.append(
                    Attempt(
                        attempt,
                        max_attempts,
                        request.method,
                        url,
                        status,
                        shown,
                        elapsed,
                        "refresh" if fetched else "replay",
                    )
                )
                set_authorization(request, token.authorization)
                outcome = yield from _send_again(request)
                if not isinstance(outcome, Exception) and outcome.status_code < 400:
                    return outcome
                continue

        decision = Decision(False)
        if policy is not None and kind is not None:
            decision = decide(
                policy,
                attempt=attempt,
                elapsed=elapsed,
                kind=kind,
                method=request.method,
                has_idempotency_key="idempotency-key" in request.headers
                or bool(request.extensions.get(IDEMPOTENT_EXTENSION)),
                replayable=replayable,
                server_delay=delay,
                origin=origin,
                now=now,
            )
        what = shown if response is not None else type(outcome).__name__
        if decision.retry:
            record = Attempt(
                attempt,
                max_attempts,
                request.method,
                url,
                status,
                what,
                elapsed,
                "retry",
                decision.wait,
                decision.wait_reason,
            )
            history.append(record)
            if response is not None and body is None:
                # Before any user code runs: a hook that blocks must not hold the connection.
                yield Close(response)
            _announce(record, policy, now)
            yield Sleep(decision.wait)
            if policy is not None and policy.shrinks_timeouts:
                assert policy.deadline is not None
                shrink_timeouts(request, policy.deadline - (settings.clock() - started))
            outcome = yield from _send_again(request)
            if not isinstance(outcome, Exception) and outcome.status_code < 400:
                return outcome
            continue

        note = decision.note
        if minted and status == 401:
            note = "the token fetched for this request was rejected too; not refreshing again"
        elif token is not None and status == 401 and not replayable:
            note = "the request body is a one-shot stream and cannot be replayed with a new token"
        elif token is not None and status == 401 and response is not None:
            schemes = _other_schemes(response, details)
            if schemes is not None:
                note = (
                    f"the server asks for {schemes} authentication, not a Bearer token: "
                    "a new token would not answer it"
                )
        elif token is None and status == 401 and settings.auth is not None:
            unsent = _unsent_token(settings.auth, request, origin)
            note = f"{note}; {unsent}" if note and unsent else unsent or note
        action = "return" if response is not None and not settings.raise_errors else "raise"
        history.append(
            Attempt(
                attempt, max_attempts, request.method, url, status, what, elapsed, action, note=note
            )
        )
        if isinstance(outcome, Exception):
            if len(history) > 1 or note:
                attach_attempts(outcome, tuple(history))
            raise outcome
        assert response is not None
        if not settings.raise_errors:
            return response
        if body is None:
            body, body_cut = yield from _read_error_body(settings, response, policy, started)
        if details is None:
            details = describe(
                response.status_code,
                response.headers,
                body,
                settings.wall_clock(),
                error_scrubber(request, _secrets(settings)),
            )
        raise build_error(
            request,
            buffered(response, body, request),
            details,
            attempts=tuple(history),
            stopped=_stopped(note, attempt),
            secrets=_secrets(settings),
            body_cut=body_cut,
        )


def _send_again(request: Request) -> Flow[Response | Exception]:
    """Send once more; a failure is an outcome to judge, not an error to raise."""
    try:
        return cast(Response, (yield Send(request)))
    except Exception as error:
        return error


def _unsent_token(auth: Auth, request: Request, origin: Origin) -> str | None:
    """Why a 401 came to a request that carried no token of ours: its origin is not one the
    token is bound to (None when the request carried an Authorization of its own)."""
    if authorization_of(request) is not None:
        return None
    bound = ", ".join(sorted(origin_text(o) for o in auth.bound_to())) or "no origin yet"
    return (
        f"no token was sent: the credentials are bound to {bound}; pass "
        f'origins=[..., "{origin_text(origin)}"] to send it here'
    )


def _scrubbed(code: str | None, settings: Settings, request: Request) -> str | None:
    if code is None:
        return None
    return error_scrubber(request, _secrets(settings)).text(code)


def _challenge_error(response: Response) -> str | None:
    values = response.headers.get_list("www-authenticate")
    if not values:
        return None
    challenge = find_challenge(parse_www_authenticate(values), "Bearer", "DPoP")
    return challenge.param("error") if challenge is not None else None


def _challenges(response: Response, details: Details | None) -> tuple[Challenge, ...]:
    if details is not None:
        return details.challenges
    return parse_www_authenticate(response.headers.get_list("www-authenticate"))


def _required_scope(response: Response, details: Details | None) -> str | None:
    """The scope an ``insufficient_scope`` answer names (challenge first, then body)."""
    challenge = find_challenge(_challenges(response, details), "Bearer", "DPoP")
    found = challenge.param("scope") if challenge is not None else None
    return found or (details.scope_hint if details is not None else None)


def _other_schemes(response: Response, details: Details | None) -> str | None:
    """The schemes a 401 challenges for when none takes a token (``Basic``, ``Negotiate``):
    a new Bearer token cannot answer them. None when a challenge is Bearer or DPoP, or when
    there is no challenge at all (a bare 401 is taken as a rejected token)."""
    challenges = _challenges(response, details)
    if not challenges or find_challenge(challenges, "Bearer", "DPoP") is not None:
        return None
    return ", ".join(dict.fromkeys(c.scheme for c in challenges))


def _auth_fix(
    auth: Auth,
    token: Token,
    response: Response,
    details: Details | None,
    code: str | None,
    minted: bool,
    resends: int,
) -> str | bool:
    """Which token fix applies: True (a new token), a scope string (step up), or False.

    At most two resends per request for the token's sake, and never another fetch once a token
    fetched for this very request was rejected: no loop, ever. A 401 whose challenges all ask
    for something else than a token (``Basic``, ``Negotiate``) is not refreshed.
    """
    if resends >= 2 or minted:
        return False
    status = response.status_code
    if status == 401:
        return should_refresh(code) and _other_schemes(response, details) is None
    if status == 403 and code == "insufficient_scope" and auth.step_up:
        required = _required_scope(response, details)
        if required:
            # Ask for the scope the server names on top of what we hold.
            return union_scope(token.scope or getattr(auth.source, "scope", None), required)
    return False


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
    return Locked(auth.manager, authorize(settings, rejected, scope, call), wait, call)


def first_token(settings: Settings, request: Request, start: Start) -> Locked:
    """The token fetch before a request's first send (none yet, or it is due for refresh)."""
    policy, started, _, _ = start
    before = f"before sending {request.method} {redact_url(request.url)}"
    return token_lock(settings, token_call(settings, request, policy, started, before), None, None)


def authorize(
    settings: Settings, rejected: Token | None, scope: str | None, call: TokenCall
) -> Flow[tuple[Token, bool]]:
    """Under the manager's lock: the token to use, and whether it was fetched just now.

    Another request may have replaced ``rejected`` while this one waited for the lock; then
    that token is used and nothing is fetched. A fetch that fails for good is remembered, so
    the token endpoint is not asked again on every request.
    """
    auth = settings.auth
    assert auth is not None
    token = auth.manager.reusable(rejected, settings.clock(), scope)
    if token is not None:
        return token, False
    store = auth.store
    if store is None or scope is not None or not isinstance(auth.source, Grant):
        return (yield from _fetch_for(settings, rejected, scope, call))
    return (yield from _authorize_shared(settings, store, auth.source, rejected, call))


def _fetch_for(
    settings: Settings, rejected: Token | None, scope: str | None, call: TokenCall
) -> Flow[tuple[Token, bool]]:
    """Fetch a token; a failure for good is remembered, a passing one keeps the current."""
    auth = settings.auth
    assert auth is not None
    try:
        token = yield from fetch(settings, scope, call)
    except Exception as error:
        fallback = auth.manager.failed(error, rejected, settings.clock(), scope)
        if fallback is None:
            raise
        logger.warning(
            "token refresh failed (%s); carrying on with the current token until it expires",
            type(error).__name__,
        )
        return fallback, False
    if scope is not None and isinstance(auth.source, Grant):
        auth.source.scope = scope
    return auth.manager.store(token), True


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
    logger.debug("using the token another process fetched")
    return auth.manager.store(token)


def fetch(settings: Settings, scope: str | None, call: TokenCall) -> Flow[Token]:
    """A new token from the source: a token request with the retry policy, or a user call.

    The token request takes the timeouts of the request that needs the token (``call``), and
    a deadline the user set for that request bounds it too."""
    auth = settings.auth
    assert auth is not None
    source = auth.source
    if not isinstance(source, Grant):
        data = yield CallSource(source, scope)
        if isinstance(data, Token):
            return data
        return Token.from_response(data, now=settings.clock(), wall_now=settings.wall_clock())
    request = source.token_request(scope, settings.stack)
    extensions = {**request.extensions, IDEMPOTENT_EXTENSION: True, "timeout": dict(call.timeouts)}
    if call.deadline_at is not None:
        extensions[RETRY_EXTENSION] = _within(settings.retry, call.deadline_at - settings.clock())
    request.extensions = extensions
    token_settings = replace(settings, raise_errors=True, auth=None, secrets=auth.manager.secrets())
    start = begin(token_settings, request)
    try:
        first: Response | Exception = cast(Response, (yield Send(request)))
    except Exception as error:
        first = error
    if isinstance(first, Exception) or first.status_code >= 400:
        response = yield from run(token_settings, request, first, start)
    else:
        response = first
    command = read_body(response, MAX_TOKEN_BODY, time_left(start[0], start[1], settings.clock()))
    body, cut = cast(BodyRead, (yield command))
    data = parse_token_response(
        request,
        response,
        body,
        auth.manager.secrets(),
        body_cut=cut_note(command, cut, "token response", "MAX_TOKEN_BODY"),
    )
    data = source.accept(data)
    return Token.from_response(
        data, now=settings.clock(), wall_now=settings.wall_clock(), leeway=source.leeway
    )


def _within(policy: Retry | None, left: float) -> Retry:
    """The token request's policy when the request that needs the token has ``left`` seconds
    of a deadline the user set: its attempts shrink, and its retries stop, within them."""
    left = max(left, 0.001)
    if policy is None:
        policy = NO_RETRY
    elif policy.deadline is not None:
        left = min(left, policy.deadline)
    return replace(policy, deadline=left)


def _delay_of(details: Details) -> tuple[float, str] | None:
    if details.retry_after is None or details.retry_after_source is None:
        return None
    return details.retry_after, details.retry_after_source


def _read_error_body(
    settings: Settings, response: Response, policy: Retry | None, started: float
) -> Flow[tuple[bytes, str | None]]:
    """Read an error body within the size cap and the time left: the bytes, and the note that
    says why they stop short, if they do."""
    command = read_body(
        response, settings.max_error_body, time_left(policy, started, settings.clock())
    )
    body, cut = cast(BodyRead, (yield command))
    return body, cut_note(command, cut, "error body", "max_error_body")


def _stopped(note: str | None, attempt: int) -> str | None:
    if not note:
        return None
    if attempt == 1:
        return f"not retried: {note}"
    return f"gave up after {attempt} attempts: {note}"


def _announce(record: Attempt, policy: Retry | None, now: float) -> None:
    """The one log line per retry, and the user's hook (which never breaks the request)."""
    logger.info(
        "retrying %s %s after %s in %.3gs (%s), attempt %d of %d",
        record.method,
        record.url,
        record.status if record.status is not None else record.error,
        record.wait,
        record.wait_reason,
        record.number,
        record.max_attempts,
    )
    if policy is not None and policy.on_retry is not None:
        call_hook("on_retry", policy.on_retry, record, now)


def should_refresh(error: str | None) -> bool:
    """Whether a 401 asks for a new token (RFC 6750 §3.1).

    Yes for ``invalid_token`` and for no error code; also for a word that is not an OAuth code
    (``{"error": "unauthorized"}``). No for an OAuth code with another fix (``invalid_client``,
    ``insufficient_user_authentication``, ``use_dpop_nonce``): a new token would not help.
    """
    entry = catalog.oauth(error)
    return entry is None or entry.remedy is Remedy.REFRESH
