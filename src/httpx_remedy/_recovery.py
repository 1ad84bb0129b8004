"""The recovery flow: everything that happens after a first send went wrong.

:func:`run` is a generator that yields commands (``_commands``) and receives their results; the
sync and async transports each carry it out with a small loop that decides nothing. Each failed
attempt is first judged (:func:`assess`, pure: what the outcome was, how it may be retried, what
to tell other processes), then fixed: a new token and a replay (``_token_fix``), or a wait and a
retry (``_policy.decide``), or the typed error (``_classify``). The first send, and the whole
success path, stay in the transports (``_first_send``), so that a 2xx never enters a generator.
"""

from __future__ import annotations

from typing import NamedTuple, cast

from . import _token_flow
from ._body import BodyRead, cut_note, read_body, time_left
from ._classify import Details, build_error, delay_requested, describe, error_scrubber
from ._commands import Close, Flow, Send, Sleep, StoreOp
from ._dpop import Proof, nonce_note, unprove
from ._entry import Remedy
from ._exceptions import TokenWaitTimeout
from ._first_send import IDEMPOTENT_EXTENSION, Start, enters_flow, shrink_timeouts
from ._flow_events import gave_up, recovered, retry_scheduled
from ._hooks import call_hook
from ._http import (
    MAYBE_SENT_ERRORS,
    NOT_SENT_ERRORS,
    Request,
    Response,
    buffered,
    carrying,
    is_replayable,
    origin_of,
    origin_text,
    set_authorization,
)
from ._listen import emit, listening
from ._pacing import count_retry, hear_quota
from ._policy import Attempt, Decision, Retry, decide, retry_kind
from ._redact import redact_url
from ._settings import Settings
from ._token import Token
from ._token_fix import TokenFix, challenge_error, token_fix, token_note


class Assessment(NamedTuple):
    """What one failed attempt was, as the recovery flow sees it (made by :func:`assess`)."""

    #: The error response; None for a transport error.
    response: Response | None
    status: int | None
    #: The error code (OAuth, or the API's own) the decisions use; None when there is none.
    code: str | None
    #: The code as logged and recorded: scrubbed (a hostile server may have put a secret there).
    shown: str | None
    #: The delay the server asked for, and where it came from (``retry-after``, ``body``, ...).
    delay: tuple[float, str] | None
    #: How the outcome may be retried (``BACK_OFF``, ``RETRY_IF_SAFE``); None: not at all.
    kind: Remedy | None
    #: Everything the response said, when its body was read before deciding; None otherwise.
    details: Details | None
    #: Seconds every process sharing the store should pause this origin for; None: no pause.
    pause: float | None


def reads_body_first(settings: Settings, policy: Retry | None, response: Response) -> bool:
    """Whether an error body is read before deciding: when its status alone does not make it
    retryable, the typed error needs the body anyway, and the body may hold an OAuth code that
    is retryable after all (``temporarily_unavailable``)."""
    return settings.raise_errors and (policy is None or response.status_code not in policy.statuses)


def assess(
    settings: Settings,
    request: Request,
    policy: Retry | None,
    outcome: Response | Exception,
    body: bytes | None,
    wall_now: float,
) -> Assessment:
    """Judge one failed attempt: a transport error, or an error response and its ``body`` when
    it was read (see :func:`reads_body_first`); ``wall_now`` is the wall clock's reading.

    Pure: it reads the outcome and the settings, does no I/O and decides nothing about what
    comes next; :func:`run` acts on what it finds.
    """
    if isinstance(outcome, Exception):
        kind = (
            Remedy.BACK_OFF
            if isinstance(outcome, NOT_SENT_ERRORS)
            else Remedy.RETRY_IF_SAFE
            if isinstance(outcome, MAYBE_SENT_ERRORS)
            else None
        )
        return Assessment(None, None, None, None, None, kind, None, None)
    status = outcome.status_code
    details: Details | None = None
    if body is not None:
        details = describe(
            status,
            outcome.headers,
            body,
            wall_now,
            error_scrubber(request, settings.known_secrets()),
        )
        code = shown = details.error
        delay = details.delay
    else:
        code = challenge_error(outcome)
        # The code is logged and recorded: a hostile server may have put a secret there.
        shown = (
            None if code is None else error_scrubber(request, settings.known_secrets()).text(code)
        )
        delay = delay_requested(status, outcome.headers, wall_now)
    kind = retry_kind(policy, status, code) if policy is not None else None
    pause = None
    if settings.store is not None and delay is not None and status in (429, 503):
        # Every process should hear it: this origin asked all its clients to wait; no longer
        # than this policy would wait itself (a delay it would not wait is not a pause to
        # impose on others).
        pause = delay[0] if policy is None else min(delay[0], policy.max_retry_after)
    return Assessment(outcome, status, code, shown, delay, kind, details, pause)


