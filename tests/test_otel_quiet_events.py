"""The OpenTelemetry listener and the events that replaced the library's direct log lines
(``RequestPaced``, ``NonceReplayed``, ``PollingSlowed``, ``CredentialsBound``): span events on
the current span, and the metrics they belong in, against the real SDK's in-memory exporters.
A paced wait through a client too, inside the instrumentation's span."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.instrumentation.httpx")

from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from httpx_remedy import (
    CredentialsBound,
    NonceReplayed,
    Pacer,
    PollingSlowed,
    RequestPaced,
    Retry,
    RetryBudget,
)
from httpx_remedy.otel import OpenTelemetryListener

from .helpers import FakeClock, Mode

URL = "https://api.example.test/items"


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.listener = OpenTelemetryListener(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


def test_the_new_events_on_the_current_span_and_in_the_metrics() -> None:
    otel = Otel()
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("GET"):
        otel.listener(CredentialsBound(1.0, "https://api.example.test"))
        otel.listener(RequestPaced(2.0, "GET", URL, 1.5, "ratelimit"))
        otel.listener(
            NonceReplayed(3.0, "POST", "https://auth.example.test/token", 400, "token_endpoint")
        )
        otel.listener(NonceReplayed(4.0, "GET", URL, 401, "resource"))
        otel.listener(PollingSlowed(5.0, 10.0))
    (span,) = otel.spans.get_finished_spans()
    events = {}
    for event in span.events:
        events.setdefault(event.name, []).append(dict(event.attributes or {}))
    assert events["httpx_remedy.credentials_bound"] == [
        {"httpx_remedy.origin": "https://api.example.test"}
    ]
    assert events["httpx_remedy.pause"] == [
        {
            "http.request.method": "GET",
            "server.address": "api.example.test",
            "server.port": 443,
            "httpx_remedy.pause": "paced",
            "httpx_remedy.pause.seconds": 1.5,
        }
    ]
    assert [
        (e["httpx_remedy.dpop.nonce_from"], e["http.response.status_code"], e["server.address"])
        for e in events["httpx_remedy.nonce_replayed"]
    ] == [("token_endpoint", 400, "auth.example.test"), ("resource", 401, "api.example.test")]
    assert events["httpx_remedy.polling_slowed"] == [{"httpx_remedy.poll.interval": 10.0}]

    metrics = otel.metrics()
    (paced,) = metrics["httpx_remedy.pauses"]
    assert (paced.value, paced.attributes["httpx_remedy.pause"]) == (1, "paced")
    (waited,) = metrics["httpx_remedy.pause.duration"]
    assert waited.sum == 1.5
    replays = {
        p.attributes["httpx_remedy.dpop.nonce_from"]: p.value
        for p in metrics["httpx_remedy.dpop.nonce_replays"]
    }
    assert replays == {"token_endpoint": 1, "resource": 1}


def test_a_paced_wait_shows_on_the_requests_span(mode: Mode, clock: FakeClock) -> None:
    otel = Otel()

    def api(request: httpx.Request) -> httpx.Response:
        quota = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}
        return httpx.Response(200, headers=quota)

    retry = Retry(budget=RetryBudget(), pace=Pacer(margin=0.0))
    with mode.client(api, clock, retry=retry, listeners=[otel.listener]) as client:
        HTTPXClientInstrumentor().instrument_client(
            client.httpx, tracer_provider=otel.tracer_provider
        )
        client.get(URL)
        client.get(URL)
    first, second = otel.spans.get_finished_spans()
    assert [e.name for e in first.events] == []
    (event,) = second.events
    assert event.name == "httpx_remedy.pause"
    assert event.attributes is not None
    assert event.attributes["httpx_remedy.pause"] == "paced"
    assert event.attributes["httpx_remedy.pause.seconds"] == 3
