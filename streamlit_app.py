"""The LogTriage dashboard's router: page config, session defaults, and the pages that exist."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.telemetry.metrics import start_metrics
from app.ui import cache, components

ROOT = Path(__file__).resolve().parent
USER_KEY = "user"
APP_NAME = "LogTriage"

# (section, file, title, icon); a page is listed only when its file exists, so pages that other
# people add later (labeling, evals, comparison) appear without touching this file.
PAGES = (
    ("Investigate", "app_pages/triage.py", "Triage", ":material/troubleshoot:"),
    ("Investigate", "app_pages/label.py", "Label", ":material/label:"),
    ("Evaluate", "app_pages/evals.py", "Evals", ":material/analytics:"),
    ("Evaluate", "app_pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("Configure", "app_pages/prompts.py", "Prompts", ":material/description:"),
    ("Configure", "app_pages/models.py", "Models", ":material/memory:"),
)


def navigation_pages(root: Path) -> dict[str, list[st.Page]]:
    """The pages whose files exist under ``root``, grouped by section; Triage is the default."""
    sections: dict[str, list[st.Page]] = {}
    for section, path, title, icon in PAGES:
        if (root / path).is_file():
            page = st.Page(root / path, title=title, icon=icon, default=path == "app_pages/triage.py")
            sections.setdefault(section, []).append(page)
    return sections


def browser_title(page_title: str) -> str:
    """The browser tab's title for a page, e.g. 'Label · LogTriage'."""
    return f"{page_title} · {APP_NAME}"


# An emoji favicon is drawn locally; a Material icon would be fetched from fonts.gstatic.com.
st.set_page_config(page_title=APP_NAME, page_icon="🔎", layout="wide")

with components.error_boundary("starting the dashboard"):
    settings = cache.get_app_settings()
    # `logtriage-dashboard` has served /metrics since the process started; this covers a bare
    # `streamlit run streamlit_app.py` (idempotent: once per process and port).
    start_metrics(settings)
    if USER_KEY not in st.session_state:
        # Set by the gateway's auth in front of the dashboard; absent when run locally.
        st.session_state[USER_KEY] = st.context.headers.get(settings.auth_user_header)

page = st.navigation(navigation_pages(ROOT))
# Each page names its own tab, so several open tabs of the dashboard can be told apart.
st.set_page_config(page_title=browser_title(page.title))
with st.sidebar:
    if st.session_state.get(USER_KEY):
        st.caption("Signed in as")
        st.text(st.session_state[USER_KEY])
page.run()
