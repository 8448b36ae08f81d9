"""The log table: evidence marks, cut lines and the case-insensitive filter."""

from __future__ import annotations

import pandas as pd

from app.logs.models import LogEntry
from app.triage_models import EvidenceLine
from app.ui.components.log_table import evidence_column, evidence_keys, filter_frame, shorten_lines
from tests.ui.components.sample import frame


def test_evidence_marks_exactly_the_cited_lines() -> None:
    lines = frame()
    cited = {(int(lines.at[0, "ts_ns"]), lines.at[0, "line"]): 3}
    marks = evidence_column(lines, cited)
    assert marks.tolist()[0] == 3
    assert marks.isna().tolist() == [False, True, True, True]
    only = filter_frame(lines.assign(evidence=marks), "", [], evidence_only=True)
    assert only["line"].tolist() == ["ERROR dial tcp: connection refused"]


def test_filter_is_case_insensitive_literal_text_and_levels() -> None:
    lines = frame()
    assert filter_frame(lines, "LISTENING", [], False)["line"].tolist() == ["INFO listening"] * 2
    assert filter_frame(lines, "(", [], False).empty  # not a regex
    assert filter_frame(lines, "", ["warn", "error"], False)["level"].tolist() == ["error", "warn"]


def test_shorten_lines_cuts_long_lines_only() -> None:
    lines = pd.Series(["short", "x" * 300])
    out = shorten_lines(lines, 240)
    assert out[0] == "short"
    assert len(out[1]) == 240
    assert out[1].endswith("…")


def test_evidence_keys_follow_the_cited_entries_and_skip_what_is_not_there() -> None:
    entries = [
        LogEntry(ts_ns=1, labels={}, line="a"),
        LogEntry(ts_ns=2, labels={}, line="b"),
        LogEntry(ts_ns=2, labels={}, line="c"),
    ]
    cited = [
        EvidenceLine(number=4, text="b (x2)", entry_indices=[1, 2]),
        EvidenceLine(number=7, text="gone", entry_indices=[9]),
    ]
    assert evidence_keys(cited, entries) == {(2, "b"): 4, (2, "c"): 4}
