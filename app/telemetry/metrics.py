"""Prometheus metrics of the process, in one registry served on METRICS_PORT at /metrics.

The model calls are measured with the OpenTelemetry GenAI client metrics. Their names and attribute
keys come from ``opentelemetry-semantic-conventions`` and are turned into Prometheus names the way
OpenTelemetry's Prometheus compatibility spec does it (``.`` becomes ``_``, the unit becomes a suffix,
an annotation unit such as ``{token}`` adds none), so ``gen_ai.client.operation.duration`` (unit ``s``)
is scraped as ``gen_ai_client_operation_duration_seconds``. Bucket boundaries are the semconv's.

Our own names remain where no convention covers the thing measured: a log query
(``logtriage_log_query_duration_seconds``), a whole triage from logs to answer
(``logtriage_triage_requests_total``), errors of every stage by kind (``logtriage_errors_total``) and
the build (``logtriage_build_info``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Literal

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from app import __version__
from app.config import Settings
from app.telemetry.build import build_revision

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

# OTel unit -> Prometheus suffix, for the units used here (the compatibility spec's table).
_UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def prometheus_name(name: str, unit: str = "") -> str:
    """The Prometheus name of an OpenTelemetry metric: invalid characters to ``_``, plus the unit suffix."""
    base = re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9_:]", "_", name)).strip("_")
    if unit.startswith("{") or unit in ("", "1"):
        return base  # annotations ({token}) and dimensionless units add no suffix
    suffix = _UNIT_SUFFIXES.get(unit, re.sub(r"[^a-zA-Z0-9_]", "_", unit))
    return base if base.endswith(f"_{suffix}") else f"{base}_{suffix}"


def prometheus_label(key: str) -> str:
    """The Prometheus label name of an OpenTelemetry attribute key."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


# Attributes of the GenAI metrics (semconv keys), plus two of ours that every panel splits by.
ATTR_OPERATION = gen_ai.GEN_AI_OPERATION_NAME
ATTR_PROVIDER = gen_ai.GEN_AI_PROVIDER_NAME
ATTR_REQUEST_MODEL = gen_ai.GEN_AI_REQUEST_MODEL
ATTR_RESPONSE_MODEL = gen_ai.GEN_AI_RESPONSE_MODEL
ATTR_TOKEN_TYPE = gen_ai.GEN_AI_TOKEN_TYPE
ATTR_SERVER_ADDRESS = server_attributes.SERVER_ADDRESS
ATTR_SERVER_PORT = server_attributes.SERVER_PORT
ATTR_ERROR_TYPE = error_attributes.ERROR_TYPE
ATTR_QUANTIZATION = "logtriage.model.quantization"
ATTR_PROMPT_VERSION = "logtriage.prompt.version"

TOKEN_INPUT = gen_ai.GenAiTokenTypeValues.INPUT.value  # ty: ignore[deprecated]
TOKEN_OUTPUT = gen_ai.GenAiTokenTypeValues.OUTPUT.value  # ty: ignore[deprecated]

_CALL_ATTRIBUTES = (
    ATTR_OPERATION,
    ATTR_PROVIDER,
    ATTR_REQUEST_MODEL,
    ATTR_RESPONSE_MODEL,
    ATTR_SERVER_ADDRESS,
    ATTR_SERVER_PORT,
    ATTR_QUANTIZATION,
    ATTR_PROMPT_VERSION,
)
CALL_LABELS = tuple(prometheus_label(key) for key in _CALL_ATTRIBUTES)
DURATION_LABELS = (*CALL_LABELS, prometheus_label(ATTR_ERROR_TYPE))
TOKEN_LABELS = (*CALL_LABELS, prometheus_label(ATTR_TOKEN_TYPE))
# The chunk metrics are recorded as each chunk arrives, before the response model is known (it is a
# Recommended attribute, not a Required one): a CPU answer streams for minutes, and its chunks must be
# visible while it does and when it is cancelled.
CHUNK_LABELS = tuple(label for label in CALL_LABELS if label != prometheus_label(ATTR_RESPONSE_MODEL))

# The semconv's boundaries for the three client durations. Two more doublings are appended to the
# operation duration and time to first chunk: on CPU a triage often takes longer than the semconv's
# top bucket (81.92 s), and a p95 above it would otherwise read as 81.92 s. The semconv's boundaries
# stay a subset, so the buckets line up with other GenAI instrumentation.
SEMCONV_DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
LONG_DURATION_BUCKETS = (*SEMCONV_DURATION_BUCKETS, 163.84, 327.68)
SEMCONV_TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


