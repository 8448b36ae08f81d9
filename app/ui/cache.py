"""The dashboard's access to the library: one Services per process, cached reads, and the few actions.

Pages call these functions and nothing below them, so a test replaces them (or ``get_services``) and
never patches a third-party client. Errors are LogTriageErrors and are never cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import streamlit as st

from app import triage_history
from app.config import Settings, get_settings
from app.evals.compare import Comparison, RunItems, compare_runs
from app.evals.metrics import ItemResult
from app.evals.runner import load_items, load_run_items
from app.golden import queue as label_queue
from app.golden.jsonl import load_golden_dir
from app.golden.queue import LabelWindow
from app.golden.schema import GoldenExample
from app.llm.client import ChatMessage, InferenceStats, SamplingParams
from app.llm.gguf_info import GGUFSummary, summarize_local_gguf
from app.llm.health import check_health
from app.llm.models import ModelConfig, ModelHealth, default_model_name, find_model
from app.logs.frame import entries_to_frame
from app.logs.logql import LogFilter
from app.logs.models import LogEntry, LogQueryResult
from app.logs.source import list_label_values, list_namespaces
from app.logs.stored import StoredWindowSource
from app.prompts.registry import PromptVersion
from app.services import Services, build_services
from app.telemetry.tracing import RECENT_TRACES, SpanRecord
from app.triage import PreparedPrompt, TriageEvent, TriageRequest, TriageService
from app.triage_history import RunHead, StoredRun

# Query results are kept for a few minutes: windows are anchored when the user asks for a preview, so
# a rerun (a filter in the table, a fragment tick) must not ask Loki again.
QUERY_TTL_S = 300
HEALTH_TTL_S = 15
NAMESPACES_TTL_S = 60
PROMPTS_TTL_S = 30
GOLDEN_TTL_S = 60
PROBE_MAX_TOKENS = 8


@dataclass(frozen=True)
class LogPreview:
    """What the preview shows of a query: the LogQL, counts and the lines as a frame."""

    query: str
    source: str
    count: int
    truncated: bool
    limit: int
    duration_s: float
    frame: pd.DataFrame


@st.cache_resource(show_spinner=False)
def get_services() -> Services:
    """The process-wide services, built once from the settings."""
    return build_services(get_settings())


def get_app_settings() -> Settings:
    """The settings the services were built with."""
    return get_services().settings


@st.cache_data(ttl=NAMESPACES_TTL_S, show_spinner=False, max_entries=32)
def namespaces(start: datetime, end: datetime) -> list[str]:
    """Namespaces with logs in [start, end)."""
    return list_namespaces(get_services().log_source, start, end)


@st.cache_data(ttl=NAMESPACES_TTL_S, show_spinner=False, max_entries=64)
def label_values(label: str, start: datetime, end: datetime, within: LogFilter) -> list[str]:
    """Values of a label (pod, container) among the streams of ``within``'s namespace, pod and container."""
    return list_label_values(get_services().log_source, label, start, end, within)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=16)
def golden_window(example_id: str) -> LabelWindow:
    """A stored golden example's window: namespace, time range and lines."""
    return label_queue.label_window(get_services().engine, example_id)


def _window_entries(window: LabelWindow) -> list[LogEntry]:
    return [LogEntry(ts_ns=log.ts_ns, labels=log.labels, line=log.line) for log in window.logs]


def triage_service(example_id: str | None = None) -> TriageService:
    """The triage pipeline on the configured log source, or on a stored golden window's lines."""
    svc = get_services()
    if example_id is None:
        return svc.triage
    window = golden_window(example_id)
    return TriageService(
        settings=svc.settings,
        log_source=StoredWindowSource(_window_entries(window), namespace=window.namespace),
        models=svc.models,
        registry=svc.prompts,
        engine=svc.engine,
        http_client=svc.http_client,
    )


def models() -> list[ModelConfig]:
    """The configured model endpoints."""
    return get_services().models


def default_model() -> str | None:
    """The model picked when the user has not chosen one (DEFAULT_MODEL, else the first listed)."""
    svc = get_services()
    return default_model_name(svc.models, svc.settings)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=64)
def gguf_summary(name: str) -> GGUFSummary | None:
    """What a model's GGUF really holds, when the file is on this machine (else None)."""
    from app.llm.server import local_model_dirs

    svc = get_services()
    model = find_model(svc.models, name)
    return summarize_local_gguf(
        model.gguf_file, local_model_dirs(svc.settings), model_health(name).model_path
    )


def uses_local_models() -> bool:
    """Whether the models are the local SmolLM2 ladder (no models file)."""
    return get_services().uses_local_models()


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False, max_entries=64)
def model_health(name: str) -> ModelHealth:
    """Health and /props details of one model endpoint."""
    svc = get_services()
    return check_health(find_model(svc.models, name), svc.http_client, svc.settings)