def run(
    settings: Settings,
    request: Request,
    first: Response | Exception,
    start: Start,
    token: Token | None = None,
    proof: Proof | None = None,
) -> Flow[Response]:
    """The flow after a first send that failed (an error status or a transport error).

    ``start`` is what :func:`~._first_send.begin` found before the first send; ``token`` the
    access token the first send carried, if the transport authorized it. A request sent with a
    DPoP proof (its token's, or ``proof`` for a token request) gets a fresh one on every resend.
    """
    # _events is imported by the first flow, not by ``import httpx_remedy`` (its records are
    # dataclasses, whose making is a fair share of the import time); a 2xx never gets here.
    from ._events import (
        ErrorClassified,
        NonceReplayed,
        PauseHeard,
        RequestSent,
        RetryRefused,
        TokenRejected,
    )

    if token is not None:
        proof = token._dpop
    policy = start.policy
    # Judged on the stream the request had before its first send: sending may read a one-shot
    # body into memory (a mock or a middleware calls request.read()) and make it look replayable.
    replayable = is_replayable(request, start.stream)
    history: list[Attempt] = []
    max_attempts = policy.max_attempts if policy is not None else 1
    origin = origin_of(request.url)
    minted = False  # a token fetched for this very request was sent
    token_resends = 0
    nonce_replayed = False  # sent again once with the server's DPoP nonce
    outcome = first
    heard = listening(settings)  # else no event is made
    if heard:
        emit(settings, RequestSent(start.started, request.method, redact_url(request.url), 1))
    while True:
        attempt = len(history) + 1
        now = settings.clock()
        elapsed = now - start.started
        url = redact_url(request.url)
        body: bytes | None = None
        body_cut: str | None = None
        if not isinstance(outcome, Exception) and reads_body_first(settings, policy, outcome):
            body, body_cut = yield from read_error_body(settings, outcome, start)
        found = assess(settings, request, policy, outcome, body, settings.wall_clock())
        response = found.response
        what = found.shown if response is not None else type(outcome).__name__
        # What this attempt's record says whatever is done next (the action comes after).
        fields = (attempt, max_attempts, request.method, url, found.status, what, elapsed)
        if heard:
            retryable = found.kind is not None
            emit(
                settings,
                ErrorClassified(now, request.method, url, attempt, found.status, what, retryable),
            )
        if found.pause is not None and settings.store is not None:
            # A store is user code too: should it raise, the response is closed first.
            try:
                yield StoreOp(settings.store, "pause", (origin_text(origin), found.pause))
            except Exception:
                if response is not None and body is None:
                    yield Close(response)
                raise
            if heard:
                assert found.status is not None
                where = origin_text(origin)
                emit(settings, PauseHeard(now, where, found.pause, found.status))

        # The resource server's DPoP nonce (RFC 9449 §9): once per request, with a new proof.
        if (
            response is not None
            and token is not None
            and proof is not None
            and not nonce_replayed
            and replayable
            and found.code == "use_dpop_nonce"
            and proof.new_nonce(request)
        ):
            if body is None:
                yield Close(response)
            nonce_replayed = True
            history.append(Attempt(*fields, "nonce"))
            if heard:
                assert found.status is not None
                replay = NonceReplayed(now, request.method, url, found.status, "resource")
                emit(settings, replay)
            request = carrying(request)  # its fresh proof on a copy of its own (httpx)
            outcome = yield from _again(settings, request, proof, attempt + 1, heard)
            if not _failed(outcome):
                return recovered(settings, request, start, attempt + 1, outcome, heard)
            continue

        # The token fixes first: refresh on invalid_token, step up on insufficient_scope.
        fix: TokenFix | None = None
        if response is not None and token is not None and settings.auth is not None:
            fix = token_fix(
                settings.auth,
                token,
                response,
                found.details,
                found.code,
                minted,
                token_resends,
            )
        if fix is not None and replayable:
            assert response is not None
            assert token is not None
            if body is None:
                yield Close(response)
            said = found.shown or "(no error code)"
            before = f"after {found.status} {said} on {request.method} {url}"
            if heard:
                assert found.status is not None
                step_up = fix.scope is not None
                rejected = TokenRejected(
                    now, request.method, url, attempt, found.status, found.shown, step_up
                )
                emit(settings, rejected)
            try:
                token, fetched = yield from _replacement(
                    settings, request, start, token, fix, before
                )
            except TokenWaitTimeout as error:
                waited = f"gave up waiting for another's token fetch: {error.cap} ran out"
                history.append(Attempt(*fields, "raise", note=waited))
                error.attempts = tuple(history)
                if heard:
                    gave_up(settings, request, start, attempt, None, error, waited)
                raise
            minted = minted or fetched
            token_resends += 1
            history.append(Attempt(*fields, "refresh" if fetched else "replay"))
            # On a copy of its own (on httpx): the request sent before keeps the token it
            # carried, for whoever recorded it (see _http.carrying).
            request = carrying(request)
            set_authorization(request, token.authorization)
            proof = token._dpop
            if proof is None:
                unprove(request)  # a Bearer token never travels with a proof
            outcome = yield from _again(settings, request, proof, attempt + 1, heard)
            if not _failed(outcome):
                return recovered(settings, request, start, attempt + 1, outcome, heard)
            continue

        decision = Decision(False)
        if (
            policy is not None
            and found.kind is not None
            and policy.budget is not None
            and settings.store is not None
            and settings.store.shares_counts
        ):
            # The budget counted across the processes sharing the store, on the failure path
            # only and at most every tenth of its window.
            budget = policy.budget
            due = budget.to_share(origin, now, budget.window / 10)
            if due is not None:
                fleet = yield StoreOp(
                    settings.store, "share_counts", (origin_text(origin), *due, budget.window)
                )
                budget.shared(origin, now, cast("tuple[int, int] | None", fleet))
        if policy is not None and found.kind is not None:
            decision = decide(
                policy,
                attempt=attempt,
                elapsed=elapsed,
                kind=found.kind,
                method=request.method,
                has_idempotency_key=_has_idempotency_key(request),
                replayable=replayable,
                server_delay=found.delay,
                origin=origin,
                now=now,
            )
        if decision.retry:
            record = Attempt(*fields, "retry", decision.wait, decision.wait_reason)
            history.append(record)
            if response is not None and body is None:
                # Before any user code runs: a hook that blocks must not hold the connection.
                yield Close(response)
            if heard:
                emit(settings, retry_scheduled(record, now, decision))
            if policy is not None and policy.on_retry is not None:
                call_hook("on_retry", policy.on_retry, record, now)
            assert policy is not None
            count_retry(settings, request, policy, decision.wait)
            yield Sleep(decision.wait)
            if policy.shrinks_timeouts:
                assert policy.deadline is not None
                shrink_timeouts(request, policy.deadline - (settings.clock() - start.started))
            if proof is not None:
                request = carrying(request)  # its fresh proof on a copy of its own (httpx)
            outcome = yield from _again(settings, request, proof, attempt + 1, heard)
            share = hear_quota(settings, request, policy, outcome)
            if share is not None:
                yield share
            if not _failed(outcome):
                return recovered(settings, request, start, attempt + 1, outcome, heard)
            continue

        note = token_note(
            decision.note,
            status=found.status,
            response=response,
            details=found.details,
            request=request,
            origin=origin,
            auth=settings.auth,
            token=token,
            minted=minted,
            replayable=replayable,
        )
        if token is not None and proof is not None and found.code == "use_dpop_nonce":
            note = nonce_note(nonce_replayed, replayable)
        if heard and decision.cap is not None:
            assert decision.note is not None
            emit(
                settings,
                RetryRefused(now, request.method, url, attempt, decision.cap, decision.note),
            )
        action = "return" if response is not None and not settings.raise_errors else "raise"
        history.append(Attempt(*fields, action, note=note))
        if isinstance(outcome, Exception):
            if len(history) > 1 or note:
                attach_attempts(outcome, tuple(history))
            if heard:
                gave_up(settings, request, start, attempt, None, outcome, note)
            raise outcome
        assert response is not None
        if not settings.raise_errors:
            if heard:
                gave_up(settings, request, start, attempt, response, None, note)
            return response
        if body is None:
            body, body_cut = yield from read_error_body(settings, response, start)
        details = found.details
        if details is None:
            details = describe(
                response.status_code,
                response.headers,
                body,
                settings.wall_clock(),
                error_scrubber(request, settings.known_secrets()),
            )
        typed = build_error(
            request,
            buffered(response, body, request),
            details,
            attempts=tuple(history),
            stopped=_stopped(note, attempt),
            secrets=settings.known_secrets(),
            body_cut=body_cut,
        )
        if heard:
            gave_up(settings, request, start, attempt, response, typed, note)
        raise typed


