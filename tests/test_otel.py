"""The OpenTelemetry listener, against the real SDK and its in-memory exporters, with
opentelemetry-instrumentation-httpx on the same client: what the library did shows on the
request's own span, a token fetch is a span nested in it, and the metrics count it all."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.instrumentation.httpx")

from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

import httpx_remedy as remedy
from httpx_remedy.otel import METRICS, OpenTelemetryListener

from .helpers import API, FakeAS, FakeClock, Mode, Server, cc

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

    def client(self, mode: Mode, inner: Any, clock: FakeClock, **options: Any) -> Any:
        client = mode.client(inner, clock, listeners=[self.listener], **options)
        instrumentor = HTTPXClientInstrumentor()
        instrumentor.instrument_client(client.httpx, tracer_provider=self.tracer_provider)
        return client

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:  # nothing recorded at all
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def otel() -> Otel:
    return Otel()


def test_retries_show_on_the_requests_span_and_in_the_metrics(
    mode: Mode, clock: FakeClock, otel: Otel
) -> None:
    with otel.client(mode, Server((503, {"Retry-After": "2"}), 200), clock) as client:
        assert client.get(URL).status_code == 200
    (span,) = otel.finished()  # the instrumentation's span: the library ran inside it
    assert span.name == "GET"
    assert span.attributes is not None
    assert span.attributes["http.request.resend_count"] == 1
    names = [e.name for e in span.events]
    assert names == ["httpx_remedy.attempt_failed", "httpx_remedy.retry"]
    retry = span.events[1].attributes
    assert retry is not None
    assert retry["httpx_remedy.retry.reason"] == "retry-after"
    assert retry["httpx_remedy.retry.wait"] == 2.0
    assert retry["http.response.status_code"] == 503
    assert retry["server.address"] == "api.example.test"
    assert retry["server.port"] == 443
    metrics = otel.metrics()
    (retries,) = metrics["httpx_remedy.retries"]
    assert retries.value == 1
    assert retries.attributes["httpx_remedy.retry.reason"] == "retry-after"
    assert retries.attributes["http.request.method"] == "GET"
    (wait,) = metrics["httpx_remedy.retry.wait"]
    assert wait.sum == 2.0
    (attempts,) = metrics["httpx_remedy.request.attempts"]
    assert attempts.sum == 2
    assert attempts.attributes["httpx_remedy.outcome"] == "recovered"


def test_a_budget_refusal_and_the_final_failure(mode: Mode, clock: FakeClock, otel: Otel) -> None:
    policy = remedy.Retry(budget=remedy.RetryBudget(ratio=0, minimum=0, reserve=0))
    with (
        otel.client(mode, Server(503), clock, retry=policy) as client,
        pytest.raises(remedy.ServiceUnavailable),
    ):
        client.get(URL)
    (span,) = otel.finished()
    assert [e.name for e in span.events] == [
        "httpx_remedy.attempt_failed",
        "httpx_remedy.retry_refused",
        "httpx_remedy.gave_up",
        # and the instrumentation records the exception the transport raised
        "exception",
    ]
    (refusals,) = otel.metrics()["httpx_remedy.retry.refusals"]
    assert refusals.attributes["httpx_remedy.retry.cap"] == "budget"
    (attempts,) = otel.metrics()["httpx_remedy.request.attempts"]
    assert attempts.attributes["error.type"] == "ServiceUnavailable"
    assert attempts.attributes["httpx_remedy.outcome"] == "gave_up"


def test_a_token_fetch_is_a_span_nested_in_the_request(
    mode: Mode, clock: FakeClock, otel: Otel
) -> None:
    fake = FakeAS()
    with otel.client(mode, fake, clock, credentials=cc()) as client:
        client.get(API + "/items")
        fake.revoke_all()
        client.get(API + "/items")
    spans = otel.finished()
    fetches = [s for s in spans if s.name == "httpx_remedy token fetch"]
    requests = [s for s in spans if s.name == "GET"]
    assert len(fetches) == 2
    assert len(requests) == 2
    for fetch, request in zip(fetches, requests, strict=True):
        assert fetch.parent is not None
        assert request.context is not None
        assert fetch.parent.span_id == request.context.span_id
        assert fetch.context is not None
        assert fetch.context.trace_id == request.context.trace_id
        assert fetch.start_time is not None
        assert request.start_time is not None
        assert fetch.start_time >= request.start_time
    assert fetches[0].attributes is not None
    assert fetches[0].attributes["httpx_remedy.token.proactive"] is True
    assert fetches[1].attributes is not None
    assert fetches[1].attributes["httpx_remedy.token.proactive"] is False
    assert "httpx_remedy.token_rejected" in [e.name for e in requests[1].events]
    durations = otel.metrics()["httpx_remedy.token.fetch.duration"]
    assert sum(point.count for point in durations) == 2
    text = " ".join(str(s.to_json()) for s in spans)
    assert "access-1" not in text


def test_a_success_records_nothing(mode: Mode, clock: FakeClock, otel: Otel) -> None:
    with otel.client(mode, Server(200), clock) as client:
        client.get(URL)
    (span,) = otel.finished()
    assert span.events == ()
    assert span.attributes is not None
    assert "http.request.resend_count" not in span.attributes
    assert otel.metrics() == {}


def test_pauses_store_faults_and_the_rest(otel: Otel) -> None:
    listener = otel.listener
    listener(remedy.PauseHeard(1.0, "https://api.example.test", 3.0, 429))
    listener(remedy.PauseHonoured(1.0, "GET", URL, 2.0))
    listener(remedy.StoreFault(1.0, "Redis at redis://x", "ConnectionError"))
    listener(remedy.StoreFault(2.0, "Redis at redis://x", "", recovered=True))
    listener(remedy.TokenReused(1.0, shared=True))
    listener(remedy.TokenFetchFailed(1.0, "client_credentials", "InvalidClient", True, False))
    listener(remedy.GaveUp(1.0, "GET", "http://h:8080/x", 1, 404, "returned as is", 0.1, False))
    metrics = otel.metrics()
    assert sum(p.value for p in metrics["httpx_remedy.pauses"]) == 2
    assert sum(p.sum for p in metrics["httpx_remedy.pause.duration"]) == 5.0
    assert sum(p.value for p in metrics["httpx_remedy.store.faults"]) == 1
    assert sum(p.value for p in metrics["httpx_remedy.token.reused"]) == 1
    (failure,) = metrics["httpx_remedy.token.fetch.failures"]
    assert failure.attributes["error.type"] == "InvalidClient"
    (attempts,) = metrics["httpx_remedy.request.attempts"]
    assert attempts.attributes["error.type"] == "404"
    assert attempts.attributes["server.port"] == 8080
    assert set(metrics) <= set(METRICS)
    assert repr(listener) == "OpenTelemetryListener()"


def test_span_events_with_an_sdk_span_current(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("outer"):
        otel.listener(remedy.PauseHonoured(1.0, "GET", URL, 2.0))
        otel.listener(remedy.TokenReused(1.0, shared=False))
        otel.listener(remedy.TokenFetchFailed(1.0, "refresh_token", "InvalidGrant", True, False))
        otel.listener(remedy.TokenRejected(1.0, "GET", URL, 1, 401, "invalid_token", False))
        otel.listener(remedy.ErrorClassified(1.0, "GET", URL, 1, None, "ConnectError", True))
    (outer,) = otel.finished()
    assert [e.name for e in outer.events] == [
        "httpx_remedy.pause",
        "httpx_remedy.token_reused",
        "httpx_remedy.token_fetch_failed",
        "httpx_remedy.token_rejected",
        "httpx_remedy.attempt_failed",
    ]
    failed = outer.events[-1].attributes
    assert failed is not None
    assert failed["error.type"] == "ConnectError"


def test_the_global_providers_by_default() -> None:
    listener = OpenTelemetryListener()  # the API's no-op providers: nothing to see, no error
    listener(remedy.RetryScheduled(1.0, "GET", URL, 1, 3, 503, None, 1.0, "backoff"))
    with httpx.Client() as client:
        assert client is not None


def test_without_the_extra_it_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # makes the import fail
    monkeypatch.delitem(sys.modules, "httpx_remedy.otel")
    with pytest.raises(ModuleNotFoundError, match=r"httpx-remedy\[otel\]"):
        importlib.import_module("httpx_remedy.otel")
