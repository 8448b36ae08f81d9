from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.config import Settings
from app.errors import (
    ConfigError,
    InputError,
    LogSourceError,
    LogTriageError,
    LokiConnectError,
    LokiDeadlineError,
    LokiHTTPError,
    LokiProtocolError,
    LokiTimeoutError,
)
from app.logs.logql import LogFilter, build_logql
from app.logs.loki import LokiClient
from app.logs.loki_api import (
    PageCursor,
    advance_cursor,
    entry_key,
    page_request_size,
    parse_query_response,
    retry_after_seconds,
)
from app.logs.models import LogEntry
from app.logs.source import list_namespaces, make_log_source
from app.telemetry.metrics import REGISTRY
from app.telemetry.tracing import setup_tracing
from tests.fixtures.fake_loki import FakeLoki, Reply, json_reply, raw_reply  # fixture: tests/conftest.py

BASE_S = 1_750_000_000
BASE_NS = BASE_S * 1_000_000_000
START = datetime.fromtimestamp(BASE_S - 3600, UTC)
END = datetime.fromtimestamp(BASE_S + 3600, UTC)
QUERY = '{namespace="payments"}'


def _entry(offset_ns: int, pod: str, line: str, **metadata: str) -> LogEntry:
    labels = {"namespace": "payments", "pod": pod, "container": "api"}
    return LogEntry(ts_ns=BASE_NS + offset_ns, labels=labels, line=line, structured_metadata=metadata)


def _boundary_heavy_entries() -> list[LogEntry]:
    """23 entries where many share a timestamp, including identical lines in two streams."""
    entries: list[LogEntry] = []
    for offset, count in ((10, 3), (9, 1), (8, 4), (7, 2), (6, 3), (5, 1), (4, 4), (3, 1), (2, 3), (1, 1)):
        for i in range(count):
            pod = "api-a" if i % 2 == 0 else "api-b"
            # Lines repeat across the two pods at one timestamp: only the stream tells them apart.
            entries.append(_entry(offset, pod, f"line {i // 2} at {offset}"))
    return entries


def _client(fake: FakeLoki, sleeps: list[float] | None = None, **options: Any) -> LokiClient:
    return LokiClient(
        "http://loki.test",
        client=httpx.Client(transport=fake.transport()),  # in-process: no socket
        sleep=(sleeps if sleeps is not None else []).append,
        **options,
    )


# --- Pagination ----------------------------------------------------------------------------------


def test_pages_across_shared_timestamps_lose_nothing_and_repeat_nothing(fake_loki: FakeLoki) -> None:
    served = _boundary_heavy_entries()
    fake_loki.serve(served)

    result = _client(fake_loki, page_size=5).query_range(QUERY, START, END, limit=1000)

    assert Counter(entry_key(e) for e in result.entries) == Counter(entry_key(e) for e in served)
    assert [e.ts_ns for e in result.entries] == sorted(e.ts_ns for e in served)
    assert not result.truncated
    requests = fake_loki.query_requests()
    assert result.requests == len(requests) >= 3
    assert all(r.params["direction"] == "backward" and int(r.params["limit"]) <= 5 for r in requests)
    # Each page ends just after the oldest line of the page before (Loki's end is exclusive).
    assert requests[1].params["end"] == str(BASE_NS + 8 + 1)


def test_the_limit_keeps_the_newest_lines_and_says_it_cut(fake_loki: FakeLoki) -> None:
    fake_loki.serve(_boundary_heavy_entries())

    result = _client(fake_loki, page_size=5).query_range(QUERY, START, END, limit=7)

    assert len(result.entries) == 7
    assert result.truncated
    assert [e.ts_ns - BASE_NS for e in result.entries] == [8, 8, 8, 9, 10, 10, 10]


@pytest.mark.parametrize(("served", "page_size"), [(23, 5), (5, 5), (5, 100)])
def test_exactly_limit_lines_is_not_reported_as_truncated(
    fake_loki: FakeLoki, served: int, page_size: int
) -> None:
    fake_loki.serve(_boundary_heavy_entries()[:served])

    result = _client(fake_loki, page_size=page_size).query_range(QUERY, START, END, limit=served)

    assert len(result.entries) == served
    assert not result.truncated


