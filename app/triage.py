"""The triage pipeline: logs -> context budget -> prompt -> streamed inference -> structured result."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Engine

from app.budget import count_tokens_or_estimate, log_token_budget, make_token_counter
from app.config import Settings
from app.errors import (
    InferenceCancelled,
    InputError,
    InternalError,
    LogTriageError,
)
from app.llm import latency
from app.llm.client import ChatMessage, DoneEvent, InferenceStats, LLMClient, SamplingParams, TokenEvent
from app.llm.models import ModelConfig, find_model
from app.llm.stream import decode_tokens_per_s
from app.logs.compress import BudgetResult, estimate_tokens, evidence_to_entries, fit_to_budget, render_line
from app.logs.logql import LogFilter, build_logql
from app.logs.models import LogEntry, LogQueryResult, LogSource, format_rfc3339_ns
from app.prompts.registry import PromptRegistry, PromptVersion, render_prompt
from app.rca import RootCauseAnalysis, parse_rca, rca_json_schema
from app.store.db import session_scope
from app.store.tables import TriageRunRow
from app.taxonomy import DEFINITIONS, ROOT_CAUSES
from app.telemetry import metrics
from app.telemetry import tracing as tr
from app.telemetry.genai import ChatTelemetry
from app.triage_models import (
    DEFAULT_PROMPT,
    EvidenceLine,
    LogsEvent,
    PreparedPrompt,
    PromptEvent,
    ResultEvent,
    TokenStreamEvent,
    TriageEvent,
    TriageRequest,
    TriageResult,
)

MAX_WINDOW = 7 * 24 * 3600  # seconds; longer windows are almost always a typo and cost Loki dearly
PROMPT_OVERHEAD_MARGIN = 64  # tokens kept free for chat-template wrapping the server adds


def validate_window(start: datetime, end: datetime) -> None:
    """Reject a time range that is inverted, naive or absurdly long, saying what to do."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("start and end must carry a timezone", hint="use RFC3339, e.g. 2026-11-26T10:00:00Z")
    if end <= start:
        raise InputError(
            f"end ({end.isoformat()}) is not after start ({start.isoformat()})",
            hint="swap or widen the range",
        )
    if (end - start).total_seconds() > MAX_WINDOW:
        raise InputError("the time range is longer than 7 days", hint="narrow it; triage works on a window")


def prompt_context(namespace: str, start: datetime, end: datetime, budget: BudgetResult) -> dict[str, Any]:
    """The variables every prompt template receives."""
    return {
        "namespace": namespace,
        "window_start": format_rfc3339_ns(int(start.timestamp()) * 1_000_000_000).replace(".000000000", ""),
        "window_end": format_rfc3339_ns(int(end.timestamp()) * 1_000_000_000).replace(".000000000", ""),
        "log_lines": [render_line(line) for line in budget.lines],
        "line_count": len(budget.lines),
        "budget_summary": budget.report.summary(),
        "taxonomy": [{"id": cause, "definition": DEFINITIONS[cause]} for cause in ROOT_CAUSES],
    }


def sampling_params(version: PromptVersion) -> SamplingParams:
    """The prompt's sampling params, validated."""
    try:
        return SamplingParams.model_validate(version.params)
    except ValueError as exc:
        raise InputError(
            f"prompt {version.ref} has invalid params: {' '.join(str(exc).split())[:200]}"
        ) from None


def rca_to_result_fields(rca: RootCauseAnalysis, budget: BudgetResult) -> dict[str, Any]:
    """Resolve the model's cited line numbers to the lines shown to it."""
    by_number = {line.number: line for line in budget.lines}
    evidence = [
        EvidenceLine(
            number=n,
            text=render_line(by_number[n]),
            entry_indices=evidence_to_entries(budget, [n]),
        )
        for n in dict.fromkeys(rca.evidence)
        if n in by_number
    ]
    return {
        "root_cause": rca.root_cause,
        "confidence": rca.confidence,
        "summary": rca.summary,
        "evidence": evidence,
    }


