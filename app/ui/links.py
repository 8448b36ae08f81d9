"""Links between the dashboard's pages, with the query parameters each page accepts.

The Triage page is the app's root (``/<base>/``) and reads ``?example=<golden example id>`` (that
window's lines), ``?namespace=&start=&end=`` (a window of the log source, RFC3339 times) and
``?run=<triage run id>`` (a past run). Links are absolute paths under Streamlit's base URL path, so they
work from any page and behind the gateway's path prefix.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import streamlit as st

EXAMPLE_PARAM = "example"
NAMESPACE_PARAM = "namespace"
START_PARAM = "start"
END_PARAM = "end"
RUN_PARAM = "run"
TRIAGE_PARAMS = (EXAMPLE_PARAM, NAMESPACE_PARAM, START_PARAM, END_PARAM, RUN_PARAM)


def page_url(url_path: str, params: dict[str, str] | None = None) -> str:
    """The absolute path of a page (``""`` is Triage, the root), with query parameters."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    path = "/" + "/".join(part for part in (base, url_path.strip("/")) if part)
    if not url_path.strip("/") and not path.endswith("/"):
        path += "/"
    query = {key: value for key, value in (params or {}).items() if value}
    return f"{path}?{urlencode(query)}" if query else path


def triage_url(
    *,
    example: str | None = None,
    namespace: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    run: str | None = None,
) -> str:
    """A link that opens Triage on a golden example's window, a window of the log source, or a past run."""
    return page_url(
        "",
        {
            EXAMPLE_PARAM: example or "",
            NAMESPACE_PARAM: namespace or "",
            START_PARAM: start.isoformat() if start else "",
            END_PARAM: end.isoformat() if end else "",
            RUN_PARAM: run or "",
        },
    )


def label_url() -> str:
    """The Label page."""
    return page_url("label")
