"""The scorer, the result-cache key, provenance, and what a run reports beyond its metrics (pure).

* the scorer: ``outcome_for`` (an answer is correct or wrong; an item without an answer failed);
* the cache key of one example under one prompt version, model file and sampling params;
* provenance: the run's ``Fingerprint`` (prompt, model, server build, golden set, versions, git revision);
* the run report: distinct scenarios, failed items, and per-item agreement across repeats;
* the ``gen_ai.evaluation.result`` events an item's span carries (OpenTelemetry GenAI conventions).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from opentelemetry.semconv._incubating.attributes.gen_ai_attributes import (
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_EVALUATION_SCORE_VALUE,
)
from opentelemetry.trace import Span
from pydantic import BaseModel, ConfigDict, Field

from app.config import PROJECT_ROOT
from app.evals import baseline
from app.evals.metrics import ItemResult, Outcome, RepeatAgreement, repeat_agreement, scenario_count
from app.golden.schema import GoldenExample
from app.llm.client import SamplingParams
from app.llm.models import ModelConfig
from app.rca import rca_json_schema

CACHE_KEY_VERSION = 1
FAILED: frozenset[str] = frozenset({"invalid_output", "timeout", "server_error"})
"""Outcomes of items without a usable answer: the ones a run's exit code reports."""
DEFAULT_REPEAT_SEED = 1
"""Seed of repeat 0 when the prompt's params set none; repeat r uses this plus r."""
EVALUATION_EVENT = "gen_ai.evaluation.result"
"""The GenAI event name (the semconv package has the attribute names, not yet this one)."""
EVALUATION_ROOT_CAUSE = "logtriage.root_cause"
EVALUATION_EVIDENCE = "logtriage.evidence_recall"

_PACKAGES = ("httpx", "pydantic", "numpy", "scipy", "sqlalchemy", "prometheus-client", "drain3")


# --- the scorer and the cache key -------------------------------------------------------------------------


def outcome_for(expected: str, predicted: str) -> Outcome:
    """Correct when the predicted class is the expected one, else wrong."""
    return "correct" if predicted == expected else "wrong"


def _sha256_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def schema_sha256() -> str:
    """Hash of the RCA JSON schema the model is constrained by (part of every cache key)."""
    return _sha256_json(rca_json_schema())


def cache_key(prompt_sha256: str, model: ModelConfig, params: SamplingParams, content_hash: str) -> str:
    """The result-cache key of one example under one prompt version, model file and sampling params."""
    return _sha256_json(
        {
            "v": CACHE_KEY_VERSION,
            "prompt": prompt_sha256,
            "model": model.name,
            "quantization": model.quantization,
            "gguf_file": model.gguf_file or "",
            # The context length decides how many log lines fit, so it changes the prompt too.
            "context_length": model.context_length,
            "params": params.model_dump(mode="json"),
            "schema": schema_sha256(),
            "example": content_hash,
        }
    )


def repeat_params(params: SamplingParams, repeat: int, repeats: int) -> SamplingParams:
    """The params of one repeat: a run of one repeat sends the prompt's own, repeats a seed each."""
    if repeats <= 1:
        return params
    base = params.seed if params.seed is not None else DEFAULT_REPEAT_SEED
    return params.model_copy(update={"seed": base + repeat})


def example_scenario(example: GoldenExample) -> str | None:
    """The golden example's ``scenario`` (the template it was generated from), or None when it has none."""
    value = getattr(example, "scenario", None)
    return value if isinstance(value, str) and value.strip() else None


def items_sha256(examples: Iterable[GoldenExample]) -> str:
    """Hash of (id, content hash) of a run's examples, to notice a golden set changed under a run."""
    return hashlib.sha256("\n".join(f"{e.id} {e.content_hash()}" for e in examples).encode()).hexdigest()


# --- provenance ------------------------------------------------------------------------------------------


def git_revision(root: Path = PROJECT_ROOT) -> str:
    """``git rev-parse HEAD`` of the checkout, or "unknown" (no git, not a checkout)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    revision = result.stdout.strip()
    return revision if result.returncode == 0 and revision else "unknown"


def package_versions(names: Sequence[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def baseline_version() -> tuple[str, str]:
    """(ref, sha256) of the baseline's rules: its source file is its 'prompt'."""
    digest = hashlib.sha256(Path(baseline.__file__).read_bytes()).hexdigest()
    return f"{baseline.BASELINE_MODEL_NAME}@{digest[:12]}", digest


class PromptProvenance(BaseModel):
    """The prompt version a run used, and the ref the user asked for."""

    ref: str = ""
    sha256: str = ""
    requested: str = ""


class GoldenProvenance(BaseModel):
    """The golden set a run was drawn from, and a hash of the examples it covers."""

    version: str = ""
    dir: str = ""
    examples: int = 0
    items_sha256: str = ""


