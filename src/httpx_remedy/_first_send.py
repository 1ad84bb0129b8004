"""What every request goes through before and right after its first send: the hot path.

:func:`prepare` readies a request and notes what the rest needs (the fields of a
:class:`Start`, as a plain tuple: the drivers make the ``Start`` only off the 2xx path);
:func:`pause_before_send` answers whether a pause heard from another process holds it back;
:func:`enters_flow` decides whether the first outcome is handed to the recovery flow
(``_recovery``) or goes straight back to httpx, as every 2xx does, unread and untouched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final, NamedTuple

from ._commands import Sleep
from ._exceptions import OriginPaused
from ._http import (
    COPIED_REQUESTS,
    UNCOPIED_REQUESTS,
    Origin,
    Request,
    carrying,
    origin_of,
    origin_text,
    set_authorization,
)
from ._listen import emit, listening
from ._policy import Retry
from ._redact import redact_url
from ._settings import Auth, Settings
from ._token import Token

RETRY_EXTENSION = "remedy.retry"
#: Marks a request as safe to repeat although its method is not (our own token requests).
IDEMPOTENT_EXTENSION = "remedy.idempotent"


class Start(NamedTuple):
    """What :func:`prepare` found out about a request before its first send."""

    #: The retry policy in force (the request's own, else the transport's); None: no retrying.
    policy: Retry | None
    #: When the request started (a reading of the settings' monotonic clock).
    started: float
    #: The credentials whose token the request carries; None when it carries none of ours.
    auth: Auth | None
    #: The body stream before the first send: whether the request can be sent again is judged
    #: on it, and only after a failure (sending may read a one-shot body into memory).
    stream: object
    #: Whether an error status is handed to the recovery flow at all (see :func:`enters_flow`).
    recovers: bool
    #: The token whose header :func:`prepare` set (a held, fresh Bearer token), else None.
    token: Token | None = None
    #: True when the driver has more to do before the first send than send it: wait for a
    #: pause heard from the store, fetch the token (``auth`` set, ``token`` None), or sign a
    #: DPoP proof. False on the hot path: one attribute read in the driver.
    detour: bool = False
    #: The request to send: the user's own, or, when it carries the credentials' token on
    #: httpx, a copy of it that carries it (``_http.carrying``), the user's left as built.
    sent: Any = None


# Start is made for every request: tuple.__new__ skips the Python frame of Start(...).
_new_start: Callable[[type[Start], tuple[object, ...]], Start] = tuple.__new__
_new = object.__new__

#: ``(scheme, host, port)`` of httpx's parsed URL (``URL._uri_reference``) in one C call: the
#: same key as :func:`~._http.origin_of`, for the hot path.
_origin_key: Callable[[Any], Origin] = itemgetter(0, 2, 3)


#: What :func:`prepare` returns: the fields of :class:`Start`, in its order, as a plain tuple
#: (made by one BUILD_TUPLE: a NamedTuple costs the hot path more than the rest of it).
Prepared = tuple["Retry | None", float, "Auth | None", object, bool, "Token | None", bool, Request]
#: Where the driver reads ``Start.detour`` in a :data:`Prepared` (a constant index is the
#: cheapest read there is).
DETOUR = 6
#: Where the driver reads ``Start.policy``: the pacing gate after a send needs it.
POLICY: Final = 0
#: Where the driver reads ``Start.sent``: the request it sends.
SENT: Final = 7


def begin(settings: Settings, request: Request) -> Start:
    """:func:`prepare`, as a :class:`Start`: for the flows' own requests and for tests."""
    return _new_start(Start, prepare(settings, request))


def start_of(prepared: Prepared) -> Start:
    """The :class:`Start` of what :func:`prepare` returned, made only when it is needed: for a
    detour before the first send, or for the recovery flow after it."""
    return _new_start(Start, prepared)