def _genai_histogram(
    name: str, unit: str, help_text: str, labels: Sequence[str], buckets: Sequence[float]
) -> Histogram:
    return Histogram(prometheus_name(name, unit), help_text, labels, buckets=buckets, registry=REGISTRY)


OPERATION_DURATION = _genai_histogram(
    gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION,
    "s",
    "GenAI operation duration: request sent to the end of the stream, failed operations too (error_type).",
    DURATION_LABELS,
    LONG_DURATION_BUCKETS,
)
TOKEN_USAGE = _genai_histogram(
    gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE,
    "{token}",
    "Number of input and output tokens used per operation (gen_ai_token_type).",
    TOKEN_LABELS,
    SEMCONV_TOKEN_BUCKETS,
)
TIME_TO_FIRST_CHUNK = _genai_histogram(
    gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
    "s",
    "Time from issuing a streaming request to receiving the first chunk of the answer.",
    CHUNK_LABELS,
    LONG_DURATION_BUCKETS,
)
TIME_PER_OUTPUT_CHUNK = _genai_histogram(
    gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
    "s",
    "Time per output chunk after the first: from the end of the previous chunk to the end of this one.",
    CHUNK_LABELS,
    SEMCONV_DURATION_BUCKETS,
)
LOKI_QUERY_DURATION = Histogram(
    "logtriage_log_query_duration_seconds",
    "Time to answer one log query, all pages included.",
    ("source",),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TRIAGE_REQUESTS = Counter(
    "logtriage_triage_requests",
    "Triage requests (logs, budget, prompt, answer) by model, quantization, prompt and outcome.",
    ("model", "quantization", "prompt", "outcome"),
    registry=REGISTRY,
)
ERRORS = Counter(
    "logtriage_errors",
    "Errors of any stage by kind (loki_connect, loki_timeout, loki_http, llm_connect, llm_timeout, "
    "llm_http, llm_too_large, invalid_output, cancelled, other).",
    ("kind",),
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "logtriage_build_info",
    "Always 1; the version and git revision of the running LogTriage.",
    ("version", "revision"),
    registry=REGISTRY,
)

Outcome = Literal["ok", "error", "cancelled"]

# Names of the gauges eval jobs push to the Pushgateway (see app/evals); listed here so dashboards,
# alerts and the k8s cross-checks have one place to read them from.
EVAL_METRIC_NAMES = (
    "logtriage_eval_precision_ratio",
    "logtriage_eval_recall_ratio",
    "logtriage_eval_f1_ratio",
    "logtriage_eval_macro_f1_ratio",
    "logtriage_eval_micro_f1_ratio",
    "logtriage_eval_accuracy_ratio",
    "logtriage_eval_invalid_output_ratio",
    "logtriage_eval_leak_ratio",
    "logtriage_eval_latency_seconds",
    "logtriage_eval_time_to_first_token_seconds",
    "logtriage_eval_items",
    "logtriage_eval_duration_seconds",
    "logtriage_eval_last_success_timestamp_seconds",
)


def record_build_info(revision: str, version: str = __version__) -> None:
    """Publish ``logtriage_build_info{version, revision} 1`` (one series per process)."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(version=version, revision=revision).set(1)


_server_lock = threading.Lock()
_server_started: set[int] = set()


def serve_metrics(port: int, addr: str = "0.0.0.0", *, revision: str | None = None) -> bool:  # noqa: S104 (scraped from other pods)
    """Start the /metrics HTTP server once per process; False when port is 0 or already served.

    ``revision`` (when given) is published as ``logtriage_build_info`` before the first scrape.
    """
    if revision is not None:
        record_build_info(revision)
    if port == 0:
        return False
    with _server_lock:
        if port in _server_started:
            return False
        start_http_server(port, addr=addr, registry=REGISTRY)
        _server_started.add(port)
        return True


def start_metrics(settings: Settings, addr: str = "0.0.0.0") -> bool:  # noqa: S104 (scraped from other pods)
    """Publish build info and serve /metrics on METRICS_PORT once per process; False if off or taken."""
    port = settings.metrics_port
    with _server_lock:
        if port == 0 or port in _server_started:
            return False  # cheap, as the dashboard script calls this on every rerun
    try:
        return serve_metrics(settings.metrics_port, addr, revision=build_revision(settings))
    except OSError as exc:
        # Another process (a second dashboard on one host) may hold the port; the dashboard works on.
        log.warning("metrics server not started on port %s: %s", settings.metrics_port, exc)
        return False
