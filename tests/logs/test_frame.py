from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.logs.demo import generate_demo_entries
from app.logs.frame import FRAME_COLUMNS, entries_to_frame, parse_streams_to_frame
from app.logs.loki import parse_query_response
from app.logs.models import LogEntry, detect_level, level_from_text
from tests.fixtures.fake_loki import query_response_body

NOW = datetime(2025, 6, 12, 10, 32, 30, tzinfo=UTC)


def test_one_row_per_entry_with_typed_columns() -> None:
    entries = [
        LogEntry(
            ts_ns=1_749_724_321_123_456_789,
            labels={"namespace": "payments", "pod": "api-1", "container": "api"},
            line='{"level":"error","msg":"db down"}',
        ),
        LogEntry(ts_ns=1_749_724_322_000_000_001, labels={"namespace": "payments"}, line="plain"),
    ]

    frame = entries_to_frame(entries)

    assert list(frame.columns) == list(FRAME_COLUMNS)
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["ts_ns"].dtype) == "int64"
    # Nanoseconds survive: Loki's timestamps order lines that share a microsecond.
    assert frame["time"][0] == pd.Timestamp(1_749_724_321_123_456_789, unit="ns", tz="UTC")
    assert frame[["namespace", "pod", "container", "level", "line"]].values.tolist() == [
        ["payments", "api-1", "api", "error", '{"level":"error","msg":"db down"}'],
        ["payments", "", "", "unknown", "plain"],
    ]


@pytest.mark.parametrize("categorize", [True, False])
def test_the_fast_path_gives_the_same_rows_as_the_models(categorize: bool) -> None:
    # Realistic lines in every format, some with structured metadata, spread over many streams.
    entries = generate_demo_entries(7, NOW)[::4]
    payload = query_response_body(list(reversed(entries)), categorize=categorize)

    fast = parse_streams_to_frame(payload)
    models = sorted(parse_query_response(payload), key=lambda e: e.ts_ns)

    pd.testing.assert_frame_equal(fast, entries_to_frame(models))
    assert fast["level"].tolist() == [e.level for e in models]
    assert fast["ts_ns"].is_monotonic_increasing
    assert set(fast["level"]) >= {"error", "warn", "info", "unknown"}


def test_a_level_in_structured_metadata_beats_the_text() -> None:
    payload = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "encodingFlags": ["categorize-labels"],
            "result": [
                {
                    "stream": {"namespace": "auth", "pod": "kc-0", "container": "keycloak"},
                    "values": [
                        [
                            "1700000000000000002",
                            "INFO all good",
                            {"structuredMetadata": {"detected_level": "error"}},
                        ],
                        ["1700000000000000001", "INFO all good", {}],
                    ],
                }
            ],
        },
    }

    assert parse_streams_to_frame(payload)["level"].tolist() == ["info", "error"]


def test_no_lines_give_an_empty_frame_with_the_same_columns() -> None:
    payload = {"status": "success", "data": {"resultType": "streams", "result": []}}

    fast, empty = parse_streams_to_frame(payload), entries_to_frame([])

    assert list(fast.columns) == list(empty.columns) == list(FRAME_COLUMNS)
    assert len(fast) == len(empty) == 0
    assert str(fast["time"].dtype) == str(empty["time"].dtype) == "datetime64[ns, UTC]"


LEVEL_WORDS = [
    "ERROR",
    "err",
    "Warning",
    "back-off",
    "level=info",
    "FATAL",
    "Traceback",
    "notice",
    "crit",
    "alert",
]
LOOKALIKES = ["ſevere", "ſ", "K", "ı", "İ", "É"]  # case-fold onto ASCII letters under re.IGNORECASE


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                LEVEL_WORDS + LOOKALIKES + ["E0612 ", "W0101 ", "I1231 ", " ", "=", "_", "-", "\n"]
            ),
            st.text(max_size=8),
        ),
        max_size=12,
    ).map("".join)
)
def test_the_fast_level_is_exactly_the_pattern_level(line: str) -> None:
    assert detect_level(line) == level_from_text(line)


def test_the_fast_level_respects_level_labels() -> None:
    assert detect_level("INFO all good", {"detected_level": "warning"}) == "warn"
    assert detect_level("INFO all good", {"level": "notice"}) == "info"
    assert detect_level("plain text", {"severity": "unknown"}) == "unknown"
