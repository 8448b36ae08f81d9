"""Eval runs: one prompt version x one model (or the regex baseline) over the golden set or a slice of it.

A run is a header (``eval_runs``: its fingerprint, status and, once finished, its metrics) and one item
row per golden example (``eval_items``). Each item is committed on its own and ``(run_id, example_id)`` is
unique, so a run killed at any point is finished by ``resume`` with exactly one result per item.

Model answers are cached by (prompt hash, model + quantization + file, sampling params, example content
hash): re-running an unchanged configuration sends nothing to the model. Only answers are cached (valid
or invalid output), never timeouts or server errors, which say more about the moment than the model.

Kept apart, as in inspect_ai: the dataset item (``GoldenExample``), the model call (``analyze_*``), the
scorer (``outcome_for``), the metrics (``app.evals.metrics``) and the stored run log (the tables).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app import __version__
from app.config import PROJECT_ROOT, Settings
from app.errors import (
    InferenceCancelled,
    InputError,
    InvalidOutputError,
    LLMConnectError,
    LLMError,
    LLMTimeoutError,
    LogTriageError,
    StoreError,
)
from app.evals import baseline
from app.evals.compare import RunItems
from app.evals.metrics import ItemResult, Outcome, RunMetrics, score_run
from app.golden.jsonl import dataset_version, load_golden_dir
from app.golden.schema import GoldenExample, Source
from app.llm.client import DoneEvent, InferenceStats, LLMClient, SamplingParams
from app.llm.health import check_health
from app.llm.models import ModelConfig, ModelHealth, find_model
from app.logs.compress import evidence_to_entries
from app.logs.models import ns_to_datetime
from app.prompts.registry import PromptRegistry, PromptVersion
from app.rca import parse_rca, rca_json_schema
from app.store.db import session_scope
from app.store.tables import EvalCacheRow, EvalItemRow, EvalRunRow
from app.taxonomy import ROOT_CAUSES
from app.telemetry import tracing as tr
from app.triage import DEFAULT_PROMPT, PreparedPrompt, TriageService, sampling_params

BASELINE_MODEL_NAME = baseline.BASELINE_MODEL_NAME
BASELINE_QUANTIZATION = "none"
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
CACHE_KEY_VERSION = 1

RunStatus = Literal["running", "completed", "failed", "cancelled"]
ProgressFn = Callable[[int, int], None]

_PACKAGES = ("httpx", "pydantic", "numpy", "scipy", "sqlalchemy", "prometheus-client", "drain3")


# --- what to run -----------------------------------------------------------------------------------------


class GoldenSlice(BaseModel):
    """Which golden examples a run covers: by class, source and ids, then the first ``limit`` (by id)."""

    model_config = ConfigDict(frozen=True)

    classes: list[str] = Field(default_factory=list)
    source: Source | None = None
    ids: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        unknown = [label for label in value if label not in ROOT_CAUSES]
        if unknown:
            raise ValueError(f"unknown class(es) {', '.join(unknown)}; known: {', '.join(ROOT_CAUSES)}")
        return value

    def apply(self, examples: Sequence[GoldenExample]) -> list[GoldenExample]:
        """The examples in this slice, in id order; InputError naming ids that do not exist."""
        chosen = sorted(examples, key=lambda example: example.id)
        if self.ids:
            known = {example.id for example in chosen}
            missing = [example_id for example_id in self.ids if example_id not in known]
            if missing:
                raise InputError(f"no golden example with id {', '.join(missing[:5])}")
            wanted = set(self.ids)
            chosen = [example for example in chosen if example.id in wanted]
        if self.classes:
            chosen = [example for example in chosen if example.label.root_cause in self.classes]
        if self.source:
            chosen = [example for example in chosen if example.source == self.source]
        if self.limit is not None:
            chosen = chosen[: self.limit]
        return chosen

    def as_dict(self) -> dict[str, Any]:
        """The slice's set fields only (empty = the whole golden set)."""
        return self.model_dump(exclude_defaults=True)


