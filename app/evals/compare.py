"""How sure we are: bootstrap intervals, the paired McNemar test, and comparisons of runs on shared items.

Runs are compared only on the items they all share, matched by example id *and* content hash (the same
id with different logs is a different item). The first run is the reference ``A``; every other run is
tested against it:

* accuracy and macro-F1 get 95% percentile-bootstrap intervals (seeded, so a comparison prints the same
  numbers every time it is made);
* McNemar's test on the items exactly one of the two got right: the exact binomial test when fewer than
  25 items disagree, else chi-square with continuity correction;
* the differences B - A of accuracy and macro-F1 get a paired bootstrap interval (both runs resampled
  with the same items);
* the verdict names the better run when McNemar's p is below 0.05, else says there is no significant
  difference.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.stats import binomtest, chi2

from app.errors import InputError
from app.evals.metrics import ItemResult, RunMetrics, class_indicators, macro_from_counts, score_run

ALPHA = 0.05
CONFIDENCE = 0.95
EXACT_BELOW = 25
"""McNemar uses the exact binomial test when fewer items than this disagree."""
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20261126

PairCategory = Literal["A right, B wrong", "A wrong, B right", "both wrong", "both right"]
PAIR_CATEGORIES: tuple[PairCategory, ...] = (
    "A right, B wrong",
    "A wrong, B right",
    "both wrong",
    "both right",
)


class RunItems(BaseModel):
    """A run as a comparison sees it: who it is and its items."""

    run_id: str
    label: str = Field(description="How people name the run, e.g. 'tiny-q4_k_m · rca-evidence-first@3f2a…'.")
    golden_version: str = ""
    slice: dict[str, Any] = Field(default_factory=dict)
    items: list[ItemResult]


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


class RunColumn(BaseModel):
    """One run's metrics on the shared items, with intervals."""

    letter: str
    run_id: str
    label: str
    golden_version: str
    slice: dict[str, Any]
    metrics: RunMetrics
    accuracy: Estimate
    macro_f1: Estimate


class PairComparison(BaseModel):
    """Run B against the reference A: paired differences (B - A), the paired test and the verdict."""

    a: str
    b: str
    a_run_id: str
    b_run_id: str
    accuracy_delta: Estimate
    macro_f1_delta: Estimate
    mcnemar: McNemarResult
    verdict: str


class Comparison(BaseModel):
    """Two or more runs side by side on their shared items."""

    runs: list[RunColumn]
    pairs: list[PairComparison]
    shared_items: int
    all_items_shared: bool
    note: str | None = Field(description="Says how the runs' items differ, when they do.")
    confidence: float = CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


class ExampleOutcome(BaseModel):
    """One shared example in a pair of runs: how each did, and which of the four cases it is."""

    example_id: str
    expected: str
    a_predicted: str
    b_predicted: str
    a_outcome: str
    b_outcome: str
    category: PairCategory


# --- the statistics (pure) -------------------------------------------------------------------------------


def bootstrap_weights(n: int, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """How often each of ``n`` items is drawn in each bootstrap resample (resamples x n counts)."""
    if n == 0:
        return np.zeros((resamples, 0))
    # Drawing n items with replacement = one multinomial draw of n over n equally likely items.
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)


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
    return Estimate(value=value, low=float(low), high=float(high))


