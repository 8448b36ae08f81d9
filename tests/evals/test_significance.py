"""The statistics of comparisons, each checked against an independent reference (statsmodels, scipy, sklearn)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from sklearn.metrics import f1_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from app.evals import significance
from app.evals.metrics import ItemResult, macro_f1
from app.taxonomy import ROOT_CAUSES
from tests.evals.runs import paired_runs, result


def sklearn_macro(items: list[ItemResult]) -> float:
    y_true = [i.expected for i in items]
    y_pred = [i.predicted_label for i in items]
    present = [c for c in ROOT_CAUSES if c in set(y_true) | set(y_pred)]
    return float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))


# --- McNemar --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(60))
def test_mcnemar_agrees_with_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    a_only, b_only = rng.randint(0, 40), rng.randint(0, 40)
    if a_only + b_only == 0:
        a_only = 1
    table = [[rng.randint(0, 50), a_only], [b_only, rng.randint(0, 50)]]
    ours = significance.mcnemar_from_counts(a_only, b_only)
    exact = a_only + b_only < significance.EXACT_BELOW
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
    ours = significance.mcnemar_test(a_items, b_items)
    assert (ours.a_only, ours.b_only) == (table[0][1], table[1][0])
    assert ours.p_value == pytest.approx(sm_mcnemar(table, exact=False, correction=True).pvalue)


def test_no_disagreement_is_no_evidence() -> None:
    test = significance.mcnemar_from_counts(0, 0)
    assert (test.method, test.p_value) == ("none", 1.0)


# --- the bootstrap ------------------------------------------------------------------------------------------


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    items, _ = paired_runs(random.Random(1), 200, 0.6, 0.6)
    first = significance.bootstrap_intervals(items)
    assert significance.bootstrap_intervals(items) == first
    accuracy, macro = first
    assert accuracy.low < accuracy.value < accuracy.high
    assert macro.low < macro.value < macro.high
    assert macro.value == pytest.approx(macro_f1(items))
    assert significance.bootstrap_intervals(items, seed=2) != first


def test_without_scenarios_it_is_scipys_percentile_bootstrap() -> None:
    """Every example its own cluster: the interval is the ordinary one, as scipy computes it."""
    items, _ = paired_runs(random.Random(11), 400, 0.7, 0.7)
    ours, _ = significance.bootstrap_intervals(items, resamples=20_000)
    correct = np.array([i.outcome == "correct" for i in items], dtype=float)
    theirs = stats.bootstrap(
        (correct,), np.mean, n_resamples=20_000, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.006)
    assert ours.high == pytest.approx(theirs.high, abs=0.006)


def test_weighted_macro_f1_equals_scikit_learn_on_a_resample() -> None:
    items, _ = paired_runs(random.Random(2), 120, 0.5, 0.5)
    clusters = [f"s{i // 3}" for i in range(len(items))]
    weights = significance.cluster_weights(clusters, resamples=3, seed=9)
    _, macro = significance.weighted_scores(items, weights)
    for row, value in zip(weights, macro, strict=True):
        drawn = [item for item, count in zip(items, row, strict=True) for _ in range(int(count))]
        assert value == pytest.approx(sklearn_macro(drawn))


def test_a_scenarios_items_are_drawn_together() -> None:
    clusters = ["a", "a", "b", "c", "c", "c", "d"]
    weights = significance.cluster_weights(clusters, resamples=500, seed=3)
    assert weights.shape == (500, 7)
    assert np.array_equal(weights[:, 0], weights[:, 1])
    assert np.array_equal(weights[:, 3], weights[:, 4])
    assert np.array_equal(weights[:, 3], weights[:, 5])
    # Four clusters drawn per resample, whatever their sizes.
    per_cluster = weights[:, [0, 2, 3, 6]]
    assert np.all(per_cluster.sum(axis=1) == 4)


def test_copies_of_a_scenario_add_no_certainty() -> None:
    """100 scenarios seen 4 times each are as uncertain as 100 examples, not as 400."""
    rng = random.Random(4)
    once = [result(i, "oom_killed", "oom_killed" if rng.random() < 0.6 else "healthy") for i in range(100)]
    copies = [
        result(4 * i + copy, item.expected, item.predicted, scenario=f"scenario-{i}")
        for i, item in enumerate(once)
        for copy in range(4)
    ]

    def width(items: list[ItemResult], clusters: list[str] | None = None) -> float:
        accuracy, _ = significance.bootstrap_intervals(items, clusters, resamples=4000)
        return accuracy.high - accuracy.low

    by_scenario = width(copies)
    assert by_scenario == pytest.approx(width(once), rel=0.15)
    as_if_independent = width(copies, [item.example_id for item in copies])
    assert by_scenario / as_if_independent == pytest.approx(2.0, rel=0.2)  # sqrt(4 copies)


def test_cluster_bootstrap_spread_matches_statsmodels_cluster_robust_errors() -> None:
    """The bootstrap's standard error of accuracy equals the cluster-robust (sandwich) one of statsmodels."""
    rng = np.random.default_rng(12)
    sizes = rng.integers(1, 6, size=150)
    skill = rng.uniform(0.2, 0.95, size=150)  # scenarios differ in difficulty: outcomes correlate within
    items, groups = [], []
    for scenario, (size, p) in enumerate(zip(sizes, skill, strict=True)):
        for _ in range(size):
            right = rng.random() < p
            items.append(
                result(
                    len(items), "oom_killed", "oom_killed" if right else "healthy", scenario=f"s{scenario}"
                )
            )
            groups.append(scenario)
    weights = significance.cluster_weights([i.cluster for i in items], resamples=20_000, seed=1)
    accuracy, _ = significance.weighted_scores(items, weights)
    correct = np.array([i.outcome == "correct" for i in items], dtype=float)
    fit = sm.OLS(correct, np.ones(len(items))).fit(cov_type="cluster", cov_kwds={"groups": np.array(groups)})
    assert accuracy.std() == pytest.approx(float(fit.bse[0]), rel=0.08)


