"""The ``logtriage`` command, run as a user runs it: a subprocess against real or wire-faithful servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.logs.logql import parse_selector_and_filters
from app.logs.models import LogEntry, datetime_to_ns
from app.taxonomy import ROOT_CAUSES
from tests.fixtures.fake_loki import FakeLoki
from tests.fixtures.llama import free_port
from tests.fixtures.otlp import OTLPReceiver

TRIAGE_KEYS = {
    "root_cause",
    "evidence",
    "summary",
    "prompt_version",
    "model",
    "ttft_ms",
    "total_ms",
    "prompt_tokens",
    "completion_tokens",
    "tokens_per_s",
    "trace_id",
}


def cli_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without LogTriage's settings, plus ``env``."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("LOKI_", "OTEL_", "MODELS_", "DATABASE_"))
    }
    base.update({"METRICS_PORT": "0", "OTEL_TRACES_EXPORTER": "none", "COLUMNS": "200"})
    base.update(env)
    return base


def run_cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run logtriage with a clean environment plus ``env``.

    The timeout only catches a hung command: a real-model triage took 137 s on the shared 2-core machine.
    """
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=cli_env(env),
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A failed command exits non-zero with one readable line on stderr and no traceback."""
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def env(tmp_path: Path, llama_models_file: Path) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "data"), "MODELS_FILE": str(llama_models_file)}


def loki_entries(now: datetime) -> list[LogEntry]:
    labels = {"namespace": "payments", "pod": "api-7d9f8b6c5d-x2k4p", "container": "api"}
    start = now - timedelta(minutes=30)
    lines = [
        "INFO listening on :8080",
        'ERROR dial tcp 10.0.3.7:5432: connect: connection refused db="postgres"',
        "WARN Back-off restarting failed container api",
        "<img src=x onerror=alert(1)>",
    ]
    return [
        LogEntry(
            ts_ns=datetime_to_ns(start + timedelta(seconds=i)), labels=labels, line=lines[i % len(lines)]
        )
        for i in range(120)
    ]


def test_triage_json_on_the_demo_source_with_the_real_llama_server(env: dict[str, str]) -> None:
    result = run_cli(
        "triage", "--namespace", "payments", "--since", "1h", "--model", "tiny-q4_k_m", "--json", env=env
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= TRIAGE_KEYS
    assert data["root_cause"] in ROOT_CAUSES
    assert data["model"] == "tiny-q4_k_m"
    assert data["prompt_version"].startswith("rca-evidence-first@")
    assert len(data["prompt_version"].split("@")[1]) == 12
    assert data["ttft_ms"] > 0
    assert data["total_ms"] >= data["ttft_ms"]
    assert data["prompt_tokens"] > 0
    assert data["completion_tokens"] > 0
    assert len(data["trace_id"]) == 32
    assert data["log_lines"] > 0
    assert re.match(r"^[\d,]+ lines -> [\d,]+ shown", data["budget"])


def test_triage_against_a_loki_api_server_with_pages_and_a_429(
    env: dict[str, str], fake_loki: FakeLoki, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    fake_loki.serve(loki_entries(now))
    fake_loki.fail_next(1, status=429)
    result = run_cli(
        "triage",
        "--namespace",
        "payments",
        "--since",
        "1h",
        "--model",
        "tiny-q4_k_m",
        "--prompt",
        "rca-zero-shot",
        "--json",
        env={**env, "LOKI_URL": fake_loki.url, "LOKI_PAGE_SIZE": "50", "LOKI_TENANT": "team-a"},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["log_lines"] == 120
    assert data["prompt_version"].startswith("rca-zero-shot@")
    queries = fake_loki.query_requests()
    assert len(queries) >= 4  # the 429, then three pages of at most 50
    assert all(q.header("X-Scope-OrgID") == "team-a" for q in queries)


def test_logs_json_lists_the_lines_oldest_first(env: dict[str, str], fake_loki: FakeLoki) -> None:
    fake_loki.serve(loki_entries(datetime.now(UTC)))
    result = run_cli(
        "logs",
        "-n",
        "payments",
        "--since",
        "1h",
        "--limit",
        "10",
        "--json",
        env={**env, "LOKI_URL": fake_loki.url},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["count"] == 10
    assert data["truncated"] is True
    stamps = [e["ts"] for e in data["entries"]]
    assert stamps == sorted(stamps)
    assert "<img src=x onerror=alert(1)>" in {e["line"] for e in data["entries"]}


@pytest.mark.parametrize(
    "hostile",
    ['pay"} |= "x', "pay\\", "pay`ments", "pay\nments", 'a"}|~".*', 'ns} or {job=~".+"'],
)
def test_hostile_values_never_change_the_query_structure(
    env: dict[str, str], fake_loki: FakeLoki, hostile: str
) -> None:
    result = run_cli(
        "logs",
        "-n",
        hostile,
        "--query",
        hostile,
        "--since",
        "1h",
        "--json",
        env={**env, "LOKI_URL": fake_loki.url},
    )
    assert result.returncode == 0, result.stderr
    (request,) = fake_loki.query_requests()
    parsed = parse_selector_and_filters(request.params["query"])
    assert [(m.name, m.op, m.value) for m in parsed.matchers] == [("namespace", "=", hostile)]
    assert [(f.op, f.value) for f in parsed.line_filters] == [("|=", hostile)]
    assert parsed.label_filters == []


def test_loki_error_text_reaches_the_user_verbatim(env: dict[str, str], fake_loki: FakeLoki) -> None:
    fake_loki.fail_next(
        1, status=400, body="max entries limit per query exceeded, limit > max_entries_limit (6000 > 5000)"
    )
    result = run_cli("logs", "-n", "payments", "--since", "1h", env={**env, "LOKI_URL": fake_loki.url})
    assert_one_line_error(
        result, "max entries limit per query exceeded, limit > max_entries_limit (6000 > 5000)"
    )


def test_bad_input_exits_non_zero_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    unknown_model = run_cli("triage", "-n", "payments", "--model", "gpt-9", env=env)
    assert_one_line_error(unknown_model, "gpt-9", "tiny-q4_k_m")
    unknown_prompt = run_cli(
        "triage", "-n", "payments", "--model", "tiny-q4_k_m", "--prompt", "nope@latest", env=env
    )
    assert_one_line_error(unknown_prompt, "nope")
    inverted = run_cli(
        "logs", "-n", "payments", "--start", "2026-11-26T11:00:00Z", "--end", "2026-11-26T10:00:00Z", env=env
    )
    assert_one_line_error(inverted, "not after start")
    loki_down = run_cli(
        "logs",
        "-n",
        "payments",
        env={**env, "LOKI_URL": f"http://127.0.0.1:{free_port()}", "LOKI_MAX_RETRIES": "1"},
    )
    assert_one_line_error(loki_down, "Loki")
    models = tmp_path / "down.yaml"
    models.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "down",
                        "base_url": f"http://127.0.0.1:{free_port()}",
                        "quantization": "Q4_K_M",
                        "context_length": 4096,
                    }
                ]
            }
        )
    )
    model_down = run_cli(
        "triage", "-n", "payments", "--model", "down", env={**env, "MODELS_FILE": str(models)}
    )
    assert_one_line_error(model_down)
    assert "connect" in model_down.stderr.lower()


def test_spans_reach_an_otlp_http_receiver_with_genai_attributes(
    env: dict[str, str], otlp_receiver: OTLPReceiver
) -> None:
    result = run_cli(
        "triage",
        "-n",
        "payments",
        "--since",
        "1h",
        "--model",
        "tiny-q4_k_m",
        "--json",
        env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint, "OTEL_TRACES_EXPORTER": "otlp"},
    )
    assert result.returncode == 0, result.stderr
    trace_id = json.loads(result.stdout)["trace_id"]
    names = {s.name for s in otlp_receiver.spans if s.trace_id == trace_id}
    assert {"triage", "logs.query", "context.budget", "prompt.render", "chat tiny-q4_k_m"} <= names
    (chat,) = otlp_receiver.by_name("chat tiny-q4_k_m")
    attrs = chat.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "llama.cpp"
    assert attrs["gen_ai.request.model"] == "tiny-q4_k_m"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"] or attrs["gen_ai.response.finish_reasons"]
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert len(attrs["logtriage.prompt.sha256"]) == 64
    assert attrs["logtriage.model.quantization"] == "Q4_K_M"
    assert chat.resource["service.name"] == "logtriage"
    assert all(ct == "application/x-protobuf" for ct in otlp_receiver.content_types)
    (root,) = [s for s in otlp_receiver.by_name("triage") if s.trace_id == trace_id]
    assert chat.parent_span_id == root.span_id


def test_prompts_list_show_and_diff(env: dict[str, str]) -> None:
    listing = run_cli("prompts", "list", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    refs = [p["ref"] for p in json.loads(listing.stdout)]
    assert any(r.startswith("rca-zero-shot@") for r in refs)
    show = run_cli("prompts", "show", "rca-zero-shot", env=env)
    assert show.returncode == 0
    assert show.stdout.startswith("---\nname: rca-zero-shot")
    a, b = (r for r in refs if r.startswith(("rca-zero-shot@", "rca-evidence-first@")))
    diff = run_cli("prompts", "diff", a, b, env=env)
    assert diff.returncode == 0
    assert diff.stdout.startswith("--- ")


def test_models_lists_health(env: dict[str, str]) -> None:
    result = run_cli("models", "--json", env=env)
    assert result.returncode == 0, result.stderr
    (model,) = json.loads(result.stdout)
    assert model["name"] == "tiny-q4_k_m"
    assert model["ok"] is True
