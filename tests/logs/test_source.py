"""Label values among one namespace's streams, from every kind of log source (Loki, demo, a stored window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from app.logs.demo import DemoLogSource
from app.logs.logql import LogFilter
from app.logs.loki import LokiClient
from app.logs.models import LogEntry, LogSource, datetime_to_ns
from app.logs.source import list_label_values
from app.logs.stored import StoredWindowSource
from tests.fixtures.fake_loki import FakeLoki

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
START = NOW - timedelta(hours=1)


def entries() -> list[LogEntry]:
    """Two namespaces, each with pods of two deployments and two containers."""
    rows = [
        ("payments", "api-7d9f-a", "api"),
        ("payments", "api-7d9f-b", "api"),
        ("payments", "api-7d9f-b", "istio-proxy"),
        ("payments", "worker-5c8d-x", "worker"),
        ("checkout", "api-1111-z", "checkout"),
    ]
    return [
        LogEntry(
            ts_ns=datetime_to_ns(START + timedelta(minutes=i)),
            labels={"namespace": ns, "pod": pod, "container": container},
            line=f"line {i}",
        )
        for i, (ns, pod, container) in enumerate(rows)
    ]


def check(source: LogSource, *, other_namespace: bool = True) -> None:
    payments = LogFilter(namespace="payments")
    assert list_label_values(source, "pod", START, NOW, payments) == [
        "api-7d9f-a",
        "api-7d9f-b",
        "worker-5c8d-x",
    ]
    one_pod = LogFilter(namespace="payments", pod="api-7d9f-b")
    assert list_label_values(source, "container", START, NOW, one_pod) == ["api", "istio-proxy"]
    deployment = LogFilter(namespace="payments", pod="api-", pod_prefix=True)
    assert list_label_values(source, "container", START, NOW, deployment) == ["api", "istio-proxy"]
    if not other_namespace:
        return
    # Text filters say nothing about which streams exist; they are left out of the selector.
    texty = LogFilter(namespace="checkout", contains="no such line")
    assert list_label_values(source, "pod", START, NOW, texty) == ["api-1111-z"]


def test_loki_is_asked_with_the_namespace_as_a_stream_selector() -> None:
    fake = FakeLoki(entries())
    client = LokiClient("http://loki.test", client=httpx.Client(transport=fake.transport()), max_retries=0)
    check(client)
    queries = [r.params.get("query") for r in fake.requests if r.path.endswith("/values")]
    assert queries[0] == '{namespace="payments"}'
    assert '{namespace="payments", pod=~"api-(?s:.*)"}' in queries


def test_a_stored_window_answers_the_same() -> None:
    # A stored window is one namespace's: every line in it answers to that namespace.
    own = [e for e in entries() if e.namespace == "payments"]
    check(StoredWindowSource(own, namespace="payments", name="golden"), other_namespace=False)


def test_the_demo_offers_only_the_pods_of_the_namespace() -> None:
    demo = DemoLogSource(now=lambda: NOW)
    for namespace in ("payments", "checkout"):
        pods = list_label_values(demo, "pod", NOW - timedelta(hours=6), NOW, LogFilter(namespace=namespace))
        assert pods
        lines = demo.query_range(f'{{namespace="{namespace}"}}', NOW - timedelta(hours=6), NOW, limit=100_000)
        assert set(pods) == {e.pod for e in lines.entries if e.pod}
