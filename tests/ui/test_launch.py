"""`logtriage-dashboard`: a freshly started dashboard serves /metrics before any browser opens it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.ui.launch import DASHBOARD_SCRIPT, dashboard_command
from tests.conftest import require_component
from tests.fixtures.llama import free_port

START_TIMEOUT_S = 90.0
GENAI_FAMILIES = {
    "gen_ai_client_operation_duration_seconds",
    "gen_ai_client_token_usage",
    "gen_ai_client_operation_time_to_first_chunk_seconds",
    "gen_ai_client_operation_time_per_output_chunk_seconds",
}


def test_the_launcher_runs_streamlit_on_the_dashboard_script() -> None:
    assert dashboard_command(["--server.port", "8501"]) == [
        "run",
        str(DASHBOARD_SCRIPT),
        "--server.port",
        "8501",
    ]
    assert DASHBOARD_SCRIPT.is_file()


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"the dashboard exited with {process.returncode}: {log.read_text()}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer within {START_TIMEOUT_S}s: {log.read_text()}")
        time.sleep(0.2)


def test_a_fresh_dashboard_serves_metrics_before_any_browser_opens_it(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    require_component(promtool is not None, "promtool", "install Debian's 'prometheus' package")
    assert promtool is not None
    launcher = Path(sys.executable).with_name("logtriage-dashboard")
    assert launcher.is_file(), "the logtriage-dashboard entry point is not installed (uv sync)"
    metrics_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "METRICS_PORT": str(metrics_port),
        "BUILD_REVISION": "f00dfeed",
        "DATA_DIR": str(tmp_path / "data"),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(launcher), "--server.port", str(http_port), "--server.address", "127.0.0.1",
             "--server.headless", "true"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        body = _wait_for(f"http://127.0.0.1:{metrics_port}/metrics", process, log).text
        families = {family.name for family in text_string_to_metric_families(body)}
        assert families >= GENAI_FAMILIES
        assert 'logtriage_build_info{revision="f00dfeed",version="0.1.0"} 1.0' in body
        check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout.strip() == ""
        # The same process serves the dashboard; no session has run the page script.
        _wait_for(f"http://127.0.0.1:{http_port}/_stcore/health", process, log)
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
