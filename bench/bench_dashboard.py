"""How fast the Triage page renders and previews 5,000 lines in Chromium, relative to an empty Streamlit page.

Starts two Streamlit servers under /logtriage in one run: the dashboard (demo log source; a models file
whose one endpoint is down, so the numbers are the page's own and not a model's) and a one-line app.
Measures, over a few fresh browser contexts each:

* empty first render: navigation until the empty app's title shows;
* triage first render: navigation until the whole Triage page is drawn (its Run button shows);
* preview ready: Preview clicked until 5,000 lines are counted and the table is drawn;
* table filter: text typed into the table's filter until the filtered count shows (a fragment rerun).

Run: ``uv run python bench/bench_dashboard.py``. Prints medians and ratios to the empty page; asserts nothing.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

# The Streamlit and Chromium harness is the e2e tests' own; run as a script, the repo root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.dashboard import ROOT, Dashboard, launch_chromium, start_streamlit, stop_streamlit
from tests.fixtures.llama import free_port

ROUNDS = 5
TIMEOUT_MS = 60_000
NAMESPACE = "ingress-nginx"  # its last 24 hours of demo logs exceed 5,000 lines
LINES = "5,000"
EMPTY_APP = 'import streamlit as st\n\nst.title("Empty")\n'


def timed(action: Callable[[], None]) -> float:
    """Milliseconds ``action`` took."""
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def lines_metric(page: Page) -> Locator:
    """The value of the 'Lines' metric."""
    label = page.get_by_test_id("stMetricLabel").filter(has_text="Lines")
    return page.get_by_test_id("stMetric").filter(has=label).get_by_test_id("stMetricValue").first


def measure_empty(browser: Browser, app: Dashboard) -> float:
    """Navigation until the empty app's title shows."""
    with browser.new_context() as context:
        page = context.new_page()

        def render() -> None:
            page.goto(app.url)
            expect(page.get_by_text("Empty")).to_be_visible(timeout=TIMEOUT_MS)

        return timed(render)


def measure_triage(browser: Browser, app: Dashboard) -> tuple[float, float, float]:
    """(first render, preview ready, table filter) of the Triage page, in ms."""
    with browser.new_context(viewport={"width": 1440, "height": 2000}) as context:
        page = context.new_page()
        page.set_default_timeout(60_000)
        run_button = page.get_by_role("button", name="Run triage")

        def render() -> None:
            page.goto(app.url)
            expect(run_button).to_be_visible(timeout=TIMEOUT_MS)

        first = timed(render)
        page.get_by_role("combobox", name="Namespace").click()
        page.get_by_role("option", name=NAMESPACE, exact=True).click()
        page.get_by_role("radio", name="24h").click()
        button = page.get_by_role("button", name="Preview logs")

        def preview() -> None:
            button.click()
            expect(lines_metric(page)).to_have_text(LINES, timeout=TIMEOUT_MS)
            expect(page.get_by_text(f"{LINES} of {LINES} lines")).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible(
                timeout=TIMEOUT_MS
            )

        ready = timed(preview)
        box = page.get_by_role("textbox", name="Filter lines")

        def filter_table() -> None:
            box.fill("upstream")
            box.press("Enter")
            counted = page.get_by_text(re.compile(rf"^[\d,]+ of {LINES} lines$"))
            expect(counted).not_to_have_text(f"{LINES} of {LINES} lines", timeout=TIMEOUT_MS)

        filtered = timed(filter_table)
        return first, ready, filtered


def main() -> None:
    """Start both apps, measure, print medians and ratios."""
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        work = Path(tmp)
        models = work / "models.yaml"
        endpoint = {"name": "down", "base_url": f"http://127.0.0.1:{free_port()}", "quantization": "Q4_K_M"}
        models.write_text(
            yaml.safe_dump({"models": [{**endpoint, "context_length": 8192}]}), encoding="utf-8"
        )
        empty_script = work / "empty_app.py"
        empty_script.write_text(EMPTY_APP, encoding="utf-8")
        dashboard = start_streamlit(
            ROOT / "streamlit_app.py", work / "dashboard", {"MODELS_FILE": str(models)}
        )
        empty = start_streamlit(empty_script, work / "empty", {})
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                measure_empty(browser, empty)  # warm-up: imports, first script compile, browser start
                measure_triage(browser, dashboard)
                empties, firsts, readies, filters = [], [], [], []
                for _ in range(ROUNDS):
                    empties.append(measure_empty(browser, empty))
                    first, ready, filtered = measure_triage(browser, dashboard)
                    firsts.append(first)
                    readies.append(ready)
                    filters.append(filtered)
                browser.close()
        finally:
            stop_streamlit(dashboard)
            stop_streamlit(empty)
    base = statistics.median(empties)
    rows = [
        ("empty page, first render", base),
        ("triage page, first render", statistics.median(firsts)),
        (f"triage page, preview ready ({LINES} lines)", statistics.median(readies)),
        (f"triage table, filter {LINES} lines", statistics.median(filters)),
    ]
    print(f"median of {ROUNDS} rounds in Chromium; ratio = time / empty page's first render")
    for name, ms in rows:
        print(f"  {name:<42} {ms:8.0f} ms   x{ms / base:5.1f}")


if __name__ == "__main__":
    main()
