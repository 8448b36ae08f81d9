"""The Evals and Compare pages in Chromium: start runs (baseline and the SmolLM2 model), open one, compare two.

What a user sees is checked where only a browser shows it: the run in progress is listed, the headline
columns fit at 1400 px, confusion-matrix labels do not overlap, the evidence numbers are the model's own,
the decoding speed is plausible, each verdict names its metric in the colour of its direction, and an
item links to the same window in Triage under the app's base path.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from app.evals.scoring import example_scenario
from app.golden.jsonl import write_jsonl
from tests.e2e.conftest import WatchedPage
from tests.e2e.dashboard import ROOT, Dashboard, start_streamlit, stop_streamlit
from tests.evals.conftest import small_golden_set
from tests.fixtures.llama import SMOLLM2_MODEL

pytestmark = [pytest.mark.browser, pytest.mark.llama]

RUN_TIMEOUT_MS = 600_000
MODEL_ITEMS = 4
NARROW: ViewportSize = {"width": 1400, "height": 3400}
HEADLINE_WIDTH_PX = 80 + 100 + 130 + 170 + 90 + 95  # run, status, model, prompt, accuracy, macro-F1
MAX_PLAUSIBLE_TOKENS_PER_S = 5000  # two CPU cores decode a SmolLM2 model at hundreds of tokens/s, not 100,000
VERDICT = re.compile(
    r"\b[A-Z] vs A: (?:[A-Z] is (better|worse) than A on (accuracy|macro-F1) by [\d.]+ points"
    r"|no significant difference between [A-Z] and A on (accuracy|macro-F1): )"
)


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
    """Pick the model (and the first N examples) and start the run."""
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


def column_headers(table: Locator) -> list[str]:
    """The header cells the grid renders (it renders the columns in view, and a few beside them).

    The grid draws on a canvas; its accessible table holds the cells it draws, with no size of their own.
    """
    texts = table.locator('[role="columnheader"]').evaluate_all("els => els.map(e => e.textContent)")
    return [text.strip() for text in texts]


def wait_for_cell(table: Locator, text: str, timeout_s: float = 60) -> None:
    """Wait until a cell of the grid (its accessible table) holds ``text``."""
    deadline = time.monotonic() + timeout_s
    cells: list[str] = []
    while time.monotonic() < deadline:
        cells = table.locator('[role="gridcell"]').evaluate_all("els => els.map(e => e.textContent)")
        if any(text in cell for cell in cells):
            return
        time.sleep(0.5)
    raise AssertionError(f"no cell with {text!r} among {cells}")


def assert_labels_apart(chart: Locator) -> None:
    """No two tick labels of a plotly chart's axes overlap on screen."""
    for axis in ("xtick", "ytick"):
        boxes = chart.locator(f"g.{axis} text").evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return [e.textContent, r.left, r.top, r.right, r.bottom]; })"
        )
        assert boxes, f"no {axis} labels"
        for i, (name, left, top, right, bottom) in enumerate(boxes):
            for other, o_left, o_top, o_right, o_bottom in boxes[i + 1 :]:
                overlap = (
                    min(right, o_right) - max(left, o_left) > 0.5
                    and min(bottom, o_bottom) - max(top, o_top) > 0.5
                )
                assert not overlap, f"{axis} labels {name!r} and {other!r} overlap"


def assert_cited_numbers_are_the_models(page: Page) -> None:
    """Every answer shown that cites lines is followed by exactly its numbers, and nothing else is claimed."""
    expect(page.get_by_test_id("stCode").first).to_be_visible()
    evidence = []
    for text in page.get_by_test_id("stCode").all_inner_texts():
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(answer, dict) and answer.get("evidence"):
            evidence.append([int(n) for n in answer["evidence"]])
    shown = [
        [int(n) for n in text.rsplit("lines ", 1)[1].split(", ")]
        for text in page.get_by_text(re.compile(r"^\S+ cited lines [\d, ]+$")).all_inner_texts()
    ]
    assert sorted(shown) == sorted(evidence), (shown, evidence)


