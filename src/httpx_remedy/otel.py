"""OpenTelemetry for httpx-remedy: ``pip install 'httpx-remedy[otel]'`` (opentelemetry-api).

:class:`OpenTelemetryListener` turns the library's events into what an OpenTelemetry backend
shows: span events (and attributes) on the current span, which is the request's own span when
the client is instrumented (``opentelemetry-instrumentation-httpx`` wraps the transport, so the
library runs inside that span); a span of its own for each token fetch (the token request goes
around the client, so no other span covers it); and metrics. Attribute names follow the
OpenTelemetry HTTP semantic conventions where they apply (``http.request.method``,
``server.address``, ``http.response.status_code``, ``error.type``,
``http.request.resend_count``); the library's own are under ``httpx_remedy.``.

Prometheus: install OpenTelemetry's Prometheus exporter (``opentelemetry-exporter-prometheus``)
and these metrics are scraped like any other; there is no separate Prometheus listener.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

try:
    from opentelemetry import metrics, trace
except ImportError as error:  # the extra is not installed
    raise ModuleNotFoundError(
        "httpx_remedy.otel needs opentelemetry-api: pip install 'httpx-remedy[otel]'",
        name=error.name,
    ) from error

from ._events import (
    CredentialsBound,
    ErrorClassified,
    Event,
    GaveUp,
    NonceReplayed,
    PauseHeard,
    PauseHonoured,
    PollingSlowed,
    Recovered,
    RequestEvent,
    RequestPaced,
    RetryRefused,
    RetryScheduled,
    StoreFault,
    TokenFetched,
    TokenFetchFailed,
    TokenRejected,
    TokenReused,
)

__all__ = ["METRICS", "OpenTelemetryListener"]

_SCOPE = "httpx_remedy"

#: The instruments, by name: (kind, unit, description).
METRICS: dict[str, tuple[str, str, str]] = {
    "httpx_remedy.request.attempts": (
        "histogram",
        "{attempt}",
        "Sends of a request that needed recovery, the first included, by outcome",
    ),
    "httpx_remedy.retries": ("counter", "{retry}", "Retries scheduled, by wait reason"),
    "httpx_remedy.retry.wait": ("histogram", "s", "Seconds waited before a retry"),
    "httpx_remedy.retry.refusals": (
        "counter",
        "{refusal}",
        "Retries refused, by the cap that refused them (budget, attempts, deadline ...)",
    ),
    "httpx_remedy.token.fetch.duration": ("histogram", "s", "Seconds a token fetch took"),
    "httpx_remedy.token.fetch.failures": ("counter", "{failure}", "Token fetches that failed"),
    "httpx_remedy.token.reused": (
        "counter",
        "{request}",
        "Requests that took a token a concurrent fetch got",
    ),
    "httpx_remedy.pauses": (
        "counter",
        "{pause}",
        "Waits before a first send: shared pauses heard and honoured, and pacing",
    ),
    "httpx_remedy.pause.duration": (
        "histogram",
        "s",
        "Seconds of the shared pauses, and of the waits pacing put before a first send",
    ),
    "httpx_remedy.dpop.nonce_replays": (
        "counter",
        "{replay}",
        "Requests sent again with the DPoP nonce the server asked for, by where",
    ),
    "httpx_remedy.store.faults": ("counter", "{fault}", "Shared store outages"),
}


class OpenTelemetryListener:
    """A listener (``set_listeners([LoggingListener(), OpenTelemetryListener()])``, or a
    transport's ``listeners=``) reporting to OpenTelemetry: the global tracer and meter
    providers, or the ones given."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from . import __version__

        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider)
        self._instruments: dict[str, Any] = {}
        for name, (kind, unit, description) in METRICS.items():
            make = meter.create_histogram if kind == "histogram" else meter.create_counter
            self._instruments[name] = make(name, unit=unit, description=description)

    def __repr__(self) -> str:
        return "OpenTelemetryListener()"

    def _record(self, name: str, value: float, attributes: dict[str, Any]) -> None:
        instrument = self._instruments[name]
        if METRICS[name][0] == "histogram":
            instrument.record(value, attributes)
        else:
            instrument.add(value, attributes)

    def __call__(self, event: Event, /) -> None:
        span = trace.get_current_span()
        recording = span.is_recording()
        base = _request_attributes(event) if isinstance(event, RequestEvent) else {}
        if isinstance(event, RetryScheduled):
            attributes = {
                **base,
                **_status(event.status, event.error),
                "httpx_remedy.retry.reason": event.reason,
            }
            self._record("httpx_remedy.retries", 1, attributes)
            self._record("httpx_remedy.retry.wait", event.wait, attributes)
            if recording:
                span.add_event(
                    "httpx_remedy.retry",
                    {
                        **attributes,
                        "httpx_remedy.attempt": event.attempt,
                        "httpx_remedy.retry.wait": event.wait,
                    },
                )
        elif isinstance(event, RetryRefused):
            attributes = {**base, "httpx_remedy.retry.cap": event.cap}
            self._record("httpx_remedy.retry.refusals", 1, attributes)
            if recording:
                span.add_event(
                    "httpx_remedy.retry_refused",
                    {**attributes, "httpx_remedy.note": event.note},
                )
        elif isinstance(event, (GaveUp, Recovered)):
            attributes = {**base, **_outcome(event)}
            self._record("httpx_remedy.request.attempts", event.attempts, attributes)
            if recording and not (isinstance(event, GaveUp) and event.ours):
                span.set_attribute("http.request.resend_count", event.attempts - 1)
                if isinstance(event, GaveUp):
                    span.add_event("httpx_remedy.gave_up", {**attributes, **_note(event.note)})
        elif isinstance(event, ErrorClassified):
            if recording:
                span.add_event(
                    "httpx_remedy.attempt_failed",
                    {
                        **base,
                        **_status(event.status, event.error),
                        "httpx_remedy.attempt": event.attempt,
                        "httpx_remedy.retryable": event.retryable,
                    },
                )
        elif isinstance(event, TokenFetched):
            self._token_fetched(event)
        elif isinstance(event, TokenFetchFailed):
            attributes = {"httpx_remedy.grant": event.grant, "error.type": event.error}
            self._record("httpx_remedy.token.fetch.failures", 1, attributes)
            if recording:
                remembered = {"httpx_remedy.remembered": event.remembered}
                span.add_event("httpx_remedy.token_fetch_failed", {**attributes, **remembered})
        elif isinstance(event, TokenReused):
            self._record("httpx_remedy.token.reused", 1, {"httpx_remedy.shared": event.shared})
            if recording:
                span.add_event("httpx_remedy.token_reused", {"httpx_remedy.shared": event.shared})
        elif isinstance(event, TokenRejected):
            if recording:
                span.add_event(
                    "httpx_remedy.token_rejected", {**base, **_status(event.status, event.error)}
                )
        elif isinstance(event, (PauseHeard, PauseHonoured, RequestPaced)):
            kind = (
                "heard"
                if isinstance(event, PauseHeard)
                else "honoured"
                if isinstance(event, PauseHonoured)
                else "paced"
            )
            attributes = {**base, "httpx_remedy.pause": kind}
            self._record("httpx_remedy.pauses", 1, attributes)
            self._record("httpx_remedy.pause.duration", event.seconds, attributes)
            if recording:
                span.add_event(
                    "httpx_remedy.pause",
                    {**attributes, "httpx_remedy.pause.seconds": event.seconds},
                )
        elif isinstance(event, NonceReplayed):
            attributes = {**base, "httpx_remedy.dpop.nonce_from": event.where}
            self._record("httpx_remedy.dpop.nonce_replays", 1, attributes)
            if recording:
                span.add_event(
                    "httpx_remedy.nonce_replayed",
                    {**attributes, "http.response.status_code": event.status},
                )
        elif isinstance(event, PollingSlowed):
            if recording:
                span.add_event(
                    "httpx_remedy.polling_slowed",
                    {"httpx_remedy.poll.interval": event.interval},
                )
        elif isinstance(event, CredentialsBound):
            if recording:
                span.add_event(
                    "httpx_remedy.credentials_bound", {"httpx_remedy.origin": event.origin}
                )
        elif isinstance(event, StoreFault) and not event.recovered:
            self._record("httpx_remedy.store.faults", 1, {"error.type": event.error})

    def _token_fetched(self, event: TokenFetched) -> None:
        attributes: dict[str, Any] = {
            "httpx_remedy.grant": event.grant,
            "httpx_remedy.token.proactive": event.proactive,
        }
        self._record("httpx_remedy.token.fetch.duration", event.duration, attributes)
        # A span of its own, a child of the request's, back-dated to when the fetch began: the
        # token request goes to the wrapped transport, around the client and its span. Spans
        # are stamped on the wall clock (``at`` is monotonic): the event is heard as it happens.
        end = time.time_ns()
        span = self._tracer.start_span(
            "httpx_remedy token fetch",
            kind=trace.SpanKind.CLIENT,
            start_time=end - int(event.duration * 1e9),
            attributes={**attributes, "httpx_remedy.token.waiting": event.waiting},
        )
        span.end(end_time=end)


def _request_attributes(event: RequestEvent) -> dict[str, Any]:
    parts = urlsplit(event.url)
    attributes: dict[str, Any] = {"http.request.method": event.method}
    if parts.hostname:
        attributes["server.address"] = parts.hostname
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    if port:
        attributes["server.port"] = port
    return attributes


def _status(status: int | None, error: str | None) -> dict[str, Any]:
    if status is not None:
        found: dict[str, Any] = {"http.response.status_code": status}
        if error:
            found["httpx_remedy.error_code"] = error
        return found
    return {"error.type": error or "_OTHER"}


def _outcome(event: GaveUp | Recovered) -> dict[str, Any]:
    if isinstance(event, Recovered):
        return {"httpx_remedy.outcome": "recovered", "http.response.status_code": event.status}
    # error.type: the exception's class, or the status of an error response returned as it is.
    error = event.error if event.raised else str(event.status)
    found: dict[str, Any] = {"httpx_remedy.outcome": "gave_up", "error.type": error}
    if event.status is not None:
        found["http.response.status_code"] = event.status
    return found


def _note(note: str | None) -> dict[str, Any]:
    return {"httpx_remedy.note": note} if note else {}
