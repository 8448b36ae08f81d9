"""End-to-end fixtures: the dashboard as a real Streamlit server under /logtriage, and Chromium.

The dashboard runs the embedded default (demo logs) or reads a fake Loki, and talks to the real
llama-server on SmolLM2-135M-Instruct, the embedded default's Q4_1 release (``smollm2_models_file``).
Chromium is Debian's, driven by Playwright.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright

from app.logs.demo import generate_demo_entries
from app.logs.models import LogEntry, datetime_to_ns
from tests.conftest import require_component
from tests.e2e.dashboard import (
    CHROMIUM,
    ROOT,
    AppRuns,
    Dashboard,
    launch_chromium,
    start_streamlit,
    stop_streamlit,
)
from tests.fixtures.fake_loki import FakeLoki

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
HOSTILE_LINE = "<img src=x onerror=alert(1)> login failed for user=<script>alert(2)</script>"
HOSTILE_NAMESPACE = "shop"
# A real model reads every prompt token on a shared CPU: a small log budget keeps a triage to seconds.
SMALL_PROMPTS = {"LOG_TOKEN_CAP": "400"}
# A dashboard's first script run imports the whole library; waits are on text, with room for a slow machine.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, or a skip (a failure in CI)."""
    found = shutil.which("chromium")
    path = CHROMIUM if CHROMIUM.exists() else Path(found) if found else None
    require_component(path is not None, "Chromium", "apt-get install chromium")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Browser]:
    """A headless Chromium for the session."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, chromium)
        yield browser
        browser.close()


@dataclass
class WatchedPage:
    """A browser page, its app's script runs, and everything it did that a test wants to prove did not happen."""

    page: Page
    runs: AppRuns
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def watched_page(browser: Browser) -> Iterator[WatchedPage]:
    """A fresh page (tall viewport, so screenshots show whole pages) recording dialogs and errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 3400})
    page = context.new_page()
    page.set_default_timeout(30_000)
    watched = WatchedPage(page, AppRuns(page))

    def on_dialog(dialog: Dialog) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    page.on("console", on_console)
    yield watched
    context.close()


@pytest.fixture(scope="session")
def demo_dashboard(
    smollm2_models_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """The embedded default: demo logs, SmolLM2 on the real llama-server, SQLite, under /logtriage."""
    data_dir = tmp_path_factory.mktemp("dashboard-demo")
    env = {"MODELS_FILE": str(smollm2_models_file), **SMALL_PROMPTS}
    dashboard = start_streamlit(ROOT / "streamlit_app.py", data_dir, env)
    yield dashboard
    stop_streamlit(dashboard)


def hostile_entries(now: datetime) -> list[LogEntry]:
    """The demo's last hour plus a shop namespace whose login service logs HTML meant to run script."""
    labels = {"namespace": HOSTILE_NAMESPACE, "pod": "login-5d8f7-x2k9p", "container": "login"}
    start = now - timedelta(minutes=50)
    entries = [
        LogEntry(
            ts_ns=datetime_to_ns(start + timedelta(seconds=20 * i)),
            labels=labels,
            line=f"INFO GET /login 200 {12 + i % 7}ms",
        )
        for i in range(120)
    ]
    entries += [
        LogEntry(
            ts_ns=datetime_to_ns(start + timedelta(minutes=30, seconds=i)),
            labels=labels,
            line=f"ERROR {HOSTILE_LINE}",
        )
        for i in range(3)
    ]
    hour_ago = datetime_to_ns(now - timedelta(hours=1))
    demo = [e for e in generate_demo_entries(7, now) if e.ts_ns >= hour_ago]
    return sorted(entries + demo, key=lambda e: e.ts_ns)


@pytest.fixture(scope="session")
def hostile_loki() -> Iterator[FakeLoki]:
    """A fake Loki whose logs include a line of HTML meant to run script."""
    with FakeLoki(hostile_entries(datetime.now(UTC))) as loki:
        yield loki


@pytest.fixture(scope="session")
def loki_dashboard(
    smollm2_models_file: Path, hostile_loki: FakeLoki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """The dashboard reading the fake Loki."""
    data_dir = tmp_path_factory.mktemp("dashboard-loki")
    env = {"MODELS_FILE": str(smollm2_models_file), "LOKI_URL": hostile_loki.url, **SMALL_PROMPTS}
    dashboard = start_streamlit(ROOT / "streamlit_app.py", data_dir, env)
    yield dashboard
    stop_streamlit(dashboard)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where screenshots go (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