def stats_fields(stats: InferenceStats, estimated_ttft_ms: float | None = None) -> dict[str, Any]:
    """What a stored result keeps of an answer's cost: latency in ms and tokens/s (2 decimals), tokens,
    and how far the time-to-first-token estimate was off when there was one."""

    def rounded(value: float | None) -> float | None:
        return round(value, 2) if value is not None else None

    fields: dict[str, Any] = {
        "ttft_ms": rounded(stats.ttft_ms),
        "total_ms": rounded(stats.total_ms),
        "tokens_per_s": rounded(stats.tokens_per_s),
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
    }
    if estimated_ttft_ms is not None:
        fields["estimate_error_ms"] = round(stats.ttft_ms - estimated_ttft_ms, 1)
    return fields


def _as_triage_error(exc: BaseException) -> LogTriageError:
    """The LogTriageError a run that raised ``exc`` ends with."""
    if isinstance(exc, LogTriageError):
        return exc
    if isinstance(exc, KeyboardInterrupt):
        return InferenceCancelled("cancelled by Ctrl-C")
    return InternalError.wrap(exc)


@dataclass
class _StreamProgress:
    """How far a streamed answer got, so a run that stops early keeps its partial figures."""

    began: float | None = None
    ttft_ms: float | None = None
    last_ms: float | None = None
    tokens: int = 0

    def token(self, elapsed_ms: float, tokens_so_far: int) -> None:
        """Note one streamed token event."""
        if self.ttft_ms is None:
            self.ttft_ms = elapsed_ms
        self.last_ms = elapsed_ms
        self.tokens = tokens_so_far

    def partial_fields(self) -> dict[str, Any]:
        """TriageResult's latency fields for a run that ended before its stats arrived ({} before inference)."""
        if self.began is None:
            return {}
        total_ms = (time.perf_counter() - self.began) * 1000
        fields: dict[str, Any] = {"total_ms": round(total_ms, 2), "completion_tokens": self.tokens}
        if self.ttft_ms is not None:
            fields["ttft_ms"] = round(self.ttft_ms, 2)
        rate = decode_tokens_per_s(self.tokens, self.ttft_ms, self.last_ms)
        if rate is not None:
            fields["tokens_per_s"] = round(rate, 2)
        return fields