def parse_slice(spec: str | None = None, **fields: Any) -> GoldenSlice:
    """A slice from ``class=a,b``/``source=x``/``ids=a,b``/``limit=N`` text and/or fields; InputError if bad."""
    data: dict[str, Any] = {key: value for key, value in fields.items() if value not in (None, [], "")}
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = {"class": "classes", "id": "ids"}.get(key.strip(), key.strip())
        if not sep or key not in ("classes", "source", "ids", "limit"):
            raise InputError(
                f"bad slice {part.strip()!r}", hint="use class=a,b or source=synthetic or ids=a,b or limit=N"
            )
        values = [v.strip() for v in value.split(",") if v.strip()]
        data[key] = values if key in ("classes", "ids") else value.strip()
    try:
        return GoldenSlice.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"bad slice: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


class EvalRequest(BaseModel):
    """What to run: a prompt version, a model (or the baseline), a slice, and how."""

    prompt: str = DEFAULT_PROMPT
    model: str
    slice: GoldenSlice = Field(default_factory=GoldenSlice)
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    use_cache: bool = True


class RunHeader(BaseModel):
    """A run's header row: fingerprint, status and (when finished) metrics; no items."""

    id: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    status: RunStatus
    prompt_ref: str
    prompt_sha256: str
    model: str
    quantization: str
    gguf_file: str
    base_url: str
    params: dict[str, Any]
    golden_version: str
    slice: dict[str, Any]
    item_ids: list[str]
    concurrency: int
    fingerprint: dict[str, Any]
    summary: RunMetrics | None
    error: str | None

    @property
    def label(self) -> str:
        """How people name the run: model (quantization) · prompt version."""
        return f"{self.model} ({self.quantization}) · {self.prompt_ref}"

    @property
    def duration_s(self) -> float | None:
        """Wall time from start to end (resumes included), None while it has not ended."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (_aware(self.ended_at) - _aware(self.started_at)).total_seconds()

    @property
    def succeeded(self) -> bool:
        """Completed, with at least one answer from the model (a dead server is not a success)."""
        if self.status != "completed" or self.summary is None:
            return False
        return self.summary.items == 0 or self.summary.error_rate < 1.0

    @classmethod
    def from_row(cls, row: EvalRunRow) -> RunHeader:
        """The header of a stored run."""
        return cls.model_validate(
            {
                "id": row.id,
                "created_at": _aware(row.created_at),
                "started_at": _aware(row.started_at) if row.started_at else None,
                "ended_at": _aware(row.ended_at) if row.ended_at else None,
                "status": row.status,
                "prompt_ref": row.prompt_ref,
                "prompt_sha256": row.prompt_sha256,
                "model": row.model,
                "quantization": row.quantization,
                "gguf_file": row.gguf_file,
                "base_url": row.base_url,
                "params": dict(row.params or {}),
                "golden_version": row.golden_version,
                "slice": dict(row.slice or {}),
                "item_ids": list(row.item_ids or []),
                "concurrency": row.concurrency,
                "fingerprint": dict(row.fingerprint or {}),
                "summary": row.summary or None,
                "error": row.error,
            }
        )


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


# --- the scorer and the cache key (pure) -----------------------------------------------------------------


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


def items_sha256(examples: Iterable[GoldenExample]) -> str:
    """Hash of (id, content hash) of a run's examples, to notice a golden set changed under a run."""
    return hashlib.sha256("\n".join(f"{e.id} {e.content_hash()}" for e in examples).encode()).hexdigest()


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
    return f"{BASELINE_MODEL_NAME}@{digest[:12]}", digest


def example_window(example: GoldenExample) -> tuple[datetime, datetime]:
    """The example's window as UTC datetimes."""
    return ns_to_datetime(example.window.start_ns), ns_to_datetime(example.window.end_ns)


# --- the store -------------------------------------------------------------------------------------------


