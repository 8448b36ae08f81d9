"""What the triage pipeline takes and gives: the request, the prepared prompt, the events and the result.

``app.triage`` runs the pipeline and re-exports these; the CLI, the dashboard and the store read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.budget import LogBudget
from app.llm import latency
from app.llm.client import SamplingParams
from app.logs.compress import BudgetResult
from app.logs.logql import LogFilter
from app.logs.models import LogQueryResult
from app.prompts.registry import PromptVersion, RenderedPrompt

DEFAULT_PROMPT = "rca-evidence-first@latest"


class TriageRequest(BaseModel):
    """What the user asks: which logs, which prompt, which model."""

    filter: LogFilter
    start: datetime
    end: datetime
    model: str
    prompt: str = DEFAULT_PROMPT
    limit: int = Field(default=5000, gt=0, le=100_000)
    latency_target_s: float | None = Field(
        default=None, ge=0, le=3600, description="Aim for the first token within this; None = the setting."
    )


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
    latency_target_s: float | None = Field(default=None, description="The target the budget aimed at.")
    estimated_ttft_ms: float | None = Field(
        default=None, description="The time to first token expected before the run (from the model's rate)."
    )
    estimate_error_ms: float | None = Field(
        default=None, description="Measured minus estimated time to first token (positive: slower)."
    )


class PreparedPrompt(BaseModel):
    """A prompt ready to send: the version, the fitted logs, the rendered messages and what it will cost."""

    version: PromptVersion
    budget: BudgetResult
    rendered: RenderedPrompt
    params: SamplingParams
    max_log_tokens: int = Field(description="The log-token budget the lines were fitted to.")
    log_budget: LogBudget
    prompt_tokens: int = Field(description="The prompt's tokens: the fixed part plus the fitted lines.")
    latency_target_s: float | None = None
    prefix_sha256: str = Field(default="", description="Hash of the fixed prefix (system + worked examples).")
    prefix_tokens: int = Field(
        default=0, description="Tokens of that prefix, which a server may have cached."
    )
    estimate: latency.LatencyEstimate | None = Field(
        default=None, description="Expected time to first token; None before the model's first run."
    )

    def budget_line(self) -> str:
        """'1,150 log tokens (budget 1,200, latency target), about 6 s on smollm2-135m-q4_1'."""
        text = f"{self.budget.report.tokens_after:,} log tokens (budget {self.log_budget.describe()})"
        if self.estimate is not None:
            text += f", about {latency.format_seconds(self.estimate.seconds)} on {self.estimate.model}"
        return text


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