def test_more_lines_at_one_timestamp_than_a_page_holds_are_all_fetched(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(5, "api-a", f"burst {i}") for i in range(6)] + [_entry(1, "api-a", "older")])

    result = _client(fake_loki, page_size=3).query_range(QUERY, START, END, limit=100)

    lines = [e.line for e in result.entries]
    assert lines[0] == "older"
    assert sorted(lines[1:]) == [f"burst {i}" for i in range(6)]
    assert not result.truncated
    assert result.warnings == []


def test_page_size_includes_the_lines_seen_again() -> None:
    assert page_request_size(page_size=5000, remaining=100, overlap=0) == 101
    assert page_request_size(page_size=5000, remaining=100, overlap=3) == 104
    assert page_request_size(page_size=50, remaining=100, overlap=3) == 50


def test_the_cursor_remembers_every_line_at_a_boundary_shared_by_several_pages() -> None:
    first = advance_cursor(PageCursor(end_ns=100), [_entry(9, "a", "x"), _entry(5, "a", "y")])
    second = advance_cursor(first, [_entry(5, "b", "y"), _entry(5, "a", "y")])

    assert first.end_ns == BASE_NS + 6
    assert second.end_ns == BASE_NS + 6
    assert second.seen_at_boundary == {entry_key(_entry(5, "a", "y")), entry_key(_entry(5, "b", "y"))}


# --- Response encodings -------------------------------------------------------------------------


def test_categorize_labels_are_asked_for_and_structured_metadata_kept(fake_loki: FakeLoki) -> None:
    fake_loki.serve(
        [_entry(1, "api-a", "charge failed", trace_id="4bf92f3577b34da6", detected_level="error")]
    )

    [entry] = _client(fake_loki).query_range(QUERY, START, END, limit=10).entries

    assert fake_loki.requests[0].header("X-Loki-Response-Encoding-Flags") == "categorize-labels"
    assert entry.labels == {"namespace": "payments", "pod": "api-a", "container": "api"}
    assert entry.structured_metadata == {"trace_id": "4bf92f3577b34da6", "detected_level": "error"}
    assert entry.level == "error"


def test_plain_and_categorized_values_both_parse() -> None:
    payload = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "encodingFlags": ["categorize-labels"],
            "result": [
                {
                    "stream": {"namespace": "auth", "pod": "kc-0"},
                    "values": [["1700000000000000001", "plain line"]],
                },
                {
                    "stream": {"namespace": "auth", "pod": "kc-1"},
                    "values": [
                        ["1700000000000000003", "no metadata", {}],
                        [
                            "1700000000000000002",
                            'level=warn msg="slow"',
                            {"structuredMetadata": {"trace_id": "abc"}, "parsed": {"msg": "slow"}},
                        ],
                    ],
                },
            ],
            "stats": {"summary": {"totalEntriesReturned": 3}},
        },
    }

    entries = parse_query_response(payload)

    assert [(e.ts_ns, e.pod, e.line) for e in entries] == [
        (1700000000000000001, "kc-0", "plain line"),
        (1700000000000000003, "kc-1", "no metadata"),
        (1700000000000000002, "kc-1", 'level=warn msg="slow"'),
    ]
    assert entries[2].structured_metadata == {"trace_id": "abc"}
    assert entries[2].labels["msg"] == "slow"  # parsed labels join the labels, as without the flag


def test_a_metric_query_is_refused_clearly() -> None:
    payload = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": []}]},
    }

    with pytest.raises(InputError, match="metric query"):
        parse_query_response(payload)


def test_a_login_page_instead_of_json_is_reported_as_such() -> None:
    html = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>Sign in to Grafana</html>"))
    client = LokiClient("http://grafana.test", client=httpx.Client(transport=html))

    with pytest.raises(LogSourceError, match="an HTML page") as caught:
        client.query_range(QUERY, START, END, limit=10)
    assert "LOKI_URL" in (caught.value.hint or "")


# --- Errors and retries --------------------------------------------------------------------------


def test_429_is_retried_after_the_time_loki_asks_for(fake_loki: FakeLoki) -> None:
    fake_loki.serve(_boundary_heavy_entries()[:2])
    fake_loki.fail_next(1, 429, headers={"Retry-After": "2"})
    sleeps: list[float] = []

    result = _client(fake_loki, sleeps).query_range(QUERY, START, END, limit=10)

    assert len(result.entries) == 2
    assert sleeps == [2.0]
    assert len(fake_loki.requests) == 2


