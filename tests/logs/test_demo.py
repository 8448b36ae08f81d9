from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.errors import InputError, UnsupportedQueryError
from app.logs.demo import DEMO_NAMESPACES, DemoLogSource, generate_demo_entries
from app.logs.logql import LogFilter, build_logql
from app.logs.source import list_namespaces, make_log_source

NOW = datetime(2025, 6, 12, 10, 32, 30, tzinfo=UTC)
HOUR_AGO = NOW - timedelta(hours=1)
DAY_AGO = NOW - timedelta(hours=24)
INCIDENT_NAMESPACES = ("payments", "checkout", "auth", "ingress-nginx", "data")


@pytest.fixture
def demo() -> DemoLogSource:
    return DemoLogSource(now=lambda: NOW)


def _lines(demo: DemoLogSource, f: LogFilter, start: datetime = HOUR_AGO, limit: int = 20_000) -> list[str]:
    return [e.line for e in demo.query_range(build_logql(f), start, NOW, limit=limit).entries]


def test_same_seed_and_now_give_the_same_logs_and_another_seed_does_not() -> None:
    first = generate_demo_entries(7, NOW)

    assert first == generate_demo_entries(7, NOW)
    assert [e.line for e in first] != [e.line for e in generate_demo_entries(8, NOW)]


def test_the_day_ends_now_whenever_now_is() -> None:
    later = NOW + timedelta(days=3, hours=5)
    today, then = generate_demo_entries(7, NOW), generate_demo_entries(7, later)

    # The day is generated per minute of "now", so it may end up to a minute before now.
    assert (DAY_AGO.timestamp() - 60) * 1e9 <= today[0].ts_ns
    assert 0 < NOW.timestamp() * 1e9 - today[-1].ts_ns < 120e9
    shift = then[-1].ts_ns - today[-1].ts_ns
    assert [e.ts_ns + shift for e in today] == [e.ts_ns for e in then]
    # Timestamps inside the lines move too: the newest API line names the new day.
    assert "2025-06-15T15:" in next(e.line for e in reversed(then) if e.pod.startswith("payments-api"))


def test_several_namespaces_all_with_background_and_most_with_an_incident(demo: DemoLogSource) -> None:
    assert list_namespaces(demo, DAY_AGO, NOW) == sorted(DEMO_NAMESPACES)
    for namespace in INCIDENT_NAMESPACES:
        errors = _lines(demo, LogFilter(namespace=namespace, level="error"))
        assert len(errors) >= 20, namespace
        entries = demo.query_range(
            build_logql(LogFilter(namespace=namespace)), HOUR_AGO, NOW, limit=20_000
        ).entries
        assert len({e.pod for e in entries if e.pod}) >= 2, namespace
    assert _lines(demo, LogFilter(namespace="monitoring", level="error"), start=DAY_AGO) == []


@pytest.mark.parametrize(
    ("namespace", "evidence"),
    [
        (
            "payments",
            [
                "connect: connection refused",
                "Back-off restarting failed container api",
                "Readiness probe failed",
                "No space left on device",
                "CrashLoopBackOff",
            ],
        ),
        (
            "checkout",
            ["Memory cgroup out of memory: Killed process", "(java)", "Pause Full", "Back-off restarting"],
        ),
        ("auth", ["x509: certificate has expired", "certificate_expired"]),
        ("ingress-nginx", ['" 502 ', '" 503 ', "upstream timed out", "does not have any active Endpoint"]),
        (
            "data",
            ["Temporary failure in name resolution", "i/o timeout", "Traceback (most recent call last):"],
        ),
    ],
)
def test_each_incident_leaves_the_evidence_an_engineer_would_look_for(
    demo: DemoLogSource, namespace: str, evidence: list[str]
) -> None:
    text = "\n".join(_lines(demo, LogFilter(namespace=namespace)))

    assert [needle for needle in evidence if needle not in text] == []