def _has_idempotency_key(request: Request) -> bool:
    """Whether the request may be retried as if idempotent (it carries an Idempotency-Key, or
    the library marked it so: a token request)."""
    return "idempotency-key" in request.headers or bool(
        request.extensions.get(IDEMPOTENT_EXTENSION)
    )


def first_retry(
    policy: Retry,
    request: Request,
    status: int,
    code: str | None,
    delay: tuple[float, str] | None,
    now: float,
) -> Decision | None:
    """What ``policy`` does after the first send of ``request`` got ``status`` (with the OAuth
    ``code`` and the server's ``delay``, as :func:`assess` finds them): the decision :func:`run`
    takes, or None when such an answer is not retried at all. For telling a user what would
    happen (the ``probe`` command) without doing it; the retry budget is drawn on as
    :func:`run` would, unless ``policy`` has none."""
    kind = retry_kind(policy, status, code)
    if kind is None:
        return None
    return decide(
        policy,
        attempt=1,
        elapsed=0.0,
        kind=kind,
        method=request.method,
        has_idempotency_key=_has_idempotency_key(request),
        replayable=is_replayable(request),
        server_delay=delay,
        origin=origin_of(request.url),
        now=now,
    )


def _replacement(
    settings: Settings, request: Request, start: Start, rejected: Token, fix: TokenFix, before: str
) -> Flow[tuple[Token, bool]]:
    """The token to send the request again with, and whether it was fetched for it (rather
    than found, fetched meanwhile by another request): the single-flight fetch, waited for no
    longer than the request's time allows (``before`` says what the request did, for the
    :class:`TokenWaitTimeout` raised past that)."""
    call = _token_flow.token_call(settings, request, start.policy, start.started, before)
    found = yield _token_flow.token_lock(settings, call, rejected, fix.scope)
    return cast("tuple[Token, bool]", found)