def _insert(session: Session, table: Any, values: dict[str, Any], *, replace: bool = False) -> None:
    """INSERT that, when the row's unique key exists, does nothing (or replaces it); SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise StoreError(f"eval runs need SQLite or PostgreSQL, not {dialect}")
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert(table).values(**values)
    if replace:
        keys = [column.name for column in table.primary_key.columns]
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: value for name, value in values.items() if name not in keys}
        )
    else:
        statement = statement.on_conflict_do_nothing()
    session.execute(statement)


def _item_values(run_id: str, item: ItemResult) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "example_id": item.example_id,
        "content_hash": item.content_hash,
        "expected": item.expected,
        "predicted": item.predicted,
        "outcome": item.outcome,
        "error": item.error,
        "raw_output": item.raw_output,
        "parsed": item.parsed,
        "expected_evidence": list(item.expected_evidence),
        "cited_evidence": list(item.cited_evidence),
        "ttft_ms": item.ttft_ms,
        "total_ms": item.total_ms,
        "tokens_per_s": item.tokens_per_s,
        "prompt_tokens": item.prompt_tokens,
        "completion_tokens": item.completion_tokens,
        "trace_id": item.trace_id,
        "cached": item.cached,
        "created_at": _now(),
    }


def _cache_values(key: str, item: ItemResult) -> dict[str, Any]:
    return {
        "key": key,
        "raw_output": item.raw_output,
        "outcome_kind": "invalid_output" if item.outcome == "invalid_output" else "ok",
        "stats": {
            "ttft_ms": item.ttft_ms,
            "total_ms": item.total_ms,
            "tokens_per_s": item.tokens_per_s,
            "prompt_tokens": item.prompt_tokens,
            "completion_tokens": item.completion_tokens,
            # Kept so a cached answer needs neither the server's tokenizer nor the budget again.
            "cited_evidence": list(item.cited_evidence),
            "error": item.error,
            "trace_id": item.trace_id,
        },
        "created_at": _now(),
    }


def item_from_row(row: EvalItemRow) -> ItemResult:
    """An item result from its stored row."""
    return ItemResult.model_validate(
        {
            "example_id": row.example_id,
            "content_hash": row.content_hash,
            "expected": row.expected,
            "predicted": row.predicted,
            "outcome": row.outcome,
            "error": row.error,
            "raw_output": row.raw_output,
            "parsed": row.parsed,
            "expected_evidence": list(row.expected_evidence or []),
            "cited_evidence": list(row.cited_evidence or []),
            "ttft_ms": row.ttft_ms,
            "total_ms": row.total_ms,
            "tokens_per_s": row.tokens_per_s,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "trace_id": row.trace_id,
            "cached": row.cached,
        }
    )


def list_runs(engine: Engine, limit: int = 200) -> list[RunHeader]:
    """The newest runs' headers (never their items), newest first."""
    with session_scope(engine) as session:
        rows = session.scalars(select(EvalRunRow).order_by(EvalRunRow.created_at.desc()).limit(limit))
        return [RunHeader.from_row(row) for row in rows]


def get_run(engine: Engine, ref: str) -> RunHeader:
    """A run's header by id or unique id prefix (at least 4 characters)."""
    ref = ref.strip()
    with session_scope(engine) as session:
        row = session.get(EvalRunRow, ref)
        if row is None and len(ref) >= 4:
            rows = list(session.scalars(select(EvalRunRow).where(EvalRunRow.id.startswith(ref)).limit(2)))
            if len(rows) > 1:
                raise InputError(f"run id prefix {ref!r} is ambiguous", hint="give more characters")
            row = rows[0] if rows else None
        if row is None:
            raise InputError(f"no eval run {ref!r}", hint="see `logtriage eval list`")
        return RunHeader.from_row(row)


def load_items(engine: Engine, run_id: str) -> list[ItemResult]:
    """A run's stored item results, by example id."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(EvalItemRow).where(EvalItemRow.run_id == run_id).order_by(EvalItemRow.example_id)
        )
        return [item_from_row(row) for row in rows]


def load_run_items(engine: Engine, ref: str) -> RunItems:
    """A run as comparisons see it: its identity and its items."""
    header = get_run(engine, ref)
    return RunItems(
        run_id=header.id,
        label=header.label,
        golden_version=header.golden_version,
        slice=header.slice,
        items=load_items(engine, header.id),
    )


def _stored_ids(engine: Engine, run_id: str) -> set[str]:
    with session_scope(engine) as session:
        return set(session.scalars(select(EvalItemRow.example_id).where(EvalItemRow.run_id == run_id)))


def _cached_answers(engine: Engine, keys: Sequence[str]) -> dict[str, EvalCacheRow]:
    found: dict[str, EvalCacheRow] = {}
    with session_scope(engine) as session:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found.update(
                (row.key, row)
                for row in session.scalars(select(EvalCacheRow).where(EvalCacheRow.key.in_(chunk)))
            )
    return found


# --- analyzers: one example in, one item result out ------------------------------------------------------


class _Setup(BaseModel):
    """Everything resolved for a run: the prompt (or rules) version, the model and the params."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    prompt_ref: str
    prompt_sha256: str
    version: PromptVersion | None
    model: ModelConfig | None
    params: SamplingParams | None