def first_example_id(table: Locator, timeout_s: float = 60) -> str:
    """The example id in the first row of a table whose rows are examples (from the grid's cells).

    The grid draws only the cells in view, once it has laid out: bring it into view and wait for them.
    """
    table.scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout_s
    cells: list[str] = []
    while time.monotonic() < deadline:
        cells = table.locator('[role="gridcell"]').evaluate_all("els => els.map(e => e.textContent.trim())")
        ids = [cell for cell in cells if re.fullmatch(r"[a-z_]+-\d+", cell)]
        if ids:
            return ids[0]
        time.sleep(0.5)
    raise AssertionError(f"no example id among the table's cells {cells}")


def triage_link(page: Page) -> Locator:
    """The item's link to the same window in Triage."""
    return page.get_by_role("link", name=re.compile("Open this window in Triage"))


def follow_triage_link(page: Page, dashboard: Dashboard, example_id: str) -> None:
    """The item's link opens the Triage page, in a new tab, under the base path, on the same example."""
    link = triage_link(page)
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None
    parts = urlsplit(page.evaluate("href => new URL(href, document.baseURI).href", href))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == dashboard.url  # the app's root: Triage
    assert parse_qs(parts.query) == {"example": [example_id]}
    with page.context.expect_page() as opened:
        link.click()
    triage = opened.value
    expect(triage.get_by_role("heading", name="Triage").first).to_be_visible(timeout=60_000)
    assert parse_qs(urlsplit(triage.url).query).get("example") == [example_id], triage.url
    triage.close()


