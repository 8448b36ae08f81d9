"""Comparing runs: bootstrap intervals, McNemar against statsmodels, verdicts and shared items."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from app.errors import InputError
from app.evals import compare
from app.evals.compare import Estimate, McNemarResult, RunItems
from app.evals.metrics import ItemResult, macro_f1
from app.taxonomy import ROOT_CAUSES


def result(n: int, expected: str, predicted: str | None, *, content_hash: str | None = None) -> ItemResult:
    outcome = "invalid_output" if predicted is None else ("correct" if predicted == expected else "wrong")
    return ItemResult(
        example_id=f"ex-{n:03d}",
        content_hash=content_hash or f"h{n}",
        expected=expected,
        predicted=predicted,
        outcome=outcome,
    )


def run(run_id: str, items: list[ItemResult], **extra: object) -> RunItems:
    return RunItems(run_id=run_id, label=f"model-{run_id}", items=items, **extra)  # type: ignore[arg-type]


def paired_runs(
    rng: random.Random, n: int, a_rate: float, b_rate: float
) -> tuple[list[ItemResult], list[ItemResult]]:
    """Two runs over the same n items, right with the given rates (wrong answers random)."""
    a_items, b_items = [], []
    for i in range(n):
        expected = rng.choice(ROOT_CAUSES)
        for rate, items in ((a_rate, a_items), (b_rate, b_items)):
            predicted = (
                expected if rng.random() < rate else rng.choice([c for c in ROOT_CAUSES if c != expected])
            )
            items.append(result(i, expected, predicted))
    return a_items, b_items


# --- McNemar ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_mcnemar_agrees_with_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    a_only, b_only = rng.randint(0, 40), rng.randint(0, 40)
    if a_only + b_only == 0:
        a_only = 1
    table = [[rng.randint(0, 50), a_only], [b_only, rng.randint(0, 50)]]
    ours = compare.mcnemar_from_counts(a_only, b_only)
    exact = a_only + b_only < compare.EXACT_BELOW
    theirs = sm_mcnemar(table, exact=exact, correction=True)
    assert ours.method == ("exact" if exact else "chi2")
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9)
    assert ours.statistic == pytest.approx(theirs.statistic)


def test_mcnemar_from_paired_items_counts_the_discordant_ones() -> None:
    a_items, b_items = paired_runs(random.Random(5), 300, 0.5, 0.7)
    a_right = np.array([i.outcome == "correct" for i in a_items])
    b_right = np.array([i.outcome == "correct" for i in b_items])
    table = [[int((a_right & b_right).sum()), int((a_right & ~b_right).sum())],
             [int((~a_right & b_right).sum()), int((~a_right & ~b_right).sum())]]  # fmt: skip
    ours = compare.mcnemar_test(a_items, b_items)
    assert (ours.a_only, ours.b_only) == (table[0][1], table[1][0])
    assert ours.p_value == pytest.approx(sm_mcnemar(table, exact=False, correction=True).pvalue)


def test_no_disagreement_is_no_evidence() -> None:
    test = compare.mcnemar_from_counts(0, 0)
    assert (test.method, test.p_value) == ("none", 1.0)


# --- bootstrap ------------------------------------------------------------------------------------------


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    items, _ = paired_runs(random.Random(1), 200, 0.6, 0.6)
    first = compare.bootstrap_intervals(items)
    assert compare.bootstrap_intervals(items) == first
    accuracy, macro = first
    assert accuracy.low < accuracy.value < accuracy.high
    assert macro.low < macro.value < macro.high
    assert macro.value == pytest.approx(macro_f1(items))
    assert compare.bootstrap_intervals(items, seed=2) != first


def test_bootstrap_accuracy_interval_matches_scipy() -> None:
    """Our seeded multinomial resampling and scipy's percentile bootstrap agree on accuracy."""
    items, _ = paired_runs(random.Random(11), 400, 0.7, 0.7)
    ours, _ = compare.bootstrap_intervals(items, resamples=20_000)
    correct = np.array([i.outcome == "correct" for i in items], dtype=float)
    theirs = stats.bootstrap(
        (correct,), np.mean, n_resamples=20_000, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.006)
    assert ours.high == pytest.approx(theirs.high, abs=0.006)


def test_weighted_macro_f1_equals_scikit_learn_on_a_resample() -> None:
    items, _ = paired_runs(random.Random(2), 120, 0.5, 0.5)
    weights = compare.bootstrap_weights(len(items), resamples=3, seed=9)
    _, macro = compare.weighted_scores(items, weights)
    for row, value in zip(weights, macro, strict=True):
        drawn = [item for item, count in zip(items, row, strict=True) for _ in range(int(count))]
        y_true = [i.expected for i in drawn]
        y_pred = [i.predicted_label for i in drawn]
        present = [c for c in ROOT_CAUSES if c in set(y_true) | set(y_pred)]
        assert value == pytest.approx(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        )


