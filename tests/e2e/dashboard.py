"""Start a Streamlit app as a real server under a path prefix, launch Debian's Chromium, and wait for it.

Used by the e2e fixtures and by ``bench/bench_dashboard.py``.

Waiting: a Streamlit page is redrawn by script runs the browser cannot see start. While a run is under
way, elements of the previous run stay in the page (marked stale) beside the new ones, so a locator can
find two "Save" buttons. ``AppRuns`` reads the app's own end-of-run messages from the page's websocket:
an action that reruns the script is done once a run that started after it has finished and the page
holds no stale element. Tests wait for that, never for an element to merely exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from playwright.sync_api import Browser, Page, Playwright, WebSocket, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.fixtures.llama import free_port

ROOT = Path(__file__).resolve().parents[2]
BASE_PATH = "logtriage"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 60
SETTLE_TIMEOUT_S = 60
_POLL_MS = 50
# Variables of the calling process that must not leak into the app it starts.
_SCRUBBED = ("LOKI_URL", "MODELS_FILE", "DATABASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "GRAFANA_URL")


@dataclass
class Dashboard:
    """A running Streamlit server: its URL (with the path prefix, ending in /) and its output."""

    url: str
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's output, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:]


def start_streamlit(script: Path, data_dir: Path, env: dict[str, str]) -> Dashboard:
    """Run ``streamlit run <script>`` headless under /logtriage on a free port; returns once healthy."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("STREAMLIT_")}
    full_env.update(
        DATA_DIR=str(data_dir),
        METRICS_PORT="0",
        # The path prefix comes from the environment, as the Kubernetes deployment sets it.
        STREAMLIT_SERVER_BASE_URL_PATH=BASE_PATH,
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    full_env.update(env)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
    ]  # fmt: skip
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    dashboard = Dashboard(url=f"http://127.0.0.1:{port}/{BASE_PATH}/", log_path=log_path, process=process)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{dashboard.log_tail()}")
        try:
            if httpx.get(f"{dashboard.url}_stcore/health", timeout=1).text == "ok":
                return dashboard
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_streamlit(dashboard)
    raise RuntimeError(f"streamlit did not become healthy in {STARTUP_TIMEOUT_S}s:\n{dashboard.log_tail()}")


def stop_streamlit(dashboard: Dashboard) -> None:
    """Stop the server process."""
    dashboard.process.terminate()
    try:
        dashboard.process.wait(10)
    except subprocess.TimeoutExpired:
        dashboard.process.kill()
        dashboard.process.wait()


def launch_chromium(playwright: Playwright, executable: Path = CHROMIUM) -> Browser:
    """Debian's Chromium, headless, with the flags that keep it quiet and offline."""
    return playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)


class AppRuns:
    """Counts the script runs a page's app has finished, from the messages on the page's websocket."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.finished = 0
        page.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", self._on_frame)

    def _on_frame(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        message = ForwardMsg()
        try:
            message.ParseFromString(payload)
        except Exception:  # a frame that is not a ForwardMsg says nothing about runs
            return
        # A run cut short for a rerun is followed by that rerun; only a run that got to its end counts.
        if message.WhichOneof("type") == "script_finished" and (
            message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
        ):
            self.finished += 1

    def settle(self, after: int | None = None) -> None:
        """Wait for a run that finished after ``after`` runs (when given), then for a page with no stale part."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while after is not None and self.finished <= after:
            if time.monotonic() > deadline:
                raise AssertionError(f"no script run finished within {SETTLE_TIMEOUT_S}s of the action")
            self.page.wait_for_timeout(_POLL_MS)  # lets Playwright deliver the websocket events
        app = self.page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=SETTLE_TIMEOUT_S * 1000)
        stale = self.page.locator("[data-testid='stElementContainer'][data-stale='true']")
        expect(stale).to_have_count(0, timeout=SETTLE_TIMEOUT_S * 1000)

    @contextmanager
    def rerun(self) -> Generator[None]:
        """Around an action that reruns the script: wait until that rerun has finished and the page is whole."""
        before = self.finished
        yield
        self.settle(after=before)

    def act(self, action: Callable[[], object]) -> None:
        """Do ``action`` (a click, a key press) and wait for the rerun it causes."""
        with self.rerun():
            action()


def start_modelless_dashboard(data_dir: Path) -> Dashboard:
    """The dashboard on ``data_dir`` with a models file naming one unreachable model (pages that need none)."""
    models_file = data_dir / "models.yaml"
    entry = {
        "name": "unused",
        "base_url": "http://127.0.0.1:9",
        "quantization": "Q4_K_M",
        "context_length": 2048,
    }
    models_file.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    return start_streamlit(ROOT / "streamlit_app.py", data_dir, {"MODELS_FILE": str(models_file)})