def prepare(settings: Settings, request: Request) -> Prepared:
    """Ready a request for its first send: the hot path, run for every request.

    Finds the policy in force, the start time, the credentials when the request should carry
    their token, and the body stream before the first send (see :class:`Start`). Adds the
    idempotency key, counts the first attempt in the retry budget, fits the timeouts into
    the deadline, and sets the ``Authorization`` header of a held Bearer token (its header
    row made once per token, appended to the request's header list).

    Written flat, for the 2xx's sake: every step a request does not need is one attribute
    check, and what a step needs from elsewhere is inlined (a call costs as much as the rest).
    A feature that is off must cost no more (see "The hot path's rule" in CONTRIBUTING.md).
    """
    extensions = request.extensions
    policy = settings.retry
    if RETRY_EXTENSION in extensions:
        policy = _policy_of(extensions)
    # Read, then called: a method-style call of an attribute that shadows the class's default
    # is one CPython cannot specialize (about 100 instructions more).
    clock = settings.clock
    started = clock()
    auth = settings.auth
    if policy is None and auth is None:
        return (None, started, None, None, settings.raise_errors, None, settings.pauses, request)
    origin = _origin_key(request.url._uri_reference)
    detour = settings.pauses
    if policy is not None:
        pacer = policy.pace
        if pacer is not None and pacer._windows:  # some origin announced a quota: pace first
            detour = True
        if policy.first_send_work:
            _first_send_work(policy, request, extensions)
        budget = policy.budget
        if budget is not None:
            # RetryBudget.record_request's lock-free path, inlined (a call costs as much as
            # the rest of it): the origin counted last, its counts, the current slot.
            last, counts = budget._last
            if origin == last and counts[21] <= started < counts[22]:
                counts[counts[23]] += 1
            else:
                budget.record_request(origin, started)
        if auth is None:
            return (policy, started, None, request.stream, True, None, detour, request)
    assert auth is not None
    token = auth.manager.token
    raw = request.headers._list
    # The hot case: the origin found bound last time, a fresh Bearer token held, no
    # Authorization of the request's own (a plain loop: cheaper than any call). Anything else takes
    # _authorize (another origin, the binding, a user's own header, a DPoP token, no token yet).
    if (
        origin == auth.last_bound
        and token is not None
        and token.header_row is not None
        and (token.refresh_at is None or started < token.refresh_at)
        and type(raw) is list
    ):
        for row in raw:
            if row[1] == b"authorization":
                break
        else:
            kind = type(request)
            if kind in UNCOPIED_REQUESTS:  # httpx2's: the header row, made once per token
                raw.append(token.header_row)
                return (policy, started, auth, request.stream, True, token, detour, request)
            if kind in COPIED_REQUESTS:
                # _http.carrying, inlined: on httpx the token goes on a copy of the request,
                # not on the user's (see carrying for why).
                sent = _new(kind)
                sent.method = request.method
                sent.url = request.url
                headers = _new(type(request.headers))
                headers._list = [*raw, token.header_row]
                headers._encoding = request.headers._encoding
                sent.headers = headers
                sent.extensions = request.extensions  # _first_send_work may have replaced it
                stream = sent.stream = request.stream
                try:  # noqa: SIM105 - contextlib.suppress costs the hot path a call
                    sent._content = request._content
                except AttributeError:  # a streaming body, not read
                    pass
                return (policy, started, auth, stream, True, token, detour, sent)
    sent, auth, token = _authorize(auth, request, origin, started)
    detour = detour or (auth is not None and token is None)
    recovers = policy is not None or auth is not None or settings.raise_errors
    return (policy, started, auth, request.stream, recovers, token, detour, sent)


def plain_start(settings: Settings, request: Request, started: float) -> Start:
    """The :class:`Start` of a request the driver sent without :func:`prepare`, as
    ``settings.plain`` allows (the request named no policy of its own): what ``prepare`` would
    have returned for it, made only when its response is an error."""
    return _new_start(
        Start, (None, started, None, None, settings.raise_errors, None, False, request)
    )


def _policy_of(extensions: dict[str, Any]) -> Retry | None:
    """The request's own policy (``extensions["remedy.retry"]``), checked."""
    policy = extensions[RETRY_EXTENSION]
    if policy is not None and not isinstance(policy, Retry):
        raise TypeError(
            f'request.extensions["{RETRY_EXTENSION}"] must be a '
            f"httpx_remedy.Retry or None, not {policy!r}"
        )
    return policy


def _first_send_work(policy: Retry, request: Request, extensions: dict[str, Any]) -> None:
    """What a policy with idempotency keys or a deadline of the user's does before a send."""
    if (
        policy.idempotency_keys
        and request.method in ("POST", "PATCH")
        and "idempotency-key" not in request.headers
    ):
        # Structured-Field String, as the Idempotency-Key draft defines it.
        request.headers["Idempotency-Key"] = f'"{uuid.uuid4()}"'
    # Only a deadline the user set bounds the attempts: the default one leaves the client's
    # timeouts alone.
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


def _authorize(
    auth: Auth, request: Request, origin: Origin, now: float
) -> tuple[Request, Auth | None, Token | None]:
    """Off the hot path: the request to send (a copy of ``request`` when it carries the
    credentials' token: see :func:`~._http.carrying`), the credentials when it does (else
    None), and the token whose header was set here (None when the driver must fetch it first,
    or sign a DPoP proof with it)."""
    if not auth.wants(request, origin):
        if auth.manager.dpop is not None:
            # A request the user copied from one we sent carries no proof of ours elsewhere.
            auth.manager.dpop.withdraw(request)
        return request, None, None
    sent = carrying(request)
    token = auth.manager.current(now)
    if token is None or token._dpop is not None:
        return sent, auth, None
    set_authorization(sent, token.authorization)
    return sent, auth, token


# deadline -> the last timeouts found to fit it whole (bounded: deadlines are few).
_fitting_timeouts: dict[float, dict[str, Any]] = {}


def enters_flow(start: Start, status: int | None) -> bool:
    """Whether the first send's outcome goes to the recovery flow (``_recovery.run``): its
    response's ``status``, or None for a transport error. When not, the driver returns the
    response as it is, or re-raises the transport error.

    A response enters when its status is an error and anything is to be done about it: a
    policy to retry with, a token to refresh, or a typed error to raise. A transport error
    enters when there is a policy to retry it with.
    """
    if status is None:
        return start.policy is not None
    return status >= 400 and start.recovers


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
    if listening(settings):
        from ._events import PauseHonoured  # loaded by the first event (import time)

        url = redact_url(request.url)
        emit(settings, PauseHonoured(settings.clock(), request.method, url, left))
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
