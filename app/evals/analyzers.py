"""One example in, one scored item result out: the regex baseline, a model's answer, or a cached answer.

Each result gets its own ``eval.item`` span carrying the item's ``gen_ai.evaluation.result`` events; a
model answer's span holds the triage pipeline's GenAI inference span (one per attempt), reused as it is.

A transient fault of the model server (HTTP 429/502/503/504, e.g. llama-server's 503 while it loads, a
refused or reset connection, a stream cut short) is retried a bounded number of times with jittered
exponential backoff: on a busy machine one such blip would otherwise count against the model. Timeouts,
invalid output and other HTTP errors are answers about the model and are never retried.

Every valid answer under a prompt is checked for few-shot leakage (``app.prompts.leakage``): what its
summary and cited line numbers copy from the prompt's worked examples that the window's own logs and the
prompt's instructions do not contain. A cached answer is checked again, like it is scored again.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from opentelemetry.trace import Span
from pydantic import BaseModel, ConfigDict
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from app.errors import (
    InferenceCancelled,
    InvalidOutputError,
    LLMConnectError,
    LLMError,
    LLMHTTPError,
    LLMTimeoutError,
)
from app.evals import baseline
from app.evals.metrics import ItemResult, Outcome
from app.evals.scoring import example_scenario, outcome_for, record_evaluation
from app.evals.spec import BASELINE_MODEL_NAME
from app.golden.schema import GoldenExample
from app.llm.client import DoneEvent, InferenceStats, LLMClient, SamplingParams
from app.llm.models import ModelConfig
from app.logs.compress import evidence_to_entries
from app.logs.models import ns_to_datetime
from app.prompts.leakage import find_leaks, shared_text, window_text
from app.prompts.registry import PromptVersion
from app.rca import parse_rca
from app.store.tables import EvalCacheRow
from app.telemetry import tracing as tr
from app.triage import PreparedPrompt, TriageService, stats_fields

# Statuses a server sends when it is momentarily unable, not when the request or the model is at fault.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
# The longest wait between two attempts, whatever the backoff setting.
MAX_BACKOFF_S = 30.0


def is_transient(exc: BaseException) -> bool:
    """Whether a model-server failure is worth another attempt (the server, not the model, failed)."""
    if isinstance(exc, LLMHTTPError):
        return exc.status_code in TRANSIENT_STATUSES
    if isinstance(exc, LLMConnectError):
        return True
    # A plain LLMError is a connection that broke or a stream that ended before its answer; its
    # subclasses (timeout, invalid output, cancel) are answers about the model or the user.
    return type(exc) is LLMError


def example_window(example: GoldenExample) -> tuple[datetime, datetime]:
    """The example's window as UTC datetimes."""
    return ns_to_datetime(example.window.start_ns), ns_to_datetime(example.window.end_ns)


