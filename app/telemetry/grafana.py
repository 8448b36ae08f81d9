"""Links into Grafana Explore: the Loki query window a triage looked at, and the trace of a run.

Pure functions: they build URLs in Grafana 10+'s ``/explore?schemaVersion=1&panes=...`` form and do
no I/O. They return None when GRAFANA_URL is not set, so callers show a link only when there is one.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from app.config import Settings

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def explore_url(grafana_url: str, pane: dict[str, Any], *, org_id: int = 1) -> str:
    """A Grafana Explore URL opening one pane (datasource, queries and range)."""
    panes = json.dumps({"logtriage": pane}, separators=(",", ":"), ensure_ascii=False)
    query = urlencode({"schemaVersion": "1", "panes": panes, "orgId": str(org_id)})
    return f"{grafana_url.rstrip('/')}/explore?{query}"


def _epoch_ms(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return str(int(moment.timestamp() * 1000))


def loki_explore_url(
    grafana_url: str, datasource_uid: str, logql: str, start: datetime, end: datetime
) -> str:
    """Explore on a Loki datasource with ``logql`` over the window [start, end]."""
    datasource = {"type": "loki", "uid": datasource_uid}
    pane = {
        "datasource": datasource_uid,
        "queries": [{"refId": "A", "expr": logql, "queryType": "range", "datasource": datasource}],
        "range": {"from": _epoch_ms(start), "to": _epoch_ms(end)},
    }
    return explore_url(grafana_url, pane)


def tempo_trace_url(grafana_url: str, datasource_uid: str, trace_id: str) -> str:
    """Explore on a Tempo datasource showing one trace by its 32-hex id."""
    trace_id = trace_id.strip().lower()
    if not _TRACE_ID.match(trace_id):
        raise ValueError(f"not a trace id (32 hex digits): {trace_id!r}")
    datasource = {"type": "tempo", "uid": datasource_uid}
    pane = {
        "datasource": datasource_uid,
        "queries": [{"refId": "A", "queryType": "traceql", "query": trace_id, "datasource": datasource}],
        # Tempo finds a trace by id whatever the range; a wide one keeps Grafana from narrowing it.
        "range": {"from": "now-24h", "to": "now"},
    }
    return explore_url(grafana_url, pane)


def logs_link(settings: Settings, logql: str, start: datetime, end: datetime) -> str | None:
    """The Explore link for a LogQL window, or None when GRAFANA_URL is not set."""
    if not settings.grafana_url:
        return None
    return loki_explore_url(settings.grafana_url, settings.grafana_loki_datasource_uid, logql, start, end)


def trace_link(settings: Settings, trace_id: str | None) -> str | None:
    """The Explore link for a trace, or None when GRAFANA_URL or the trace id is missing."""
    if not settings.grafana_url or not trace_id:
        return None
    return tempo_trace_url(settings.grafana_url, settings.grafana_tempo_datasource_uid, trace_id)
