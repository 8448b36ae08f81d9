"""The statistics behind comparisons: cluster-bootstrap intervals, McNemar's test, a paired permutation test
of macro-F1, and Holm's adjustment. Pure functions over aligned item results; seeded, so every number is
reproducible.

* ``cluster_weights`` draws whole clusters (scenarios) with replacement and turns the draws into item
  weights, so the scores of one resample are weighted sums (``weighted_scores``), computed for all
  resamples at once; with every item its own cluster it is the ordinary bootstrap.
* ``mcnemar_from_counts`` uses the exact binomial test when fewer than 25 items are discordant, else the
  chi-square statistic with continuity correction (statsmodels' ``mcnemar`` gives the same numbers).
* ``paired_permutation_test`` swaps the two runs' answers item by item (only items whose answers differ
  matter): exactly over every swap pattern when there are few, else over seeded random patterns.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.stats import binomtest, chi2

from app.errors import InputError
from app.evals.metrics import ItemResult, class_indicators, macro_from_counts

CONFIDENCE = 0.95
EXACT_BELOW = 25
"""McNemar uses the exact binomial test when fewer items than this disagree."""
DEFAULT_RESAMPLES = 2000
DEFAULT_PERMUTATIONS = 10_000
DEFAULT_SEED = 20261126
_CHUNK = 2000
"""Rows of resampling matrices computed at once (bounds memory on large golden sets)."""


class Estimate(BaseModel):
    """A value with its bootstrap interval."""

    value: float
    low: float
    high: float


class McNemarResult(BaseModel):
    """McNemar's test on paired correctness: ``a_only`` = A right and B wrong, ``b_only`` = the reverse."""

    a_only: int
    b_only: int
    method: Literal["exact", "chi2", "none"]
    statistic: float | None
    p_value: float


class PermutationResult(BaseModel):
    """A paired permutation test of the macro-F1 difference B - A."""

    differing: int = Field(description="Items on which the two runs' answers differ (the only ones swapped).")
    method: Literal["exact", "monte carlo", "none"]
    permutations: int = Field(description="Swap patterns evaluated (all 2^differing when exact).")
    statistic: float = Field(description="The observed macro-F1 difference B - A.")
    p_value: float


# --- resampling (pure) -------------------------------------------------------------------------------------


def bootstrap_weights(n: int, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """How often each of ``n`` units is drawn in each bootstrap resample (resamples x n counts)."""
    if n == 0:
        return np.zeros((resamples, 0))
    # Drawing n units with replacement = one multinomial draw of n over n equally likely units.
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)


def cluster_weights(
    clusters: Sequence[str], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Item weights (resamples x items) of a bootstrap that draws whole clusters with replacement.

    An item's weight in a resample is how often its cluster was drawn, so items of one scenario always
    come and go together. With every item its own cluster this is the ordinary bootstrap.
    """
    names, index = np.unique(np.asarray(list(clusters), dtype=object), return_inverse=True)
    drawn = bootstrap_weights(len(names), resamples=resamples, seed=seed)
    return drawn[:, index] if len(clusters) else np.zeros((resamples, 0))


def weighted_scores(items: Sequence[ItemResult], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 of ``items`` under each row of item weights (one row = one resample)."""
    is_true, is_pred, hit = class_indicators(items)
    correct = np.array([item.outcome == "correct" for item in items], dtype=float)
    total = weights.sum(axis=-1)
    acc = np.divide(weights @ correct, total, out=np.zeros(total.shape), where=total > 0)
    macro = macro_from_counts(weights @ hit, weights @ is_true, weights @ is_pred)
    return acc, macro


def _interval(samples: np.ndarray, value: float, confidence: float) -> Estimate:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail]) if samples.size else (value, value)
    # Percentiles of a sum of floats can land a hair beside the point value of a degenerate interval.
    return Estimate(value=value, low=min(float(low), value), high=max(float(high), value))


def _clusters_or_items(items: Sequence[ItemResult], clusters: Sequence[str] | None) -> list[str]:
    return list(clusters) if clusters is not None else [item.cluster for item in items]


