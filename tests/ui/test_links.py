"""Links between pages: absolute paths under Streamlit's base path, with the parameters a page reads."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit import config

from app.ui.links import label_url, page_url, triage_url


@pytest.fixture
def base_path(request: pytest.FixtureRequest) -> object:
    """Streamlit's server.baseUrlPath for the test, put back afterwards."""
    before = config.get_option("server.baseUrlPath")
    config.set_option("server.baseUrlPath", request.param)
    yield request.param
    config.set_option("server.baseUrlPath", before)


@pytest.mark.parametrize("base_path", ["", "logtriage", "/team/logtriage/"], indirect=True)
def test_pages_are_absolute_paths_under_the_base_path(base_path: str) -> None:
    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    assert label_url() == f"{prefix}/label"
    assert page_url("") == f"{prefix}/"
    assert triage_url() == f"{prefix}/"


@pytest.mark.parametrize("base_path", ["logtriage"], indirect=True)
def test_triage_links_carry_the_example_window_or_run(base_path: str) -> None:
    url = triage_url(example="syn-oom_killed-007 & more")
    parts = urlsplit(url)
    assert parts.path == "/logtriage/"
    assert parse_qs(parts.query) == {"example": ["syn-oom_killed-007 & more"]}

    start = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    end = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    window = parse_qs(urlsplit(triage_url(namespace="payments", start=start, end=end)).query)
    assert window == {
        "namespace": ["payments"],
        "start": ["2026-11-26T10:00:00+00:00"],
        "end": ["2026-11-26T11:00:00+00:00"],
    }
    assert parse_qs(urlsplit(triage_url(run="abc")).query) == {"run": ["abc"]}