def bootstrap_intervals(
    items: Sequence[ItemResult],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[Estimate, Estimate]:
    """Accuracy and macro-F1 with percentile-bootstrap intervals."""
    point_acc, point_macro = weighted_scores(items, np.ones((1, len(items))))
    acc, macro = weighted_scores(items, bootstrap_weights(len(items), resamples=resamples, seed=seed))
    return (
        _interval(acc, float(point_acc[0]), confidence),
        _interval(macro, float(point_macro[0]), confidence),
    )


def paired_differences(
    a_items: Sequence[ItemResult],
    b_items: Sequence[ItemResult],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[Estimate, Estimate]:
    """B - A of accuracy and of macro-F1 over paired items, with a paired bootstrap interval."""
    if len(a_items) != len(b_items):
        raise InputError("paired differences need the same items in both runs")
    ones = np.ones((1, len(a_items)))
    weights = bootstrap_weights(len(a_items), resamples=resamples, seed=seed)
    a_acc, a_macro = weighted_scores(a_items, weights)
    b_acc, b_macro = weighted_scores(b_items, weights)
    pa_acc, pa_macro = weighted_scores(a_items, ones)
    pb_acc, pb_macro = weighted_scores(b_items, ones)
    return (
        _interval(b_acc - a_acc, float(pb_acc[0] - pa_acc[0]), confidence),
        _interval(b_macro - a_macro, float(pb_macro[0] - pa_macro[0]), confidence),
    )


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
    a_only = sum(
        1 for a, b in zip(a_items, b_items, strict=True) if a.outcome == "correct" and b.outcome != "correct"
    )
    b_only = sum(
        1 for a, b in zip(a_items, b_items, strict=True) if a.outcome != "correct" and b.outcome == "correct"
    )
    return mcnemar_from_counts(a_only, b_only)


def format_p(p: float) -> str:
    """A p-value for people: 'p < 0.001', 'p = 0.003', 'p = 0.41'."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def verdict(
    a: str,
    b: str,
    test: McNemarResult,
    accuracy_delta: Estimate,
    macro_f1_delta: Estimate,
    alpha: float = ALPHA,
) -> str:
    """One plain sentence: which run is better and by how much, or that the difference is not significant."""
    if test.p_value >= alpha or test.a_only == test.b_only:
        return f"no significant difference ({format_p(test.p_value)})"
    winner, sign = (b, 1.0) if test.b_only > test.a_only else (a, -1.0)
    macro_points = macro_f1_delta.value * 100 * sign
    if macro_points > 0:
        return f"{winner} is better on macro-F1 by {macro_points:.1f} points, {format_p(test.p_value)}"
    # Right more often, yet not better on the per-class average: say what the test is about.
    acc_points = accuracy_delta.value * 100 * sign
    return (
        f"{winner} is better on accuracy by {acc_points:.1f} points, {format_p(test.p_value)} "
        f"(macro-F1 {macro_points:+.1f} points)"
    )


# --- aligning runs ---------------------------------------------------------------------------------------


def letters(count: int) -> list[str]:
    """A, B, C, ... (then A2, B2, ... past Z) for ``count`` runs."""
    return [string.ascii_uppercase[i % 26] + (str(i // 26 + 1) if i >= 26 else "") for i in range(count)]


def shared_keys(runs: Sequence[RunItems]) -> list[tuple[str, str]]:
    """(example id, content hash) of the items every run has, sorted."""
    if not runs:
        return []
    common = {item.key for item in runs[0].items}
    for run in runs[1:]:
        common &= {item.key for item in run.items}
    return sorted(common)


def _describe_slice(slice_: dict[str, Any]) -> str:
    parts = [
        f"{key}={','.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in slice_.items()
        if value
    ]
    return "; ".join(parts) or "whole set"


def shared_items_note(runs: Sequence[RunItems], shared: int) -> str | None:
    """What differs between the runs' items, or None when they cover exactly the same items."""
    if all(len(run.items) == shared for run in runs):
        return None
    names = letters(len(runs))
    described = ", ".join(
        f"{name}: {len(run.items)} items (golden {run.golden_version or '?'}, {_describe_slice(run.slice)})"
        for name, run in zip(names, runs, strict=True)
    )
    return (
        f"The runs cover different items ({described}); they are compared only on the {shared} items "
        "they all share (same example id and same content)."
    )


def aligned(run: RunItems, keys: Sequence[tuple[str, str]]) -> list[ItemResult]:
    """The run's items for ``keys``, in that order."""
    by_key = {item.key: item for item in run.items}
    return [by_key[key] for key in keys]


def compare_runs(
    runs: Sequence[RunItems],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = ALPHA,
) -> Comparison:
    """Metrics with intervals for every run and each run against the first, on their shared items."""
    if len(runs) < 2:
        raise InputError("a comparison needs at least two runs")
    keys = shared_keys(runs)
    if not keys:
        raise InputError(
            "these runs share no items (same example id and content)",
            hint="compare runs over the same golden set, or overlapping slices of it",
        )
    names = letters(len(runs))
    items = [aligned(run, keys) for run in runs]
    columns = []
    for name, run, run_items in zip(names, runs, items, strict=True):
        acc, macro = bootstrap_intervals(run_items, resamples=resamples, seed=seed)
        columns.append(
            RunColumn(
                letter=name,
                run_id=run.run_id,
                label=run.label,
                golden_version=run.golden_version,
                slice=run.slice,
                metrics=score_run(run_items),
                accuracy=acc,
                macro_f1=macro,
            )
        )
    pairs = []
    for index in range(1, len(runs)):
        acc_delta, macro_delta = paired_differences(items[0], items[index], resamples=resamples, seed=seed)
        test = mcnemar_test(items[0], items[index])
        pairs.append(
            PairComparison(
                a=names[0],
                b=names[index],
                a_run_id=runs[0].run_id,
                b_run_id=runs[index].run_id,
                accuracy_delta=acc_delta,
                macro_f1_delta=macro_delta,
                mcnemar=test,
                verdict=verdict(names[0], names[index], test, acc_delta, macro_delta, alpha),
            )
        )
    note = shared_items_note(runs, len(keys))
    return Comparison(
        runs=columns,
        pairs=pairs,
        shared_items=len(keys),
        all_items_shared=note is None,
        note=note,
        resamples=resamples,
        seed=seed,
    )


def pair_category(a: ItemResult, b: ItemResult) -> PairCategory:
    """Which of the four cases a pair of results is."""
    a_right, b_right = a.outcome == "correct", b.outcome == "correct"
    if a_right and not b_right:
        return "A right, B wrong"
    if b_right and not a_right:
        return "A wrong, B right"
    return "both right" if a_right else "both wrong"


def example_outcomes(a: RunItems, b: RunItems) -> list[ExampleOutcome]:
    """Every example two runs share, with both predictions and its case, sorted by example id."""
    keys = shared_keys([a, b])
    rows = []
    for a_item, b_item in zip(aligned(a, keys), aligned(b, keys), strict=True):
        rows.append(
            ExampleOutcome(
                example_id=a_item.example_id,
                expected=a_item.expected,
                a_predicted=a_item.predicted_label,
                b_predicted=b_item.predicted_label,
                a_outcome=a_item.outcome,
                b_outcome=b_item.outcome,
                category=pair_category(a_item, b_item),
            )
        )
    return rows