def test_503_is_retried_with_growing_jittered_backoff(fake_loki: FakeLoki) -> None:
    fake_loki.serve(_boundary_heavy_entries()[:2])
    fake_loki.fail_next(3, 503)
    sleeps: list[float] = []

    result = _client(fake_loki, sleeps, backoff_base=0.5, backoff_max=1.5).query_range(
        QUERY, START, END, limit=10
    )

    assert len(result.entries) == 2
    assert len(sleeps) == 3
    # Full jitter: each wait is somewhere below a ceiling that doubles up to backoff_max.
    assert [0 <= wait <= ceiling for wait, ceiling in zip(sleeps, (0.5, 1.0, 1.5), strict=True)] == [True] * 3


def test_5xx_after_the_last_retry_raises_with_lokis_text(fake_loki: FakeLoki) -> None:
    fake_loki.fail_next(10, 500, body="rpc error: code = Internal desc = failed to get chunk\n")

    with pytest.raises(LokiHTTPError) as caught:
        _client(fake_loki, max_retries=2).query_range(QUERY, START, END, limit=10)

    assert caught.value.status_code == 500
    assert caught.value.body == "rpc error: code = Internal desc = failed to get chunk\n"
    assert "rpc error: code = Internal desc = failed to get chunk" in str(caught.value)
    assert len(fake_loki.requests) == 3


def test_a_400_is_not_retried_and_keeps_lokis_text(fake_loki: FakeLoki) -> None:
    fake_loki.max_entries_limit = 1000
    sleeps: list[float] = []

    with pytest.raises(LokiHTTPError) as caught:
        _client(fake_loki, sleeps, page_size=5000).query_range(QUERY, START, END, limit=5000)

    message = "max entries limit per query exceeded, limit > max_entries_limit (5000 > 1000)"
    assert caught.value.status_code == 400
    assert caught.value.body == message + "\n"
    assert message in caught.value.user_message()
    assert "LOKI_PAGE_SIZE" in (caught.value.hint or "")
    assert len(fake_loki.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), LokiConnectError),
        (httpx.ReadTimeout("timed out"), LokiTimeoutError),
        (httpx.ConnectTimeout("timed out"), LokiTimeoutError),
    ],
)
def test_transport_failures_are_retried_then_translated(
    failure: Exception, expected: type[Exception]
) -> None:
    attempts: list[httpx.Request] = []

    def fail(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise failure

    client = LokiClient(
        "http://loki.test",
        client=httpx.Client(transport=httpx.MockTransport(fail)),
        max_retries=3,
        sleep=[].append,
    )

    with pytest.raises(expected, match=r"loki\.test"):
        client.query_range(QUERY, START, END, limit=10)
    assert len(attempts) == 4


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 6, 12, 10, 0, 0, tzinfo=UTC)

    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 12 Jun 2025 10:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_bad_time_ranges_are_refused(fake_loki: FakeLoki) -> None:
    with pytest.raises(InputError, match="not after its start"):
        _client(fake_loki).query_range(QUERY, END, START, limit=10)
    with pytest.raises(InputError, match="timezone"):
        _client(fake_loki).query_range(QUERY, datetime(2025, 1, 1), datetime(2025, 1, 2), limit=10)
    assert fake_loki.requests == []


# --- Headers, auth, telemetry ----------------------------------------------------------------------


def test_tenant_and_basic_auth_are_sent(fake_loki: FakeLoki) -> None:
    _client(fake_loki, tenant="team-payments", username="grafana", password="s3cret").query_range(
        QUERY, START, END, limit=10
    )

    request = fake_loki.requests[0]
    assert request.header("X-Scope-OrgID") == "team-payments"
    assert request.header("Authorization") == "Basic " + base64.b64encode(b"grafana:s3cret").decode()


def test_bearer_token_is_sent_and_no_tenant_header_without_a_tenant(fake_loki: FakeLoki) -> None:
    _client(fake_loki, bearer_token="glc_token").labels(START, END)

    request = fake_loki.requests[0]
    assert request.header("Authorization") == "Bearer glc_token"
    assert request.header("X-Scope-OrgID") is None


