"""Prometheus metrics and OpenTelemetry spans for the service.

Metrics live in a registry of their own per app (so two apps in one process,
as in tests, do not collide) and are served at GET /metrics.

Each translation is one span named `{gen_ai.operation.name} {gen_ai.request.model}`
with the GenAI semantic-convention attributes (status Development; the
`gen_ai.*` names of semantic-conventions-genai, `gen_ai.provider.name` rather
than the deprecated `gen_ai.system`, `gen_ai.usage.input_tokens/output_tokens`
rather than prompt/completion tokens).  Spans are exported over OTLP/HTTP only
when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; otherwise the
API's no-op tracer costs nothing.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: the schema the span attributes follow (GenAI conventions moved out of the main repository in 1.42)
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
OPERATION = "text_completion"
PROVIDER = "nlq"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80)


class Metrics:
    """The service's instruments, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("nlq_requests", "HTTP requests by endpoint, dialect and status code",
                                ["endpoint", "dialect", "status"], registry=r)
        self.latency = Histogram("nlq_request_duration_seconds", "HTTP request latency",
                                 ["endpoint", "dialect"], buckets=LATENCY_BUCKETS, registry=r)
        self.translations = Counter("nlq_translations", "Translations by outcome (ok, failed, refused)",
                                    ["endpoint", "dialect", "status"], registry=r)
        self.translation_latency = Histogram("nlq_translation_duration_seconds",
                                             "Time spent in the model pipeline per translation",
                                             ["endpoint", "dialect"], buckets=LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("nlq_tokens", "Model tokens by direction (input, output)",
                              ["endpoint", "dialect", "direction"], registry=r)
        self.retries = Counter("nlq_retries", "Extra model attempts after an invalid query",
                               ["endpoint", "dialect"], registry=r)
        self.validation_failures = Counter("nlq_validation_failures",
                                           "Queries that failed validation (generated or submitted)",
                                           ["endpoint", "dialect", "kind"], registry=r)
        self.model_calls = Counter("nlq_model_calls", "Translations handed to the model", ["endpoint"],
                                   registry=r)
        self.rejections = Counter("nlq_rejections", "Requests refused before any work, by reason",
                                  ["endpoint", "reason"], registry=r)
        self.queue_depth = Gauge("nlq_model_queue_depth", "Translations waiting or running", registry=r)
        self.model_ready = Gauge("nlq_model_ready", "1 once the model is loaded", registry=r)

    def record_translation(self, endpoint: str, result: Any) -> None:
        """Count one `Translation`'s outcome, tokens, retries and invalid attempts."""
        dialect = result.dialect
        self.translations.labels(endpoint, dialect, result.status).inc()
        self.translation_latency.labels(endpoint, dialect).observe(result.timings.get("total_s", 0.0))
        tokens = result.tokens
        self.tokens.labels(endpoint, dialect, "input").inc(tokens["prompt"])
        self.tokens.labels(endpoint, dialect, "output").inc(tokens["completion"])
        if len(result.attempts) > 1:
            self.retries.labels(endpoint, dialect).inc(len(result.attempts) - 1)
        for attempt in result.attempts:
            if not attempt.valid:
                self.validation_failures.labels(endpoint, dialect, attempt.error_kind or "syntax").inc()


def otlp_enabled() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


_PROVIDER_SET = False


def setup_tracing(service_name: str = "nlq") -> None:
    """Install an OTLP/HTTP exporting tracer provider, once, when an endpoint is configured."""
    global _PROVIDER_SET
    if _PROVIDER_SET or not otlp_enabled():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _PROVIDER_SET = True


def shutdown_tracing() -> None:
    """Flush spans still buffered (at service shutdown)."""
    if not _PROVIDER_SET:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def tracer():
    from opentelemetry import trace

    return trace.get_tracer("nlq.service", schema_url=SCHEMA_URL)


def span_attributes_before(model: str, dialect: str, max_tokens: int, temperature: float) -> dict:
    return {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": max_tokens,
        "gen_ai.request.temperature": temperature,
        "gen_ai.output.type": "text",
        "nlq.dialect": dialect,
    }


def span_attributes_after(result: Any) -> dict:
    """The usage and outcome attributes of a finished `Translation`."""
    tokens = result.tokens
    attributes = {
        "gen_ai.usage.input_tokens": tokens["prompt"],
        "gen_ai.usage.output_tokens": tokens["completion"],
        "gen_ai.response.finish_reasons": [a.finish_reason or "unknown" for a in result.attempts],
        "nlq.status": result.status,
        "nlq.attempts": len(result.attempts),
    }
    if result.model:
        attributes["gen_ai.response.model"] = result.model
    return attributes
