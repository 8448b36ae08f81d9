"""Golden-set statistics and the problems that make a set unfit for evals."""

from __future__ import annotations

from app.golden.jsonl import dataset_version
from app.golden.schema import GoldenExample
from app.golden.stats import golden_stats, validate_examples
from app.taxonomy import ROOT_CAUSES
from tests.golden import example_data


def small_set() -> list[GoldenExample]:
    return [
        GoldenExample.model_validate(example_data("a", difficulty="easy")),
        GoldenExample.model_validate(
            example_data("b", root_cause="healthy", lines=("ok",) * 5, evidence=(), difficulty="hard")
        ),
        GoldenExample.model_validate(
            {**example_data("c", lines=("x", "y"), evidence=(0, 1)), "source": "labeled"}
        ),
    ]


def test_stats_count_classes_sources_severities_and_window_sizes() -> None:
    examples = small_set()
    examples[1].label.severity = "info"

    stats = golden_stats(examples)

    assert stats.total == 3
    assert list(stats.per_class) == list(ROOT_CAUSES)
    assert stats.per_class["oom_killed"] == 2
    assert stats.per_class["healthy"] == 1
    assert stats.per_class["probe_failure"] == 0
    assert stats.per_source == {"labeled": 1, "synthetic": 2}
    assert stats.per_severity == {"critical": 2, "info": 1}
    assert stats.per_difficulty == {"easy": 1, "hard": 1, "unspecified": 1}
    assert (stats.min_lines, stats.max_lines) == (2, 5)
    assert stats.mean_lines == (3 + 5 + 2) / 3
    assert stats.mean_evidence == (1 + 0 + 2) / 3
    assert stats.invalid_evidence == 0
    assert stats.dataset_version == dataset_version(examples)


def test_stats_leave_difficulty_out_when_no_example_has_one() -> None:
    stats = golden_stats([GoldenExample.model_validate(example_data("a"))])

    assert stats.per_difficulty == {}


def test_stats_of_an_empty_set_are_zeros_not_errors() -> None:
    stats = golden_stats([])

    assert (stats.total, stats.mean_lines, stats.min_lines, stats.mean_evidence) == (0, 0.0, 0, 0.0)
    assert validate_examples([]) == ["the golden set is empty"]


def test_evidence_edited_after_loading_is_counted_and_reported() -> None:
    examples = small_set()
    # A labeling screen edits the label in place; nothing re-validates it.
    examples[0].label.evidence = [1, 9]
    examples[2].label.evidence = [0, 0]

    assert golden_stats(examples).invalid_evidence == 2
    problems = validate_examples(examples, min_per_class=0)
    assert "a: label.evidence cites line index 9, but the window has 3 lines (0..2)" in problems
    assert "c: label.evidence lists [0] more than once" in problems


def test_classes_below_the_minimum_are_each_named() -> None:
    problems = validate_examples(small_set(), min_per_class=2)

    assert "class oom_killed: 2 examples, below the minimum of 2" not in problems
    assert "class healthy: 1 examples, below the minimum of 2" in problems
    assert "class probe_failure: 0 examples, below the minimum of 2" in problems
    assert sum(problem.startswith("class ") for problem in problems) == len(ROOT_CAUSES) - 1


def test_a_clean_set_has_no_problems_when_every_class_has_enough() -> None:
    examples = [
        GoldenExample.model_validate(
            example_data(f"{cause}-{n}", root_cause=cause, evidence=() if cause == "healthy" else (1,))
        )
        for cause in ROOT_CAUSES
        for n in range(2)
    ]

    assert validate_examples(examples, min_per_class=2) == []
    assert validate_examples(examples) == [
        f"class {cause}: 2 examples, below the minimum of 25" for cause in ROOT_CAUSES
    ]


def test_empty_windows_missing_evidence_and_stray_timestamps_are_reported() -> None:
    empty = GoldenExample.model_validate(example_data("empty"))
    empty.logs = []
    uncited = GoldenExample.model_validate(example_data("uncited", evidence=()))
    stray_data = example_data("stray")
    stray_data["logs"][2]["ts"] = "2026-03-01T12:06:00Z"
    stray = GoldenExample.model_validate(stray_data)

    problems = validate_examples([stray, uncited, empty], min_per_class=0)

    assert problems == [
        "empty: the window has no log lines",
        "stray: 1 log line(s) outside the window 2026-03-01T12:00:00Z .. 2026-03-01T12:05:00Z, "
        "first logs[2].ts 2026-03-01T12:06:00Z",
        "uncited: root cause oom_killed cites no evidence line",
    ]


def test_stats_count_scenarios_per_class_and_uses() -> None:
    examples = [
        GoldenExample.model_validate(example_data("a", scenario="oom.leak.go")),
        GoldenExample.model_validate(example_data("b", scenario="oom.leak.go")),
        GoldenExample.model_validate(example_data("c", scenario="oom.batch.jvm")),
        GoldenExample.model_validate(
            example_data("d", root_cause="healthy", evidence=(), scenario="healthy.steady.go")
        ),
        # No scenario field: a scenario of its own, so intervals never treat it as another's sibling.
        GoldenExample.model_validate(example_data("e")),
    ]

    stats = golden_stats(examples)

    assert stats.scenarios == 4
    assert stats.scenarios_per_class["oom_killed"] == 3
    assert stats.scenarios_per_class["healthy"] == 1
    assert stats.scenarios_per_class["probe_failure"] == 0
    assert stats.max_scenario_uses == 2
    assert stats.without_scenario == 1


def test_line_quantiles_are_window_sizes_that_occur() -> None:
    examples = [
        GoldenExample.model_validate(
            example_data(f"x{n}", lines=tuple(f"line {i}" for i in range(n)), evidence=(0,))
        )
        for n in range(1, 11)
    ]

    quantiles = golden_stats(examples).line_quantiles

    assert quantiles == {"p10": 1, "p25": 3, "p50": 5, "p75": 8, "p90": 9, "p99": 10}
