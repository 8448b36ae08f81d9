"""Pushing eval results: the gauges dashboards and alerts read, to a real Pushgateway, checked by promtool."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.errors import ExportError
from app.evals.metrics import ItemResult, score_run
from app.evals.pushgateway import JOB, build_registry, push_run
from app.evals.runner import BASELINE_MODEL_NAME, EvalRequest, EvalRunner, RunHeader, RunStatus, parse_slice
from app.telemetry.metrics import EVAL_METRIC_NAMES
from tests.conftest import require_component
from tests.fixtures.llama import free_port
from tests.fixtures.pushgateway import Pushgateway, pushgateway, pushgateway_server  # noqa: F401 (fixtures)

PROMTOOL = "promtool"


def header(
    status: RunStatus = "completed", *, error_rate: float = 0.0, model: str = "tiny/q4 model"
) -> RunHeader:
    """A finished run's header with a few scored items."""
    items = [
        ItemResult(example_id="a", expected="oom_killed", predicted="oom_killed", outcome="correct", total_ms=1200, ttft_ms=300, copied_example=[]),
        ItemResult(example_id="b", expected="oom_killed", predicted="healthy", outcome="wrong", total_ms=800, ttft_ms=200, copied_example=["app-a"]),
        ItemResult(example_id="c", expected="healthy", predicted="healthy", outcome="correct", total_ms=1000, ttft_ms=250, copied_example=[]),
        ItemResult(example_id="d", expected="healthy", outcome="invalid_output", total_ms=900, ttft_ms=220),
    ]  # fmt: skip
    if error_rate:
        items = [item.model_copy(update={"outcome": "server_error", "predicted": None}) for item in items]
    started = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    return RunHeader(
        id="6f1c2d3e-0000-4000-8000-000000000001",
        created_at=started,
        started_at=started,
        ended_at=started + timedelta(seconds=95),
        status=status,
        prompt_ref="rca-evidence-first@0123456789ab",
        prompt_sha256="0123456789ab" + "0" * 52,
        model=model,
        quantization="Q4_K_M",
        gguf_file="tiny.gguf",
        base_url="http://llama:8080",
        params={},
        golden_version="4429667f72a8",
        slice={},
        item_ids=["a", "b", "c", "d"],
        concurrency=4,
        fingerprint={},
        summary=score_run(items),
        error=None if status == "completed" else "model server died",
    )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(name, labels) -> value of every sample in an exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, f"{name} {labels}: {matches}"
    return matches[0]


# --- the registry (pure) ----------------------------------------------------------------------------------


def test_gauges_are_named_as_dashboards_and_alerts_expect() -> None:
    run = header()
    assert run.summary is not None
    text = generate_latest(build_registry(run, run.summary)).decode()
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    assert set(families) == set(EVAL_METRIC_NAMES)
    assert families["logtriage_eval_latency_seconds"] == "summary"  # quantiles of a distribution
    assert families["logtriage_eval_macro_f1_ratio"] == "gauge"
    found = samples(text)
    assert value(found, "logtriage_eval_accuracy_ratio") == 0.5
    assert value(found, "logtriage_eval_invalid_output_ratio") == 0.25
    assert value(found, "logtriage_eval_leak_ratio") == pytest.approx(1 / 3)  # of the 3 answers checked
    assert value(found, "logtriage_eval_f1_ratio", **{"class": "oom_killed"}) == pytest.approx(2 / 3)
    assert value(found, "logtriage_eval_precision_ratio", **{"class": "healthy"}) == 0.5
    assert value(found, "logtriage_eval_precision_ratio", **{"class": "oom_killed"}) == 1.0
    assert value(found, "logtriage_eval_latency_seconds", quantile="0.5") == pytest.approx(0.95)
    assert {dict(ls)["quantile"] for n, ls in found if n == "logtriage_eval_latency_seconds"} == {
        "0.5",
        "0.95",
        "0.99",
    }
    assert value(found, "logtriage_eval_time_to_first_token_seconds", quantile="0.95") == pytest.approx(
        0.2925
    )
    assert value(found, "logtriage_eval_items") == 4
    assert value(found, "logtriage_eval_duration_seconds") == 95
    assert run.ended_at is not None
    assert value(found, "logtriage_eval_last_success_timestamp_seconds") == run.ended_at.timestamp()