class RetryRecord(BaseModel):
    """One ``eval resume --retry-failed``: when, and how many failed results it put back in the queue."""

    at: datetime
    items: int


class Fingerprint(BaseModel):
    """Where a run's numbers come from, enough to compare two runs later without guessing.

    Runs recorded before this model existed stored a plain dict with a subset of these keys; every
    field has a default so they read back as they were, and unknown keys are kept.
    """

    model_config = ConfigDict(extra="allow")

    prompt: PromptProvenance = Field(default_factory=PromptProvenance)
    model: dict[str, Any] = Field(default_factory=dict, description="The models-file entry, or the rules.")
    server: dict[str, Any] | None = Field(default=None, description="The endpoint's health and /props.")
    server_build: str = "n/a"
    golden: GoldenProvenance = Field(default_factory=GoldenProvenance)
    response_schema_sha256: str = ""
    use_cache: bool = False
    concurrency_source: str = "default"
    app_version: str = ""
    git_revision: str = "unknown"
    python: str = ""
    packages: dict[str, str] = Field(default_factory=dict)
    spec_sha256: str = Field(default="", description="Hash of the RunSpec; empty on runs before shards.")
    repeat_seeds: list[int | None] = Field(default_factory=list, description="The seed sent per repeat.")
    resumes: list[str] = Field(default_factory=list, description="When a worker resumed the run.")
    retries: list[RetryRecord] = Field(default_factory=list)


# --- the run report --------------------------------------------------------------------------------------


class RunReport(BaseModel):
    """What a run covers and how it went, beyond its metrics (stored with the summary)."""

    examples: int
    repeats: int = 1
    results: int
    scenarios: int = Field(description="Distinct scenarios; an item without one counts as its own.")
    items_with_scenario: int = 0
    failed: dict[str, int] = Field(default_factory=dict, description="Failed results by outcome.")
    failed_results: int = 0
    retried: int = Field(default=0, description="Failed results replaced by a retry (kept as history).")
    agreement: RepeatAgreement | None = None


def run_report(items: Sequence[ItemResult], *, examples: int, repeats: int, retried: int = 0) -> RunReport:
    """The report of a run's stored items."""
    failed = Counter(item.outcome for item in items if item.outcome in FAILED)
    return RunReport(
        examples=examples,
        repeats=repeats,
        results=len(items),
        scenarios=scenario_count(items),
        items_with_scenario=sum(1 for item in items if item.scenario),
        failed=dict(sorted(failed.items())),
        failed_results=sum(failed.values()),
        retried=retried,
        agreement=repeat_agreement(items, repeats),
    )


def describe_failures(failed: dict[str, int]) -> str:
    """``2 timeouts, 1 invalid output`` for the failed-results counts of a report."""
    names = {"invalid_output": "invalid output", "timeout": "timeout", "server_error": "server error"}
    parts = []
    for outcome, count in failed.items():
        name = names.get(outcome, outcome)
        parts.append(f"{count} {name}{'s' if count != 1 and outcome != 'invalid_output' else ''}")
    return ", ".join(parts)


# --- evaluation events -------------------------------------------------------------------------------------


def evaluation_events(item: ItemResult) -> list[dict[str, Any]]:
    """The ``gen_ai.evaluation.result`` attributes of one item: its root cause and, if labeled, evidence."""
    label = {"correct": "correct", "wrong": "incorrect"}.get(item.outcome, item.outcome)
    events: list[dict[str, Any]] = [
        {
            GEN_AI_EVALUATION_NAME: EVALUATION_ROOT_CAUSE,
            GEN_AI_EVALUATION_SCORE_VALUE: 1.0 if item.outcome == "correct" else 0.0,
            GEN_AI_EVALUATION_SCORE_LABEL: label,
            # Both names come from closed sets (the taxonomy, or "invalid"): no model text in telemetry.
            GEN_AI_EVALUATION_EXPLANATION: f"expected {item.expected}, got {item.predicted_label}",
        }
    ]
    if item.expected_evidence and item.outcome in ("correct", "wrong"):
        expected = set(item.expected_evidence)
        recall = len(expected & set(item.cited_evidence)) / len(expected)
        events.append(
            {
                GEN_AI_EVALUATION_NAME: EVALUATION_EVIDENCE,
                GEN_AI_EVALUATION_SCORE_VALUE: recall,
                GEN_AI_EVALUATION_SCORE_LABEL: "all" if recall == 1 else "none" if recall == 0 else "partial",
            }
        )
    return events


def record_evaluation(span: Span, item: ItemResult) -> None:
    """Add the item's evaluation results to its span as ``gen_ai.evaluation.result`` events."""
    for attributes in evaluation_events(item):
        span.add_event(EVALUATION_EVENT, attributes=attributes)
