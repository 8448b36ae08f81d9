from __future__ import annotations

import shutil
import socket
import subprocess

import httpx

from app.telemetry import metrics
from tests.conftest import require_component


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _observe_some() -> None:
    labels = {"model": "tiny-q4_k_m", "quantization": "Q4_K_M", "prompt": "rca@abc"}
    metrics.INFERENCE_DURATION.labels(**labels).observe(1.2)
    metrics.TIME_TO_FIRST_TOKEN.labels(**labels).observe(0.1)
    metrics.TIME_PER_OUTPUT_TOKEN.labels(**labels).observe(0.01)
    metrics.PROMPT_TOKENS.labels(**labels).observe(900)
    metrics.LOKI_QUERY_DURATION.labels(source="demo").observe(0.02)
    metrics.TRIAGE_REQUESTS.labels(**labels, outcome="ok").inc()
    metrics.ERRORS.labels(kind="llm_timeout").inc()


def test_metrics_are_served_and_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    require_component(promtool is not None, "promtool", "install Debian's 'prometheus' package")
    assert promtool is not None
    _observe_some()
    port = _free_port()
    assert metrics.serve_metrics(port, addr="127.0.0.1")
    assert not metrics.serve_metrics(port, addr="127.0.0.1")  # once per process
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for name in (
        "logtriage_inference_duration_seconds_bucket",
        "logtriage_time_to_first_token_seconds_count",
        "logtriage_time_per_output_token_seconds_sum",
        "logtriage_prompt_tokens_bucket",
        "logtriage_log_query_duration_seconds_bucket",
        'logtriage_triage_requests_total{model="tiny-q4_k_m",outcome="ok"',
        'logtriage_errors_total{kind="llm_timeout"}',
    ):
        assert name in body
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == ""
    assert check.stderr.strip() == ""


def test_port_zero_disables_the_server() -> None:
    assert metrics.serve_metrics(0) is False