@pytest.mark.parametrize("run", [header("failed"), header("cancelled"), header(error_rate=1.0)])
def test_no_success_timestamp_without_success(run: RunHeader) -> None:
    assert run.summary is not None
    found = samples(generate_latest(build_registry(run, run.summary)).decode())
    assert "logtriage_eval_last_success_timestamp_seconds" not in {name for name, _ in found}
    assert "logtriage_eval_macro_f1_ratio" in {name for name, _ in found}


def test_a_run_with_nothing_checked_for_leakage_pushes_nan_not_zero() -> None:
    run = header()
    assert run.summary is not None
    unchecked = run.summary.model_copy(update={"leak_checked_items": 0, "leaked_items": 0, "leak_rate": 0.0})
    found = samples(generate_latest(build_registry(run, unchecked)).decode())
    assert math.isnan(value(found, "logtriage_eval_leak_ratio"))  # "not measured", and still replaces old


def test_promtool_accepts_what_is_pushed() -> None:
    require_component(shutil.which(PROMTOOL) is not None, "promtool", "apt-get install prometheus")
    run = header()
    assert run.summary is not None
    exposition = generate_latest(build_registry(run, run.summary))
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=exposition, capture_output=True, timeout=30, check=False
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert checked.stdout.decode().strip() == ""  # no lint findings either


# --- the push (wire format, errors) -----------------------------------------------------------------------


def test_push_posts_to_the_group_of_prompt_model_and_quantization() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(respond)) as client:
        key = push_run("http://gateway:9091", header(), client=client)
    (request,) = seen
    assert request.method == "POST"  # pushadd: the previous success timestamp survives a failed run
    # Values with '/' are base64-encoded by the client, as the Pushgateway's API defines.
    assert request.url.path.startswith(f"/metrics/job/{JOB}/model@base64/")
    # The group is the prompt's name; its version is a label of every series, not part of the group.
    assert "/prompt/rca-evidence-first/quantization/Q4_K_M" in request.url.path
    assert "prompt_version" not in request.url.path
    found = samples(request.content.decode())
    assert (
        value(found, "logtriage_eval_macro_f1_ratio", prompt_version="rca-evidence-first@0123456789ab") >= 0
    )
    assert all(dict(labels).get("prompt_version") == "rca-evidence-first@0123456789ab" for _, labels in found)
    assert key == {
        "job": JOB,
        "prompt": "rca-evidence-first",
        "model": "tiny/q4 model",
        "quantization": "Q4_K_M",
    }


def test_an_unreachable_gateway_is_a_clear_export_error() -> None:
    with (
        httpx.Client() as client,
        pytest.raises(ExportError, match="could not reach the Pushgateway") as excinfo,
    ):
        push_run(f"http://127.0.0.1:{free_port()}", header(), client=client, timeout_s=2)
    assert "PUSHGATEWAY_URL" in excinfo.value.user_message()


def test_a_refused_push_says_what_the_gateway_said() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="pushed metrics are invalid or inconsistent with existing metrics")

    with (
        httpx.Client(transport=httpx.MockTransport(respond)) as client,
        pytest.raises(ExportError, match="HTTP 400: pushed metrics are invalid"),
    ):
        push_run("http://gateway:9091", header(), client=client)


def test_no_gateway_configured() -> None:
    with httpx.Client() as client, pytest.raises(ExportError, match="PUSHGATEWAY_URL is not set"):
        push_run(None, header(), client=client)


# --- the real Pushgateway ---------------------------------------------------------------------------------


