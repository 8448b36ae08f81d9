"""The router in Chromium: a fresh server's first page load shows the router's menu only, and each page
names its browser tab.

With a folder named ``pages/`` beside the main script, Streamlit ran its legacy multipage mechanism on a
fresh server's first script run: the sidebar first listed every file of the folder ("streamlit app",
"compare", "evals", ...) before the router's sections replaced it, and a first visit straight to a page
ran that page without the router. The pages live in ``app_pages/`` so that never happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.dashboard import (
    AppRuns,
    Dashboard,
    start_modelless_dashboard,
    stop_streamlit,
)

pytestmark = pytest.mark.browser

FIRST_RUN_TIMEOUT_MS = 120_000
ROUTER_PAGES = {"Triage", "Label", "Evals", "Compare", "Prompts", "Models"}
# Every text a sidebar navigation link shows while the page loads, recorded as the DOM changes.
RECORD_NAV = """
window.__navSeen = new Set();
const record = () => document
  .querySelectorAll('[data-testid="stSidebarNav"] a')
  .forEach((link) => window.__navSeen.add(link.innerText.trim().split("\\n").pop()));
new MutationObserver(record).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def fresh_dashboard(tmp_path_factory: pytest.TempPathFactory, chromium: Path) -> Iterator[Dashboard]:
    """A dashboard server no browser has visited yet (no model is needed)."""
    data_dir = tmp_path_factory.mktemp("dashboard-fresh")
    dashboard = start_modelless_dashboard(data_dir)
    yield dashboard
    stop_streamlit(dashboard)


def test_a_first_visit_straight_to_a_page_shows_only_the_routers_menu(
    browser: Browser, fresh_dashboard: Dashboard
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(RECORD_NAV)
        runs = AppRuns(page)
        page.goto(f"{fresh_dashboard.url}prompts")
        expect(page.get_by_role("heading", name="Prompts")).to_be_visible(timeout=FIRST_RUN_TIMEOUT_MS)
        runs.settle()
        seen = set(page.evaluate("[...window.__navSeen]"))
        assert seen == ROUTER_PAGES, seen
        assert page.title() == "Prompts · LogTriage"

        for title in ("Label", "Evals", "Compare", "Models", "Triage"):
            runs.act(page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click)
            expect(page.get_by_role("heading", name=title).first).to_be_visible()
            assert page.title() == f"{title} · LogTriage"
    finally:
        context.close()