def models_health() -> dict[str, ModelHealth]:
    """Every configured endpoint's health by model name (check_health reports failures, not raises)."""
    return {model.name: model_health(model.name) for model in models()}


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=16)
def fetch_logs(
    log_filter: LogFilter, start: datetime, end: datetime, limit: int, example_id: str | None = None
) -> LogQueryResult:
    """The lines of a filter and window, from the log source (or from a golden example's window)."""
    return triage_service(example_id).fetch_logs(log_filter, start, end, limit)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=16)
def preview_logs(
    log_filter: LogFilter, start: datetime, end: datetime, limit: int, example_id: str | None = None
) -> LogPreview:
    """The preview of a filter and window: query, counts and a frame of the lines."""
    result = fetch_logs(log_filter, start, end, limit, example_id)
    return LogPreview(
        query=result.query,
        source=result.source,
        count=len(result.entries),
        truncated=result.truncated,
        limit=limit,
        duration_s=result.duration_s,
        frame=entries_to_frame(result.entries),
    )


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=16)
def prepare_prompt(
    log_filter: LogFilter,
    start: datetime,
    end: datetime,
    limit: int,
    prompt: str,
    model_name: str,
    example_id: str | None = None,
    latency_target_s: float = 0.0,
) -> PreparedPrompt:
    """The budgeted, rendered prompt for the previewed lines, a prompt version, a model and a target."""
    svc = get_services()
    result = fetch_logs(log_filter, start, end, limit, example_id)
    return svc.triage.prepare(
        result.entries,
        namespace=log_filter.namespace,
        start=start,
        end=end,
        version=svc.prompts.resolve(prompt),
        model=find_model(svc.models, model_name),
        latency_target_s=latency_target_s,
    )


@st.cache_data(ttl=PROMPTS_TTL_S, show_spinner=False)
def prompt_versions() -> list[PromptVersion]:
    """Every stored prompt version, oldest first (the files on disk are synced first)."""
    return get_services().prompts.all_versions()


@st.cache_data(show_spinner=False, max_entries=32)
def eval_items(run_id: str, version: str) -> list[ItemResult]:
    """A finished run's item results; ``version`` names the run's state, so a change is a new entry."""
    return load_items(get_services().engine, run_id)


@st.cache_data(show_spinner=False, max_entries=32)
def eval_run_items(run_id: str, version: str) -> RunItems:
    """A finished run as comparisons see it (see ``eval_items`` for ``version``)."""
    return load_run_items(get_services().engine, run_id)


@st.cache_data(show_spinner=False, max_entries=16)
def eval_comparison(run_ids: tuple[str, ...], versions: tuple[str, ...]) -> Comparison:
    """Finished runs compared on their shared items, the first being A (the bootstrap takes a moment)."""
    return compare_runs(
        [eval_run_items(run_id, version) for run_id, version in zip(run_ids, versions, strict=True)]
    )


@st.cache_data(ttl=GOLDEN_TTL_S, show_spinner=False)
def golden_examples() -> dict[str, GoldenExample]:
    """The golden set by example id."""
    return {example.id: example for example in load_golden_dir(get_app_settings().golden_dir)}


def probe_latency(model_name: str) -> InferenceStats:
    """Time a tiny chat completion on one model endpoint."""
    svc = get_services()
    client = svc.triage.llm_client(find_model(svc.models, model_name))
    messages = [ChatMessage(role="user", content="Reply with the word ok.")]
    _, stats = client.complete_chat(messages, SamplingParams(temperature=0.0, max_tokens=PROBE_MAX_TOKENS))
    return stats


def triage_stream(
    request: TriageRequest, cancel: threading.Event, example_id: str | None = None
) -> Iterator[TriageEvent]:
    """Run a triage request, yielding its events (called from the run's background thread)."""
    return triage_service(example_id).stream(request, cancel)


def queue_for_labeling(run_id: str) -> None:
    """Put a stored triage run into the labeling queue."""
    triage_history.queue_for_labeling(get_services().engine, run_id)


def past_runs(limit: int = 100) -> list[RunHead]:
    """The most recent stored triage runs, newest first."""
    return triage_history.list_runs(get_services().engine, limit)


def past_run(run_id: str) -> StoredRun:
    """One stored triage run with its result, evidence and logs."""
    return triage_history.load_run(get_services().engine, run_id)


def trace_spans(trace_id: str) -> list[SpanRecord]:
    """The spans of a recent trace recorded in this process (empty when unknown)."""
    return RECENT_TRACES.get(trace_id)


def clear_caches() -> None:
    """Forget every cached read (after settings change, and between tests)."""
    st.cache_data.clear()
    st.cache_resource.clear()
