"""OpenTelemetry tracing: OTLP/HTTP export when configured, plus a buffer of recent traces to draw."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import BaseModel

from app import __version__
from app.config import Settings


class SpanRecord(BaseModel):
    """A finished span, reduced to what the dashboard draws."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]

    @property
    def duration_ms(self) -> float:
        """The span's duration in milliseconds."""
        return (self.end_ns - self.start_ns) / 1e6


class RecentTraces(SpanProcessor):
    """Keeps the spans of the most recent traces in memory, for the dashboard's waterfall."""

    def __init__(self, max_traces: int = 200) -> None:
        self.max_traces = max_traces
        self._traces: OrderedDict[str, list[SpanRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        """Record a finished span under its trace id."""
        ctx = span.context
        if ctx is None:
            return
        record = SpanRecord(
            trace_id=format(ctx.trace_id, "032x"),
            span_id=format(ctx.span_id, "016x"),
            parent_id=format(span.parent.span_id, "016x") if span.parent else None,
            name=span.name,
            start_ns=span.start_time or 0,
            end_ns=span.end_time or 0,
            status=span.status.status_code.name,
            attributes={
                k: (list(v) if isinstance(v, tuple) else v) for k, v in (span.attributes or {}).items()
            },
        )
        with self._lock:
            spans = self._traces.setdefault(record.trace_id, [])
            spans.append(record)
            self._traces.move_to_end(record.trace_id)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)

    def get(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace, ordered by start time (empty when unknown)."""
        with self._lock:
            spans = list(self._traces.get(trace_id, []))
        return sorted(spans, key=lambda s: (s.start_ns, s.end_ns))

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True


RECENT_TRACES = RecentTraces()
_setup_lock = threading.Lock()
_provider: TracerProvider | None = None


def traces_endpoint(settings: Settings) -> str | None:
    """The OTLP/HTTP traces URL the settings ask for, or None when export is off."""
    if settings.otel_sdk_disabled or settings.otel_traces_exporter.strip().lower() == "none":
        return None
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    if settings.otel_exporter_otlp_endpoint:
        return f"{settings.otel_exporter_otlp_endpoint}/v1/traces"
    return None


def setup_tracing(settings: Settings) -> TracerProvider | None:
    """Install the global tracer provider once: recent-trace buffer always, OTLP/HTTP when configured."""
    global _provider
    if settings.otel_sdk_disabled:
        return None
    with _setup_lock:
        if _provider is not None:
            return _provider
        resource = Resource.create(
            {"service.name": settings.otel_service_name, "service.version": __version__}
        )
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(RECENT_TRACES)
        endpoint = traces_endpoint(settings)
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        trace.set_tracer_provider(provider)
        _provider = provider
        return provider


def flush_tracing(timeout_ms: int = 5000) -> None:
    """Export what is buffered (call before a short-lived process exits)."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)


def get_tracer(name: str) -> trace.Tracer:
    """A tracer from the global provider."""
    return trace.get_tracer(name, __version__)


def current_trace_id() -> str | None:
    """The current span's trace id as 32 hex, or None outside a recorded span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