def test_a_perfect_run_has_a_degenerate_interval() -> None:
    items = [result(i, "healthy", "healthy") for i in range(30)]
    accuracy, macro = compare.bootstrap_intervals(items)
    assert (accuracy.low, accuracy.value, accuracy.high) == (1.0, 1.0, 1.0)
    assert (macro.low, macro.high) == (1.0, 1.0)


def test_paired_differences() -> None:
    a_items, b_items = paired_runs(random.Random(4), 400, 0.4, 0.8)
    accuracy, macro = compare.paired_differences(a_items, b_items)
    assert accuracy.value == pytest.approx(
        np.mean([i.outcome == "correct" for i in b_items])
        - np.mean([i.outcome == "correct" for i in a_items])
    )
    assert macro.value == pytest.approx(macro_f1(b_items) - macro_f1(a_items))
    assert 0 < accuracy.low < accuracy.value < accuracy.high
    assert 0 < macro.low < macro.high
    same_accuracy, same_macro = compare.paired_differences(a_items, a_items)
    assert (same_accuracy.low, same_accuracy.high, same_macro.low, same_macro.high) == (0, 0, 0, 0)


# --- verdicts ---------------------------------------------------------------------------------------------


def test_verdict_names_the_better_run_with_points_and_p() -> None:
    test = compare.mcnemar_from_counts(4, 20)  # exact: 2 * P(X <= 4), X ~ Bin(24, 1/2)
    assert test.p_value == pytest.approx(0.00154, abs=1e-5)
    text = compare.verdict(
        "A", "B", test, Estimate(value=0.05, low=0.02, high=0.08), Estimate(value=0.061, low=0.02, high=0.1)
    )
    assert text == "B is better on macro-F1 by 6.1 points, p = 0.002"


def test_verdict_when_a_wins() -> None:
    test = McNemarResult(a_only=40, b_only=10, method="chi2", statistic=16.82, p_value=0.00004)
    text = compare.verdict(
        "A",
        "C",
        test,
        Estimate(value=-0.1, low=-0.15, high=-0.05),
        Estimate(value=-0.08, low=-0.12, high=-0.03),
    )
    assert text == "A is better on macro-F1 by 8.0 points, p < 0.001"


def test_verdict_without_significance() -> None:
    test = McNemarResult(a_only=10, b_only=14, method="exact", statistic=10, p_value=0.41)
    assert (
        compare.verdict(
            "A",
            "B",
            test,
            Estimate(value=0.01, low=-0.02, high=0.04),
            Estimate(value=0.02, low=-0.01, high=0.05),
        )
        == "no significant difference (p = 0.41)"
    )


def test_verdict_when_accuracy_and_macro_f1_disagree() -> None:
    test = McNemarResult(a_only=5, b_only=30, method="chi2", statistic=16.46, p_value=0.003)
    text = compare.verdict(
        "A", "B", test, Estimate(value=0.06, low=0.03, high=0.09), Estimate(value=-0.02, low=-0.05, high=0.01)
    )
    assert text == "B is better on accuracy by 6.0 points, p = 0.003 (macro-F1 -2.0 points)"


def test_p_values_read_plainly() -> None:
    assert compare.format_p(0.41) == "p = 0.41"
    assert compare.format_p(0.003) == "p = 0.003"
    assert compare.format_p(0.0004) == "p < 0.001"


# --- comparing runs ---------------------------------------------------------------------------------------


def test_compare_two_runs_over_the_same_items() -> None:
    a_items, b_items = paired_runs(random.Random(8), 300, 0.45, 0.75)
    comparison = compare.compare_runs([run("a", a_items), run("b", b_items)])
    assert comparison.shared_items == 300
    assert comparison.all_items_shared
    assert comparison.note is None
    assert [c.letter for c in comparison.runs] == ["A", "B"]
    (pair,) = comparison.pairs
    assert (pair.a, pair.b, pair.a_run_id, pair.b_run_id) == ("A", "B", "a", "b")
    assert pair.mcnemar.p_value < 0.001
    assert pair.verdict.startswith("B is better on macro-F1 by ")
    assert comparison.runs[1].metrics.accuracy == pytest.approx(
        np.mean([i.outcome == "correct" for i in b_items])
    )


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
            result(1, "oom_killed", "healthy"),
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
    assert rows[2].a_predicted == "invalid"
    assert rows[2].b_predicted == "oom_killed"


def test_letters() -> None:
    assert compare.letters(3) == ["A", "B", "C"]
    assert compare.letters(28)[26:] == ["A2", "B2"]
