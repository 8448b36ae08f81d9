"""The Label page in Chromium: label three windows with evidence lines, then find them in the store and export.

The dashboard runs on its own SQLite store, seeded with three triage runs sent to labeling; the label
page never calls a model, so the models file points at an address nothing listens on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Locator, Page, expect

from app.golden import labels as golden_labels
from app.store.db import get_engine
from tests.e2e.conftest import WatchedPage
from tests.e2e.dashboard import ROOT, Dashboard, start_streamlit, stop_streamlit
from tests.golden.test_labels import add_triage_run

pytestmark = pytest.mark.browser

LABELER = "erin"
# Where glide-data-grid draws things in st.dataframe: rows 35 px high under a 35 px header, and the
# selection checkboxes in a 30 px column on the left (the canvas has no DOM to click).
ROW_HEIGHT_PX = 35
ROW_MARKER_X_PX = 15
FIRST_RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def label_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A data directory whose SQLite store holds three triage runs sent to labeling; returns (dir, run ids)."""
    data_dir = tmp_path_factory.mktemp("dashboard-label")
    engine = get_engine(f"sqlite:///{data_dir / 'logtriage.db'}")
    run_ids = [add_triage_run(engine) for _ in range(3)]
    return data_dir, run_ids


@pytest.fixture(scope="module")
def label_dashboard(label_store: tuple[Path, list[str]], chromium: Path) -> Iterator[Dashboard]:
    """The dashboard on the seeded store (no model is needed to label)."""
    data_dir, _ = label_store
    models_file = data_dir / "models.yaml"
    entry = {
        "name": "unused",
        "base_url": "http://127.0.0.1:9",
        "quantization": "Q4_K_M",
        "context_length": 2048,
    }
    models_file.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    dashboard = start_streamlit(ROOT / "streamlit_app.py", data_dir, {"MODELS_FILE": str(models_file)})
    yield dashboard
    stop_streamlit(dashboard)


def evidence_table(page: Page) -> Locator:
    """The log table of the window being labeled (the Agreement tab's tables are hidden)."""
    return page.get_by_test_id("stDataFrame").filter(visible=True).first


def wait_for_app(page: Page) -> None:
    """Wait until the script run a widget started has finished (the status widget says Running...)."""
    expect(page.get_by_role("img", name="Running...")).to_have_count(0)


def pick_root_cause(page: Page, cause: str) -> None:
    """Open the root-cause picker and choose ``cause`` (again if a rerun closed the list under us)."""
    picker = page.get_by_role("combobox", name="Root cause").filter(visible=True).first
    option = page.get_by_role("option", name=cause, exact=True)
    for _ in range(3):
        wait_for_app(page)
        picker.click()
        try:
            expect(option).to_be_visible(timeout=5_000)
        except AssertionError:
            continue
        option.click()
        break
    expect(picker).to_have_value(cause)


def select_line(page: Page, index: int) -> None:
    """Tick the selection box of log line ``index`` and wait for the page to show it as evidence."""
    table = evidence_table(page)
    expect(table.locator("canvas").first).to_be_visible()
    table.click(position={"x": ROW_MARKER_X_PX, "y": ROW_HEIGHT_PX * (index + 1) + ROW_HEIGHT_PX / 2})
    expect(page.get_by_text(re.compile(rf"^Evidence: .*#{index}\b"))).to_be_visible()
    wait_for_app(page)


def label_current_window(page: Page, lines: list[int], summary: str) -> None:
    """Mark the evidence lines, pick oom_killed and critical, write a summary and save."""
    for index in lines:
        select_line(page, index)
    expect(page.get_by_text("Evidence: " + ", ".join(f"#{i}" for i in lines), exact=True)).to_be_visible()
    pick_root_cause(page, "oom_killed")
    wait_for_app(page)
    page.get_by_test_id("stRadio").filter(visible=True).first.get_by_text("critical", exact=True).click()
    wait_for_app(page)
    summary_box = page.get_by_role("textbox", name="Summary").filter(visible=True).first
    summary_box.fill(summary)
    summary_box.press("Tab")  # blur: the text area sends its value before the button is clicked
    wait_for_app(page)
    page.get_by_role("button", name="Save and next").click()
    expect(page.get_by_text("Saved (revision 1)")).to_be_visible()


def test_label_three_windows_in_the_browser(
    watched_page: WatchedPage,
    label_dashboard: Dashboard,
    label_store: tuple[Path, list[str]],
    screenshots: Path,
) -> None:
    data_dir, run_ids = label_store
    page = watched_page.page
    # The gateway's auth sets this header; the page takes the labeler's name from it.
    page.set_extra_http_headers({"X-Forwarded-User": LABELER})
    page.goto(f"{label_dashboard.url}label")
    # The first run of a fresh server imports the whole app; allow it time on a busy machine.
    expect(page.get_by_text(f"Labeling as {LABELER} (signed in)")).to_be_visible(timeout=FIRST_RUN_TIMEOUT_MS)

    plan = {f"run-{run_id}": lines for run_id, lines in zip(run_ids, ([1], [1, 3], [0, 1]), strict=True)}
    for count in range(3):
        expect(page.get_by_text(f"Queue ({3 - count} waiting)")).to_be_visible()
        shown = page.get_by_role("combobox", name=f"Queue ({3 - count} waiting)").input_value()
        current = next(example_id for example_id in plan if shown.startswith(example_id))
        label_current_window(page, plan[current], f"window {count}: the JVM was OOM killed")
        if count == 0:
            page.screenshot(path=str(screenshots / "label-saved.png"))
        plan_done = plan.pop(current)
        assert (
            golden_labels.labels_for(get_engine(f"sqlite:///{data_dir / 'logtriage.db'}"), current)[
                0
            ].evidence
            == plan_done
        )

    expect(page.get_by_text("Nothing waits for you")).to_be_visible()
    engine = get_engine(f"sqlite:///{data_dir / 'logtriage.db'}")
    exported = {example.id: example.label for example in golden_labels.export_examples(engine)}
    expected = dict(zip([f"run-{run_id}" for run_id in run_ids], ([1], [1, 3], [0, 1]), strict=True))
    assert {example_id: label.evidence for example_id, label in exported.items()} == expected
    assert {label.labeler for label in exported.values()} == {LABELER}
    assert {label.root_cause for label in exported.values()} == {"oom_killed"}
    history = [golden_labels.label_history(engine, example_id) for example_id in expected]
    assert [[(entry.labeler, entry.revision) for entry in entries] for entries in history] == [
        [(LABELER, 1)]
    ] * 3

    assert watched_page.dialogs == []
    assert watched_page.page_errors == []
    expect(page.get_by_test_id("stException")).to_have_count(0)
