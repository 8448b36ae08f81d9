"""Prometheus metrics of the triage path, in one registry served on METRICS_PORT at /metrics."""

from __future__ import annotations

import threading
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
_TOKEN_BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 131072)
_PER_TOKEN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

MODEL_LABELS = ("model", "quantization", "prompt")

INFERENCE_DURATION = Histogram(
    "logtriage_inference_duration_seconds",
    "Time from sending a chat completion request to its last token.",
    MODEL_LABELS,
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "logtriage_time_to_first_token_seconds",
    "Time from sending a chat completion request to its first content token.",
    MODEL_LABELS,
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TIME_PER_OUTPUT_TOKEN = Histogram(
    "logtriage_time_per_output_token_seconds",
    "Mean time between output tokens after the first, per request.",
    MODEL_LABELS,
    buckets=_PER_TOKEN_BUCKETS,
    registry=REGISTRY,
)
PROMPT_TOKENS = Histogram(
    "logtriage_prompt_tokens",
    "Prompt tokens per inference request.",
    MODEL_LABELS,
    buckets=_TOKEN_BUCKETS,
    registry=REGISTRY,
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
    "Triage requests by model, quantization, prompt and outcome.",
    (*MODEL_LABELS, "outcome"),
    registry=REGISTRY,
)
ERRORS = Counter(
    "logtriage_errors",
    "Errors by kind (loki_connect, loki_timeout, loki_http, llm_connect, llm_timeout, llm_http, "
    "invalid_output, cancelled, other).",
    ("kind",),
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
    "logtriage_eval_latency_seconds",
    "logtriage_eval_time_to_first_token_seconds",
    "logtriage_eval_items",
    "logtriage_eval_duration_seconds",
    "logtriage_eval_last_success_timestamp_seconds",
)

_server_lock = threading.Lock()
_server_started: set[int] = set()


def serve_metrics(port: int, addr: str = "0.0.0.0") -> bool:  # noqa: S104 (scraped from other pods)
    """Start the /metrics HTTP server once per process; False when port is 0 or already served."""
    if port == 0:
        return False
    with _server_lock:
        if port in _server_started:
            return False
        start_http_server(port, addr=addr, registry=REGISTRY)
        _server_started.add(port)
        return True
