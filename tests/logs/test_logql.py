from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InputError, UnsupportedQueryError
from app.logs.logql import (
    LabelMatcher,
    LineFilter,
    LineOp,
    LogFilter,
    build_logql,
    escape_logql_string,
    parse_selector_and_filters,
    regex_literal,
)
from app.logs.models import LogEntry

NASTY = '"\\`{}|=~!,\n\r\t\x00\x07\x1b\x7f\x85\u2028\ufeff #'

# Any text, with the characters that could break out of a string literal drawn often.
nasty_text = st.text(alphabet=st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=("Cs",))))
non_blank = nasty_text.filter(lambda s: s.strip() != "")


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def test_builds_the_documented_query() -> None:
    f = LogFilter(namespace="payments", pod="api-7d9f", level="error", contains="timeout")

    assert build_logql(f) == '{namespace="payments", pod="api-7d9f"} | detected_level="error" |= "timeout"'


def test_every_filter_in_order() -> None:
    f = LogFilter(
        namespace="data",
        pod="etl-0",
        container="etl",
        level="critical",
        contains="resolve",
        excludes="healthz",
        regex=r"5\d\d",
    )

    assert build_logql(f) == (
        '{namespace="data", pod="etl-0", container="etl"} | detected_level=~"critical|fatal" '
        '|= "resolve" != "healthz" |~ "5\\\\d\\\\d"'
    )


def test_quotes_and_newlines_cannot_escape_the_string() -> None:
    f = LogFilter(namespace="payments", contains='x"} |= "y\n`z\\')

    query = build_logql(f)

    assert query == '{namespace="payments"} |= "x\\"} |= \\"y\\n`z\\\\"'
    parsed = parse_selector_and_filters(query)
    assert parsed.line_filters == [LineFilter(op="|=", value='x"} |= "y\n`z\\')]