def bootstrap_intervals(
    items: Sequence[ItemResult],
    clusters: Sequence[str] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[Estimate, Estimate]:
    """Accuracy and macro-F1 with cluster-bootstrap intervals (clusters default to the items' scenarios)."""
    point_acc, point_macro = weighted_scores(items, np.ones((1, len(items))))
    weights = cluster_weights(_clusters_or_items(items, clusters), resamples=resamples, seed=seed)
    acc, macro = weighted_scores(items, weights)
    return (
        _interval(acc, float(point_acc[0]), confidence),
        _interval(macro, float(point_macro[0]), confidence),
    )


def paired_differences(
    a_items: Sequence[ItemResult],
    b_items: Sequence[ItemResult],
    clusters: Sequence[str] | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[Estimate, Estimate]:
    """B - A of accuracy and of macro-F1 over paired items, with a paired cluster-bootstrap interval."""
    if len(a_items) != len(b_items):
        raise InputError("paired differences need the same items in both runs")
    ones = np.ones((1, len(a_items)))
    weights = cluster_weights(_clusters_or_items(a_items, clusters), resamples=resamples, seed=seed)
    a_acc, a_macro = weighted_scores(a_items, weights)
    b_acc, b_macro = weighted_scores(b_items, weights)
    pa_acc, pa_macro = weighted_scores(a_items, ones)
    pb_acc, pb_macro = weighted_scores(b_items, ones)
    return (
        _interval(b_acc - a_acc, float(pb_acc[0] - pa_acc[0]), confidence),
        _interval(b_macro - a_macro, float(pb_macro[0] - pa_macro[0]), confidence),
    )


# --- the paired tests ---------------------------------------------------------------------------------


def mcnemar_from_counts(a_only: int, b_only: int) -> McNemarResult:
    """McNemar's test from the discordant counts: exact binomial below 25, else chi-square (corrected)."""
    n = a_only + b_only
    if n == 0:
        return McNemarResult(a_only=0, b_only=0, method="none", statistic=None, p_value=1.0)
    if n < EXACT_BELOW:
        p = binomtest(min(a_only, b_only), n, 0.5, alternative="two-sided").pvalue
        return McNemarResult(
            a_only=a_only,
            b_only=b_only,
            method="exact",
            statistic=float(min(a_only, b_only)),
            p_value=min(1.0, float(p)),
        )
    statistic = (abs(a_only - b_only) - 1) ** 2 / n
    return McNemarResult(
        a_only=a_only,
        b_only=b_only,
        method="chi2",
        statistic=float(statistic),
        p_value=float(chi2.sf(statistic, 1)),
    )


def mcnemar_test(a_items: Sequence[ItemResult], b_items: Sequence[ItemResult]) -> McNemarResult:
    """McNemar's test on the correctness of paired items."""
    if len(a_items) != len(b_items):
        raise InputError("McNemar's test needs the same items in both runs")
    pairs = list(zip(a_items, b_items, strict=True))
    a_only = sum(1 for a, b in pairs if a.outcome == "correct" and b.outcome != "correct")
    b_only = sum(1 for a, b in pairs if a.outcome != "correct" and b.outcome == "correct")
    return mcnemar_from_counts(a_only, b_only)


def _swap_patterns(
    differing: int, permutations: int, seed: int
) -> tuple[np.ndarray, Literal["exact", "monte carlo"]]:
    """Rows of 0/1 (1 = swap that item's answers): all 2^d patterns when that is few enough, else random."""
    if 2**differing <= permutations:
        patterns = np.array(list(itertools.product((0.0, 1.0), repeat=differing)), dtype=float)
        return patterns.reshape(2**differing, differing), "exact"
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=(permutations, differing)).astype(float), "monte carlo"


def paired_permutation_test(
    a_items: Sequence[ItemResult],
    b_items: Sequence[ItemResult],
    *,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
) -> PermutationResult:
    """Two-sided paired permutation test of macro-F1(B) - macro-F1(A), swapping the answers item by item.

    Under the null hypothesis the two runs are interchangeable on every item, so swapping which run gave
    which answer on any item is as likely as the observed assignment. Only items where the answers differ
    change anything when swapped. p counts swap patterns whose |difference| is at least the observed one:
    over all 2^d patterns when that is at most ``permutations`` (exact), else over random patterns with
    the observed one counted in (so p is never 0).
    """
    if len(a_items) != len(b_items):
        raise InputError("a paired permutation test needs the same items in both runs")
    a_true, a_pred, a_hit = class_indicators(a_items)
    _, b_pred, b_hit = class_indicators(b_items)
    n_true = a_true.sum(axis=0)
    observed = float(
        macro_from_counts(b_hit.sum(0), n_true, b_pred.sum(0))
        - macro_from_counts(a_hit.sum(0), n_true, a_pred.sum(0))
    )
    differs = np.array(
        [a.predicted_label != b.predicted_label for a, b in zip(a_items, b_items, strict=True)]
    )
    differing = int(differs.sum())
    if differing == 0:
        return PermutationResult(differing=0, method="none", permutations=0, statistic=observed, p_value=1.0)
    patterns, method = _swap_patterns(differing, permutations, seed)
    # Swapping item i moves its indicators from one run to the other: A' = A + S (B - A), B' = B - S (B - A).
    d_pred = (b_pred - a_pred)[differs]
    d_hit = (b_hit - a_hit)[differs]
    base_a_pred, base_a_hit = a_pred.sum(0), a_hit.sum(0)
    base_b_pred, base_b_hit = b_pred.sum(0), b_hit.sum(0)
    at_least = 0
    threshold = abs(observed) - 1e-12
    for start in range(0, len(patterns), _CHUNK):
        swaps = patterns[start : start + _CHUNK]
        move_pred, move_hit = swaps @ d_pred, swaps @ d_hit
        macro_a = macro_from_counts(base_a_hit + move_hit, n_true, base_a_pred + move_pred)
        macro_b = macro_from_counts(base_b_hit - move_hit, n_true, base_b_pred - move_pred)
        at_least += int((np.abs(macro_b - macro_a) >= threshold).sum())
    # Exact: the observed pattern is among those counted. Monte Carlo: count it in, so p is never 0.
    p = at_least / len(patterns) if method == "exact" else (at_least + 1) / (len(patterns) + 1)
    return PermutationResult(
        differing=differing,
        method=method,
        permutations=len(patterns),
        statistic=observed,
        p_value=min(1.0, p),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def format_p(p: float) -> str:
    """A p-value for people: 'p < 0.001', 'p = 0.003', 'p = 0.41'."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"
