"""The /metrics registry: OTel->Prometheus names, what a scrape shows, promtool's verdict, build info."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics
from prometheus_client.parser import text_string_to_metric_families

from app.config import PROJECT_ROOT, Settings
from app.telemetry import metrics
from app.telemetry.build import build_revision, git_revision
from tests.conftest import require_component
from tests.fixtures.llama import free_port

GENAI_FAMILIES = {
    "gen_ai_client_operation_duration_seconds": "histogram",
    "gen_ai_client_token_usage": "histogram",
    "gen_ai_client_operation_time_to_first_chunk_seconds": "histogram",
    "gen_ai_client_operation_time_per_output_chunk_seconds": "histogram",
}


@pytest.mark.parametrize(
    ("name", "unit", "expected"),
    [
        (gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION, "s", "gen_ai_client_operation_duration_seconds"),
        (gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE, "{token}", "gen_ai_client_token_usage"),
        ("http.server.request.body.size", "By", "http_server_request_body_size_bytes"),
        ("process.cpu.utilization", "1", "process_cpu_utilization"),
        ("already_seconds", "s", "already_seconds"),
        ("odd-name..x", "ms", "odd_name_x_milliseconds"),
    ],
)
def test_otel_names_translate_as_the_prometheus_compatibility_spec_says(
    name: str, unit: str, expected: str
) -> None:
    assert metrics.prometheus_name(name, unit) == expected


def test_attribute_keys_become_label_names() -> None:
    assert metrics.prometheus_label("gen_ai.request.model") == "gen_ai_request_model"
    assert metrics.prometheus_label("error.type") == "error_type"
    assert "gen_ai_token_type" in metrics.TOKEN_LABELS
    assert "error_type" in metrics.DURATION_LABELS


def test_buckets_are_the_semconvs() -> None:
    token_buckets = metrics.TOKEN_USAGE._upper_bounds[:-1]  # last is +Inf
    assert token_buckets == [float(b) for b in metrics.SEMCONV_TOKEN_BUCKETS]
    assert metrics.TIME_PER_OUTPUT_CHUNK._upper_bounds[:-1] == list(metrics.SEMCONV_DURATION_BUCKETS)
    duration = metrics.OPERATION_DURATION._upper_bounds[:-1]
    assert duration[: len(metrics.SEMCONV_DURATION_BUCKETS)] == list(metrics.SEMCONV_DURATION_BUCKETS)


def _observe_some() -> None:
    call = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "llama.cpp",
        "gen_ai_request_model": "tiny-q4_k_m",
        "gen_ai_response_model": "tiny-q4_k_m",
        "server_address": "127.0.0.1",
        "server_port": "8091",
        "logtriage_model_quantization": "Q4_K_M",
        "logtriage_prompt_version": "rca@abc",
    }
    metrics.OPERATION_DURATION.labels(**call, error_type="").observe(1.2)
    metrics.OPERATION_DURATION.labels(**call, error_type="llm_timeout").observe(300)
    metrics.TOKEN_USAGE.labels(**call, gen_ai_token_type="input").observe(900)
    metrics.TOKEN_USAGE.labels(**call, gen_ai_token_type="output").observe(60)
    chunk = {k: v for k, v in call.items() if k != "gen_ai_response_model"}
    metrics.TIME_TO_FIRST_CHUNK.labels(**chunk).observe(0.1)
    metrics.TIME_PER_OUTPUT_CHUNK.labels(**chunk).observe(0.01)
    metrics.LOKI_QUERY_DURATION.labels(source="demo").observe(0.02)
    metrics.TRIAGE_REQUESTS.labels(
        model="tiny-q4_k_m", quantization="Q4_K_M", prompt="rca@abc", outcome="ok"
    ).inc()
    metrics.ERRORS.labels(kind="llm_timeout").inc()


def test_metrics_are_served_and_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    require_component(promtool is not None, "promtool", "install Debian's 'prometheus' package")
    assert promtool is not None
    _observe_some()
    port = free_port()
    assert metrics.serve_metrics(port, addr="127.0.0.1", revision="0123abc")
    assert not metrics.serve_metrics(port, addr="127.0.0.1")  # once per process
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    families = {f.name: f.type for f in text_string_to_metric_families(body)}
    assert {name: families.get(name) for name in GENAI_FAMILIES} == GENAI_FAMILIES
    for sample in (
        'gen_ai_client_operation_duration_seconds_bucket{error_type="llm_timeout"',
        'gen_ai_client_token_usage_count{gen_ai_operation_name="chat"',
        'gen_ai_token_type="output"',
        "gen_ai_client_operation_time_to_first_chunk_seconds_sum",
        "gen_ai_client_operation_time_per_output_chunk_seconds_count",
        "logtriage_log_query_duration_seconds_bucket",
        'logtriage_triage_requests_total{model="tiny-q4_k_m"',
        'logtriage_errors_total{kind="llm_timeout"}',
        'logtriage_build_info{revision="0123abc",version="0.1.0"} 1.0',
    ):
        assert sample in body
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == ""
    assert check.stderr.strip() == ""


def test_port_zero_disables_the_server() -> None:
    assert metrics.serve_metrics(0) is False
    assert metrics.start_metrics(Settings(metrics_port=0)) is False


def test_build_info_is_one_series_with_the_revision() -> None:
    metrics.record_build_info("first")
    metrics.record_build_info("second")
    samples = [s for f in metrics.REGISTRY.collect() if f.name == "logtriage_build_info" for s in f.samples]
    assert [(s.labels["revision"], s.value) for s in samples] == [("second", 1.0)]


def test_revision_comes_from_the_settings_else_git(tmp_path: Path) -> None:
    assert build_revision(Settings(build_revision=" 4f2a9c1 ")) == "4f2a9c1"
    assert git_revision(tmp_path) == "unknown"  # not a checkout
    if shutil.which("git") and (PROJECT_ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}", build_revision(Settings(build_revision=None)))