class TriageService:
    """Runs triage requests against a log source, the models and the store."""

    def __init__(
        self,
        *,
        settings: Settings,
        log_source: LogSource,
        models: list[ModelConfig],
        registry: PromptRegistry,
        engine: Engine,
        http_client: httpx.Client,
    ) -> None:
        self.settings = settings
        self.log_source = log_source
        self.models = models
        self.registry = registry
        self.engine = engine
        self.http_client = http_client
        self._tracer = tr.get_tracer("logtriage.triage")

    def llm_client(self, model: ModelConfig) -> LLMClient:
        """A streaming client for one model endpoint."""
        return LLMClient.for_model(model, client=self.http_client, settings=self.settings)

    def fetch_logs(self, log_filter: LogFilter, start: datetime, end: datetime, limit: int) -> LogQueryResult:
        """Build the LogQL for a filter and run it on the log source."""
        validate_window(start, end)
        query = build_logql(log_filter)
        with self._tracer.start_as_current_span("logs.query") as span:
            span.set_attribute("logtriage.log_source", self.log_source.name)
            span.set_attribute("logtriage.logql", query)
            try:
                result = self.log_source.query_range(query, start, end, limit=limit)
            except LogTriageError as exc:
                span.set_status(Status(StatusCode.ERROR, exc.user_message()))
                raise
            span.set_attribute("logtriage.log_lines", len(result.entries))
            span.set_attribute("logtriage.truncated", result.truncated)
        return result

    def prepare(
        self,
        entries: list[LogEntry],
        *,
        namespace: str,
        start: datetime,
        end: datetime,
        version: PromptVersion,
        model: ModelConfig,
        client: LLMClient | None = None,
        latency_target_s: float | None = None,
    ) -> PreparedPrompt:
        """Fit the logs into a budget (``app/budget.py``) and render a resolved prompt version.

        ``latency_target_s`` brings in the model's recent prompt rate: the latency limit (when > 0) and
        the estimate (when >= 0). Evals pass None, so their prompts never depend on the machine's load.
        """
        params = sampling_params(version)
        client = client or self.llm_client(model)
        with self._tracer.start_as_current_span("context.budget") as span:
            count_tokens = make_token_counter(client)
            empty = fit_to_budget([], max_tokens=1, count_tokens=count_tokens)
            skeleton = render_prompt(version, prompt_context(namespace, start, end, empty))
            prefix = skeleton.prefix_text()
            prefix_sha256 = hashlib.sha256(prefix.encode("utf-8", "surrogatepass")).hexdigest()
            system_tokens = count_tokens_or_estimate(count_tokens, prefix)
            fixed_tokens = system_tokens + count_tokens_or_estimate(count_tokens, skeleton.user)
            overhead = fixed_tokens + PROMPT_OVERHEAD_MARGIN
            room = model.context_length - params.max_tokens - overhead
            if room < 32:
                raise InputError(
                    f"model {model.name} has a context of {model.context_length} tokens, too small for "
                    f"prompt {version.ref} ({overhead} tokens) plus {params.max_tokens} output tokens",
                    hint="pick a model with a larger context_length or a shorter prompt",
                )
            rate = (
                latency.recent_rate_or_none(self.engine, model.name) if latency_target_s is not None else None
            )
            latency_tokens = (
                latency.tokens_within(rate, latency_target_s, fixed_tokens, system_tokens, prefix_sha256)
                if rate is not None and latency_target_s
                else None
            )
            log_budget = log_token_budget(
                room=room,
                raw_tokens=estimate_tokens("\n".join(entry.line for entry in entries)),
                cap=self.settings.log_token_cap,
                floor=self.settings.log_token_floor,
                latency_tokens=latency_tokens,
            )
            budget = fit_to_budget(entries, max_tokens=log_budget.tokens, count_tokens=count_tokens)
            prompt_tokens = fixed_tokens + budget.report.tokens_after
            estimate = (
                latency.estimate(rate, prompt_tokens, system_tokens, prefix_sha256)
                if rate is not None
                else None
            )
            report = budget.report
            for key, value in {
                "max_tokens": log_budget.tokens, "limit": log_budget.limit, "raw_tokens": log_budget.raw_tokens,
                "tokens_before": report.tokens_before, "tokens_after": report.tokens_after,
                "lines_kept": report.kept_lines, "lines_total": report.total_lines,
                "token_counter": report.token_counter,
            }.items():  # fmt: skip
                span.set_attribute(f"logtriage.budget.{key}", value)
            if estimate is not None:
                span.set_attribute("logtriage.latency.estimated_ttft_s", estimate.seconds)
        with self._tracer.start_as_current_span("prompt.render") as span:
            span.set_attribute("logtriage.prompt.name", version.name)
            span.set_attribute("logtriage.prompt.sha256", version.sha256)
            rendered = render_prompt(version, prompt_context(namespace, start, end, budget))
        return PreparedPrompt(
            version=version,
            budget=budget,
            rendered=rendered,
            params=params,
            max_log_tokens=log_budget.tokens,
            log_budget=log_budget,
            prompt_tokens=prompt_tokens,
            latency_target_s=latency_target_s,
            prefix_sha256=prefix_sha256,
            prefix_tokens=system_tokens,
            estimate=estimate,
        )

    def stream(self, request: TriageRequest, cancel: threading.Event | None = None) -> Iterator[TriageEvent]:
        """Run a triage request, yielding logs, prompt, tokens and finally the stored result."""
        model = find_model(self.models, request.model)
        version = self.registry.resolve(request.prompt)
        query = build_logql(request.filter)
        validate_window(request.start, request.end)
        run_id = str(uuid.uuid4())
        target = (
            request.latency_target_s
            if request.latency_target_s is not None
            else self.settings.latency_target_seconds
        )
        labels = {"model": model.name, "quantization": model.quantization, "prompt": version.ref}
        base: dict[str, Any] = {
            "run_id": run_id,
            "namespace": request.filter.namespace,
            "query": query,
            "window_start": request.start,
            "window_end": request.end,
            "log_lines": 0,
            "truncated": False,
            "budget": "",
            "prompt_version": version.ref,
            "model": model.name,
            "quantization": model.quantization,
            "latency_target_s": target or None,
        }
        logs: LogQueryResult | None = None
        prepared: PreparedPrompt | None = None
        raw = ""
        stats: InferenceStats | None = None
        progress = _StreamProgress()
        with self._tracer.start_as_current_span("triage") as root:
            root.set_attribute("logtriage.run_id", run_id)
            root.set_attribute("logtriage.namespace", request.filter.namespace)
            root.set_attribute("logtriage.model", model.name)
            root.set_attribute("logtriage.prompt.version", version.ref)
            base["trace_id"] = tr.current_trace_id()
            try:
                logs = self.fetch_logs(request.filter, request.start, request.end, request.limit)
                base.update(log_lines=len(logs.entries), truncated=logs.truncated, log_warnings=logs.warnings)
                yield LogsEvent(logs)
                client = self.llm_client(model)
                prepared = self.prepare(
                    logs.entries,
                    namespace=request.filter.namespace,
                    start=request.start,
                    end=request.end,
                    version=version,
                    model=model,
                    client=client,
                    latency_target_s=target,
                )
                base["budget"] = prepared.budget.report.summary()
                if prepared.estimate is not None:
                    base["estimated_ttft_ms"] = round(prepared.estimate.seconds * 1000, 1)
                yield PromptEvent(prepared)
                progress.began = time.perf_counter()
                for event in self.infer(client, model, prepared, cancel):
                    if isinstance(event, TokenEvent):
                        raw += event.text
                        progress.token(event.elapsed_ms, event.tokens_so_far)
                        yield TokenStreamEvent(event.text, event.elapsed_ms, event.tokens_so_far, None)
                    else:
                        raw, stats = event.text, event.stats
                assert stats is not None
                rca = parse_rca(raw)
                result = TriageResult(
                    status="ok",
                    raw_output=raw,
                    **base,
                    **stats_fields(stats, base.get("estimated_ttft_ms")),
                    **rca_to_result_fields(rca, prepared.budget),
                )
                root.set_attribute("logtriage.root_cause", rca.root_cause)
            except (Exception, KeyboardInterrupt) as exc:
                # Every way a run can end is stored: a LogTriageError as itself, Ctrl-C (which lands here
                # when it interrupts the pipeline) as a cancellation, anything else as an internal error.
                # GeneratorExit is not caught: a consumer that stops reading abandons the run.
                error = _as_triage_error(exc)
                kind = error.kind
                status: Literal["error", "cancelled"] = "cancelled" if kind == "cancelled" else "error"
                root.set_status(Status(StatusCode.ERROR, error.user_message()))
                root.set_attribute("error.type", kind)
                figures = (
                    stats_fields(stats, base.get("estimated_ttft_ms")) if stats else progress.partial_fields()
                )
                result = TriageResult(
                    status=status,
                    error=error.user_message(),
                    error_kind=kind,
                    raw_output=raw or getattr(error, "raw", ""),
                    **base,
                    **figures,
                )
            metrics.TRIAGE_REQUESTS.labels(**labels, outcome=result.status).inc()
            if result.error_kind:
                metrics.ERRORS.labels(kind=result.error_kind).inc()
        self._store(result, logs, prepared)
        yield ResultEvent(result)

    def run(self, request: TriageRequest, cancel: threading.Event | None = None) -> TriageResult:
        """Run a triage request to the end and return its result."""
        final: TriageResult | None = None
        for event in self.stream(request, cancel):
            if isinstance(event, ResultEvent):
                final = event.result
        assert final is not None
        return final

    def infer(
        self, client: LLMClient, model: ModelConfig, prepared: PreparedPrompt, cancel: threading.Event | None
    ) -> Iterator[TokenEvent | DoneEvent]:
        """Stream a prepared prompt from a model inside a GenAI span, recording the GenAI client metrics."""
        messages = [ChatMessage.model_validate(m) for m in prepared.rendered.messages()]
        with self._tracer.start_as_current_span(f"chat {client.model}", kind=SpanKind.CLIENT) as span:
            telemetry = ChatTelemetry(
                span,
                request_model=client.model,
                base_url=client.base_url,
                params=prepared.params,
                structured_output=True,
                quantization=model.quantization,
                prompt_version=prepared.version.ref,
            )
            span.set_attribute("logtriage.prompt.sha256", prepared.version.sha256)
            try:
                for event in client.stream_chat(
                    messages, prepared.params, response_schema=rca_json_schema(), cancel=cancel
                ):
                    if isinstance(event, TokenEvent):
                        telemetry.chunk(event.elapsed_ms)
                    else:
                        telemetry.succeeded(event.stats)
                        self._record_rate(model, prepared, event.stats)
                    yield event
            except LogTriageError as exc:
                telemetry.failed(exc.kind, exc.user_message())
                raise

    def warm_up(self, model_name: str, prompt: str = DEFAULT_PROMPT) -> None:
        """Send a prompt's fixed part once, so the server caches it and reports the model's prompt rate.

        The first triage on a fresh server then costs its logs only, and its budget can follow the
        latency target from the start.
        """
        model = find_model(self.models, model_name)
        version = self.registry.resolve(prompt)
        client = self.llm_client(model)
        with self._tracer.start_as_current_span("prompt_rate.measure") as span:
            span.set_attribute("logtriage.model", model.name)
            now = datetime.now(UTC)
            prepared = self.prepare(
                [], namespace="warm-up", start=now - timedelta(minutes=1), end=now, version=version,
                model=model, client=client, latency_target_s=0,
            )  # fmt: skip
            messages = [ChatMessage.model_validate(m) for m in prepared.rendered.messages()]
            _, stats = client.complete_chat(messages, SamplingParams(temperature=0.0, max_tokens=1))
            self._record_rate(model, prepared, stats)

    def _record_rate(self, model: ModelConfig, prepared: PreparedPrompt, stats: InferenceStats) -> None:
        """Keep the prompt rate the server reported (prompts with a latency target are triage's)."""
        sample = latency.sample_from_timings(
            stats.server_timings, stats.ttft_ms, prepared.prefix_sha256 or None
        )
        source: latency.SampleSource = "triage" if prepared.latency_target_s is not None else "batch"
        latency.keep_sample(self.engine, model.name, model.quantization, sample, source)

    def _store(
        self, result: TriageResult, logs: LogQueryResult | None, prepared: PreparedPrompt | None
    ) -> None:
        row = TriageRunRow(
            id=result.run_id,
            created_at=datetime.now(UTC),
            status=result.status,
            error_kind=result.error_kind,
            error=result.error,
            source=self.log_source.name,
            namespace=result.namespace,
            query=result.query,
            window_start=result.window_start,
            window_end=result.window_end,
            log_lines=result.log_lines,
            logs=[
                {"ts": format_rfc3339_ns(e.ts_ns), "labels": e.labels, "line": e.line}
                for e in (logs.entries if logs else [])
            ],
            prompt_name=result.prompt_version.split("@")[0],
            prompt_sha256=prepared.version.sha256 if prepared else "",
            model=result.model,
            quantization=result.quantization,
            budget=prepared.budget.report.model_dump() if prepared else {},
            raw_output=result.raw_output,
            result=result.model_dump(
                mode="json", include={"root_cause", "confidence", "evidence", "summary"}
            ),
            root_cause=result.root_cause,
            ttft_ms=result.ttft_ms,
            total_ms=result.total_ms,
            tokens_per_s=result.tokens_per_s,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            trace_id=result.trace_id,
            queued_for_labeling=False,
            latency_target_s=result.latency_target_s,
            estimated_ttft_ms=result.estimated_ttft_ms,
        )
        with session_scope(self.engine) as session:
            session.add(row)
