"""The dashboard's access to the library: one Services per process, cached reads, and the few actions.

Pages call these functions and nothing below them, so a test replaces them (or ``get_services``) and
never patches a third-party client. Errors are LogTriageErrors and are never cached.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import streamlit as st

from app import triage as triage_api
from app.config import Settings, get_settings
from app.llm.client import ChatMessage, InferenceStats, SamplingParams
from app.llm.gguf_info import GGUFSummary, summarize_local_gguf
from app.llm.health import check_health
from app.llm.models import ModelConfig, ModelHealth, default_model_name, find_model
from app.logs.frame import entries_to_frame
from app.logs.logql import LogFilter
from app.logs.models import LogQueryResult
from app.logs.source import list_namespaces
from app.prompts.registry import PromptVersion
from app.services import Services, build_services
from app.telemetry.metrics import serve_metrics
from app.telemetry.tracing import RECENT_TRACES, SpanRecord
from app.triage import PreparedPrompt, TriageEvent, TriageRequest

log = logging.getLogger(__name__)

# Query results are kept for a few minutes: windows are anchored when the user asks for a preview, so
# a rerun (a filter in the table, a fragment tick) must not ask Loki again.
QUERY_TTL_S = 300
HEALTH_TTL_S = 15
NAMESPACES_TTL_S = 60
PROMPTS_TTL_S = 30
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


@st.cache_resource(show_spinner=False)
def start_metrics_server(port: int) -> bool:
    """Serve /metrics on ``port`` once per process; False when disabled or the port is taken."""
    try:
        return serve_metrics(port)
    except OSError as exc:
        # Another process (a second dashboard replica on one host) may hold the port; the page works on.
        log.warning("metrics server not started on port %s: %s", port, exc)
        return False


@st.cache_data(ttl=NAMESPACES_TTL_S, show_spinner=False, max_entries=32)
def namespaces(start: datetime, end: datetime) -> list[str]:
    """Namespaces with logs in [start, end)."""
    return list_namespaces(get_services().log_source, start, end)


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
def fetch_logs(log_filter: LogFilter, start: datetime, end: datetime, limit: int) -> LogQueryResult:
    """The lines of a filter and window, from the log source."""
    return get_services().triage.fetch_logs(log_filter, start, end, limit)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=16)
def preview_logs(log_filter: LogFilter, start: datetime, end: datetime, limit: int) -> LogPreview:
    """The preview of a filter and window: query, counts and a frame of the lines."""
    result = fetch_logs(log_filter, start, end, limit)
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
    latency_target_s: float = 0.0,
) -> PreparedPrompt:
    """The budgeted, rendered prompt for the previewed lines, a prompt version, a model and a target."""
    svc = get_services()
    result = fetch_logs(log_filter, start, end, limit)
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


def probe_latency(model_name: str) -> InferenceStats:
    """Time a tiny chat completion on one model endpoint."""
    svc = get_services()
    client = svc.triage.llm_client(find_model(svc.models, model_name))
    messages = [ChatMessage(role="user", content="Reply with the word ok.")]
    _, stats = client.complete_chat(messages, SamplingParams(temperature=0.0, max_tokens=PROBE_MAX_TOKENS))
    return stats


def triage_stream(request: TriageRequest, cancel: threading.Event) -> Iterator[TriageEvent]:
    """Run a triage request, yielding its events (called from the run's background thread)."""
    return get_services().triage.stream(request, cancel)


def queue_for_labeling(run_id: str) -> None:
    """Put a stored triage run into the labeling queue."""
    triage_api.queue_for_labeling(get_services().engine, run_id)


def trace_spans(trace_id: str) -> list[SpanRecord]:
    """The spans of a recent trace recorded in this process (empty when unknown)."""
    return RECENT_TRACES.get(trace_id)


def clear_caches() -> None:
    """Forget every cached read (after settings change, and between tests)."""
    st.cache_data.clear()
    st.cache_resource.clear()
