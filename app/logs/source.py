"""Choosing the log source: Loki when LOKI_URL is set, else the demo source."""

from __future__ import annotations

from datetime import datetime

import httpx

from app.config import Settings
from app.logs.demo import DemoLogSource
from app.logs.logql import LogFilter, build_logql
from app.logs.loki import LokiClient
from app.logs.models import LogSource


def make_log_source(settings: Settings, client: httpx.Client | None = None) -> LogSource:
    """The log source the settings ask for: Loki at LOKI_URL, or the demo source when it is unset."""
    if settings.loki_url:
        return LokiClient.from_settings(settings, client=client)
    return DemoLogSource()


def list_namespaces(source: LogSource, start: datetime, end: datetime) -> list[str]:
    """Namespaces with logs in [start, end), sorted."""
    return sorted(source.label_values("namespace", start, end))


def list_label_values(
    source: LogSource, label: str, start: datetime, end: datetime, within: LogFilter
) -> list[str]:
    """Values of ``label`` in [start, end) among the streams of ``within``'s namespace, pod and container."""
    selector = LogFilter(
        namespace=within.namespace,
        pod=within.pod,
        container=within.container,
        pod_prefix=within.pod_prefix,
        container_prefix=within.container_prefix,
    )
    return sorted(source.label_values(label, start, end, query=build_logql(selector)))
