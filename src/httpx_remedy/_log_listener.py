"""The default listener: the library's log lines, on the ``httpx_remedy`` logger.

One INFO line per retry and per token fetch, one for the final outcome of a failed request or
token fetch (a WARNING when it failed after retrying), one for each wait, DPoP nonce replay,
device-login slow-down and credentials binding, and the rest at DEBUG: the requests that took a
token another request fetched are counted on the fetch's one line, not each at INFO.

A typed error raised by the transport means httpx never sees the response, and so never logs
its ``HTTP Request: GET ... "HTTP/1.1 404 Not Found"`` line: this listener logs it for httpx,
on the client's own logger (``httpx``, or ``httpx2``), with the URL redacted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._events import Event

# ``_events`` is imported by the first event, not with this listener (installed by
# ``import httpx_remedy``): its records are dataclasses, whose making costs import time.


class LoggingListener:
    """Logs each event as one line of text (:meth:`Event.describe`) on ``logger`` (default:
    the ``httpx_remedy`` logger), at the level that event deserves; see the module docstring.
    Installed process-wide by default; ``httpx_remedy.set_listeners([])`` removes it."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("httpx_remedy")

    def __repr__(self) -> str:
        return f"LoggingListener({self.logger.name!r})"

    def __call__(self, event: Event, /) -> None:
        from ._events import GaveUp

        level = level_of(event)
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", event.describe())
        if (
            isinstance(event, GaveUp)
            and event.raised
            and not event.ours
            and event.status is not None
        ):
            client_logger = logging.getLogger(event.client_logger)  # httpx's, or httpx2's
            if not client_logger.isEnabledFor(logging.INFO):
                return
            # What httpx's client logs for every response it gets back (httpx._client).
            client_logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                event.method,
                event.url,
                event.http_version,
                event.status,
                event.reason_phrase,
            )


def level_of(event: Event) -> int:
    """The level an event is logged at."""
    from ._events import (
        CredentialsBound,
        GaveUp,
        NonceReplayed,
        PauseHeard,
        PauseHonoured,
        PollingSlowed,
        RequestPaced,
        RetryScheduled,
        StoreFault,
        TokenFetched,
        TokenFetchFailed,
    )

    if isinstance(
        event,
        (
            RetryScheduled,
            TokenFetched,
            PauseHeard,
            PauseHonoured,
            RequestPaced,
            NonceReplayed,
            PollingSlowed,
            CredentialsBound,
        ),
    ):
        return logging.INFO
    if isinstance(event, GaveUp):
        if event.ours:  # the token fetch's own event says what came of it
            return logging.DEBUG
        return logging.WARNING if event.attempts > 1 else logging.INFO
    if isinstance(event, TokenFetchFailed):
        return logging.WARNING if event.kept else logging.INFO
    if isinstance(event, StoreFault):
        return logging.INFO if event.recovered else logging.WARNING
    return logging.DEBUG
