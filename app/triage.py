"""The triage pipeline: logs -> context budget -> prompt -> streamed inference -> structured result."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from app.config import Settings
from app.errors import (
    InferenceCancelled,
    InputError,
    InternalError,
    LLMError,
    LogTriageError,
    error_kind,  # noqa: F401  re-exported: app/ui imports it from here until it reads app.errors directly
)
from app.llm.client import ChatMessage, DoneEvent, InferenceStats, LLMClient, SamplingParams, TokenEvent
from app.llm.models import ModelConfig, find_model
from app.llm.stream import decode_tokens_per_s
from app.logs.compress import BudgetResult, estimate_tokens, evidence_to_entries, fit_to_budget, render_line
from app.logs.logql import LogFilter, build_logql
from app.logs.models import LogEntry, LogQueryResult, LogSource, format_rfc3339_ns
from app.prompts.registry import PromptRegistry, PromptVersion, RenderedPrompt, render_prompt
from app.rca import RootCauseAnalysis, parse_rca, rca_json_schema
from app.store.db import session_scope
from app.store.tables import TriageRunRow
from app.taxonomy import DEFINITIONS, ROOT_CAUSES
from app.telemetry import metrics
from app.telemetry import tracing as tr
from app.telemetry.genai import ChatTelemetry

DEFAULT_PROMPT = "rca-evidence-first@latest"
MAX_WINDOW = 7 * 24 * 3600  # seconds; longer windows are almost always a typo and cost Loki dearly
PROMPT_OVERHEAD_MARGIN = 64  # tokens kept free for chat-template wrapping the server adds


class TriageRequest(BaseModel):
    """What the user asks: which logs, which prompt, which model."""

    filter: LogFilter
    start: datetime
    end: datetime
    model: str
    prompt: str = DEFAULT_PROMPT
    limit: int = Field(default=5000, gt=0, le=100_000)


class EvidenceLine(BaseModel):
    """A line the model cited, resolved back to the logs."""

    number: int
    text: str
    entry_indices: list[int]


class TriageResult(BaseModel):
    """The outcome of one triage run, as stored and as printed by ``logtriage triage --json``."""

    run_id: str
    status: Literal["ok", "error", "cancelled"]
    root_cause: str | None = None
    confidence: float | None = None
    evidence: list[EvidenceLine] = Field(default_factory=list)
    summary: str | None = None
    error: str | None = None
    error_kind: str | None = None
    namespace: str
    query: str
    window_start: datetime
    window_end: datetime
    log_lines: int
    truncated: bool
    budget: str
    prompt_version: str
    model: str
    quantization: str
    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    trace_id: str | None = None
    log_warnings: list[str] = Field(
        default_factory=list, description="The log source's warnings, one line each."
    )
    raw_output: str = ""


class PreparedPrompt(BaseModel):
    """A prompt ready to send: the version, the fitted logs and the rendered messages."""

    version: PromptVersion
    budget: BudgetResult
    rendered: RenderedPrompt
    params: SamplingParams
    max_log_tokens: int


@dataclass(frozen=True)
class LogsEvent:
    """The logs were fetched."""

    result: LogQueryResult


@dataclass(frozen=True)
class PromptEvent:
    """The logs were fitted and the prompt rendered."""

    prepared: PreparedPrompt


@dataclass(frozen=True)
class TokenStreamEvent:
    """A token arrived from the model."""

    text: str
    elapsed_ms: float
    tokens_so_far: int
    ttft_ms: float | None


@dataclass(frozen=True)
class ResultEvent:
    """The run finished (successfully or not)."""

    result: TriageResult


TriageEvent = LogsEvent | PromptEvent | TokenStreamEvent | ResultEvent


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


def make_token_counter(client: LLMClient) -> Callable[[str], int] | None:
    """The server's tokenizer when it has one (None = estimate); fit_to_budget falls back on LLMError."""
    try:
        probe = client.tokenize_count("probe")
    except LLMError:
        probe = None
    if probe is None:
        return None

    def count(text: str) -> int:
        value = client.tokenize_count(text)
        if value is None:
            raise LLMError("the model server stopped answering /tokenize")
        return value

    return count


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


