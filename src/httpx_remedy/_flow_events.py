"""The recovery flow's events that take more than a line to build: kept out of ``_recovery``,
so that it reads as the decisions it takes (see ``_events`` for the records)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ._first_send import IDEMPOTENT_EXTENSION, Start
from ._http import Request, Response, stack_of
from ._listen import emit
from ._policy import Attempt, Decision
from ._redact import redact_url
from ._settings import Settings

if TYPE_CHECKING:
    from ._events import RetryScheduled

# ``_events`` is imported by the first event made, not by ``import httpx_remedy``: its records
# are dataclasses, whose making is a fair share of the import time.


def retry_scheduled(record: Attempt, now: float, decision: Decision) -> RetryScheduled:
    """The event for a retry: ``record`` is the failed attempt's, ``decision`` the retry."""
    from ._events import RetryScheduled

    assert decision.wait_reason is not None
    return RetryScheduled(
        now,
        record.method,
        record.url,
        record.number,
        record.max_attempts,
        record.status,
        record.error,
        decision.wait,
        decision.wait_reason,
    )


def recovered(
    settings: Settings,
    request: Request,
    start: Start,
    attempts: int,
    outcome: Response | Exception,
    heard: bool,
) -> Response:
    """The response a resend got that needs no more recovery, told to the listeners."""
    response = cast(Response, outcome)
    if heard:
        from ._events import Recovered

        now = settings.clock()
        url = redact_url(request.url)
        status = response.status_code
        emit(
            settings,
            Recovered(now, request.method, url, attempts, status, now - start.started),
        )
    return response


def gave_up(
    settings: Settings,
    request: Request,
    start: Start,
    attempts: int,
    response: Response | None,
    error: BaseException | None,
    note: str | None,
) -> None:
    """The final outcome of a failed request, told to the listeners: ``error`` raised (a
    typed error, or the transport's), or ``response`` returned as it is."""
    from ._events import GaveUp

    now = settings.clock()
    url = redact_url(request.url)
    status = None if response is None else response.status_code
    what = type(error).__name__ if error is not None else "returned as is"
    version = reason = ""
    if response is not None:
        version = response.extensions.get("http_version", b"HTTP/1.1").decode("ascii", "replace")
        reason = response.reason_phrase
    event = GaveUp(
        now,
        request.method,
        url,
        attempts,
        status,
        what,
        now - start.started,
        error is not None,
        note or None,
        version,
        reason,
        bool(request.extensions.get(IDEMPOTENT_EXTENSION)),
        stack_of(request).__name__,
    )
    emit(settings, event)
