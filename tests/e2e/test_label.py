"""The Label page in Chromium: label three windows with evidence lines, then find them in the store and export.

The dashboard runs on its own SQLite store, seeded with three triage runs sent to labeling; the label
page never calls a model, so the models file points at an address nothing listens on. Every action that
reruns the app waits for that rerun to finish (``AppRuns``), so no locator meets a half-redrawn page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from app.golden import labels as golden_labels
from app.store.db import get_engine
from tests.e2e.conftest import WatchedPage
from tests.e2e.dashboard import (
    AppRuns,
    Dashboard,
    start_modelless_dashboard,
    stop_streamlit,
)
from tests.golden.test_labels import add_triage_run

pytestmark = pytest.mark.browser

LABELER = "erin"
# Where glide-data-grid draws things in st.dataframe: rows 35 px high under a 35 px header, and the
# selection checkboxes in a 30 px column on the left (the canvas has no DOM to click).
ROW_HEIGHT_PX = 35
ROW_MARKER_X_PX = 15
FIRST_RUN_TIMEOUT_MS = 120_000
PLAN = ([1], [1, 3], [0, 1])


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
    dashboard = start_modelless_dashboard(data_dir)
    yield dashboard
    stop_streamlit(dashboard)


def evidence_table(page: Page) -> Locator:
    """The log table of the window being labeled (the Agreement tab's tables are hidden)."""
    return page.get_by_test_id("stDataFrame").filter(visible=True).first


def pick_root_cause(page: Page, runs: AppRuns, cause: str) -> None:
    """Open the root-cause picker and choose ``cause``."""
    picker = page.get_by_role("combobox", name="Root cause").filter(visible=True).first
    picker.click()
    runs.act(page.get_by_role("option", name=cause, exact=True).click)
    expect(picker).to_have_value(cause)


def tick_row(page: Page, runs: AppRuns, row: int) -> None:
    """Tick the selection box of the ``row``-th row the table shows."""
    table = evidence_table(page)
    expect(table.locator("canvas").first).to_be_visible()
    runs.act(
        lambda: table.click(
            position={"x": ROW_MARKER_X_PX, "y": ROW_HEIGHT_PX * (row + 1) + ROW_HEIGHT_PX / 2}
        )
    )


def evidence_text(page: Page, lines: list[int]) -> Locator:
    """The line under the table that lists the chosen evidence."""
    return page.get_by_text("Evidence: " + ", ".join(f"#{i}" for i in lines), exact=True)


def search(page: Page, runs: AppRuns, text: str) -> None:
    """Type into the table's search box (Enter applies it)."""
    box = page.get_by_role("textbox", name="Search lines").filter(visible=True).first
    box.fill(text)
    runs.act(lambda: box.press("Enter"))


def label_current_window(page: Page, runs: AppRuns, lines: list[int], summary: str, *, by_key: bool) -> None:
    """Mark the evidence lines, pick oom_killed and critical, write a summary and save."""
    if lines == [1, 3]:
        # Line 1 ticked, then found by search among the others: the search keeps what it hides.
        tick_row(page, runs, 1)
        search(page, runs, "READY")  # any case finds line 3, the only "ready" line
        expect(page.get_by_text("1 of 4 lines")).to_be_visible()
        tick_row(page, runs, 0)
        search(page, runs, "")
    else:
        for index in lines:
            tick_row(page, runs, index)
    expect(evidence_text(page, lines)).to_be_visible()
    pick_root_cause(page, runs, "oom_killed")
    radio = page.get_by_test_id("stRadio").filter(visible=True).first
    runs.act(radio.get_by_text("critical", exact=True).click)
    summary_box = page.get_by_role("textbox", name="Summary").filter(visible=True).first
    summary_box.fill(summary)
    if by_key:
        # The shortcut saves from inside the text area, with what was typed there.
        runs.act(lambda: summary_box.press("Control+Enter"))
    else:
        runs.act(lambda: summary_box.press("Tab"))  # blur: the text area sends its value
        runs.act(page.get_by_role("button", name="Save and next").click)
    expect(page.get_by_text("Saved (revision 1)")).to_be_visible()


def test_label_three_windows_in_the_browser(
    watched_page: WatchedPage,
    label_dashboard: Dashboard,
    label_store: tuple[Path, list[str]],
    screenshots: Path,
) -> None:
    data_dir, run_ids = label_store
    engine = get_engine(f"sqlite:///{data_dir / 'logtriage.db'}")
    page, runs = watched_page.page, watched_page.runs
    # The gateway's auth sets this header; the page takes the labeler's name from it.
    page.set_extra_http_headers({"X-Forwarded-User": LABELER})
    page.goto(f"{label_dashboard.url}label")
    # The first run of a fresh server imports the whole app; allow it time on a busy machine.
    expect(page.get_by_text(f"Labeling as {LABELER} (signed in)")).to_be_visible(timeout=FIRST_RUN_TIMEOUT_MS)
    runs.settle()
    assert page.title() == "Label · LogTriage"

    # Queue rows and the window header say where a window is from and where it stands, not its id.
    queue = page.get_by_role("combobox", name="Queue (3 waiting)")
    expect(queue).to_have_value(
        re.compile(r"^1\. shop · 2026-03-01 12:00 → 12:05 UTC · from Triage · not labeled yet")
    )
    expect(
        page.get_by_text(re.compile(r"^shop · .* · 4 lines · from Triage · not labeled yet"))
    ).to_be_visible()

    done = []
    for count, lines in enumerate(PLAN):
        expect(page.get_by_text(f"Queue ({3 - count} waiting)")).to_be_visible()
        shown = page.get_by_text(re.compile(r"^window run-")).inner_text().removeprefix("window ")
        label_current_window(page, runs, lines, f"window {count}: the JVM was OOM killed", by_key=count == 1)
        if count == 0:
            page.screenshot(path=str(screenshots / "label-saved.png"))
        assert golden_labels.labels_for(engine, shown)[0].evidence == lines
        assert golden_labels.labels_for(engine, shown)[0].summary == f"window {count}: the JVM was OOM killed"
        done.append(shown)
        if count < 2:
            expect(page.get_by_text("The next window is below")).to_be_visible()
        expect(page.get_by_test_id("stMetric").filter(has_text="Labeled by you")).to_contain_text(
            str(count + 1)
        )

    expect(page.get_by_text("That was the last window waiting for you")).to_be_visible()
    expect(page.get_by_text("Nothing waits for you")).to_be_visible()
    assert sorted(done) == sorted(f"run-{run_id}" for run_id in run_ids)
    exported = {example.id: example.label for example in golden_labels.export_examples(engine)}
    assert {label.labeler for label in exported.values()} == {LABELER}
    assert {label.root_cause for label in exported.values()} == {"oom_killed"}
    assert sorted(label.evidence for label in exported.values()) == sorted(PLAN)
    history = [golden_labels.label_history(engine, example_id) for example_id in done]
    assert [[(entry.labeler, entry.revision) for entry in entries] for entries in history] == [
        [(LABELER, 1)]
    ] * 3

    assert watched_page.dialogs == []
    assert watched_page.page_errors == []
    expect(page.get_by_test_id("stException")).to_have_count(0)