def stats_fields(stats: InferenceStats) -> dict[str, Any]:
    """What a stored result keeps of an answer's cost: latency in ms and tokens/s (2 decimals), tokens."""

    def rounded(value: float | None) -> float | None:
        return round(value, 2) if value is not None else None

    return {
        "ttft_ms": rounded(stats.ttft_ms),
        "total_ms": rounded(stats.total_ms),
        "tokens_per_s": rounded(stats.tokens_per_s),
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
    }


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
    ) -> PreparedPrompt:
        """Fit the logs into the model's context and render a resolved prompt version."""
        params = sampling_params(version)
        client = client or self.llm_client(model)
        with self._tracer.start_as_current_span("context.budget") as span:
            count_tokens = make_token_counter(client)
            empty = fit_to_budget([], max_tokens=1, count_tokens=count_tokens)
            skeleton = render_prompt(version, prompt_context(namespace, start, end, empty))
            skeleton_text = skeleton.system + "\n" + skeleton.user
            try:
                skeleton_tokens = (
                    count_tokens(skeleton_text) if count_tokens else estimate_tokens(skeleton_text)
                )
            except LLMError:
                skeleton_tokens = estimate_tokens(skeleton_text)
            overhead = skeleton_tokens + PROMPT_OVERHEAD_MARGIN
            max_log_tokens = model.context_length - params.max_tokens - overhead
            if max_log_tokens < 32:
                raise InputError(
                    f"model {model.name} has a context of {model.context_length} tokens, too small for "
                    f"prompt {version.ref} ({overhead} tokens) plus {params.max_tokens} output tokens",
                    hint="pick a model with a larger context_length or a shorter prompt",
                )
            budget = fit_to_budget(entries, max_tokens=max_log_tokens, count_tokens=count_tokens)
            span.set_attribute("logtriage.budget.max_tokens", max_log_tokens)
            span.set_attribute("logtriage.budget.tokens_before", budget.report.tokens_before)
            span.set_attribute("logtriage.budget.tokens_after", budget.report.tokens_after)
            span.set_attribute("logtriage.budget.lines_kept", budget.report.kept_lines)
            span.set_attribute("logtriage.budget.lines_total", budget.report.total_lines)
            span.set_attribute("logtriage.budget.token_counter", budget.report.token_counter)
        with self._tracer.start_as_current_span("prompt.render") as span:
            span.set_attribute("logtriage.prompt.name", version.name)
            span.set_attribute("logtriage.prompt.sha256", version.sha256)
            rendered = render_prompt(version, prompt_context(namespace, start, end, budget))
        return PreparedPrompt(
            version=version, budget=budget, rendered=rendered, params=params, max_log_tokens=max_log_tokens
        )

    def stream(self, request: TriageRequest, cancel: threading.Event | None = None) -> Iterator[TriageEvent]:
        """Run a triage request, yielding logs, prompt, tokens and finally the stored result."""
        model = find_model(self.models, request.model)
        version = self.registry.resolve(request.prompt)
        query = build_logql(request.filter)
        validate_window(request.start, request.end)
        run_id = str(uuid.uuid4())
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
                )
                base["budget"] = prepared.budget.report.summary()
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
                    **stats_fields(stats),
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
                figures = stats_fields(stats) if stats else progress.partial_fields()
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
                    yield event
            except LogTriageError as exc:
                telemetry.failed(exc.kind, exc.user_message())
                raise

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
        )
        with session_scope(self.engine) as session:
            session.add(row)


def recent_runs(engine: Engine, limit: int = 50) -> list[TriageRunRow]:
    """The most recent triage runs, newest first."""
    with session_scope(engine) as session:
        return list(
            session.scalars(select(TriageRunRow).order_by(TriageRunRow.created_at.desc()).limit(limit))
        )


def queue_for_labeling(engine: Engine, run_id: str) -> None:
    """Put a stored triage run into the labeling queue."""
    with session_scope(engine) as session:
        row = session.get(TriageRunRow, run_id)
        if row is None:
            raise InputError(f"no triage run {run_id!r}")
        row.queued_for_labeling = True