@pytest.mark.pushgateway
def test_push_to_a_real_pushgateway_and_read_it_back(pushgateway: Pushgateway) -> None:  # noqa: F811
    with httpx.Client() as client:
        push_run(pushgateway.url, header(), client=client)
        found = samples(pushgateway.metrics_text())
        group = {
            "job": JOB,
            "prompt": "rca-evidence-first",
            "model": "tiny/q4 model",
            "quantization": "Q4_K_M",
        }
        assert value(found, "logtriage_eval_accuracy_ratio", **group) == 0.5
        assert value(found, "logtriage_eval_f1_ratio", **group, **{"class": "oom_killed"}) == pytest.approx(
            2 / 3
        )
        assert value(found, "logtriage_eval_latency_seconds", **group, quantile="0.99") == pytest.approx(
            1.194
        )
        assert value(found, "logtriage_eval_leak_ratio", **group) == pytest.approx(1 / 3)
        success = value(found, "logtriage_eval_last_success_timestamp_seconds", **group)

        # The next night's run fails: its numbers replace the old ones, the last success stays.
        failed = header("failed")
        assert failed.summary is not None
        failed.summary.accuracy = 0.25
        push_run(pushgateway.url, failed, client=client)
        found = samples(pushgateway.metrics_text())
        assert value(found, "logtriage_eval_accuracy_ratio", **group) == 0.25
        assert value(found, "logtriage_eval_last_success_timestamp_seconds", **group) == success


@pytest.mark.pushgateway
def test_eval_run_pushes_with_the_cli(
    pushgateway: Pushgateway,  # noqa: F811
    golden_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_runner: Callable[[], EvalRunner],
) -> None:
    from typer.testing import CliRunner

    from app.cli.evals import eval_cli
    from app.config import get_settings

    monkeypatch.setenv("PUSHGATEWAY_URL", pushgateway.url)
    get_settings.cache_clear()
    result = CliRunner().invoke(
        eval_cli, ["run", "--model", BASELINE_MODEL_NAME, "--limit", "6", "--push", "--json"]
    )
    assert result.exit_code == 0, result.output
    found = samples(pushgateway.metrics_text())
    group = {"job": JOB, "model": BASELINE_MODEL_NAME, "quantization": "none"}
    assert value(found, "logtriage_eval_items", **group) == 6
    assert value(found, "logtriage_eval_accuracy_ratio", **group) == 1.0
    assert value(found, "logtriage_eval_last_success_timestamp_seconds", **group) > 0
    assert make_runner().run(EvalRequest(model=BASELINE_MODEL_NAME, slice=parse_slice(limit=1))).succeeded


# --- the alerts against what the real Pushgateway holds (promtool test rules) --------------------------------

ALERTS_FILE = Path(__file__).resolve().parents[2] / "k8s" / "apps" / "base" / "logtriage" / "alerts.yaml"
HOUR_S = 3600
V1, V2 = "rca-evidence-first@0123456789ab", "rca-evidence-first@fedcba987654"
GROUP = {"job": JOB, "prompt": "rca-evidence-first", "model": "tiny/q4 model", "quantization": "Q4_K_M"}


def run_ending_at(hour: int, prompt_ref: str, *, macro_f1: float | None = None) -> RunHeader:
    """A successful run of ``prompt_ref`` that ended ``hour`` hours after promtool's time 0."""
    ended = datetime.fromtimestamp(hour * HOUR_S, UTC)
    run = header().model_copy(
        update={"prompt_ref": prompt_ref, "created_at": ended, "started_at": ended, "ended_at": ended}
    )
    assert run.summary is not None
    if macro_f1 is not None:
        run.summary = run.summary.model_copy(update={"macro_f1": macro_f1})
    return run


def gateway_timeline(gateway: Pushgateway, pushes: list[tuple[int, RunHeader]]) -> list[tuple[int, dict]]:
    """Push each run at its hour and read back every eval series the gateway then serves (as scraped)."""
    scrapes = []
    with httpx.Client() as client:
        for hour, run in pushes:
            push_run(gateway.url, run, client=client)
            found = {
                (name, frozenset((k, v) for k, v in labels if v)): sample_value
                for (name, labels), sample_value in samples(gateway.metrics_text()).items()
                if name.startswith("logtriage_eval_")
            }
            scrapes.append((hour, found))
    return scrapes


def input_series(scrapes: list[tuple[int, dict]], hours: int) -> list[dict[str, str]]:
    """promtool input series, one sample a minute: what Prometheus scrapes from the gateway.

    The first scrape must be at hour 0. A series has no samples before it is first pushed, and one
    the gateway stops serving gets a staleness marker and no samples after it, as Prometheus records it.
    """
    assert scrapes[0][0] == 0
    every = {series for _, found in scrapes for series in found}
    result = []
    for name, labels in sorted(every, key=str):
        values: list[str] = []
        seen = False
        for hour in range(hours + 1):
            latest = [found for at, found in scrapes if at <= hour][-1]
            if (name, labels) in latest:
                seen = True
                values.append(f"{float(latest[(name, labels)])!r}+0x59")  # the same value for 60 minutes
            elif seen:
                values.append("stale")
                break
            else:
                values.append(" ".join(["_"] * 60))  # not pushed yet
        selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
        result.append({"series": f"{name}{{{selector}}}", "values": " ".join(values)})
    return result


