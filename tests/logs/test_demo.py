from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.errors import InputError, UnsupportedQueryError
from app.logs.demo import DEMO_NAMESPACES, DemoLogSource, generate_demo_entries
from app.logs.logql import LogFilter, build_logql
from app.logs.source import list_namespaces, make_log_source
from app.logs.synthetic.events import EVENTS_INSTANCE, EVENTS_JOB

NOW = datetime(2025, 6, 12, 10, 32, 30, tzinfo=UTC)
HOUR_AGO = NOW - timedelta(hours=1)
DAY_AGO = NOW - timedelta(hours=24)
INCIDENT_NAMESPACES = ("payments", "checkout", "auth", "data", "ingress-nginx")
# Alloy's loki.source.kubernetes_events line: its fields in its order, msg Go-quoted, a trailing space.
ALLOY_EVENT = re.compile(
    r"^name=\S+ kind=\w+ (action=\w+ )?objectAPIversion=\S+ objectRV=\d+ eventRV=\d+ "
    r"(reportinginstance=\S+ )?reportingcontroller=\S+ (sourcecomponent=\S+ )?(sourcehost=\S+ )?"
    r'reason=\w+ type=(Normal|Warning) (count=\d+ )?msg="(?:[^"\\]|\\.)*" $'
)


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
    assert "2025-06-15T15:" in next(e.line for e in reversed(then) if e.namespace == "checkout" and e.pod)


def test_several_namespaces_all_with_background_and_most_with_an_incident(demo: DemoLogSource) -> None:
    assert list_namespaces(demo, DAY_AGO, NOW) == sorted(DEMO_NAMESPACES)
    for namespace in INCIDENT_NAMESPACES:
        # Access lines carry no level: the ingress controller's failures show as 5xx statuses.
        errors = _lines(
            demo,
            LogFilter(
                namespace=namespace,
                level="error" if namespace != "ingress-nginx" else None,
                regex=None if namespace != "ingress-nginx" else '" 50[0-9] ',
            ),
        )
        assert len(errors) >= 10, namespace
        entries = demo.query_range(
            build_logql(LogFilter(namespace=namespace)), HOUR_AGO, NOW, limit=20_000
        ).entries
        assert len({e.pod for e in entries if e.pod}) >= 2, namespace
    # The healthy namespace has nothing that fails in the hour before the incidents.
    before = NOW - timedelta(hours=2)
    quiet = demo.query_range(
        build_logql(LogFilter(namespace="catalog", level="error")), before, HOUR_AGO, limit=100
    )
    assert quiet.entries == []


@pytest.mark.parametrize(
    ("namespace", "evidence"),
    [
        (
            "payments",
            [
                "Multi-Attach error for volume",
                "FailedAttachVolume",
                "connect: connection refused",
                "database connection lost, retrying",
            ],
        ),
        (
            "checkout",
            ["Pause Full (G1 Compaction Pause)", "Back-off restarting failed container", "Started container"],
        ),
        (
            "auth",
            ["x509: certificate has expired or is not yet valid", "fetch failed: certificate has expired"],
        ),
        ("data", ["10.96.0.10:53: i/o timeout", "Temporary failure in name resolution"]),
        ("ingress-nginx", ['" 500 ', "[payments-"]),
    ],
)
def test_each_incident_leaves_the_evidence_an_engineer_would_look_for(
    demo: DemoLogSource, namespace: str, evidence: list[str]
) -> None:
    text = "\n".join(_lines(demo, LogFilter(namespace=namespace)))

    assert [needle for needle in evidence if needle not in text] == []


def test_events_are_what_alloy_ships(demo: DemoLogSource) -> None:
    events = [
        e
        for e in demo.query_range('{namespace=~".+"}', DAY_AGO, NOW, limit=200_000).entries
        if e.labels.get("job") == EVENTS_JOB
    ]

    assert len(events) > 100
    assert {tuple(sorted(e.labels)) for e in events} == {("instance", "job", "namespace", "service_name")}
    assert {e.labels["instance"] for e in events} == {EVENTS_INSTANCE}
    assert [e.line for e in events if not ALLOY_EVENT.match(e.line)] == []
    # No node-level journals or other namespaces' lines are labelled with an application namespace.
    assert {
        e.labels.get("job")
        for e in demo.query_range('{namespace=~".+"}', DAY_AGO, NOW, limit=200_000).entries
    } <= {None, EVENTS_JOB}


def test_lines_come_in_real_formats(demo: DemoLogSource) -> None:
    everything = [e.line for e in demo.query_range('{namespace=~".+"}', DAY_AGO, NOW, limit=200_000).entries]
    formats = {
        "klog": r"^[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ [\w.]+:\d+\] ",
        "zap or slog json": r'^\{"(level|time)":',
        "kube event (Alloy)": r"^name=\S+ kind=Pod ",
        "spring boot": r"^\d{4}-\d\d-\d\dT[\d:.]+Z +(INFO|WARN|ERROR) 1 --- \[[\w-]+\] \[",
        "jvm gc log": r"^\[\d+\.\d{3}s\]\[info\]\[gc\] GC\(\d+\) Pause",
        "ingress-nginx access": r'^[\d.]+ - - \[\d\d/\w{3}/\d{4}:[\d:]+ \+0000\] "(GET|POST) \S+ HTTP/2.0" \d{3} \d+ "-" "[^"]*" \d+ [\d.]+ \[[\w-]+\] \[\] ',
        "postgres": r"^\d{4}-\d\d-\d\d [\d:.]+ UTC \[\d+\] (LOG|ERROR|FATAL|DETAIL):  ",
        "redis": r"^\d+:[MC] \d\d \w{3} \d{4} [\d:.]+ [*#] ",
    }

    missing = [
        name for name, pattern in formats.items() if not any(re.match(pattern, line) for line in everything)
    ]
    assert missing == []


def test_filters_really_filter(demo: DemoLogSource) -> None:
    every = _lines(demo, LogFilter(namespace="payments"))
    refused = _lines(demo, LogFilter(namespace="payments", contains="connection refused"))
    not_refused = _lines(demo, LogFilter(namespace="payments", excludes="connection refused"))
    some = next(
        e
        for e in reversed(
            demo.query_range(
                build_logql(LogFilter(namespace="payments")), HOUR_AGO, NOW, limit=10_000
            ).entries
        )
        if e.pod
    )
    pod, container = some.pod, some.container
    one = demo.query_range(
        build_logql(LogFilter(namespace="payments", pod=pod, container=container)),
        HOUR_AGO,
        NOW,
        limit=10_000,
    ).entries
    errors = _lines(demo, LogFilter(namespace="payments", level="error", regex="refused"))

    assert refused
    assert all("connection refused" in line for line in refused)
    assert len(refused) + len(not_refused) == len(every)
    assert one
    assert {(e.pod, e.container) for e in one} == {(pod, container)}
    assert errors
    assert all("refused" in line for line in errors)


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

    assert {"postgres", "redis", "controller"} <= set(containers)
    assert containers == sorted(containers)
    assert demo.label_values("pod", NOW - timedelta(days=3), NOW - timedelta(days=2)) == []
    with pytest.raises(InputError, match="not a valid label name"):
        demo.label_values("pod name", HOUR_AGO, NOW)


def test_without_loki_url_the_demo_source_is_used() -> None:
    source = make_log_source(Settings())

    assert isinstance(source, DemoLogSource)
    assert source.name == "demo"