class RunSetup(BaseModel):
    """Everything resolved for a run: the prompt (or rules) version, the model and the params."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    prompt_ref: str
    prompt_sha256: str
    version: PromptVersion | None
    model: ModelConfig | None
    params: SamplingParams | None


class Analyzer:
    """Answers and scores one (example, repeat) of a run, inside its own ``eval.item`` span."""

    def __init__(self, triage: TriageService) -> None:
        self.triage = triage
        self._tracer = tr.get_tracer("logtriage.evals")
        # Each version's shared text, rendered once (items of a run are answered on several threads;
        # two threads rendering the same text at once is harmless).
        self._shared: dict[str, str] = {}

    def copied_example(
        self, example: GoldenExample, version: PromptVersion | None, parsed: dict[str, Any]
    ) -> list[str] | None:
        """What a valid answer copies from the prompt's worked examples ([] for nothing; None: no prompt)."""
        if version is None:
            return None
        if not version.examples:
            return []
        shared = self._shared.get(version.sha256)
        if shared is None:
            shared = self._shared[version.sha256] = shared_text(version)
        report = find_leaks(
            str(parsed.get("summary", "")),
            [n for n in parsed.get("evidence", []) if isinstance(n, int)],
            version.examples,
            window_text(example.to_log_entries()),
            shared_text=shared,
        )
        return report.copied()

    @staticmethod
    def _base_fields(example: GoldenExample, repeat: int) -> dict[str, Any]:
        return {
            "example_id": example.id,
            "repeat": repeat,
            "scenario": example_scenario(example),
            "content_hash": example.content_hash(),
            "expected": example.label.root_cause,
            "expected_evidence": list(example.label.evidence),
        }

    def from_cache(
        self,
        example: GoldenExample,
        run_id: str,
        repeat: int,
        hit: EvalCacheRow,
        version: PromptVersion | None = None,
    ) -> ItemResult:
        """The item result of a cached answer: scored and checked for leakage again, latency as first measured."""
        stats = dict(hit.stats or {})
        expected = example.label.root_cause
        common: dict[str, Any] = {
            **self._base_fields(example, repeat),
            "raw_output": hit.raw_output,
            "ttft_ms": stats.get("ttft_ms"),
            "total_ms": stats.get("total_ms"),
            "tokens_per_s": stats.get("tokens_per_s"),
            "prompt_tokens": stats.get("prompt_tokens"),
            "completion_tokens": stats.get("completion_tokens"),
            # The trace of the inference that made the answer, not of this lookup.
            "trace_id": stats.get("trace_id"),
            "cached": True,
        }
        if hit.outcome_kind != "ok":
            item = ItemResult(outcome="invalid_output", error=stats.get("error"), **common)
        else:
            try:
                rca = parse_rca(hit.raw_output)
            except InvalidOutputError as exc:  # cached by an older, laxer schema
                item = ItemResult(outcome="invalid_output", error=exc.user_message(), **common)
            else:
                parsed = rca.model_dump(mode="json")
                item = ItemResult(
                    predicted=rca.root_cause,
                    outcome=outcome_for(expected, rca.root_cause),
                    parsed=parsed,
                    cited_evidence=list(stats.get("cited_evidence") or []),
                    copied_example=self.copied_example(example, version, parsed),
                    **common,
                )
        with self._tracer.start_as_current_span("eval.item") as span:
            self._describe(span, run_id, example, repeat, item.outcome)
            span.set_attribute("logtriage.eval.cached", True)
            record_evaluation(span, item)
        return item

    @staticmethod
    def _describe(span: Span, run_id: str, example: GoldenExample, repeat: int, outcome: str) -> None:
        span.set_attribute("logtriage.eval.run_id", run_id)
        span.set_attribute("logtriage.eval.example_id", example.id)
        span.set_attribute("logtriage.eval.repeat", repeat)
        span.set_attribute("logtriage.eval.outcome", outcome)

    def baseline(self, example: GoldenExample, run_id: str = "", repeat: int = 0) -> ItemResult:
        """The regex baseline's result for one example; its latency is its compute time."""
        with self._tracer.start_as_current_span("eval.item") as span:
            span.set_attribute("logtriage.model", BASELINE_MODEL_NAME)
            began = time.perf_counter()
            found = baseline.baseline_item(example)
            elapsed_ms = (time.perf_counter() - began) * 1000
            item = found.model_copy(
                update={
                    **self._base_fields(example, repeat),
                    "raw_output": json.dumps(found.parsed, ensure_ascii=False),
                    "ttft_ms": round(elapsed_ms, 3),
                    "total_ms": round(elapsed_ms, 3),
                    "trace_id": tr.current_trace_id(),
                }
            )
            self._describe(span, run_id, example, repeat, item.outcome)
            record_evaluation(span, item)
            return item

    def prepare(
        self, example: GoldenExample, version: PromptVersion, model: ModelConfig, client: LLMClient
    ) -> PreparedPrompt:
        """The example's logs fitted to the model's context and the prompt rendered, as triage does it."""
        start, end = example_window(example)
        return self.triage.prepare(
            example.to_log_entries(),
            namespace=example.namespace,
            start=start,
            end=end,
            version=version,
            model=model,
            client=client,
        )

    def with_model(
        self,
        example: GoldenExample,
        run_id: str,
        setup: RunSetup,
        client: LLMClient,
        cancel: threading.Event,
        repeat: int = 0,
        params: SamplingParams | None = None,
    ) -> ItemResult | None:
        """One model answer for one example (one repeat), scored; None when the run was cancelled meanwhile."""
        assert setup.model is not None
        assert setup.version is not None, "model runs always resolve a prompt version"
        model, version = setup.model, setup.version
        base = self._base_fields(example, repeat)
        settings = self.triage.settings

        def pause(seconds: float) -> None:
            cancel.wait(seconds)

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(1 + settings.eval_transient_retries),
            wait=wait_random_exponential(multiplier=settings.eval_retry_backoff_seconds, max=MAX_BACKOFF_S),
            # A cancel ends the wait at once; the next attempt then stops before it sends anything.
            sleep=pause,
            reraise=True,
        )

        def answer() -> tuple[PreparedPrompt, str, InferenceStats | None]:
            prepared = self.prepare(example, version, model, client)
            if params is not None:
                prepared = prepared.model_copy(update={"params": params})
            text, stats = "", None
            # The triage pipeline's inference span and latency metrics, reused as they are.
            for event in self.triage.infer(client, model, prepared, cancel):
                if isinstance(event, DoneEvent):
                    text, stats = event.text, event.stats
            return prepared, text, stats

        with self._tracer.start_as_current_span("eval.item") as span:
            span.set_attribute("logtriage.model", model.name)
            span.set_attribute("logtriage.prompt.version", setup.prompt_ref)
            base["trace_id"] = tr.current_trace_id()
            raw = ""
            stats: InferenceStats | None = None
            try:
                prepared, raw, stats = retrying(answer)
                rca = parse_rca(raw)
            except InferenceCancelled:
                return None
            except LLMError as exc:
                # InvalidOutputError is an LLMError too: the answer came, but is not an RCA.
                outcome: Outcome = (
                    "invalid_output"
                    if isinstance(exc, InvalidOutputError)
                    else "timeout"
                    if isinstance(exc, LLMTimeoutError)
                    else "server_error"
                )
                attempts = retrying.statistics.get("attempt_number", 1)
                error = exc.user_message()
                if attempts > 1:
                    error = f"{error} (after {attempts} attempts)"
                item = ItemResult(
                    outcome=outcome,
                    error=error,
                    raw_output=raw,
                    **base,
                    **(stats_fields(stats) if stats else {}),
                )
            else:
                parsed = rca.model_dump(mode="json")
                item = ItemResult(
                    predicted=rca.root_cause,
                    outcome=outcome_for(example.label.root_cause, rca.root_cause),
                    raw_output=raw,
                    parsed=parsed,
                    cited_evidence=evidence_to_entries(prepared.budget, rca.evidence),
                    copied_example=self.copied_example(example, version, parsed),
                    **base,
                    **(stats_fields(stats) if stats else {}),
                )
                span.set_attribute("logtriage.root_cause", rca.root_cause)
            span.set_attribute("logtriage.eval.attempts", retrying.statistics.get("attempt_number", 1))
            self._describe(span, run_id, example, repeat, item.outcome)
            record_evaluation(span, item)
            return item
