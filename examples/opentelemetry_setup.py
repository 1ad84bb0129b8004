"""OpenTelemetry: the library's retries and token fetches on your traces and in your metrics.

Needs ``pip install 'httpx-remedy[otel]' opentelemetry-sdk opentelemetry-instrumentation-httpx``.
The exporters here keep everything in memory and print it; in production use your OTLP (or
Prometheus) exporter instead. Against a real OAuth server and API on 127.0.0.1.
Run: ``python examples/opentelemetry_setup.py``.
"""

from __future__ import annotations

import httpx
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import httpx_remedy as remedy
from httpx_remedy.otel import OpenTelemetryListener
from httpx_remedy.testing import OAuthServer


def main() -> None:
    # 1. The usual OpenTelemetry setup (here with in-memory exporters, to print them).
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    # 2. The library reports to OpenTelemetry, and still logs (the default listener).
    remedy.set_listeners([remedy.LoggingListener(), OpenTelemetryListener()])

    with OAuthServer() as server:
        server.add_client("app", "app-secret-0123456789", scope="read")
        creds = remedy.ClientCredentials(server.token_url, "app", "app-secret-0123456789")
        policy = remedy.Retry(budget=remedy.RetryBudget())
        transport = remedy.RemedyTransport(credentials=creds, retry=policy)
        with httpx.Client(base_url=server.url, transport=transport) as client:
            # 3. httpx's own instrumentation wraps the transport: one span per request, and
            # the library's events land on it.
            HTTPXClientInstrumentor().instrument_client(client)
            server.fail_next_api_requests(1, 503, retry_after=0.1)
            client.get("/api/items")

    print("spans:")
    for span in spans.get_finished_spans():
        parent = f" (child of {span.parent.span_id:x})" if span.parent else ""
        print(f"  {span.name} {span.context.span_id:x}{parent}")
        for event in span.events:
            print(f"    event {event.name}: {dict(event.attributes or {})}")
        resends = (span.attributes or {}).get("http.request.resend_count")
        if resends is not None:
            print(f"    http.request.resend_count = {resends}")
    print("metrics:")
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != "httpx_remedy":
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is None:
                        value = f"sum={point.sum:.3g} count={point.count}"  # type: ignore[union-attr]
                    print(f"  {metric.name} {dict(point.attributes or {})}: {value}")


if __name__ == "__main__":
    main()
