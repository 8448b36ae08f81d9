"""The Evals and Compare tables: human durations, '—' for undefined ratios, repeats, evidence in view."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from app.evals.compare import RunItems, compare_runs, example_outcomes
from app.evals.metrics import ItemResult
from app.ui import eval_frames as frames
from tests.evals.conftest import small_golden_set


def answer(
    n: int,
    expected: str,
    predicted: str,
    *,
    repeat: int = 0,
    parsed: dict[str, object] | None = None,
    cited_evidence: Sequence[int] = (),
    total_ms: float | None = None,
) -> ItemResult:
    return ItemResult(
        example_id=f"ex-{n}",
        content_hash=f"h{n}",
        expected=expected,
        predicted=predicted,
        outcome="correct" if predicted == expected else "wrong",
        repeat=repeat,
        parsed=parsed,
        cited_evidence=list(cited_evidence),
        total_ms=total_ms,
    )


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        (0.354, "0.35 ms"),
        (3.25, "3.2 ms"),
        (850.4, "850 ms"),
        (1234.56, "1.2 s"),
        (6200, "6.2 s"),
    ],
)
def test_durations_read_in_human_units(ms: float | None, text: str) -> None:
    assert frames.format_latency(ms) == text


def test_decoding_speed_is_a_dash_without_one() -> None:
    assert frames.format_rate(None) == "— tokens/s"
    assert frames.format_rate(0.0) == "— tokens/s"
    assert frames.format_rate(18.94) == "18.9 tokens/s"


def test_the_model_numbers_are_what_it_wrote() -> None:
    item = answer(
        0, "oom_killed", "oom_killed", parsed={"evidence": [43, 44, 45]}, cited_evidence=[42, 43, 44]
    )
    assert frames.model_numbers(item) == [43, 44, 45]
    odd = answer(0, "oom_killed", "oom_killed", parsed={"evidence": [True, "7", 3]})
    assert frames.model_numbers(odd) == [3]
    assert frames.model_numbers(answer(0, "oom_killed", "oom_killed")) == []


def test_focus_keeps_the_lines_around_the_evidence() -> None:
    assert frames.focus_rows(100, {50}, context=2) == [48, 49, 50, 51, 52]
    assert frames.focus_rows(10, {0, 9}, context=1) == [0, 1, 8, 9]
    assert frames.focus_rows(4, set()) == [0, 1, 2, 3]


def test_the_log_view_marks_labeled_and_cited_lines_per_run() -> None:
    example = next(e for e in small_golden_set() if e.id == "oom_killed-0")  # evidence [1, 2] of 4 lines
    a = answer(0, "oom_killed", "oom_killed", cited_evidence=[1])
    b = answer(0, "oom_killed", "healthy", cited_evidence=[3])
    frame = frames.logs_frame(example, [("A", a), ("B", b)], focus=False)
    assert list(frame.columns) == ["#", "labeled", "cited by A", "cited by B", "time", "pod", "line"]
    assert list(frame["labeled"]) == [False, True, True, False]
    assert list(frame["cited by A"]) == ["", "★", "", ""]
    assert list(frame["cited by B"]) == ["", "", "", "★"]
    styles = frames.highlight_cited(frame)
    assert styles.loc[1, "line"] == styles.loc[3, "line"] == "background-color: #fef3c7"  # cited
    assert styles.loc[2, "line"] == "background-color: #dcfce7"  # labeled only
    assert styles.loc[0, "line"] == ""


def test_repeats_show_in_the_headline_and_the_examples() -> None:
    a = [answer(i, "healthy", "healthy") for i in range(3)]
    b = [
        answer(i, "healthy", p, repeat=r)
        for i in range(3)
        for r, p in enumerate(["healthy", "oom_killed", "healthy"])
    ]
    result = compare_runs(
        [RunItems(run_id="a" * 8, label="A", items=a), RunItems(run_id="b" * 8, label="B", items=b)]
    )
    headline = frames.headline_frame(result)
    assert headline.loc["results (repeats included)"].tolist() == ["3", "9"]
    assert headline.loc["agreement across repeats %"].tolist() == ["no repeats", "66.7"]
    assert headline.loc["answers that flip %"].tolist() == ["no repeats", "100.0"]
    assert headline.loc["scenarios"].tolist() == ["3", "3"]
    outcomes = frames.outcomes_frame(example_outcomes(result_run(a, "a"), result_run(b, "b")))
    assert "a_agreement" not in outcomes.columns  # A has no repeats
    assert outcomes["b_agreement"].tolist() == ["2/3"] * 3


def result_run(items: list[ItemResult], run_id: str) -> RunItems:
    return RunItems(run_id=run_id, label=run_id, items=items)


def test_items_show_the_repeat_column_only_with_repeats() -> None:
    assert "repeat" not in frames.items_frame([answer(0, "healthy", "healthy", total_ms=1500)]).columns
    repeated = frames.items_frame(
        [answer(0, "healthy", "healthy", repeat=r, total_ms=1500) for r in range(2)]
    )
    assert repeated["repeat"].tolist() == [0, 1]
    assert repeated["time"].tolist() == ["1.5 s", "1.5 s"]
    assert isinstance(repeated, pd.DataFrame)