_SPANS = InMemorySpanExporter()
_PROVIDERS_WITH_EXPORTER: set[int] = set()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Finished spans, recorded through the app's own tracer provider."""
    provider = setup_tracing(Settings())
    assert provider is not None
    if id(provider) not in _PROVIDERS_WITH_EXPORTER:
        provider.add_span_processor(SimpleSpanProcessor(_SPANS))
        _PROVIDERS_WITH_EXPORTER.add(id(provider))
    _SPANS.clear()
    return _SPANS


def test_a_query_is_traced_timed_and_propagates_its_trace(
    fake_loki: FakeLoki, spans: InMemorySpanExporter
) -> None:
    fake_loki.serve(_boundary_heavy_entries())
    before = REGISTRY.get_sample_value("logtriage_log_query_duration_seconds_count", {"source": "loki"}) or 0

    _client(fake_loki, page_size=10).query_range(QUERY, START, END, limit=1000)

    [span] = [s for s in spans.get_finished_spans() if s.name == "loki.query_range"]
    assert span.attributes == {
        "loki.query": QUERY,
        "loki.limit": 1000,
        "loki.entries": 23,
        "loki.pages": len(fake_loki.requests),
        "loki.truncated": False,
    }
    trace_id = format(span.context.trace_id, "032x")
    assert all(trace_id in (r.header("traceparent") or "") for r in fake_loki.requests)
    after = REGISTRY.get_sample_value("logtriage_log_query_duration_seconds_count", {"source": "loki"})
    assert after == before + 1


# --- Over real HTTP ----------------------------------------------------------------------------------


def test_from_settings_against_a_real_http_loki(fake_loki: FakeLoki, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_loki.serve(
        [
            *_boundary_heavy_entries(),
            LogEntry(
                ts_ns=BASE_NS + 3, labels={"namespace": "checkout", "pod": "co-1"}, line="error: OOMKilled"
            ),
        ]
    )
    monkeypatch.setenv("LOKI_URL", fake_loki.url + "/")
    monkeypatch.setenv("LOKI_TENANT", "team-a")
    monkeypatch.setenv("LOKI_PAGE_SIZE", "3")

    source = make_log_source(Settings())
    query = build_logql(LogFilter(namespace="payments", contains="line 1"))
    result = source.query_range(query, START, END, limit=100)

    assert isinstance(source, LokiClient)
    assert [(e.ts_ns - BASE_NS, e.line) for e in result.entries] == [
        (2, "line 1 at 2"),
        (4, "line 1 at 4"),
        (4, "line 1 at 4"),
        (6, "line 1 at 6"),
        (8, "line 1 at 8"),
        (8, "line 1 at 8"),
        (10, "line 1 at 10"),
    ]
    assert {e.pod for e in result.entries if e.ts_ns == BASE_NS + 8} == {"api-a", "api-b"}
    assert result.requests == len(fake_loki.query_requests()) >= 3
    assert {r.header("X-Scope-OrgID") for r in fake_loki.requests} == {"team-a"}
    assert list_namespaces(source, START, END) == ["checkout", "payments"]
    assert source.labels(START, END) == ["container", "namespace", "pod"]
    assert source.label_values("pod", START, END) == ["api-a", "api-b", "co-1"]
    assert source.ready()


def test_a_slow_loki_times_out_over_real_http(fake_loki: FakeLoki) -> None:
    fake_loki.delay_next(2, 1.0)
    client = LokiClient(
        fake_loki.url, client=httpx.Client(), timeout=httpx.Timeout(0.2), max_retries=1, sleep=[].append
    )

    with pytest.raises(LokiTimeoutError, match="did not answer"):
        client.query_range(QUERY, START, END, limit=10)
    assert len(fake_loki.requests) == 2


def test_nothing_listening_is_a_connect_error_and_not_ready(fake_loki: FakeLoki) -> None:
    url = fake_loki.url
    fake_loki.stop()
    client = LokiClient(url, client=httpx.Client(), max_retries=1, sleep=[].append)

    assert not client.ready()
    with pytest.raises(LokiConnectError, match="could not connect") as caught:
        client.labels(START, END)
    assert "LOKI_URL" in (caught.value.hint or "")


def test_label_names_are_checked_before_they_reach_the_url(fake_loki: FakeLoki) -> None:
    with pytest.raises(InputError, match="not a valid label name"):
        _client(fake_loki).label_values("../../ready", START, END)
    assert fake_loki.requests == []


def test_the_window_includes_its_start_and_excludes_its_end(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(0, "api-a", "at start"), _entry(1000, "api-a", "at end")])
    start = datetime.fromtimestamp(BASE_S, UTC)

    result = _client(fake_loki).query_range(QUERY, start, start + timedelta(microseconds=1), limit=10)

    assert [e.line for e in result.entries] == ["at start"]