def send_first(
    settings: Settings, request: Request, start: Start, proof: Proof | None = None
) -> Flow[Response]:
    """A request's first send as a flow, and its recovery when the outcome enters one: for the
    requests the flows make themselves (token requests, with a DPoP ``proof`` already in their
    headers when the credentials have a key). The transports send a user's request
    themselves, so that a 2xx never enters a generator."""
    outcome = yield from send(request)
    status = None if isinstance(outcome, Exception) else outcome.status_code
    if proof is not None and not isinstance(outcome, Exception):
        proof.heard(request, outcome)
    if enters_flow(start, status):
        return (yield from run(settings, request, outcome, start, None, proof))
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def resend(settings: Settings, request: Request, proof: Proof | None) -> Flow[Response | Exception]:
    """Send again, with a fresh DPoP proof when the request carries one (a proof's ``jti`` is
    single-use), and remember the nonce the answer brings."""
    if proof is None:
        return (yield from send(request))
    proof.sign(request, settings.wall_clock())
    outcome = yield from send(request)
    if not isinstance(outcome, Exception):
        proof.heard(request, outcome)
    return outcome


def send(request: Request) -> Flow[Response | Exception]:
    """Send once more; a failure is an outcome to judge, not an error to raise."""
    try:
        return cast(Response, (yield Send(request)))
    except Exception as error:
        return error


def _failed(outcome: Response | Exception) -> bool:
    """Whether a resend's outcome needs recovery again (a transport error, an error status)."""
    return isinstance(outcome, Exception) or outcome.status_code >= 400


def read_error_body(
    settings: Settings, response: Response, start: Start
) -> Flow[tuple[bytes, str | None]]:
    """Read an error body within the size cap and the time the deadline leaves: the bytes,
    and the note that says why they stop short, if they do."""
    left = time_left(start.policy, start.started, settings.clock())
    command = read_body(response, settings.max_error_body, left)
    body, cut = cast(BodyRead, (yield command))
    return body, cut_note(command, cut, "error body", "max_error_body")


def attach_attempts(error: BaseException, attempts: tuple[Attempt, ...]) -> None:
    """Record the attempt history on a transport error that is re-raised as it is."""
    error.remedy_attempts = attempts  # type: ignore[attr-defined]
    add_note = getattr(error, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note("httpx_remedy attempts:\n  " + "\n  ".join(map(str, attempts)))


def _stopped(note: str | None, attempt: int) -> str | None:
    if not note:
        return None
    if attempt == 1:
        return f"not retried: {note}"
    return f"gave up after {attempt} attempts: {note}"


def _again(
    settings: Settings, request: Request, proof: Proof | None, attempt: int, heard: bool
) -> Flow[Response | Exception]:
    """Send attempt number ``attempt`` (see :func:`resend`), told to the listeners."""
    if heard:
        from ._events import RequestSent

        url = redact_url(request.url)
        emit(settings, RequestSent(settings.clock(), request.method, url, attempt))
    return (yield from resend(settings, request, proof))