def test_a_perfect_run_has_a_degenerate_interval() -> None:
    items = [result(i, "healthy", "healthy", scenario=f"s{i % 5}") for i in range(30)]
    accuracy, macro = significance.bootstrap_intervals(items)
    assert (accuracy.low, accuracy.value, accuracy.high) == (1.0, 1.0, 1.0)
    assert (macro.low, macro.high) == (1.0, 1.0)


def test_paired_differences() -> None:
    a_items, b_items = paired_runs(random.Random(4), 400, 0.4, 0.8)
    accuracy, macro = significance.paired_differences(a_items, b_items)
    assert accuracy.value == pytest.approx(
        np.mean([i.outcome == "correct" for i in b_items])
        - np.mean([i.outcome == "correct" for i in a_items])
    )
    assert macro.value == pytest.approx(macro_f1(b_items) - macro_f1(a_items))
    assert 0 < accuracy.low < accuracy.value < accuracy.high
    assert 0 < macro.low < macro.high
    same_accuracy, same_macro = significance.paired_differences(a_items, a_items)
    assert (same_accuracy.low, same_accuracy.high, same_macro.low, same_macro.high) == (0, 0, 0, 0)


# --- the permutation test -----------------------------------------------------------------------------------


def test_exact_permutation_p_equals_brute_force_with_scikit_learn() -> None:
    classes = ["oom_killed", "healthy", "dns_resolution_failure", "probe_failure"]
    a_items, b_items = paired_runs(random.Random(21), 12, 0.4, 0.95, classes=classes)
    ours = significance.paired_permutation_test(a_items, b_items)
    assert ours.method == "exact"
    differing = [
        i for i, (a, b) in enumerate(zip(a_items, b_items, strict=True)) if a.predicted != b.predicted
    ]
    assert ours.differing == len(differing)
    observed = sklearn_macro(b_items) - sklearn_macro(a_items)
    assert ours.statistic == pytest.approx(observed)
    at_least = 0
    for swaps in itertools.product((False, True), repeat=len(differing)):
        a_new, b_new = list(a_items), list(b_items)
        for index, swap in zip(differing, swaps, strict=True):
            if swap:
                a_new[index], b_new[index] = b_items[index], a_items[index]
        at_least += abs(sklearn_macro(b_new) - sklearn_macro(a_new)) >= abs(observed) - 1e-12
    assert ours.p_value == pytest.approx(at_least / 2 ** len(differing))


def test_monte_carlo_permutation_p_agrees_with_scipy() -> None:
    a_items, b_items = paired_runs(random.Random(22), 160, 0.55, 0.65)
    ours = significance.paired_permutation_test(a_items, b_items, permutations=20_000)
    assert ours.method == "monte carlo"
    truth = np.array([ROOT_CAUSES.index(i.expected) for i in a_items])
    classes = np.arange(len(ROOT_CAUSES))

    def macro(pred: np.ndarray) -> np.ndarray:
        # Written apart from ours: per-class F1 = 2TP / (true + predicted), averaged over classes present.
        is_pred = pred[..., None] == classes
        is_true = (truth[:, None] == classes)[None, ...] if pred.ndim > 1 else truth[:, None] == classes
        tp = (is_pred & is_true).sum(axis=-2)
        size = is_pred.sum(axis=-2) + is_true.sum(axis=-2)
        f1 = np.where(size > 0, 2 * tp / np.maximum(size, 1), 0.0)
        return f1.sum(axis=-1) / (size > 0).sum(axis=-1)

    def delta(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return macro(y) - macro(x)

    a_pred = np.array([ROOT_CAUSES.index(i.predicted) for i in a_items])
    b_pred = np.array([ROOT_CAUSES.index(i.predicted) for i in b_items])
    assert float(delta(a_pred, b_pred, -1)) == pytest.approx(sklearn_macro(b_items) - sklearn_macro(a_items))
    theirs = stats.permutation_test(
        (a_pred, b_pred),
        delta,
        permutation_type="samples",
        n_resamples=20_000,
        vectorized=True,
        axis=-1,
        rng=np.random.default_rng(5),
    )
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert 0.01 < ours.p_value < 0.9  # a case where p is neither tiny nor 1, so the comparison says something
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=0.02)


def test_permutation_of_identical_answers_finds_nothing() -> None:
    a_items, _ = paired_runs(random.Random(23), 50, 0.5, 0.5)
    test = significance.paired_permutation_test(a_items, a_items)
    assert (test.method, test.differing, test.p_value, test.statistic) == ("none", 0, 1.0, 0.0)


def test_permutation_is_seeded_and_never_zero() -> None:
    a_items, b_items = paired_runs(random.Random(24), 400, 0.2, 0.9)
    first = significance.paired_permutation_test(a_items, b_items, permutations=2000)
    assert first == significance.paired_permutation_test(a_items, b_items, permutations=2000)
    assert first.p_value == pytest.approx(1 / 2001)


# --- Holm and p-values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_holm_agrees_with_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    p_values = [rng.choice([rng.random(), rng.random() / 100, 1.0]) for _ in range(rng.randint(1, 9))]
    _, theirs, _, _ = multipletests(p_values, method="holm")
    assert significance.holm(p_values) == pytest.approx(list(theirs))


def test_p_values_read_plainly() -> None:
    assert significance.format_p(0.41) == "p = 0.41"
    assert significance.format_p(0.003) == "p = 0.003"
    assert significance.format_p(0.0004) == "p < 0.001"
