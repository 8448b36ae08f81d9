"""The dashboard in Chromium, under the /logtriage path prefix, on the real llama-server and SmolLM2."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import HOSTILE_LINE, HOSTILE_NAMESPACE, Dashboard, WatchedPage

pytestmark = [pytest.mark.browser, pytest.mark.llama]

RUN_TIMEOUT_MS = 300_000  # a real model on a shared 2-core machine


def metric_value(page: Page, label: str) -> Locator:
    """The value element of the metric with this label."""
    label_el = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    return page.get_by_test_id("stMetric").filter(has=label_el).get_by_test_id("stMetricValue").last


def open_and_preview(page: Page, dashboard: Dashboard, namespace: str) -> None:
    """Open the Triage page, pick a namespace and preview its last hour."""
    page.goto(dashboard.url)
    namespace_box = page.get_by_role("combobox", name="Namespace")
    namespace_box.click()
    page.get_by_role("option", name=namespace, exact=True).click()
    page.get_by_role("button", name="Preview logs").click()
    expect(metric_value(page, "Lines")).not_to_have_text("0")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()  # the volume chart
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible()  # the table
    expect(page.get_by_text("Budget:")).to_be_visible(timeout=60_000)


def wait_idle(page: Page) -> None:
    """Wait until the script run is over, so a screenshot shows the finished page."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def assert_nothing_ran(watched: WatchedPage) -> None:
    """No dialog opened and no script error happened in the page."""
    assert watched.dialogs == []
    assert watched.page_errors == []
    expect(watched.page.get_by_test_id("stException")).to_have_count(0)


def test_health_and_xsrf_under_the_prefix(watched_page: WatchedPage, demo_dashboard: Dashboard) -> None:
    response = httpx.get(f"{demo_dashboard.url}_stcore/health", timeout=5)
    assert response.status_code == 200
    assert response.text == "ok"
    page = watched_page.page
    page.goto(demo_dashboard.url)
    expect(page.get_by_role("button", name="Preview logs")).to_be_visible()
    assert "_streamlit_xsrf" in {cookie["name"] for cookie in page.context.cookies()}
    host = httpx.get(f"{demo_dashboard.url}_stcore/host-config", timeout=5).json()
    assert host["allowedOrigins"] == []


def test_triage_streams_a_result_with_latency(
    watched_page: WatchedPage, demo_dashboard: Dashboard, screenshots: Path
) -> None:
    page = watched_page.page
    open_and_preview(page, demo_dashboard, "payments")
    expect(page.get_by_text('{namespace="payments"}')).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(screenshots / "triage-preview.png"))

    page.get_by_role("button", name="Run triage").click()
    # The live readout shows while the model works, without the page rerunning.
    expect(page.get_by_text("Working:")).to_be_visible(timeout=30_000)
    result = page.get_by_test_id("stMetricLabel").filter(has_text="Root cause")
    failure = page.get_by_test_id("stAlertContentError")
    expect(result.or_(failure).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert failure.count() == 0, failure.all_inner_texts()
    expect(metric_value(page, "Root cause")).not_to_have_text("—")
    for label in ("Time to first token", "Elapsed", "Tokens/s"):
        value = metric_value(page, label).inner_text()
        assert value not in {"—", "0 ms", "0.0"}, f"{label} = {value}"
    expect(page.get_by_text("1. triage")).to_be_visible()  # the trace waterfall
    wait_idle(page)
    page.screenshot(path=str(screenshots / "triage-result.png"))
    assert_nothing_ran(watched_page)

    page.get_by_role("button", name="Send to labeling").click()
    expect(page.get_by_role("button", name="Queued for labeling")).to_be_disabled()


def test_prompts_and_models_pages(
    watched_page: WatchedPage, demo_dashboard: Dashboard, screenshots: Path
) -> None:
    page = watched_page.page
    page.goto(f"{demo_dashboard.url}prompts")
    expect(page.get_by_role("heading", name="Prompts")).to_be_visible()
    expect(page.get_by_role("tab", name="Rendered example")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(screenshots / "prompts.png"))

    page.goto(f"{demo_dashboard.url}models")
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    expect(metric_value(page, "Health")).to_have_text("up")
    page.get_by_role("button", name="Probe latency").click()
    expect(page.get_by_text("Latency probe")).to_be_visible(timeout=60_000)
    assert metric_value(page, "Time to first token").inner_text() != "—"
    wait_idle(page)
    page.screenshot(path=str(screenshots / "models.png"))
    assert_nothing_ran(watched_page)


def test_a_hostile_log_line_is_shown_as_text_and_runs_nothing(
    watched_page: WatchedPage, loki_dashboard: Dashboard, screenshots: Path
) -> None:
    page = watched_page.page
    open_and_preview(page, loki_dashboard, HOSTILE_NAMESPACE)
    page.get_by_text("Rendered prompt").click()
    expect(page.get_by_text(HOSTILE_LINE).first).to_be_visible()
    # Filtering on the hostile text puts it into the LogQL, shown as code.
    page.get_by_role("textbox", name="Line contains").fill(HOSTILE_LINE)
    page.get_by_role("button", name="Preview logs").click()
    expect(page.get_by_text(f'|= "{HOSTILE_LINE}"')).to_be_visible()
    expect(metric_value(page, "Lines")).to_have_text("3")
    expect(page.get_by_text("Budget: 3 of 3 lines kept")).to_be_visible(timeout=60_000)
    wait_idle(page)
    page.screenshot(path=str(screenshots / "triage-hostile-line.png"))
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("script", has_text="alert(2)").count() == 0
    assert_nothing_ran(watched_page)
