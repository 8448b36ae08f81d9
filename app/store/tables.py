"""SQLAlchemy 2 tables of the store; every schema change goes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class PromptVersionRow(Base):
    """Every prompt version ever loaded or rendered, keyed by the sha256 of its template bytes."""

    __tablename__ = "prompt_versions"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(Text)
    front_matter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_path: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TriageRunRow(Base):
    """One triage request: what was asked, with which prompt and model, and what came back."""

    __tablename__ = "triage_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20))  # ok | error | cancelled
    error_kind: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(20))
    namespace: Mapped[str] = mapped_column(String(253), index=True)
    query: Mapped[str] = mapped_column(Text)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    log_lines: Mapped[int] = mapped_column(Integer, default=0)
    logs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    prompt_name: Mapped[str] = mapped_column(String(200))
    prompt_sha256: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    quantization: Mapped[str] = mapped_column(String(40), default="")
    budget: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw_output: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    root_cause: Mapped[str | None] = mapped_column(String(60), nullable=True)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    tokens_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    queued_for_labeling: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # The latency target the budget aimed at, and the time to first token it expected (migration 0005).
    latency_target_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    estimated_ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)


class ModelPromptRateRow(Base):
    """One answer's prompt processing as the model's llama-server reported it (``timings``)."""

    __tablename__ = "model_prompt_rates"
    __table_args__ = (Index("ix_model_prompt_rates_model_id", "model", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(200))
    quantization: Mapped[str] = mapped_column(String(40), default="")
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(String(20))  # triage | eval
    prompt_n: Mapped[int] = mapped_column(Integer)
    prompt_ms: Mapped[float] = mapped_column(Float)
    cache_n: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # sha256 of the prompt's fixed prefix (system + worked examples): what the server may have cached.
    prefix_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class GoldenExampleRow(Base):
    """A golden-set example: the log window and, once adjudicated, its label."""

    __tablename__ = "golden_examples"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), index=True)  # synthetic | labeled | imported
    namespace: Mapped[str] = mapped_column(String(253))
    window_start: Mapped[str] = mapped_column(String(40))  # RFC3339 text, kept verbatim for round trips
    window_end: Mapped[str] = mapped_column(String(40))
    logs: Mapped[list[Any]] = mapped_column(JSON)
    label: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the adjudicated label
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # unknown fields, kept as they came
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    triage_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    needs_second_opinion: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelRow(Base):
    """One labeler's current label of one example (unique per example and labeler)."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("example_id", "labeler", name="uq_labels_example_labeler"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    example_id: Mapped[str] = mapped_column(String(200), index=True)
    labeler: Mapped[str] = mapped_column(String(200), index=True)
    root_cause: Mapped[str] = mapped_column(String(60))
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    severity: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Set on the reserved labeler "adjudicator": the person who settled a disagreement.
    adjudicated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When a re-import changed the lines this label's evidence points at; None while the label holds.
    stale_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LabelHistoryRow(Base):
    """Every label ever saved, append-only, so a changed mind never erases the earlier answer."""

    __tablename__ = "label_history"
    __table_args__ = (Index("uq_label_history_revision", "example_id", "labeler", "revision", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    example_id: Mapped[str] = mapped_column(String(200), index=True)
    labeler: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer)
    root_cause: Mapped[str] = mapped_column(String(60))
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    severity: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text, default="")
    adjudicated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalRunRow(Base):
    """An eval run's header: its fingerprint, status and headline metrics."""

    __tablename__ = "eval_runs"

    # 64: a Kubernetes Job name (at most 63 characters) can be the run id every shard of the Job shares.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # running | completed | failed | cancelled
    prompt_ref: Mapped[str] = mapped_column(String(220))
    prompt_sha256: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    quantization: Mapped[str] = mapped_column(String(40), default="")
    gguf_file: Mapped[str] = mapped_column(Text, default="")
    base_url: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    golden_version: Mapped[str] = mapped_column(String(64), index=True)
    slice: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    item_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    repeats: Mapped[int] = mapped_column(Integer, default=1)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    fingerprint: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # server build, versions, git rev
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # headline metrics when finished
    # Scenario coverage, agreement across repeats and failed items, written with the summary.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class EvalItemRow(Base):
    """One golden example's result within a run; exactly one per (run, example, repeat)."""

    __tablename__ = "eval_items"
    __table_args__ = (
        UniqueConstraint("run_id", "example_id", "repeat", name="uq_eval_items_run_example_repeat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    example_id: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    scenario: Mapped[str | None] = mapped_column(String(200), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    expected: Mapped[str] = mapped_column(String(60))
    predicted: Mapped[str | None] = mapped_column(String(60), nullable=True)
    outcome: Mapped[str] = mapped_column(
        String(20)
    )  # correct | wrong | invalid_output | timeout | server_error
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    raw_output: Mapped[str] = mapped_column(Text, default="")
    parsed: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    expected_evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cited_evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    total_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    tokens_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the answer copies from the prompt's worked examples; NULL when not checked.
    copied_example: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalClaimRow(Base):
    """One unit of a run's work, (example, repeat): claimed by one worker at a time, done once.

    ``state`` is pending, claimed or done. A claim holds while its worker's heartbeat keeps pushing
    ``lease_until`` forward; a worker that died stops doing so, and its claims become claimable again.
    """

    __tablename__ = "eval_claims"
    __table_args__ = (
        UniqueConstraint("run_id", "example_id", "repeat", name="uq_eval_claims_run_example_repeat"),
        Index("ix_eval_claims_run_state", "run_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    example_id: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer)  # the example's place in the run's item list
    state: Mapped[str] = mapped_column(String(10), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # > 0 once its failed result was retried


class EvalWorkerRow(Base):
    """A process working on a run (a CLI run or resume, a shard of a Job, a dashboard run)."""

    __tablename__ = "eval_workers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    shard_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shard_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|done|failed|cancelled|lost
    items: Mapped[int] = mapped_column(Integer, default=0)  # results this worker stored


class EvalItemHistoryRow(Base):
    """A failed result replaced by ``eval resume --retry-failed``, kept so the retry leaves a trace."""

    __tablename__ = "eval_item_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    example_id: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer)  # 0 = the first result, 1 = the first retry's ...
    outcome: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the ItemResult as stored
    retired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalCacheRow(Base):
    """A model answer keyed by (prompt hash, model+quantization+file, params, example content hash)."""

    __tablename__ = "eval_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    raw_output: Mapped[str] = mapped_column(Text)
    outcome_kind: Mapped[str] = mapped_column(String(20))  # ok | invalid_output
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
