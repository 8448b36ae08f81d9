"""The Evals and Compare pages in Chromium: start runs (baseline and SmolLM2), open one, compare two."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from app.golden.jsonl import write_jsonl
from tests.e2e.conftest import WatchedPage
from tests.e2e.dashboard import ROOT, Dashboard, start_streamlit, stop_streamlit
from tests.evals.conftest import small_golden_set
from tests.fixtures.llama import SMOLLM2_MODEL

pytestmark = [pytest.mark.browser, pytest.mark.llama]

RUN_TIMEOUT_MS = 600_000
MODEL_ITEMS = 4


@pytest.fixture(scope="module")
def evals_dashboard(
    smollm2_models_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """The dashboard on the small golden set and the real llama-server with SmolLM2."""
    golden = tmp_path_factory.mktemp("golden")
    write_jsonl(golden / "small.jsonl", small_golden_set())
    env = {"MODELS_FILE": str(smollm2_models_file), "GOLDEN_DIR": str(golden)}
    dashboard = start_streamlit(ROOT / "streamlit_app.py", tmp_path_factory.mktemp("dashboard-evals"), env)
    yield dashboard
    stop_streamlit(dashboard)


def open_page(page: Page, dashboard: Dashboard, title: str) -> None:
    """Open the dashboard and go to a page through the sidebar (the router's navigation)."""
    page.goto(dashboard.url)
    # Wait for the router's own navigation: before it runs, Streamlit lists pages/ on its own, and
    # those links open a page without the router (no page config, no sections).
    expect(page.get_by_role("heading", name="Triage")).to_be_visible(timeout=60_000)
    page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=60_000)


def open_row(table: Locator, row: int, opened: Locator) -> None:
    """Select a row of a Streamlit table (a canvas) by clicking its row marker, until ``opened`` shows.

    The table may still be laying out when it first appears, so a click that selects nothing is retried.
    """
    for _ in range(3):
        expect(table).to_be_visible()
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        assert box is not None
        table.page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)
        try:
            expect(opened).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    expect(opened).to_be_visible()


def start_run(page: Page, model: str, first_n: int | None = None) -> None:
    """Pick the model (and the first N examples), start the run and wait until it completed."""
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=model, exact=True).click()
    if first_n is not None:
        box = page.get_by_role("spinbutton", name="First N (0 = all)")
        box.fill(str(first_n))
        box.press("Enter")
    page.get_by_role("button", name="Start run").click()


def wait_completed(page: Page, model: str) -> None:
    done = page.get_by_test_id("stAlertContentSuccess").filter(
        has_text=re.compile(f"completed.*{re.escape(model)}")
    )
    failure = page.get_by_test_id("stAlertContentError")
    expect(done.or_(failure).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert failure.count() == 0, failure.all_inner_texts()


def assert_nothing_ran(watched: WatchedPage) -> None:
    assert watched.dialogs == []
    assert watched.page_errors == []
    expect(watched.page.get_by_test_id("stException")).to_have_count(0)


def test_evals_and_compare_pages(
    watched_page: WatchedPage, evals_dashboard: Dashboard, screenshots: Path
) -> None:
    page = watched_page.page
    open_page(page, evals_dashboard, "Evals")
    expect(page.get_by_text("No runs yet")).to_be_visible()

    # The baseline needs no server.
    start_run(page, "baseline-regex")
    wait_completed(page, "baseline-regex")

    # SmolLM2 on the real llama-server, with live progress and a Cancel button.
    start_run(page, SMOLLM2_MODEL, first_n=MODEL_ITEMS)
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stProgress")).to_be_visible()
    page.screenshot(path=str(screenshots / "evals-progress.png"))
    wait_completed(page, SMOLLM2_MODEL)
    runs = page.get_by_test_id("stDataFrame").first
    expect(runs).to_be_visible()
    page.screenshot(path=str(screenshots / "evals-runs.png"))

    # Open the newest run (the model's): metrics, confusion matrix, latency, failing items.
    open_row(runs, 0, page.get_by_role("heading", name=re.compile(r"^Run [0-9a-f]{8}$")))
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Macro-F1")).to_be_visible()
    expect(page.get_by_text("Confusion matrix")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    page.get_by_text("Fingerprint").click()
    expect(page.get_by_test_id("stExpander").get_by_test_id("stDataFrame")).to_be_visible()
    failing = page.get_by_test_id("stDataFrame").last
    if page.get_by_text(re.compile(r"^Failing items \(0\)")).count() == 0:
        open_row(failing, 0, page.get_by_text("Logs (evidence = labeled as proving the cause)"))
        expect(page.get_by_test_id("stCode").last).to_be_visible()
    page.screenshot(path=str(screenshots / "evals-run.png"), full_page=True)
    assert_nothing_ran(watched_page)

    # Compare the baseline (A) with the model (B) on their shared items.
    open_page(page, evals_dashboard, "Compare")
    picker = page.get_by_role("combobox", name="Runs (the first is the reference A)")
    for model in ("baseline-regex", SMOLLM2_MODEL):
        picker.click()
        page.get_by_role("option", name=re.compile(re.escape(model))).first.click()
    page.keyboard.press("Escape")
    verdict = page.get_by_text(re.compile(r"B vs A: (no significant difference|[AB] is better on)"))
    expect(verdict).to_be_visible(timeout=60_000)
    expect(page.get_by_text("only the items they share are compared")).to_be_visible()  # 26 vs 4 items
    expect(page.get_by_text("F1 per class")).to_be_visible()
    expect(page.get_by_text("Accuracy against median latency")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(
        5, timeout=60_000
    )  # F1, 2 matrices, latency, trade-off
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)

    # The per-example table, filtered to what A got right and B did not, opens an example.
    page.get_by_text(re.compile(r"^A right, B wrong \(\d+\)$")).click()
    examples = page.get_by_test_id("stDataFrame").last
    if not page.get_by_text("A right, B wrong (0)").count():
        open_row(examples, 0, page.get_by_text(re.compile(r"^A: expected")))
        expect(page.get_by_text(re.compile(r"^B: expected"))).to_be_visible()
        page.screenshot(path=str(screenshots / "compare-example.png"), full_page=True)
    assert_nothing_ran(watched_page)