# --- Misbehaving Lokis ------------------------------------------------------------------------------------

TS_JSON = f'"{BASE_NS + 1}"'.encode()


@pytest.mark.parametrize(
    ("timestamp", "why"),
    [
        (b'"abc"', "not a whole number"),
        (b'"1750000000.5"', "not a whole number"),
        (b"1.75e18", "not a whole number"),
        (b'"-5"', "not a whole number"),
        (b'"9223372036854775808"', "outside 1970..2262"),
        (b"99999999999999999999", "outside 1970..2262"),
        (b'"9' * 1 + b"9" * 400 + b'"', "outside 1970..2262"),
        (b"null", "not a whole number"),
    ],
)
def test_timestamps_that_are_not_unix_nanoseconds_are_refused_with_what_was_sent(
    fake_loki: FakeLoki, timestamp: bytes, why: str
) -> None:
    fake_loki.serve([_entry(1, "api-a", "one line")])
    fake_loki.rewrite_bodies(lambda body: body.replace(TS_JSON, timestamp))

    with pytest.raises(LokiProtocolError, match=why) as caught:
        _client(fake_loki).query_range(QUERY, START, END, limit=10)
    assert "result.0.values.0: timestamp" in str(caught.value)
    assert "LOKI_URL" in (caught.value.hint or "")


def test_a_non_utf8_byte_keeps_its_line_and_says_it_was_replaced(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(1, "api-a", "cafe MARK latte"), _entry(2, "api-a", "plain")])
    fake_loki.rewrite_bodies(lambda body: body.replace(b"MARK", b"\xff\xfe"))

    result = _client(fake_loki).query_range(QUERY, START, END, limit=10)

    assert [e.line for e in result.entries] == ["cafe \ufffd\ufffd latte", "plain"]
    assert any("not UTF-8" in warning for warning in result.warnings)
    assert not result.truncated


def test_lone_surrogate_escapes_become_replacement_characters(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(1, "api-MARK", "half MARK a pair")])
    fake_loki.rewrite_bodies(lambda body: body.replace(b"MARK", b"\\ud800"))

    [entry] = _client(fake_loki).query_range(QUERY, START, END, limit=10).entries

    assert entry.line == "half \ufffd a pair"
    assert entry.pod == "api-\ufffd"
    entry.line.encode("utf-8")  # printable and storable as it is


def test_250_lines_on_one_timestamp_with_pages_of_100_all_arrive_once(fake_loki: FakeLoki) -> None:
    burst = [_entry(50, f"api-{i % 3}", f"burst {i}") for i in range(250)]
    others = [_entry(100 + i, "api-a", f"newer {i}") for i in range(30)]
    others += [_entry(i, "api-a", f"older {i}") for i in range(20)]
    fake_loki.serve(burst + others)

    result = _client(fake_loki, page_size=100).query_range(QUERY, START, END, limit=1000)

    assert Counter(entry_key(e) for e in result.entries) == Counter(entry_key(e) for e in burst + others)
    assert not result.truncated
    assert result.warnings == []


def test_a_timestamp_loki_cannot_serve_whole_is_reported_truncated_never_silently(
    fake_loki: FakeLoki,
) -> None:
    fake_loki.max_entries_limit = 100  # this Loki refuses pages bigger than LOKI_PAGE_SIZE
    fake_loki.serve([_entry(50, "api-a", f"burst {i}") for i in range(250)] + [_entry(1, "api-a", "older")])

    result = _client(fake_loki, page_size=100).query_range(QUERY, START, END, limit=1000)

    lines = [e.line for e in result.entries]
    assert len(lines) == len(set(lines))  # nothing doubled
    assert lines[0] == "older"  # and the older lines still arrive
    assert result.truncated
    [warning] = result.warnings
    assert "share the timestamp" in warning
    assert "max entries limit" in warning


def test_a_loki_that_ignores_end_stops_with_an_error_instead_of_repeating_lines(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(i, "api-a", f"line {i}") for i in range(30)])
    fake_loki.ignore_end = True

    with pytest.raises(LokiProtocolError, match="ignores the requested time range"):
        _client(fake_loki, page_size=10).query_range(QUERY, START, END, limit=100)