def _stats_fields(stats: InferenceStats) -> dict[str, Any]:
    return {
        "ttft_ms": round(stats.ttft_ms, 3),
        "total_ms": round(stats.total_ms, 3),
        "tokens_per_s": round(stats.tokens_per_s, 3),
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
    }


class EvalRunner:
    """Starts, executes and resumes eval runs against the store, the models and the golden set."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        models: list[ModelConfig],
        registry: PromptRegistry,
        triage: TriageService,
        http_client: httpx.Client,
        golden_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.models = models
        self.registry = registry
        self.triage = triage
        self.http_client = http_client
        self.golden_dir = golden_dir or settings.golden_dir
        self._tracer = tr.get_tracer("logtriage.evals")

    # --- setup -------------------------------------------------------------------------------------------

    def load_golden(self) -> list[GoldenExample]:
        """Every example of the golden directory, by id."""
        examples = load_golden_dir(self.golden_dir)
        if not examples:
            raise InputError(f"the golden set in {self.golden_dir} is empty", hint="set GOLDEN_DIR")
        return examples

    def _setup(self, prompt: str, model_name: str) -> _Setup:
        if model_name == BASELINE_MODEL_NAME:
            ref, digest = baseline_version()
            return _Setup(prompt_ref=ref, prompt_sha256=digest, version=None, model=None, params=None)
        model = find_model(self.models, model_name)
        version = self.registry.resolve(prompt)
        return _Setup(
            prompt_ref=version.ref,
            prompt_sha256=version.sha256,
            version=version,
            model=model,
            params=sampling_params(version),
        )

    def _setup_for(self, header: RunHeader) -> _Setup:
        if header.model == BASELINE_MODEL_NAME:
            ref, digest = baseline_version()
            if digest != header.prompt_sha256:
                raise InputError(
                    f"the baseline's rules changed since run {header.id} started ({header.prompt_ref} -> {ref})",
                    hint="start a new run",
                )
            return _Setup(prompt_ref=ref, prompt_sha256=digest, version=None, model=None, params=None)
        setup = self._setup(f"{header.prompt_ref.split('@')[0]}@{header.prompt_sha256}", header.model)
        assert setup.model is not None
        if (setup.model.quantization, setup.model.gguf_file or "") != (header.quantization, header.gguf_file):
            raise InputError(
                f"model {header.model} is now {setup.model.quantization} {setup.model.gguf_file or ''}, "
                f"but run {header.id} used {header.quantization} {header.gguf_file}",
                hint="restore the models file or start a new run",
            )
        return setup

    def _health(self, model: ModelConfig) -> ModelHealth:
        return check_health(model, self.http_client, self.settings)

    # --- start, execute, resume -----------------------------------------------------------------------------

    def start(self, request: EvalRequest, examples: Sequence[GoldenExample] | None = None) -> RunHeader:
        """Record a new run's header (status running) with its fingerprint; runs nothing yet."""
        golden = list(examples) if examples is not None else self.load_golden()
        chosen = request.slice.apply(golden)
        if not chosen:
            raise InputError(f"the slice {request.slice.as_dict()} selects no golden examples")
        setup = self._setup(request.prompt, request.model)
        health: ModelHealth | None = self._health(setup.model) if setup.model is not None else None
        if request.concurrency is not None:
            concurrency, source = request.concurrency, "requested"
        elif health is not None and health.total_slots:
            concurrency, source = min(health.total_slots, MAX_CONCURRENCY), "server slots"
        else:
            concurrency, source = DEFAULT_CONCURRENCY, "default"
        model = setup.model
        fingerprint = {
            "prompt": {"ref": setup.prompt_ref, "sha256": setup.prompt_sha256, "requested": request.prompt},
            "model": model.model_dump(mode="json")
            if model
            else {"name": BASELINE_MODEL_NAME, "kind": "rules"},
            "server": health.model_dump(mode="json") if health else None,
            "server_build": (health.build_info if health else None) or "n/a",
            "golden": {
                "version": dataset_version(golden),
                "dir": str(self.golden_dir),
                "examples": len(golden),
                "items_sha256": items_sha256(chosen),
            },
            "response_schema_sha256": schema_sha256(),
            "use_cache": request.use_cache and model is not None,
            "concurrency_source": source,
            "app_version": __version__,
            "git_revision": git_revision(),
            "python": platform.python_version(),
            "packages": package_versions(),
            "resumes": [],
        }
        now = _now()
        row = EvalRunRow(
            id=str(uuid.uuid4()),
            created_at=now,
            started_at=now,
            ended_at=None,
            status="running",
            prompt_ref=setup.prompt_ref,
            prompt_sha256=setup.prompt_sha256,
            model=model.name if model else BASELINE_MODEL_NAME,
            quantization=model.quantization if model else BASELINE_QUANTIZATION,
            gguf_file=(model.gguf_file or "") if model else "",
            base_url=model.base_url if model else "",
            params=setup.params.model_dump(mode="json") if setup.params else {},
            golden_version=fingerprint["golden"]["version"],
            slice=request.slice.as_dict(),
            item_ids=[example.id for example in chosen],
            concurrency=concurrency,
            fingerprint=fingerprint,
            summary={},
            error=None,
        )
        with session_scope(self.engine) as session:
            session.add(row)
        return RunHeader.from_row(row)

    def run(
        self,
        request: EvalRequest,
        *,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        examples: Sequence[GoldenExample] | None = None,
    ) -> RunHeader:
        """Start a run and execute it to the end; the finished header."""
        golden = list(examples) if examples is not None else self.load_golden()
        header = self.start(request, golden)
        return self.execute(header.id, on_progress=on_progress, cancel=cancel, examples=golden)

    def resume(
        self,
        run_ref: str,
        *,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        examples: Sequence[GoldenExample] | None = None,
    ) -> RunHeader:
        """Finish a run that was killed, cancelled or failed: only its missing items are run."""
        header = get_run(self.engine, run_ref)
        return self.execute(
            header.id, on_progress=on_progress, cancel=cancel, examples=examples, resuming=True
        )

    def execute(
        self,
        run_id: str,
        *,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        examples: Sequence[GoldenExample] | None = None,
        resuming: bool = False,
    ) -> RunHeader:
        """Run every item of a started run that is not stored yet, then record its metrics and status."""
        cancel = cancel or threading.Event()
        header = get_run(self.engine, run_id)
        by_id = {
            example.id: example for example in (examples if examples is not None else self.load_golden())
        }
        missing = [example_id for example_id in header.item_ids if example_id not in by_id]
        if missing:
            raise InputError(
                f"run {header.id} covers {len(missing)} example(s) no longer in the golden set "
                f"(e.g. {missing[0]})",
                hint="restore the golden set or start a new run",
            )
        chosen = [by_id[example_id] for example_id in header.item_ids]
        if items_sha256(chosen) != header.fingerprint.get("golden", {}).get("items_sha256"):
            raise InputError(
                f"the golden examples of run {header.id} changed since it started",
                hint="restore the golden set or start a new run",
            )
        setup = self._setup_for(header)
        done_ids = _stored_ids(self.engine, header.id)
        pending = [example for example in chosen if example.id not in done_ids]
        self._mark_running(header.id, resuming=resuming)
        total = len(chosen)
        done = len(chosen) - len(pending)
        if on_progress:
            on_progress(done, total)
        try:
            with contextlib.closing(self._run_items(header, setup, pending, cancel)) as results:
                for _ in results:
                    done += 1
                    if on_progress:
                        on_progress(done, total)
        except BaseException as exc:
            cancelled = isinstance(exc, KeyboardInterrupt | InferenceCancelled)
            message = (
                exc.user_message() if isinstance(exc, LogTriageError) else f"{type(exc).__name__}: {exc}"
            )
            self._finish(header.id, "cancelled" if cancelled else "failed", None if cancelled else message)
            raise
        status: RunStatus = "cancelled" if cancel.is_set() and done < total else "completed"
        return self._finish(header.id, status, None)

    def _mark_running(self, run_id: str, *, resuming: bool) -> None:
        with session_scope(self.engine) as session:
            row = session.get(EvalRunRow, run_id)
            assert row is not None
            row.status = "running"
            row.ended_at = None
            row.error = None
            if resuming:
                fingerprint = dict(row.fingerprint or {})
                fingerprint["resumes"] = [*fingerprint.get("resumes", []), _now().isoformat()]
                row.fingerprint = fingerprint

    def _finish(self, run_id: str, status: RunStatus, error: str | None) -> RunHeader:
        items = load_items(self.engine, run_id)
        with session_scope(self.engine) as session:
            row = session.get(EvalRunRow, run_id)
            assert row is not None
            row.status = status
            row.error = error
            row.ended_at = _now()
            row.summary = score_run(items).model_dump(mode="json")
        return get_run(self.engine, run_id)

    def _run_items(
        self, header: RunHeader, setup: _Setup, pending: Sequence[GoldenExample], cancel: threading.Event
    ) -> Generator[ItemResult, None, None]:
        """Analyze and store every pending example, yielding each result once it is committed."""
        keys: dict[str, str] = {}
        cached: dict[str, EvalCacheRow] = {}
        use_cache = bool(header.fingerprint.get("use_cache")) and setup.model is not None
        if setup.model is not None and setup.params is not None:
            keys = {
                e.id: cache_key(setup.prompt_sha256, setup.model, setup.params, e.content_hash())
                for e in pending
            }
            if use_cache:
                cached = _cached_answers(self.engine, list(keys.values()))
        to_infer: list[GoldenExample] = []
        for example in pending:
            if cancel.is_set():
                return
            hit = cached.get(keys.get(example.id, ""))
            if hit is None:
                to_infer.append(example)
                continue
            item = self._from_cache(example, hit)
            self._commit(header.id, item, None)
            yield item
        if not to_infer:
            return
        client: LLMClient | None = None
        if setup.model is not None:
            health = self._health(setup.model)
            if not health.ok:
                raise LLMConnectError(
                    f"model {setup.model.name} at {setup.model.base_url} is not ready: {health.detail}",
                    hint="start the model server (logtriage serve-models) or pick another model",
                )
            client = self.triage.llm_client(setup.model)

        def analyze(example: GoldenExample) -> ItemResult | None:
            if cancel.is_set():
                return None
            if client is None:
                return self.analyze_baseline(example, header.id)
            return self.analyze_with_model(example, header.id, setup, client, cancel)

        executor = ThreadPoolExecutor(max_workers=max(1, header.concurrency), thread_name_prefix="eval")
        try:
            remaining = iter(to_infer)
            running: dict[Future[ItemResult | None], GoldenExample] = {}

            def refill() -> None:
                # Submitting a window of tasks, not all at once, lets a cancel stop the run quickly.
                while len(running) < header.concurrency * 2 and not cancel.is_set():
                    example = next(remaining, None)
                    if example is None:
                        return
                    running[executor.submit(analyze, example)] = example

            refill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    example = running.pop(future)
                    item = future.result()
                    if item is None:
                        continue
                    self._commit(header.id, item, keys.get(example.id))
                    yield item
                refill()
        except BaseException:
            cancel.set()
            raise
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def _commit(self, run_id: str, item: ItemResult, key: str | None) -> None:
        """Store one item (and a fresh answer in the cache) in one transaction; a duplicate item is ignored."""
        with session_scope(self.engine) as session:
            _insert(session, EvalItemRow.__table__, _item_values(run_id, item))
            if key is not None and not item.cached and item.outcome in ("correct", "wrong", "invalid_output"):
                # Replace: a --no-cache run refreshes what later runs will reuse.
                _insert(session, EvalCacheRow.__table__, _cache_values(key, item), replace=True)

    @staticmethod
    def _from_cache(example: GoldenExample, hit: EvalCacheRow) -> ItemResult:
        """The item result of a cached answer: scored again, latency as first measured."""
        stats = dict(hit.stats or {})
        expected = example.label.root_cause
        common: dict[str, Any] = {
            "example_id": example.id,
            "content_hash": example.content_hash(),
            "expected": expected,
            "raw_output": hit.raw_output,
            "expected_evidence": list(example.label.evidence),
            "ttft_ms": stats.get("ttft_ms"),
            "total_ms": stats.get("total_ms"),
            "tokens_per_s": stats.get("tokens_per_s"),
            "prompt_tokens": stats.get("prompt_tokens"),
            "completion_tokens": stats.get("completion_tokens"),
            "trace_id": stats.get("trace_id"),
            "cached": True,
        }
        if hit.outcome_kind == "ok":
            try:
                rca = parse_rca(hit.raw_output)
            except InvalidOutputError as exc:  # cached by an older, laxer schema
                return ItemResult(outcome="invalid_output", error=exc.user_message(), **common)
            return ItemResult(
                predicted=rca.root_cause,
                outcome=outcome_for(expected, rca.root_cause),
                parsed=rca.model_dump(mode="json"),
                cited_evidence=list(stats.get("cited_evidence") or []),
                **common,
            )
        return ItemResult(outcome="invalid_output", error=stats.get("error"), **common)

    # --- the model call for one example ------------------------------------------------------------------------

    def analyze_baseline(self, example: GoldenExample, run_id: str = "") -> ItemResult:
        """The regex baseline's result for one example; its latency is its compute time."""
        with self._tracer.start_as_current_span("eval.item") as span:
            span.set_attribute("logtriage.eval.run_id", run_id)
            span.set_attribute("logtriage.eval.example_id", example.id)
            span.set_attribute("logtriage.model", BASELINE_MODEL_NAME)
            began = time.perf_counter()
            item = baseline.baseline_item(example)
            elapsed_ms = (time.perf_counter() - began) * 1000
            span.set_attribute("logtriage.eval.outcome", item.outcome)
            return item.model_copy(
                update={
                    "raw_output": json.dumps(item.parsed, ensure_ascii=False),
                    "ttft_ms": round(elapsed_ms, 3),
                    "total_ms": round(elapsed_ms, 3),
                    "trace_id": tr.current_trace_id(),
                }
            )

    def prepare_example(
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

    def analyze_with_model(
        self,
        example: GoldenExample,
        run_id: str,
        setup: _Setup,
        client: LLMClient,
        cancel: threading.Event,
    ) -> ItemResult | None:
        """One model answer for one example, scored; None when the run was cancelled meanwhile."""
        assert setup.model is not None
        assert setup.version is not None
        expected = example.label.root_cause
        base: dict[str, Any] = {
            "example_id": example.id,
            "content_hash": example.content_hash(),
            "expected": expected,
            "expected_evidence": list(example.label.evidence),
        }
        with self._tracer.start_as_current_span("eval.item") as span:
            span.set_attribute("logtriage.eval.run_id", run_id)
            span.set_attribute("logtriage.eval.example_id", example.id)
            span.set_attribute("logtriage.model", setup.model.name)
            span.set_attribute("logtriage.prompt.version", setup.prompt_ref)
            base["trace_id"] = tr.current_trace_id()
            raw = ""
            stats: InferenceStats | None = None
            try:
                assert setup.version is not None, "model runs always resolve a prompt version"
                prepared = self.prepare_example(example, setup.version, setup.model, client)
                # The triage pipeline's inference span and latency metrics, reused as they are.
                for event in self.triage.infer(client, setup.model, prepared, cancel):
                    if isinstance(event, DoneEvent):
                        raw, stats = event.text, event.stats
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
                span.set_attribute("logtriage.eval.outcome", outcome)
                return ItemResult(
                    outcome=outcome,
                    error=exc.user_message(),
                    raw_output=raw,
                    **base,
                    **(_stats_fields(stats) if stats else {}),
                )
            outcome = outcome_for(expected, rca.root_cause)
            span.set_attribute("logtriage.eval.outcome", outcome)
            span.set_attribute("logtriage.root_cause", rca.root_cause)
            return ItemResult(
                predicted=rca.root_cause,
                outcome=outcome,
                raw_output=raw,
                parsed=rca.model_dump(mode="json"),
                cited_evidence=evidence_to_entries(prepared.budget, rca.evidence),
                **base,
                **(_stats_fields(stats) if stats else {}),
            )
