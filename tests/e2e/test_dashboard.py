"""The dashboard in Chromium, under the /logtriage path prefix, on the real llama-server and SmolLM2."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from app.logs.logql import LogFilter, build_logql
from tests.e2e.conftest import HOSTILE_LINE, HOSTILE_NAMESPACE, Dashboard, WatchedPage
from tests.e2e.dashboard import AppRuns

pytestmark = [pytest.mark.browser, pytest.mark.llama]

RUN_TIMEOUT_MS = 300_000  # a real model on a shared 2-core machine
# A laptop's window: what is below 900 px is below the fold.
FOLD: ViewportSize = {"width": 1400, "height": 900}


def metric_value(page: Page, label: str) -> Locator:
    """The value element of the metric with this label."""
    label_el = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    return page.get_by_test_id("stMetric").filter(has=label_el).get_by_test_id("stMetricValue").last


def seconds(text: str) -> float:
    """A duration as the dashboard writes it ('850 ms', '6.2 s', '1 min 12 s') in seconds."""
    if match := re.fullmatch(r"([\d.,]+) ms", text):
        return float(match[1].replace(",", "")) / 1000
    if match := re.fullmatch(r"([\d.,]+) s", text):
        return float(match[1].replace(",", ""))
    if match := re.fullmatch(r"(\d+) min (\d+) s", text):
        return int(match[1]) * 60 + int(match[2])
    raise AssertionError(f"not a duration in human units: {text!r}")


def open_and_preview(page: Page, runs: AppRuns, dashboard: Dashboard, namespace: str) -> None:
    """Open the Triage page, pick a namespace and preview its last hour."""
    with runs.rerun():
        page.goto(dashboard.url)
    namespace_box = page.get_by_role("combobox", name="Namespace")
    namespace_box.click()
    runs.act(page.get_by_role("option", name=namespace, exact=True).click)
    runs.act(page.get_by_role("button", name="Preview logs").click)
    expect(metric_value(page, "Lines")).not_to_have_text("0")
    expect(page.locator(".js-plotly-plot").first).to_be_visible()  # the volume chart
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible()  # the table
    expect(page.get_by_text("Budget:")).to_be_visible(timeout=60_000)


def assert_nothing_ran(watched: WatchedPage) -> None:
    """No dialog opened and no script error happened in the page."""
    assert watched.dialogs == []
    assert watched.page_errors == []
    expect(watched.page.get_by_test_id("stException")).to_have_count(0)


def in_view(locator: Locator, height: int) -> bool:
    """Whether the element lies wholly inside a window ``height`` px tall."""
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


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
    page, runs = watched_page.page, watched_page.runs
    open_and_preview(page, runs, demo_dashboard, "payments")
    expect(page.get_by_text('{namespace="payments"}')).to_be_visible()
    assert page.title() == "Triage · LogTriage"
    page.screenshot(path=str(screenshots / "triage-preview.png"))

    page.get_by_role("button", name="Run triage").click()
    # The live readout shows while the model works, without the page rerunning.
    expect(page.get_by_text("Working:")).to_be_visible(timeout=30_000)
    result = page.get_by_test_id("stMetricLabel").filter(has_text="Root cause")
    failure = page.get_by_test_id("stAlertContentError")
    expect(result.or_(failure).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert failure.count() == 0, failure.all_inner_texts()
    expect(metric_value(page, "Root cause")).not_to_have_text("—")
    elapsed = seconds(metric_value(page, "Elapsed").inner_text())
    ttft = seconds(metric_value(page, "Time to first token").inner_text())
    tokens = int(metric_value(page, "Tokens").inner_text().replace(",", ""))
    assert 0 < ttft <= elapsed
    assert tokens > 0
    rate = metric_value(page, "Tokens/s").inner_text()
    if rate != "—":
        # Plausible: no faster than the tokens after the first over the decode time it could have had.
        decode_s = max(elapsed - ttft, 0.25)
        assert 0 < float(rate.replace(",", "")) <= 1.5 * tokens / decode_s, (rate, tokens, elapsed, ttft)
    expect(page.get_by_text("1. triage")).to_be_visible()  # the trace waterfall
    runs.settle()
    page.screenshot(path=str(screenshots / "triage-result.png"))
    assert_nothing_ran(watched_page)

    runs.act(page.get_by_role("button", name="Send to labeling").click)
    expect(page.get_by_role("button", name="Queued for labeling")).to_be_disabled()
    # The way to the Label page is a link under the dashboard's path prefix.
    link = page.get_by_role("link", name="Label it now on the Label page")
    assert link.get_attribute("href") == "/logtriage/label"

    # The run is stored: Past runs lists it and opens it with its answer.
    runs.act(page.get_by_role("tab", name="Past runs").click)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    assert_nothing_ran(watched_page)


def test_the_live_readout_and_cancel_stay_in_view_and_a_cancel_keeps_the_figures(
    browser: Browser, demo_dashboard: Dashboard, screenshots: Path
) -> None:
    context = browser.new_context(viewport=FOLD)
    try:
        page = context.new_page()
        runs = AppRuns(page)
        open_and_preview(page, runs, demo_dashboard, "checkout")
        run_button = page.get_by_role("button", name="Run triage")
        run_button.scroll_into_view_if_needed()
        run_button.click()
        cancel = page.get_by_role("button", name="Cancel")
        expect(cancel).to_be_visible(timeout=30_000)
        assert in_view(cancel, FOLD["height"])
        assert in_view(page.get_by_text("Working:"), FOLD["height"])
        # Scrolled back to the top, the readout is still at the foot of the window.
        page.get_by_role("heading", name="Triage").scroll_into_view_if_needed()
        assert in_view(cancel, FOLD["height"])
        page.screenshot(path=str(screenshots / "triage-live-readout.png"))
        # Cancelled while the model still reads the prompt (seconds for thousands of tokens on a CPU).
        cancel.click()
        expect(page.get_by_text("The run was cancelled.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("How far the run got before it stopped")).to_be_visible()
        seconds(metric_value(page, "Elapsed").inner_text())
        expect(metric_value(page, "Tokens")).to_have_text(re.compile(r"^[\d,]+$"))
    finally:
        context.close()


def test_prompts_and_models_pages(
    watched_page: WatchedPage, demo_dashboard: Dashboard, screenshots: Path
) -> None:
    page, runs = watched_page.page, watched_page.runs
    with runs.rerun():
        page.goto(f"{demo_dashboard.url}prompts")
    expect(page.get_by_role("heading", name="Prompts")).to_be_visible()
    assert page.title() == "Prompts · LogTriage"
    expect(page.get_by_role("tab", name="Rendered example")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.screenshot(path=str(screenshots / "prompts.png"))

    with runs.rerun():
        page.goto(f"{demo_dashboard.url}models")
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    assert page.title() == "Models · LogTriage"
    expect(metric_value(page, "Health")).to_have_text("up")
    runs.act(page.get_by_role("button", name="Probe latency").click)
    expect(page.get_by_text("Latency probe")).to_be_visible(timeout=60_000)
    seconds(metric_value(page, "Time to first token").inner_text())
    page.screenshot(path=str(screenshots / "models.png"))
    assert_nothing_ran(watched_page)


def test_a_hostile_log_line_is_shown_as_text_and_runs_nothing(
    watched_page: WatchedPage, loki_dashboard: Dashboard, screenshots: Path
) -> None:
    page, runs = watched_page.page, watched_page.runs
    open_and_preview(page, runs, loki_dashboard, HOSTILE_NAMESPACE)
    page.get_by_text("Rendered prompt").click()
    expect(page.get_by_text(HOSTILE_LINE).first).to_be_visible()
    # Filtering on the hostile text puts it into the LogQL (quoted, case ignored), shown as code.
    box = page.get_by_role("textbox", name="Line contains")
    box.fill(HOSTILE_LINE.upper())
    runs.act(lambda: box.press("Enter"))
    runs.act(page.get_by_role("button", name="Preview logs").click)
    query = build_logql(
        LogFilter(namespace=HOSTILE_NAMESPACE, contains=HOSTILE_LINE.upper(), ignore_case=True)
    )
    expect(page.get_by_text(query, exact=True)).to_be_visible()
    expect(metric_value(page, "Lines")).to_have_text("3")
    expect(page.get_by_text(re.compile(r"^Budget: .*\b3 .*lines"))).to_be_visible(timeout=60_000)
    runs.settle()
    page.screenshot(path=str(screenshots / "triage-hostile-line.png"))
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("script", has_text="alert(2)").count() == 0
    assert_nothing_ran(watched_page)