def test_a_page_that_repeats_one_entry_is_read_once(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(1, "api-a", "only")])
    body = fake_loki.respond("GET", f"/loki/api/v1/query_range?query={QUERY}", {}).body
    doubled = body.replace(b'"values": [[', b'"values": [["%d", "only"], [' % (BASE_NS + 1))
    fake_loki.answer_next(1, raw_reply(200, doubled, {"Content-Type": "application/json"}))

    result = _client(fake_loki).query_range(QUERY, START, END, limit=10)

    assert [e.line for e in result.entries] == ["only"]


@pytest.mark.parametrize(
    ("reply", "error", "needle"),
    [
        (json_reply({"status": "error", "errorType": "bad_data", "error": "parse error at line 1"}),
         LokiProtocolError, "status error: parse error at line 1"),
        (raw_reply(502, b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body></html>",
                   {"Content-Type": "text/html"}), LokiHTTPError, "502 to /loki/api/v1/query_range (1 attempt): an HTML page titled '502 Bad Gateway'"),
        (raw_reply(200, b'{"status": "success", "data": {"resultType": "streams", "res',
                   {"Content-Type": "application/json"}), LokiProtocolError, "the answer was cut off"),
        (raw_reply(200, b'{"status": "success", "data": {"resultType": "streams", "result": [}}',
                   {"Content-Type": "application/json"}), LokiProtocolError, "malformed JSON"),
        (raw_reply(200, b"", {"Content-Type": "application/json"}), LokiProtocolError, "empty body"),
        (raw_reply(200, b'{"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}, "values": [['
                   + b"9" * 5000 + b', "x"]]}]}}', {"Content-Type": "application/json"}),
         LokiProtocolError, "JSON holding a value too large to read"),
        (raw_reply(200, b"[" * 100_000, {"Content-Type": "application/json"}), LokiProtocolError, "nested too deeply"),
        (raw_reply(200, b'{"status": "success"}', {"Content-Type": "text/plain"}), LokiProtocolError, "data: Field required"),
        (raw_reply(200, b'{"status": "success", "data": {"resultType": "streams", "result": []}}',
                   {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
         LokiProtocolError, "not valid gzip"),
        (raw_reply(302, b"", {"Location": "https://sso.example/login?token=abc123secret"}),
         LokiHTTPError, "redirect (302 to https://sso.example/login?token=***)"),
        (raw_reply(401, b"no org id\n", {"Content-Type": "text/plain"}), LokiHTTPError, "X-Scope-OrgID"),
    ],
    ids=["200-status-error", "html-502", "cut-off-json", "malformed-json", "empty", "huge-number", "deep-json",
         "text-plain-json-missing-data", "gzip-lie", "redirect", "no-org-id"],
)  # fmt: skip
def test_misbehaving_answers_end_in_one_clear_error(
    fake_loki: FakeLoki, reply: Reply, error: type[Exception], needle: str
) -> None:
    fake_loki.answer_next(10, reply)

    with pytest.raises(error) as caught:
        _client(fake_loki, max_retries=0).query_range(QUERY, START, END, limit=10)

    message = caught.value.user_message() if isinstance(caught.value, LogTriageError) else ""
    assert needle in message
    assert "\n" not in message
    assert len(message) < 600
    assert "abc123secret" not in message


def test_json_sent_as_text_plain_is_read_anyway(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(1, "api-a", "fine")])
    body = fake_loki.respond("GET", f"/loki/api/v1/query_range?query={QUERY}", {}).body
    fake_loki.answer_next(1, raw_reply(200, body, {"Content-Type": "text/plain"}))

    assert [e.line for e in _client(fake_loki).query_range(QUERY, START, END, limit=10).entries] == ["fine"]


def test_a_redirect_is_never_followed_to_another_host() -> None:
    hosts: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(307, headers={"Location": "http://evil.example/loki/api/v1/query_range"})

    client = LokiClient(
        "http://loki.test",
        client=httpx.Client(transport=httpx.MockTransport(handle), follow_redirects=True),
        bearer_token="glc_secret_token",
    )
    with pytest.raises(LokiHTTPError, match="does not follow redirects"):
        client.query_range(QUERY, START, END, limit=10)
    assert hosts == ["loki.test"]


def test_retry_after_beyond_the_deadline_stops_at_once_and_names_the_limit(fake_loki: FakeLoki) -> None:
    fake_loki.fail_next(1, 429, headers={"Retry-After": "3600"})
    sleeps: list[float] = []

    with pytest.raises(LokiDeadlineError) as caught:
        _client(fake_loki, sleeps, deadline_seconds=120).query_range(QUERY, START, END, limit=10)

    assert sleeps == []  # no waiting for an answer that could not come in time
    message = caught.value.user_message()
    assert "retry after 3600 s (Retry-After)" in message
    assert "LOKI_DEADLINE_SECONDS=120" in message
    assert len(fake_loki.requests) == 1


def test_retries_stop_when_the_next_wait_would_pass_the_deadline(fake_loki: FakeLoki) -> None:
    now = [0.0]
    fake_loki.fail_next(10, 503)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    client = LokiClient(
        "http://loki.test",
        client=httpx.Client(transport=fake_loki.transport()),
        sleep=sleep,
        clock=lambda: now[0],
        deadline_seconds=10,
        max_retries=8,
        backoff_base=4,
        backoff_max=4,
    )
    with pytest.raises(LokiDeadlineError, match="LOKI_DEADLINE_SECONDS=10"):
        client.query_range(QUERY, START, END, limit=10)
    assert sum(sleeps) < 10 <= sum(sleeps) + 4


def test_a_trickled_answer_ends_at_the_deadline_over_real_http(fake_loki: FakeLoki) -> None:
    fake_loki.serve([_entry(i, "api-a", "x" * 200) for i in range(50)])
    fake_loki.trickle(chunk_bytes=16, interval_s=0.05)  # each read is quick; the whole answer takes minutes
    client = LokiClient(
        fake_loki.url, client=httpx.Client(), timeout=httpx.Timeout(5.0), deadline_seconds=0.5, max_retries=0
    )

    with pytest.raises(LokiDeadlineError, match="while reading its answer"):
        client.query_range(QUERY, START, END, limit=100)


def test_a_query_too_long_for_a_url_is_sent_as_a_post_form_over_real_http(fake_loki: FakeLoki) -> None:
    needle = "z" * 9000
    fake_loki.serve([_entry(1, "api-a", f"has {needle}"), _entry(2, "api-a", "has not")])
    query = build_logql(LogFilter(namespace="payments", contains=needle))

    result = LokiClient(fake_loki.url, client=httpx.Client()).query_range(query, START, END, limit=10)

    assert [e.line for e in result.entries] == [f"has {needle}"]
    [request] = fake_loki.query_requests()
    assert request.method == "POST"
    assert request.params["query"] == query
    short = LokiClient(fake_loki.url, client=httpx.Client())
    short.query_range(QUERY, START, END, limit=10)
    assert fake_loki.query_requests()[-1].method == "GET"


def test_an_absurdly_long_query_is_refused_before_any_request(fake_loki: FakeLoki) -> None:
    query = build_logql(LogFilter(namespace="payments", contains="y" * 70_000))

    with pytest.raises(InputError, match="more than the 65,536 LogTriage sends"):
        _client(fake_loki).query_range(query, START, END, limit=10)
    assert fake_loki.requests == []


def test_credentials_in_loki_url_authenticate_but_never_appear_in_messages(fake_loki: FakeLoki) -> None:
    url = fake_loki.url.replace("http://", "http://grafana:s3cr3t-pass@")
    LokiClient(url, client=httpx.Client()).labels(START, END)
    assert (
        fake_loki.requests[0].header("Authorization")
        == "Basic " + base64.b64encode(b"grafana:s3cr3t-pass").decode()
    )

    fake_loki.fail_next(1, 400, body="bad request from grafana:s3cr3t-pass")
    with pytest.raises(LokiHTTPError) as caught:
        LokiClient(url, client=httpx.Client()).labels(START, END)
    assert "s3cr3t-pass" not in caught.value.user_message()
    assert fake_loki.url in caught.value.user_message()


@pytest.mark.parametrize("url", ["ftp://loki:3100", "http://", "loki:3100", "http://[::1"])
def test_a_loki_url_that_is_not_http_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="LOKI_URL"):
        LokiClient(url, client=httpx.Client())