def test_evals_and_compare_pages(
    watched_page: WatchedPage, evals_dashboard: Dashboard, screenshots: Path
) -> None:
    page = watched_page.page
    page.set_viewport_size(NARROW)
    open_page(page, evals_dashboard, "Evals")
    expect(page.get_by_text("No runs yet")).to_be_visible()

    # The SmolLM2 model on the real llama-server: live progress, Cancel, and the run listed while it runs.
    start_run(page, SMOLLM2_MODEL, first_n=MODEL_ITEMS)
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stProgress")).to_be_visible()
    runs = page.get_by_test_id("stDataFrame").first
    expect(runs).to_be_visible(timeout=60_000)
    wait_for_cell(runs, "running")
    expect(page.get_by_text("No runs yet")).to_have_count(0)
    page.screenshot(path=str(screenshots / "evals-progress.png"))
    wait_completed(page, SMOLLM2_MODEL)

    # The baseline needs no server; it covers the whole set (the SmolLM2 model's First N stays in the form).
    start_run(page, "baseline-regex", first_n=0)
    wait_completed(page, "baseline-regex")

    # At 1400 px the headline columns are in view, left of anything else.
    expect(runs).to_be_visible()
    headers = column_headers(runs)
    assert headers[:6] == ["run", "status", "model", "prompt", "accuracy %", "macro-F1 %"], headers
    box = runs.bounding_box()
    assert box is not None
    assert box["width"] >= HEADLINE_WIDTH_PX + 40  # the row markers take about 40 px
    page.screenshot(path=str(screenshots / "evals-runs.png"))

    # Open the SmolLM2 model's run (the older one): metrics, a readable confusion matrix, latency, failing items.
    open_row(runs, 1, page.get_by_role("heading", name=re.compile(r"^Run [0-9a-f]{8}$")))
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Macro-F1")).to_be_visible()
    expect(page.get_by_test_id("stMetricLabel").filter(has_text="Scenarios")).to_be_visible()
    expect(page.get_by_text("Confusion matrix")).to_be_visible()
    matrix = page.locator(".js-plotly-plot").first
    expect(matrix).to_be_visible()
    assert_labels_apart(matrix)
    latency = page.get_by_text(re.compile(r"^Latency of \d+ answered items"))
    expect(latency).to_be_visible()
    speed = re.search(r"· ([\d,.]+|—) tokens/s", latency.inner_text())
    assert speed is not None, latency.inner_text()
    if speed.group(1) != "—":
        assert 0 < float(speed.group(1).replace(",", "")) < MAX_PLAUSIBLE_TOKENS_PER_S, latency.inner_text()
    assert not re.search(r"\d{2,}\.\d\d ms", latency.inner_text())  # human units, not "1234.56 ms"
    page.get_by_text("Fingerprint").click()
    expect(page.get_by_test_id("stExpander").get_by_test_id("stDataFrame")).to_be_visible()
    if page.get_by_text(re.compile(r"^Failing items \(0\)")).count() == 0:
        failing = page.get_by_test_id("stDataFrame").last
        example_id = first_example_id(failing)
        open_row(failing, 0, triage_link(page))
        assert_cited_numbers_are_the_models(page)
        expect(page.get_by_text(re.compile(r"lines · # = the entry's position"))).to_be_visible()
        page.screenshot(path=str(screenshots / "evals-run.png"), full_page=True)
        follow_triage_link(page, evals_dashboard, example_id)
    assert_nothing_ran(watched_page)

    # Compare the baseline (A) with the model (B) on their shared items.
    open_page(page, evals_dashboard, "Compare")
    picker = page.get_by_role("combobox", name="Runs (the first is the reference A)")
    for model in ("baseline-regex", SMOLLM2_MODEL):
        picker.click()
        page.get_by_role("option", name=re.compile(re.escape(model))).first.click()
    page.keyboard.press("Escape")
    boxes = page.get_by_test_id(re.compile(r"stAlertContent(Success|Error|Info)")).filter(has_text=" vs A: ")
    expect(boxes.first).to_be_visible(timeout=60_000)
    expect(boxes).to_have_count(2)  # one claim per metric
    metrics = []
    for index in range(2):
        claim = boxes.nth(index)
        text = claim.inner_text().strip()
        found = VERDICT.search(text)  # after the icon's name, which is text too
        assert found, text
        direction = found.group(1) or "no difference"
        metrics.append(found.group(2) or found.group(3))
        expected_box = {"better": "stAlertContentSuccess", "worse": "stAlertContentError"}.get(
            direction, "stAlertContentInfo"
        )
        assert claim.get_attribute("data-testid") == expected_box, (text, claim.get_attribute("data-testid"))
    assert metrics == ["accuracy", "macro-F1"]
    expect(page.get_by_text("only the items they share are compared")).to_be_visible()  # 26 vs 4 items
    first = sorted(small_golden_set(), key=lambda example: example.id)[:MODEL_ITEMS]  # "First N" is by id
    scenarios = len({example_scenario(example) or example.id for example in first})
    expect(
        page.get_by_text(f"{MODEL_ITEMS} shared items from {scenarios} independent scenarios")
    ).to_be_visible()
    expect(page.get_by_text("F1 per class")).to_be_visible()
    expect(page.get_by_text("Accuracy against median latency")).to_be_visible()
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(5, timeout=60_000)  # F1, 2 matrices, latency, trade-off
    assert_labels_apart(plots.nth(1))
    assert_labels_apart(plots.nth(2))
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)

    # The per-example table, filtered to what A got right and B did not, opens an example.
    page.get_by_text(re.compile(r"^A right, B wrong \(\d+\)$")).click()
    examples = page.get_by_test_id("stDataFrame").last
    if not page.get_by_text("A right, B wrong (0)").count():
        example_id = first_example_id(examples)
        open_row(examples, 0, page.get_by_text(re.compile(r"^A: expected")))
        expect(page.get_by_text(re.compile(r"^B: expected"))).to_be_visible()
        assert_cited_numbers_are_the_models(page)
        page.screenshot(path=str(screenshots / "compare-example.png"), full_page=True)
        follow_triage_link(page, evals_dashboard, example_id)
    assert_nothing_ran(watched_page)