def test_lines_come_in_real_formats(demo: DemoLogSource) -> None:
    everything = [e.line for e in demo.query_range('{namespace=~".+"}', DAY_AGO, NOW, limit=100_000).entries]
    formats = {
        "klog": r"^[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w.]+:\d+\] ",
        "zap json": r'^\{"level":"\w+","ts":"\d{4}-',
        "kube event": r"^type=(Warning|Normal) reason=\w+ kind=\w+ name=",
        "spring boot": r"^\d{4}-\d\d-\d\dT[\d:.]+Z +(INFO|WARN) 1 --- \[checkout\]",
        "python": r"^\d{4}-\d\d-\d\d [\d:]+,\d{3} (INFO|ERROR) [\w.]+: ",
        "nginx access": r'^[\d.]+ - - \[\d\d/\w{3}/\d{4}:[\d:]+ \+0000\] "(GET|POST) ',
        "nginx error": r"^\d{4}/\d\d/\d\d [\d:]+ \[error\] \d+#\d+: ",
        "postgres": r"^\d{4}-\d\d-\d\d [\d:.]+ UTC \[\d+\] (LOG|ERROR|PANIC|FATAL|HINT): ",
        "kafka": r"^\[\d{4}-\d\d-\d\d [\d:,]+\] INFO ",
        "logfmt": r"^ts=\S+ caller=\S+ level=info ",
    }

    missing = [
        name for name, pattern in formats.items() if not any(re.match(pattern, line) for line in everything)
    ]
    assert missing == []


def test_filters_really_filter(demo: DemoLogSource) -> None:
    every = _lines(demo, LogFilter(namespace="payments"))
    refused = _lines(demo, LogFilter(namespace="payments", contains="connection refused"))
    not_refused = _lines(demo, LogFilter(namespace="payments", excludes="connection refused"))
    api = demo.query_range(
        build_logql(LogFilter(namespace="payments", pod="payments-api-7d9f8b6c4-x2k9p", container="api")),
        HOUR_AGO,
        NOW,
        limit=10_000,
    ).entries
    fatal = _lines(demo, LogFilter(namespace="payments", level="critical", regex=r'"level":"fatal"'))

    assert refused
    assert all("connection refused" in line for line in refused)
    assert len(refused) + len(not_refused) == len(every)
    assert api
    assert {(e.pod, e.container) for e in api} == {("payments-api-7d9f8b6c4-x2k9p", "api")}
    assert fatal
    assert all('"level":"fatal"' in line for line in fatal)


def test_the_limit_keeps_the_newest_lines(demo: DemoLogSource) -> None:
    query = build_logql(LogFilter(namespace="ingress-nginx"))
    full = demo.query_range(query, HOUR_AGO, NOW, limit=100_000)
    cut = demo.query_range(query, HOUR_AGO, NOW, limit=50)

    assert not full.truncated
    assert cut.truncated
    assert cut.entries == full.entries[-50:]
    assert [e.ts_ns for e in cut.entries] == sorted(e.ts_ns for e in cut.entries)
    assert cut.source == "demo"


def test_only_the_window_is_served(demo: DemoLogSource) -> None:
    start, end = NOW - timedelta(hours=3), NOW - timedelta(hours=2)
    result = demo.query_range('{namespace="auth"}', start, end, limit=10_000)

    assert result.entries
    assert all(start.timestamp() * 1e9 <= e.ts_ns < end.timestamp() * 1e9 for e in result.entries)
    assert (
        demo.query_range(
            '{namespace="auth"}', NOW - timedelta(days=3), NOW - timedelta(days=2), limit=10
        ).entries
        == []
    )


@pytest.mark.parametrize(
    "query",
    [
        'sum by (pod) (count_over_time({namespace="payments"}[5m]))',
        '{namespace="payments"} | json | level="error"',
        '{namespace="payments"} | logfmt',
    ],
)
def test_logql_it_cannot_answer_is_refused_not_guessed(demo: DemoLogSource, query: str) -> None:
    with pytest.raises(UnsupportedQueryError, match="not supported by the demo source"):
        demo.query_range(query, HOUR_AGO, NOW, limit=10)


def test_label_values_follow_the_window(demo: DemoLogSource) -> None:
    containers = demo.label_values("container", HOUR_AGO, NOW)

    assert {"api", "postgres", "checkout", "keycloak", "controller", "etl", "grafana"} <= set(containers)
    assert containers == sorted(containers)
    assert demo.label_values("pod", NOW - timedelta(days=3), NOW - timedelta(days=2)) == []
    with pytest.raises(InputError, match="not a valid label name"):
        demo.label_values("pod name", HOUR_AGO, NOW)


def test_without_loki_url_the_demo_source_is_used() -> None:
    source = make_log_source(Settings())

    assert isinstance(source, DemoLogSource)
    assert source.name == "demo"
