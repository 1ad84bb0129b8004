"""Pacing: staying under a server's rate limit from the quota it announces on every response,
instead of collecting a 429 and waiting it out.

A :class:`Pacer` keeps, per origin, the window the server last described (when it resets, how
many requests are left, the limit and window length when known) and books every send into it:

- far from the limit, a booking costs a decrement and never waits;
- once the quota is spent, a request waits for the reset (and, when the limit and window are
  known, sends beyond the next window's limit are booked into the window after, so that the
  waiters do not all burst out at the reset and collect the 429 anyway);
- when the quota is low (below ``spread_below`` of the limit), the remaining requests are
  spread evenly over the time left instead of bursting.

The server's word wins over the local count when it reports fewer requests left (other
processes, other clients of the same account); a spent quota is also announced through the
transport's :class:`~._store.Store` as a pause, so that a fleet waits together.

Sans-I/O: :func:`pace_before_send` returns the :class:`~._commands.Sleep` a driver carries out
(or raises :class:`~._exceptions.PacingRefused`), :func:`pace_after_response` the
:class:`~._commands.StoreOp` that shares a spent quota; neither sleeps nor does I/O.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

from ._commands import Sleep, StoreOp
from ._exceptions import PacingRefused
from ._http import Request, Response, origin_of, origin_text
from ._listen import emit, listening
from ._pacer import DEFAULT_PACER, Pacer
from ._policy import waits_disabled
from ._quota import mentions_quota, quota
from ._redact import redact_url

if TYPE_CHECKING:
    from ._policy import Retry
    from ._settings import Settings

#: ``request.extensions[PACE_EXTENSION] = False`` turns pacing off for one request.
PACE_EXTENSION: Final = "remedy.pace"


def pace_before_send(
    settings: Settings, request: Request, policy: Retry, pacer: Pacer
) -> Sleep | None:
    """Before a first send, for a policy whose pacer has heard of some quota: the wait the
    quota asks for (None: none), or :class:`PacingRefused` at once when it is longer than the
    policy lets a request wait."""
    if request.extensions.get(PACE_EXTENSION) is False or _testing(pacer):
        return None
    most = policy.max_retry_after
    if policy.deadline is not None:
        most = min(most, policy.deadline)
    now = settings.clock()
    wait, window = pacer.book(origin_of(request.url), now, most)
    if wait <= 0:
        return None
    assert window is not None
    if wait > most:
        cap = (
            f"more than max_retry_after ({policy.max_retry_after:g}s)"
            if most == policy.max_retry_after
            else f"past the deadline ({policy.deadline:g}s)"
        )
        raise PacingRefused(
            origin_text(origin_of(request.url)),
            wait,
            cap,
            remaining=window.left,
            limit=window.limit,
            window=window.length,
            source=window.source,
        )
    if listening(settings):
        from ._events import RequestPaced  # loaded by the first event (import time)

        url = redact_url(request.url)
        emit(settings, RequestPaced(now, request.method, url, wait, window.source))
    return Sleep(wait)


def pace_after_response(
    settings: Settings, request: Request, policy: Retry, pacer: Pacer, response: Response
) -> StoreOp | None:
    """After a first send: take in the quota the response announces, if any. Returns the store
    operation that shares a newly spent quota with other processes, if there is a store.

    The drivers call it only for a response that :func:`~._quota.mentions_quota` (inlined)."""
    headers = response.headers
    if request.extensions.get(PACE_EXTENSION) is False or _testing(pacer):
        return None
    found = quota(headers, settings.wall_clock())
    if found is None:
        return None
    origin = origin_of(request.url)
    pause = pacer.heard(origin, found, settings.clock())
    if pause is None or settings.store is None:
        return None
    return StoreOp(
        settings.store, "pause", (origin_text(origin), min(pause, policy.max_retry_after))
    )


def _testing(pacer: Pacer) -> bool:
    """Inside ``testing.no_wait()`` the process-wide pacer is left alone, so that one test's
    quota cannot hold back the next one's requests (a pacer passed explicitly still paces)."""
    return pacer is DEFAULT_PACER and waits_disabled()


def count_retry(settings: Settings, request: Request, policy: Retry, wait: float) -> None:
    """Count a retry about to be sent after ``wait`` seconds in the quota it will spend, so
    that the paced first sends leave room for it. Its wait stays the retry policy's: a
    server's ``Retry-After`` takes precedence over its rate-limit headers."""
    pacer = policy.pace
    if pacer is None or not pacer._windows or _testing(pacer):
        return
    if request.extensions.get(PACE_EXTENSION) is False:
        return
    pacer.book(origin_of(request.url), settings.clock() + wait, math.inf)


def pace_first_send(settings: Settings, request: Request, policy: Retry | None) -> Sleep | None:
    """Before a first send: the wait the quota asks for, when the policy's pacer has heard of
    some quota (:func:`pace_before_send`); None when there is nothing to pace."""
    pacer = None if policy is None else policy.pace
    if pacer is None or not pacer._windows:
        return None
    assert policy is not None
    return pace_before_send(settings, request, policy, pacer)


def hear_quota(
    settings: Settings, request: Request, policy: Retry | None, outcome: Response | Exception
) -> StoreOp | None:
    """Take in the quota an answer announces, a first send's or a retry's (see
    :func:`pace_after_response`); the drivers' hot path inlines the gate before calling it."""
    pacer = None if policy is None else policy.pace
    if pacer is None or isinstance(outcome, Exception) or not mentions_quota(outcome.headers):
        return None
    assert policy is not None
    return pace_after_response(settings, request, policy, pacer, outcome)
