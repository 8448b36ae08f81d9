"""Comparing runs: claims that name their metric, Holm across runs, repeats, scenarios, and the regression gate."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from app.cli.evals import eval_cli
from app.errors import InputError
from app.evals import compare
from app.evals.compare import RunItems
from app.evals.metrics import ItemResult
from app.evals.runner import BASELINE_MODEL_NAME
from app.evals.scoring import example_scenario
from app.taxonomy import ROOT_CAUSES
from tests.evals.conftest import rca_json, small_golden_set
from tests.evals.runs import paired_runs, result
from tests.fixtures.llama import FakeOpenAIServer


def run(
    run_id: str,
    items: list[ItemResult],
    *,
    golden_version: str = "",
    slice: Mapping[str, object] | None = None,
) -> RunItems:
    return RunItems(
        run_id=run_id,
        label=f"model-{run_id}",
        items=items,
        golden_version=golden_version,
        slice=dict(slice or {}),
    )


# --- claims -------------------------------------------------------------------------------------------------


def test_compare_two_runs_over_the_same_items() -> None:
    a_items, b_items = paired_runs(random.Random(8), 300, 0.45, 0.75)
    comparison = compare.compare_runs([run("a", a_items), run("b", b_items)])
    assert comparison.shared_items == 300
    assert comparison.shared_scenarios == 300  # no scenarios recorded: each example stands alone
    assert comparison.all_items_shared
    assert comparison.note is None
    assert comparison.multiple_comparisons is None
    assert [c.letter for c in comparison.runs] == ["A", "B"]
    (pair,) = comparison.pairs
    assert (pair.a, pair.b, pair.a_run_id, pair.b_run_id) == ("A", "B", "a", "b")
    assert pair.direction == "better"
    accuracy, macro = pair.claims
    assert (accuracy.metric, accuracy.test, accuracy.direction) == (
        "accuracy",
        "McNemar chi-square test",
        "better",
    )
    assert accuracy.p_value == pair.mcnemar.p_value < 0.001
    assert (macro.metric, macro.test, macro.direction) == ("macro_f1", "paired permutation test", "better")
    assert macro.p_value == pair.permutation.p_value < 0.001
    assert accuracy.text.startswith("B is better than A on accuracy by ")
    assert macro.text.startswith("B is better than A on macro-F1 by ")
    assert "McNemar" in accuracy.text
    assert "permutation" not in accuracy.text
    assert "permutation" in macro.text
    assert "McNemar" not in macro.text
    assert comparison.runs[1].metrics.accuracy == pytest.approx(
        np.mean([i.outcome == "correct" for i in b_items])
    )


def test_each_claim_carries_its_own_metrics_delta_and_test() -> None:
    """Accuracy can differ significantly while macro-F1 does not: each claim says so for its own metric."""
    classes = ["oom_killed", "healthy", "probe_failure", "dns_resolution_failure"]
    a_items, b_items = [], []
    for i in range(240):
        expected = classes[i % 4]
        a_items.append(result(i, expected, expected if i % 3 else "healthy"))
        # B is right more often on the big picture but never answers probe_failure.
        b_pred = expected if expected != "probe_failure" else "healthy"
        b_items.append(result(i, expected, b_pred if i % 7 else "oom_killed"))
    comparison = compare.compare_runs([run("a", a_items), run("b", b_items)])
    (pair,) = comparison.pairs
    accuracy, macro = pair.claims
    assert accuracy.delta == pair.accuracy_delta
    assert macro.delta == pair.macro_f1_delta
    assert accuracy.delta.value != pytest.approx(macro.delta.value)
    assert f"{abs(accuracy.delta.value) * 100:.1f} points" in accuracy.text
    assert f"{abs(macro.delta.value) * 100:.1f} points" in macro.text
    assert compare.format_p(accuracy.p_value) in accuracy.text
    assert compare.format_p(macro.p_value) in macro.text


def test_a_regression_reads_as_worse() -> None:
    a_items, b_items = paired_runs(random.Random(9), 300, 0.8, 0.4)
    (pair,) = compare.compare_runs([run("a", a_items), run("b", b_items)]).pairs
    assert pair.direction == "worse"
    assert [claim.direction for claim in pair.claims] == ["worse", "worse"]
    assert pair.claims[1].text.startswith("B is worse than A on macro-F1 by ")


def test_without_significance_it_says_no_difference_and_gives_the_delta() -> None:
    a_items, b_items = paired_runs(random.Random(10), 60, 0.6, 0.6)
    (pair,) = compare.compare_runs([run("a", a_items), run("b", b_items)]).pairs
    assert pair.direction == "no difference"
    for claim in pair.claims:
        assert not claim.significant
        assert claim.text.startswith(
            f"no significant difference between B and A on {compare.METRIC_LABELS[claim.metric]}"
        )
        assert f"{claim.delta.value * 100:+.1f} points" in claim.text


def test_mixed_results_are_mixed() -> None:
    claim = compare.make_claim
    estimate = compare.Estimate
    better = claim("A", "B", "accuracy", estimate(value=0.1, low=0.05, high=0.15), "McNemar", 0.001, 0.001)
    worse = claim("A", "B", "macro_f1", estimate(value=-0.1, low=-0.15, high=-0.05), "perm", 0.001, 0.001)
    assert compare.pair_direction([better, worse]) == "mixed"
    assert compare.pair_direction([better]) == "better"


def test_many_runs_are_holm_adjusted_and_say_so() -> None:
    rng = random.Random(3)
    base, _ = paired_runs(rng, 200, 0.6, 0.6)
    others = []
    for rate in (0.62, 0.7, 0.8):
        items = [
            item.model_copy(
                update={
                    "predicted": item.expected
                    if rng.random() < rate
                    else rng.choice([c for c in ROOT_CAUSES if c != item.expected])
                }
            )
            for item in base
        ]
        others.append(
            [
                i.model_copy(update={"outcome": "correct" if i.predicted == i.expected else "wrong"})
                for i in items
            ]
        )
    comparison = compare.compare_runs([run("a", base), *(run(f"r{i}", o) for i, o in enumerate(others))])
    assert [(p.a, p.b) for p in comparison.pairs] == [("A", "B"), ("A", "C"), ("A", "D")]
    assert comparison.multiple_comparisons is not None
    assert "Holm" in comparison.multiple_comparisons
    assert "3 comparisons" in comparison.multiple_comparisons
    for metric in compare.METRICS:
        raw = [pair.claim(metric).p_value for pair in comparison.pairs]
        _, expected, _, _ = multipletests(raw, method="holm")
        assert [pair.claim(metric).p_adjusted for pair in comparison.pairs] == pytest.approx(list(expected))
        for pair in comparison.pairs:
            claim = pair.claim(metric)
            assert "Holm-adjusted over 3 comparisons" in claim.text
            assert claim.significant == (claim.p_adjusted < 0.05)


# --- shared items, scenarios and repeats ------------------------------------------------------------------


def test_runs_over_different_items_are_compared_on_the_shared_ones_and_say_so() -> None:
    a_items = [result(i, "oom_killed", "oom_killed") for i in range(10)]
    # B ran a newer golden set: example 0 changed its logs, 10 and 11 are new, 9 is gone.
    b_items = [result(0, "oom_killed", "healthy", content_hash="changed")]
    b_items += [result(i, "oom_killed", "healthy") for i in range(1, 9)]
    b_items += [result(i, "oom_killed", "oom_killed") for i in (10, 11)]
    comparison = compare.compare_runs(
        [run("a", a_items, golden_version="v1"), run("b", b_items, golden_version="v2", slice={"limit": 12})]
    )
    assert comparison.shared_items == 8
    assert not comparison.all_items_shared
    assert comparison.note is not None
    assert "only on the 8 items" in comparison.note
    assert "golden v1" in comparison.note
    assert "golden v2" in comparison.note
    assert "limit=12" in comparison.note
    assert comparison.runs[0].metrics.items == comparison.runs[1].metrics.items == 8
    assert comparison.pairs[0].mcnemar.a_only == 8


def test_scenarios_are_counted_and_taken_from_whichever_run_recorded_them() -> None:
    # A was stored before scenarios were recorded (a v1-era run); B knows them: 24 items, 8 scenarios,
    # and B is right on whole scenarios at a time.
    a_items = [result(i, "oom_killed", "oom_killed") for i in range(24)]
    b_items = [
        result(i, "oom_killed", "oom_killed" if (i // 3) % 2 else "healthy", scenario=f"s{i // 3}")
        for i in range(24)
    ]
    comparison = compare.compare_runs([run("a", a_items), run("b", b_items)])
    assert comparison.shared_scenarios == 8
    clusters = [f"scenario:s{i // 3}" for i in range(24)]
    assert (
        compare.shared_clusters([run("a", a_items), run("b", b_items)], [i.key for i in a_items]) == clusters
    )
    assert compare.shared_clusters([run("a", a_items)], [i.key for i in a_items])[0] == "example:ex-000"
    # The intervals are the scenario bootstrap's: 8 independent draws, wider than 24 would give.
    by_scenario, _ = compare.bootstrap_intervals(b_items, clusters)
    by_item, _ = compare.bootstrap_intervals(b_items, [i.example_id for i in b_items])
    assert comparison.runs[1].accuracy == by_scenario
    assert by_scenario.high - by_scenario.low > 1.4 * (by_item.high - by_item.low)
    without = compare.compare_runs(
        [run("a", a_items), run("b", [i.model_copy(update={"scenario": None}) for i in b_items])]
    )
    assert (without.shared_scenarios, without.runs[1].accuracy) == (24, by_item)


def test_repeats_are_reduced_to_the_majority_answer_with_ties_to_the_earliest_repeat() -> None:
    # ex-000: 2 of 3 repeats right -> right. ex-001: 1 of 3 right -> wrong. ex-002: a 1-1 tie, the earliest
    # repeat (0) said healthy -> healthy. ex-003: always right.
    b_items = [
        result(0, "oom_killed", "oom_killed", repeat=0, total_ms=100),
        result(0, "oom_killed", "healthy", repeat=1, total_ms=200),
        result(0, "oom_killed", "oom_killed", repeat=2, total_ms=300),
        result(1, "oom_killed", "healthy", repeat=0, total_ms=400),
        result(1, "oom_killed", "oom_killed", repeat=1, total_ms=500),
        result(1, "oom_killed", "probe_failure", repeat=2, total_ms=600),
        result(2, "healthy", "oom_killed", repeat=1, total_ms=700),
        result(2, "healthy", "healthy", repeat=0, total_ms=800),
        result(3, "healthy", "healthy", repeat=0, total_ms=900),
        result(3, "healthy", "healthy", repeat=1, total_ms=1000),
        result(3, "healthy", "healthy", repeat=2, total_ms=1100),
    ]
    a_items = [result(i, e, e) for i, e in enumerate(["oom_killed", "oom_killed", "healthy", "healthy"])]
    comparison = compare.compare_runs([run("a", a_items), run("b", b_items)])
    a_col, b_col = comparison.runs
    assert (b_col.metrics.items, b_col.results) == (4, 11)
    assert b_col.metrics.accuracy == pytest.approx(3 / 4)
    assert b_col.metrics.latency.timed_items == 11  # what it cost: every repeat
    assert b_col.repeats is not None
    assert (b_col.repeats.repeats, b_col.repeats.examples) == (3, 4)
    assert b_col.repeats.mean_agreement == pytest.approx((2 / 3 + 1 / 3 + 1 / 2 + 1) / 4)
    assert b_col.repeats.flip_rate == pytest.approx(3 / 4)
    assert b_col.repeats.flipped == ["ex-000", "ex-001", "ex-002"]
    assert a_col.repeats is None
    assert comparison.repeats_note is not None
    assert "majority answer" in comparison.repeats_note
    assert "earliest repeat" in comparison.repeats_note
    rows = {row.example_id: row for row in compare.example_outcomes(run("a", a_items), run("b", b_items))}
    assert (rows["ex-000"].b_predicted, rows["ex-000"].b_agreement) == ("oom_killed", "2/3")
    assert (rows["ex-001"].b_predicted, rows["ex-001"].category) == ("healthy", "A right, B wrong")
    assert (rows["ex-002"].b_predicted, rows["ex-002"].b_agreement) == ("healthy", "1/2")
    assert rows["ex-003"].a_agreement == ""  # A has no repeats
    assert comparison.pairs[0].mcnemar.a_only == 1


def test_three_runs_are_each_tested_against_the_first() -> None:
    rng = random.Random(3)
    a_items, b_items = paired_runs(rng, 100, 0.5, 0.5)
    _, c_items = paired_runs(rng, 100, 0.5, 0.9)
    c_items = [
        i.model_copy(
            update={"expected": a.expected, "outcome": "correct" if i.predicted == a.expected else "wrong"}
        )
        for i, a in zip(c_items, a_items, strict=True)
    ]
    comparison = compare.compare_runs([run("a", a_items), run("b", b_items), run("c", c_items)])
    assert [(p.a, p.b) for p in comparison.pairs] == [("A", "B"), ("A", "C")]


def test_runs_without_shared_items_or_alone_are_refused() -> None:
    with pytest.raises(InputError, match="share no items"):
        compare.compare_runs(
            [run("a", [result(1, "healthy", "healthy")]), run("b", [result(2, "healthy", "healthy")])]
        )
    with pytest.raises(InputError, match="at least two"):
        compare.compare_runs([run("a", [result(1, "healthy", "healthy")])])


def test_example_outcomes_sort_examples_into_the_four_cases() -> None:
    a = run(
        "a",
        [
            result(1, "oom_killed", "oom_killed"),
            result(2, "oom_killed", "healthy"),
            result(3, "healthy", None),
            result(4, "healthy", "healthy"),
        ],
    )
    b = run(
        "b",
        [
            result(1, "oom_killed", "healthy", scenario="s1"),
            result(2, "oom_killed", "oom_killed"),
            result(3, "healthy", "oom_killed"),
            result(4, "healthy", "healthy"),
        ],
    )
    rows = compare.example_outcomes(a, b)
    assert [row.category for row in rows] == [
        "A right, B wrong",
        "A wrong, B right",
        "both wrong",
        "both right",
    ]
    assert rows[0].scenario == "s1"
    assert rows[1].scenario is None
    assert rows[2].a_predicted == "invalid"
    assert rows[2].b_predicted == "oom_killed"


def test_letters() -> None:
    assert compare.letters(3) == ["A", "B", "C"]
    assert compare.letters(28)[26:] == ["A2", "B2"]


# --- the gate -------------------------------------------------------------------------------------------------


def gate_for(
    a_rate: float, b_rate: float, *, metric: compare.Metric = "macro_f1", margin_points: float = 0.0
) -> compare.GateResult:
    a_items, b_items = paired_runs(random.Random(31), 300, a_rate, b_rate)
    comparison = compare.compare_runs([run("a" * 36, a_items), run("b" * 36, b_items)])
    return compare.regression_gate(comparison, metric=metric, margin_points=margin_points)


def test_the_gate_fails_on_a_significant_drop_beyond_the_margin() -> None:
    gate = gate_for(0.8, 0.4, metric="macro_f1", margin_points=2.0)
    assert gate.failed
    assert gate.regressions == ["b" * 36]
    assert gate.message.startswith("regression on macro-F1: B (run bbbbbbbb) is worse than A on macro-F1 by ")
    assert "beyond the 2-point margin" in gate.message
    assert "(paired permutation test, p < 0.001, significant at 0.05)" in gate.message
    assert "\n" not in gate.message


def test_the_gate_passes_within_the_margin_when_equal_and_when_better() -> None:
    within = gate_for(0.8, 0.4, metric="accuracy", margin_points=60.0)
    assert not within.failed
    assert "within the 60-point margin" in within.message
    equal = gate_for(0.6, 0.6, metric="accuracy")
    assert not equal.failed
    assert "not significant" in equal.message
    better = gate_for(0.4, 0.8, metric="macro_f1")
    assert not better.failed
    assert "is better by" in better.message
    with pytest.raises(InputError, match="margin"):
        gate_for(0.6, 0.6, margin_points=-1.0)


# --- the compare command --------------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    outcome = CliRunner().invoke(eval_cli, list(args))
    return outcome.exit_code, outcome.stdout, outcome.stderr


@pytest.fixture
def two_runs(
    fake_openai_server: FakeOpenAIServer, use_models_file: Callable[..., Path], golden_dir: Path
) -> tuple[str, str, str]:
    """Run ids: the baseline (right on the small set), again, and a model that always says oom_killed."""
    fake_openai_server.script.tokens = [rca_json("oom_killed", [2])]
    use_models_file(fake_openai_server.base_url)
    ids = []
    for args in (
        ["--model", BASELINE_MODEL_NAME],
        ["--model", BASELINE_MODEL_NAME, "--no-cache"],
        ["--model", "fake-q4", "--prompt", "rca-zero-shot"],
    ):
        code, stdout, _ = cli("run", *args, "--json")
        assert code == 0, stdout
        ids.append(json.loads(stdout)["run"]["id"])
    return ids[0], ids[1], ids[2]


def test_compare_fails_on_regression_with_exit_1_and_one_line(two_runs: tuple[str, str, str]) -> None:
    baseline, _, worse = two_runs
    code, stdout, stderr = cli("compare", baseline, worse, "--fail-on-regression")
    assert code == 1
    (line,) = [line for line in stderr.splitlines() if line.strip()]
    assert line.startswith(f"regression on macro-F1: B (run {worse[:8]}) is worse than A on macro-F1 by ")
    assert "B is worse than A on accuracy" in stdout  # the tables still print
    scenarios = len({example_scenario(example) or example.id for example in small_golden_set()})
    assert f"26 shared items from {scenarios} scenarios" in stdout
    code, _, stderr = cli("compare", baseline, worse, "--fail-on-regression", "--metric", "accuracy")
    assert code == 1
    assert stderr.startswith("regression on accuracy: ")
    code, stdout, stderr = cli("compare", baseline, worse, "--fail-on-regression", "--json")
    assert code == 1
    data = json.loads(stdout)
    assert data["gate"]["failed"] is True
    assert data["gate"]["regressions"] == [worse]
    assert data["pairs"][0]["claims"][1]["metric"] == "macro_f1"


def test_compare_passes_when_equal_better_or_within_the_margin(two_runs: tuple[str, str, str]) -> None:
    baseline, again, worse = two_runs
    code, _, stderr = cli("compare", baseline, again, "--fail-on-regression")
    assert code == 0
    assert stderr.startswith("no regression on macro-F1: ")
    code, _, stderr = cli("compare", worse, baseline, "--fail-on-regression")
    assert (code, "is better by" in stderr) == (0, True)
    code, _, stderr = cli("compare", baseline, worse, "--fail-on-regression", "--margin", "99")
    assert (code, "within the 99-point margin" in stderr) == (0, True)
    # Without the flag a regression is reported, not enforced.
    code, stdout, stderr = cli("compare", baseline, worse)
    assert (code, stderr) == (0, "")
    assert "B is worse than A on macro-F1" in stdout


def test_compare_refuses_a_bad_metric_or_margin(two_runs: tuple[str, str, str]) -> None:
    baseline, _, worse = two_runs
    code, _, stderr = cli("compare", baseline, worse, "--fail-on-regression", "--metric", "f2")
    assert code == 2
    assert "f2" in stderr
    code, _, stderr = cli("compare", baseline, worse, "--fail-on-regression", "--margin", "-1")
    assert code == 2