def promtool_test(tmp_path: Path, series: list[dict[str, str]], alert_tests: list[dict]) -> None:
    """Run `promtool test rules` on the Deployment's alert rules; fail with promtool's report."""
    promtool = shutil.which(PROMTOOL)
    require_component(promtool is not None, "promtool", "apt-get install prometheus")
    assert promtool is not None
    rule = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": alert_tests}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    checked = subprocess.run(
        [promtool, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def stale_alert(hours_since: int) -> dict:
    days, hours = divmod(hours_since, 24)
    rule = next(
        r
        for g in yaml.safe_load(ALERTS_FILE.read_text())["spec"]["groups"]
        for r in g["rules"]
        if r.get("alert") == "LogTriageEvalStale"
    )
    return {
        "exp_labels": {"severity": "warning", **GROUP},
        "exp_annotations": {
            "summary": f"No successful eval of {GROUP['prompt']} on {GROUP['model']} for {days}d {hours}h 0m 0s",
            "description": rule["annotations"]["description"],
        },
    }


@pytest.mark.pushgateway
def test_a_prompt_edit_then_a_fresh_eval_leaves_no_stale_alert(
    pushgateway: Pushgateway,  # noqa: F811
    tmp_path: Path,
) -> None:
    # Nightly evals of v1, then the prompt is edited (v2) and the nightly evals go on with v2.
    scrapes = gateway_timeline(
        pushgateway, [(0, run_ending_at(0, V1)), (24, run_ending_at(24, V2)), (48, run_ending_at(48, V2))]
    )
    # The gateway keeps one group: v2's series replaced v1's.
    versions = {dict(labels).get("prompt_version") for _, labels in scrapes[-1][1]}
    assert versions == {V2}
    # Three days in, v1 last succeeded 72 h ago, but nothing about it is left to fire.
    promtool_test(
        tmp_path,
        input_series(scrapes, 72),
        [{"eval_time": "72h", "alertname": "LogTriageEvalStale", "exp_alerts": []}],
    )


@pytest.mark.pushgateway
def test_evals_that_stop_still_fire_the_stale_alert(
    pushgateway: Pushgateway,  # noqa: F811
    tmp_path: Path,
) -> None:
    scrapes = gateway_timeline(pushgateway, [(0, run_ending_at(0, V1)), (24, run_ending_at(24, V2))])
    promtool_test(
        tmp_path,
        input_series(scrapes, 73),
        [
            {"eval_time": "72h", "alertname": "LogTriageEvalStale", "exp_alerts": []},  # 48 h: not yet
            {"eval_time": "73h", "alertname": "LogTriageEvalStale", "exp_alerts": [stale_alert(73 - 24)]},
        ],
    )


@pytest.mark.pushgateway
def test_a_prompt_edit_that_lowers_macro_f1_fires_the_regression_alert(
    pushgateway: Pushgateway,  # noqa: F811
    tmp_path: Path,
) -> None:
    scrapes = gateway_timeline(
        pushgateway, [(0, run_ending_at(0, V1, macro_f1=0.8)), (24, run_ending_at(24, V2, macro_f1=0.6))]
    )
    promtool_test(
        tmp_path,
        input_series(scrapes, 30),
        [
            {"eval_time": "23h", "alertname": "LogTriageEvalMacroF1Regressed", "exp_alerts": []},
            {
                "eval_time": "30h",
                "alertname": "LogTriageEvalMacroF1Regressed",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning", **GROUP},
                        "exp_annotations": {
                            "summary": f"Eval macro-F1 of {GROUP['prompt']} on {GROUP['model']} dropped 20% below "
                            "its 7-day best",
                            "description": "A prompt, model or golden-set change lowered macro-F1 by more than 5 points.",
                        },
                    }
                ],
            },
        ],
    )