@settings(max_examples=300, deadline=None)
@given(
    namespace=non_blank,
    pod=st.none() | non_blank,
    container=st.none() | non_blank,
    level=st.none() | st.sampled_from(["critical", "error", "warn", "warning", "info", "debug", "unknown"]),
    contains=st.none() | non_blank,
    excludes=st.none() | non_blank,
    regex=st.none() | non_blank.filter(_compiles),
)
def test_no_value_changes_the_query_structure(
    namespace: str,
    pod: str | None,
    container: str | None,
    level: str | None,
    contains: str | None,
    excludes: str | None,
    regex: str | None,
) -> None:
    # model_validate: the level is what a user types ("warning" too), which the model normalises.
    f = LogFilter.model_validate(
        {
            "namespace": namespace,
            "pod": pod,
            "container": container,
            "level": level,
            "contains": contains,
            "excludes": excludes,
            "regex": regex,
        }
    )

    parsed = parse_selector_and_filters(build_logql(f))

    expected_matchers = [
        LabelMatcher(name=name, op="=", value=value)
        for name, value in (("namespace", f.namespace), ("pod", f.pod), ("container", f.container))
        if value is not None
    ]
    text_filters: list[tuple[LineOp, str | None]] = [("|=", contains), ("!=", excludes), ("|~", regex)]
    expected_filters = [LineFilter(op=op, value=value) for op, value in text_filters if value is not None]
    assert parsed.matchers == expected_matchers
    assert parsed.line_filters == expected_filters
    assert [m.name for m in parsed.label_filters] == (["detected_level"] if level else [])


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\temp", '"C:\\\\temp"'),
        ("a\tb\r\nc", '"a\\tb\\r\\nc"'),
        ("nul\x00bell\x07", '"nul\\u0000bell\\u0007"'),
        ("bom\ufeffline\u2028sep", '"bom\\ufeffline\\u2028sep"'),
        ("grüße 🙂 `{}|", '"grüße 🙂 `{}|"'),
    ],
)
def test_escapes_like_a_go_string_literal(value: str, literal: str) -> None:
    assert escape_logql_string(value) == literal


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InputError, match="surrogate"):
        escape_logql_string("bad\ud800")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"namespace": ""}, "namespace"),
        ({"namespace": "   "}, "namespace"),
        ({"namespace": "payments", "pod": " "}, "pod filter is empty"),
        ({"namespace": "payments", "container": ""}, "container filter is empty"),
        ({"namespace": "payments", "contains": "\t"}, "contains filter is empty"),
        ({"namespace": "payments", "excludes": ""}, "excludes filter is empty"),
        ({"namespace": "payments", "regex": "(unclosed"}, "not a valid regular expression"),
        ({"namespace": "payments", "level": "verbose"}, "unknown level"),
    ],
)
def test_unusable_input_is_refused_with_a_clear_message(fields: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        LogFilter.model_validate(fields)


def test_surrounding_spaces_in_text_filters_are_kept() -> None:
    f = LogFilter(namespace=" payments ", contains=" ERROR ")

    assert f.namespace == "payments"
    assert build_logql(f) == '{namespace="payments"} |= " ERROR "'


def _entry(line: str, **metadata: str) -> LogEntry:
    return LogEntry(ts_ns=1, labels={"namespace": "payments"}, line=line, structured_metadata=metadata)


def test_warning_and_warn_select_the_same_lines() -> None:
    assert LogFilter(namespace="payments", level="WARNING").level == "warn"
    parsed = parse_selector_and_filters(build_logql(LogFilter(namespace="payments", level="warn")))

    assert parsed.matches(_entry("disk almost full", detected_level="warn"))
    assert parsed.matches(_entry("disk almost full", detected_level="warning"))
    assert parsed.matches(_entry('{"level":"warning","msg":"disk almost full"}'))
    assert not parsed.matches(_entry("disk full", detected_level="error"))


def test_parsed_query_filters_like_loki() -> None:
    parsed = parse_selector_and_filters(
        '{namespace=~"pay.*", pod!="payments-db-0"} |~ `(?i)connection (refused|reset)` !~ "healthz"'
    )
    api = {"namespace": "payments", "pod": "payments-api-1"}

    assert parsed.matches(LogEntry(ts_ns=1, labels=api, line="dial tcp: Connection refused"))
    assert not parsed.matches(LogEntry(ts_ns=1, labels=api, line="GET /healthz: connection refused"))
    assert not parsed.matches(
        LogEntry(ts_ns=1, labels={**api, "pod": "payments-db-0"}, line="connection refused")
    )
    # Label regexes are anchored, line regexes are not.
    anchored = parse_selector_and_filters('{namespace=~"pay"}')
    assert not anchored.matches(LogEntry(ts_ns=1, labels=api, line="x"))


@pytest.mark.parametrize(
    "query",
    [
        'sum(rate({namespace="payments"}[5m]))',
        '{namespace="payments"} | json',
        '{namespace="payments"} |= "a" | line_format "{{.msg}}"',
        "{}",
        '{namespace="payments"',
        '{namespace="payments} |= "x"',
        '{namespace="pay\\qments"}',
        '{namespace="payments"} |= "x" or "y"',
    ],
)
def test_anything_else_is_refused_as_unsupported(query: str) -> None:
    with pytest.raises(UnsupportedQueryError, match="not supported by the demo source"):
        parse_selector_and_filters(query)


# --- case-insensitive text and prefix matching ----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(text=non_blank)
def test_a_regex_literal_matches_exactly_its_text(text: str) -> None:
    pattern = regex_literal(text)
    assert re.fullmatch(pattern, text, flags=re.DOTALL)
    # Only the characters Go's regexp.QuoteMeta escapes are escaped, each with one backslash.
    assert re.sub(r"\\([\\.+*?()|\[\]{}^$])", r"\1", pattern) == text


@settings(max_examples=300, deadline=None)
@given(text=non_blank, line=nasty_text)
def test_ignoring_case_the_query_selects_what_the_table_filter_shows(text: str, line: str) -> None:
    f = LogFilter(namespace="payments", contains=text, ignore_case=True)
    parsed = parse_selector_and_filters(build_logql(f))
    expected = re.search(re.escape(text), line, flags=re.IGNORECASE) is not None
    assert parsed.matches(_entry(line)) == expected
    excluded = parse_selector_and_filters(
        build_logql(LogFilter(namespace="payments", excludes=text, ignore_case=True))
    )
    assert excluded.matches(_entry(line)) == (not expected)


def test_case_is_ignored_only_when_asked() -> None:
    loud = LogFilter(namespace="payments", contains="Time.out (x2)", excludes="HEALTHZ", ignore_case=True)
    assert build_logql(loud) == ('{namespace="payments"} |~ "(?i)Time\\\\.out \\\\(x2\\\\)" !~ "(?i)HEALTHZ"')
    parsed = parse_selector_and_filters(build_logql(loud))
    assert parsed.matches(_entry("upstream time.out (X2) after 30s"))
    assert not parsed.matches(_entry("upstream timeXout (x2)"))  # the dot is a dot
    assert not parsed.matches(_entry("time.out (x2) on /healthz"))
    exact = LogFilter(namespace="payments", contains="Timeout")
    assert build_logql(exact) == '{namespace="payments"} |= "Timeout"'


@settings(max_examples=200, deadline=None)
@given(prefix=non_blank, rest=nasty_text, other=nasty_text)
def test_a_pod_prefix_selects_exactly_the_pods_that_start_with_it(prefix: str, rest: str, other: str) -> None:
    f = LogFilter(namespace="payments", pod=prefix, pod_prefix=True, container=prefix, container_prefix=True)
    parsed = parse_selector_and_filters(build_logql(f))
    kept = prefix.strip()
    labels = {"namespace": "payments", "pod": kept + rest, "container": kept}
    assert parsed.matches(LogEntry(ts_ns=1, labels=labels, line="x"))
    assert parsed.matches(LogEntry(ts_ns=1, labels={**labels, "pod": other}, line="x")) == other.startswith(
        kept
    )
