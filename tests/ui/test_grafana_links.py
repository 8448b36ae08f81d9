"""Grafana Explore links: what opens in Grafana is the query, window and trace the dashboard showed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from app.config import Settings
from app.telemetry.grafana import logs_link, loki_explore_url, tempo_trace_url, trace_link

START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
END = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
TRACE = "0af7651916cd43dd8448eb211c80319c"


def pane_of(url: str) -> tuple[str, dict]:
    parts = urlsplit(url)
    params = parse_qs(parts.query)
    assert params["schemaVersion"] == ["1"]
    assert params["orgId"] == ["1"]
    panes = json.loads(params["panes"][0])
    assert len(panes) == 1
    return f"{parts.scheme}://{parts.netloc}{parts.path}", next(iter(panes.values()))


def test_loki_link_opens_the_exact_query_and_window() -> None:
    logql = '{namespace="pay ments", pod="api&x=1"} |= "a \\"quoted\\" #hash"'
    base, pane = pane_of(loki_explore_url("https://grafana.example.com/", "loki-uid", logql, START, END))
    assert base == "https://grafana.example.com/explore"
    assert pane["datasource"] == "loki-uid"
    assert pane["queries"][0]["expr"] == logql
    assert pane["queries"][0]["datasource"] == {"type": "loki", "uid": "loki-uid"}
    assert pane["range"] == {
        "from": str(int(START.timestamp() * 1000)),
        "to": str(int(END.timestamp() * 1000)),
    }


def test_loki_link_keeps_a_grafana_sub_path() -> None:
    base, _ = pane_of(loki_explore_url("http://gw/grafana", "loki", '{namespace="a"}', START, END))
    assert base == "http://gw/grafana/explore"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        loki_explore_url("http://g", "loki", '{namespace="a"}', START.replace(tzinfo=None), END)


def test_tempo_link_opens_the_trace() -> None:
    _, pane = pane_of(tempo_trace_url("http://g", "tempo", TRACE.upper()))
    query = pane["queries"][0]
    assert query["query"] == TRACE
    assert query["queryType"] == "traceql"
    assert query["datasource"] == {"type": "tempo", "uid": "tempo"}


def test_tempo_link_refuses_what_is_not_a_trace_id() -> None:
    with pytest.raises(ValueError, match="trace id"):
        tempo_trace_url("http://g", "tempo", "1234; drop")


def test_no_links_without_grafana_url() -> None:
    settings = Settings(grafana_url=None)
    assert logs_link(settings, '{namespace="a"}', START, END) is None
    assert trace_link(settings, TRACE) is None


def test_links_use_the_configured_datasources() -> None:
    settings = Settings(
        grafana_url="https://grafana.example.com/",
        grafana_loki_datasource_uid="my-loki",
        grafana_tempo_datasource_uid="my-tempo",
    )
    logs = logs_link(settings, '{namespace="a"}', START, END)
    assert logs is not None
    assert pane_of(logs)[1]["datasource"] == "my-loki"
    trace = trace_link(settings, TRACE)
    assert trace is not None
    assert pane_of(trace)[1]["datasource"] == "my-tempo"
    assert trace_link(settings, None) is None
