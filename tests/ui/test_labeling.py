"""How the Label page reads windows, and what it still needs before a label can be saved."""

from __future__ import annotations

from datetime import UTC, datetime

from app.golden.agreement import Disagreement
from app.golden.labels import LabelRecord
from app.golden.queue import LabelWindow, QueueItem, Suggestion, WindowHead
from app.golden.schema import GoldenLog
from app.ui import labeling

WINDOW = LabelWindow(
    example_id="run-1",
    source="labeled",
    namespace="shop",
    window_start="2026-03-01T12:00:00Z",
    window_end="2026-03-01T12:05:00.5Z",
    logs=[GoldenLog(ts="2026-03-01T12:00:01.000000001Z", line="x")],
)


def record(labeler: str, cause: str) -> LabelRecord:
    return LabelRecord(
        example_id="run-1",
        labeler=labeler,
        revision=1,
        root_cause=cause,
        evidence=[0],
        severity="critical",
        summary="",
        saved_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def test_a_queue_row_says_where_the_window_is_from_and_where_it_stands() -> None:
    item = QueueItem(window=WINDOW, reason="triage_run")
    assert labeling.queue_entry(item) == (
        "shop · 2026-03-01 12:00 → 12:05 UTC · from Triage · not labeled yet"
    )
    suggested = item.model_copy(
        update={
            "suggestion": Suggestion(
                model="m", prompt="p", root_cause="oom_killed", confidence=0.5, evidence=[0], summary=""
            )
        }
    )
    assert labeling.window_state(suggested) == "not labeled yet (the model said oom_killed)"


def test_states_of_disputed_and_once_labeled_windows_blind_or_not() -> None:
    disputed = QueueItem(window=WINDOW, reason="disputed")
    assert labeling.window_state(disputed) == "disputed: labelers disagree"
    shown = disputed.model_copy(update={"other_labels": [record("bob", "a"), record("carol", "b")]})
    assert labeling.window_state(shown) == "disputed (bob: a; carol: b)"
    once = QueueItem(window=WINDOW, reason="second_opinion")
    assert labeling.window_state(once) == "labeled once, needs a second opinion"


def test_dispute_rows_name_the_window_and_survive_an_unknown_one() -> None:
    heads = {
        "a": WindowHead(
            example_id="a",
            source="synthetic",
            namespace="shop",
            window_start="2026-03-01T12:00:00Z",
            window_end="2026-03-01T12:05:00Z",
        )
    }
    rows = labeling.dispute_rows(
        [Disagreement("a", {"bob": "x", "carol": "y"}), Disagreement("gone", {"bob": "x"})], heads
    )
    assert rows == [
        {
            "namespace": "shop",
            "window": "2026-03-01 12:00 → 12:05 UTC",
            "votes": "bob: x; carol: y",
            "id": "a",
        },
        {"namespace": "", "window": "", "votes": "bob: x", "id": "gone"},
    ]


def test_what_is_missing_before_a_save() -> None:
    inputs = labeling.LabelInputs
    assert labeling.missing_for_save(inputs([], None, None, "")) == ["pick a root cause", "pick a severity"]
    assert labeling.missing_for_save(inputs([], "oom_killed", "critical", "")) == [
        "select the lines that prove it"
    ]
    assert labeling.missing_for_save(inputs([], "healthy", "info", "")) == []
    assert labeling.missing_for_save(inputs([2], "oom_killed", "critical", "")) == []


def test_the_log_window_shows_many_lines_and_times_as_clock_times() -> None:
    assert labeling.table_height(4) == "auto"
    assert labeling.table_height(120) == labeling.ROW_PX * (labeling.VISIBLE_LINES + 1) + 3
    assert labeling.VISIBLE_LINES >= 25
    one_day = [GoldenLog(ts="2026-03-01T12:00:01Z", line="a"), GoldenLog(ts="2026-03-01T23:59:59Z", line="b")]
    assert labeling.time_format(one_day) == "HH:mm:ss.SSS"
    two_days = [*one_day, GoldenLog(ts="2026-03-02T00:00:01Z", line="c")]
    assert labeling.time_format(two_days) == "MM-DD HH:mm:ss.SSS"
