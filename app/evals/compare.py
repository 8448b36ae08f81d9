"""How sure we are: scenario-level bootstrap intervals, paired tests, claims per metric, and a regression gate.

Runs are compared only on the items they all share, matched by example id *and* content hash (the same
id with different logs is a different item). The first run is the reference ``A``; every other run is
tested against it. The choices, each for a reason:

* **One answer per example.** A run with repeats holds several results per example; comparisons use each
  example's majority answer (``metrics.majority_answer``: a tie goes to the answer the earliest repeat
  gave; timeouts and server errors cast no vote), and report how often the repeats agree.
* **Intervals resample scenarios.** Golden examples are variations of scenarios, and examples of one
  scenario are not independent evidence. Accuracy and macro-F1 get 95% percentile intervals from a
  cluster bootstrap that draws whole scenarios (an example without a scenario is its own cluster, so
  runs over the v1 set still work), so an interval reflects how many independent scenarios there are.
  The resampling is seeded: a comparison prints the same numbers every time it is made.
* **Each claim names the metric its test is about.** Accuracy: the delta B - A with its paired cluster
  bootstrap interval and McNemar's test on the items exactly one run got right (exact binomial below 25
  such items, else chi-square with continuity correction). Macro-F1: the delta with its interval and a
  paired permutation test (the runs' answers swapped item by item; exact when few items differ). The
  paired tests stay on items, as their null hypotheses are about items.
* **Many runs, many tests.** With more than one run against A, each metric's p-values are adjusted with
  Holm's step-down method across those comparisons, and the claims say so.
* **A gate for CI.** ``regression_gate`` fails when B is significantly worse than A on one metric by more
  than a margin, so a pipeline can block a prompt change.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.errors import InputError
from app.evals.metrics import (
    ItemResult,
    RepeatAgreement,
    RunMetrics,
    answer_agreement,
    group_repeats,
    latency_summary,
    majority_answer,
    repeat_agreement,
    score_run,
)
from app.evals.significance import (
    CONFIDENCE,
    DEFAULT_PERMUTATIONS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    McNemarResult,
    PermutationResult,
    bootstrap_intervals,
    format_p,
    holm,
    mcnemar_test,
    paired_differences,
    paired_permutation_test,
)

ALPHA = 0.05

Metric = Literal["accuracy", "macro_f1"]
METRICS: tuple[Metric, ...] = ("accuracy", "macro_f1")
METRIC_LABELS: dict[str, str] = {"accuracy": "accuracy", "macro_f1": "macro-F1"}
Direction = Literal["better", "worse", "no difference"]
PairDirection = Literal["better", "worse", "mixed", "no difference"]

PairCategory = Literal["A right, B wrong", "A wrong, B right", "both wrong", "both right"]
PAIR_CATEGORIES: tuple[PairCategory, ...] = (
    "A right, B wrong",
    "A wrong, B right",
    "both wrong",
    "both right",
)


class RunItems(BaseModel):
    """A run as a comparison sees it: who it is and its item results (several per example with repeats)."""

    run_id: str
    label: str = Field(description="How people name the run, e.g. 'tiny-q4_k_m · rca-evidence-first@3f2a…'.")
    golden_version: str = ""
    slice: dict[str, Any] = Field(default_factory=dict)
    items: list[ItemResult]


class Claim(BaseModel):
    """What one paired test says about one metric: B against A, with the delta, its interval and p."""

    metric: Metric
    delta: Estimate = Field(description="B - A as a fraction, with its paired cluster-bootstrap interval.")
    test: str = Field(description="The test behind p, e.g. 'McNemar (exact)' or 'paired permutation'.")
    p_value: float
    p_adjusted: float = Field(description="Holm-adjusted p across the comparisons against A (= p with one).")
    significant: bool
    direction: Direction = Field(description="How B did against A, by this test.")
    text: str


class RunColumn(BaseModel):
    """One run's metrics on the shared items (majority answers), with intervals."""

    letter: str
    run_id: str
    label: str
    golden_version: str
    slice: dict[str, Any]
    metrics: RunMetrics
    accuracy: Estimate
    macro_f1: Estimate
    results: int = Field(description="Item results on the shared items, repeats included.")
    repeats: RepeatAgreement | None = None


class PairComparison(BaseModel):
    """Run B against the reference A: paired differences (B - A), the paired tests and the claims."""

    a: str
    b: str
    a_run_id: str
    b_run_id: str
    accuracy_delta: Estimate
    macro_f1_delta: Estimate
    mcnemar: McNemarResult
    permutation: PermutationResult
    claims: list[Claim]
    direction: PairDirection
    verdict: str

    def claim(self, metric: Metric) -> Claim:
        """The claim about one metric."""
        return next(claim for claim in self.claims if claim.metric == metric)


class Comparison(BaseModel):
    """Two or more runs side by side on their shared items."""

    runs: list[RunColumn]
    pairs: list[PairComparison]
    shared_items: int
    shared_scenarios: int = Field(description="Independent scenarios behind the shared items.")
    all_items_shared: bool
    note: str | None = Field(description="Says how the runs' items differ, when they do.")
    repeats_note: str | None = Field(default=None, description="How repeated answers were reduced, if any.")
    multiple_comparisons: str | None = Field(default=None, description="The correction applied, if any.")
    confidence: float = CONFIDENCE
    alpha: float = ALPHA
    resamples: int = DEFAULT_RESAMPLES
    permutations: int = DEFAULT_PERMUTATIONS
    seed: int = DEFAULT_SEED


class ExampleOutcome(BaseModel):
    """One shared example in a pair of runs: how each did, and which of the four cases it is."""

    example_id: str
    scenario: str | None = None
    expected: str
    a_predicted: str
    b_predicted: str
    a_outcome: str
    b_outcome: str
    a_agreement: str = Field(default="", description="'2/3' = 2 of 3 repeats gave the majority answer.")
    b_agreement: str = ""
    category: PairCategory


class GateResult(BaseModel):
    """Whether a comparison shows a regression on one metric beyond a margin, and one line saying why."""

    metric: Metric
    margin_points: float
    alpha: float
    failed: bool
    regressions: list[str] = Field(description="Run ids significantly worse than A beyond the margin.")
    message: str


# --- claims and verdicts -------------------------------------------------------------------------------------


def paired_test_name(metric: Metric, mcnemar: McNemarResult) -> str:
    """The name of the test behind a metric's claim."""
    if metric == "macro_f1":
        return "paired permutation test"
    return {
        "exact": "McNemar exact test",
        "chi2": "McNemar chi-square test",
        "none": "McNemar test (no item differs)",
    }[mcnemar.method]


def make_claim(
    a: str,
    b: str,
    metric: Metric,
    delta: Estimate,
    test: str,
    p_value: float,
    p_adjusted: float,
    *,
    adjusted_over: int = 1,
    alpha: float = ALPHA,
    confidence: float = CONFIDENCE,
) -> Claim:
    """One sentence about one metric: which run is better and by how much, by which test, or no difference."""
    name = METRIC_LABELS[metric]
    points = delta.value * 100
    significant = p_adjusted < alpha and points != 0
    p_text = f"{test}, {format_p(p_value)}"
    if adjusted_over > 1:
        p_text += f", Holm-adjusted over {adjusted_over} comparisons {format_p(p_adjusted)}"
    interval = f"{confidence:.0%} CI {delta.low * 100:+.1f} to {delta.high * 100:+.1f}"
    direction: Direction = "no difference"
    if significant:
        direction = "better" if points > 0 else "worse"
        text = f"{b} is {direction} than {a} on {name} by {abs(points):.1f} points ({p_text}; {interval})"
    else:
        text = f"no significant difference between {b} and {a} on {name}: {points:+.1f} points ({p_text}; {interval})"
    return Claim(
        metric=metric,
        delta=delta,
        test=test,
        p_value=p_value,
        p_adjusted=p_adjusted,
        significant=significant,
        direction=direction,
        text=text,
    )


def pair_direction(claims: Sequence[Claim]) -> PairDirection:
    """Better or worse when the significant claims agree, mixed when they do not, else no difference."""
    directions = {claim.direction for claim in claims if claim.significant}
    if not directions:
        return "no difference"
    if len(directions) > 1:
        return "mixed"
    return next(iter(directions))


# --- aligning runs -------------------------------------------------------------------------------------------


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


def _examples(run: RunItems) -> int:
    return len({item.key for item in run.items})


def shared_items_note(runs: Sequence[RunItems], shared: int) -> str | None:
    """What differs between the runs' items, or None when they cover exactly the same items."""
    if all(_examples(run) == shared for run in runs):
        return None
    names = letters(len(runs))
    described = ", ".join(
        f"{name}: {_examples(run)} items (golden {run.golden_version or '?'}, {_describe_slice(run.slice)})"
        for name, run in zip(names, runs, strict=True)
    )
    return (
        f"The runs cover different items ({described}); they are compared only on the {shared} items "
        "they all share (same example id and same content)."
    )


def aligned(run: RunItems, keys: Sequence[tuple[str, str]]) -> list[ItemResult]:
    """The run's answer for each of ``keys``, in that order: the majority answer where it has repeats."""
    groups = group_repeats(run.items)
    return [majority_answer(groups[key]) for key in keys]


def shared_results(run: RunItems, keys: Sequence[tuple[str, str]]) -> list[ItemResult]:
    """Every result (repeats included) the run has for ``keys``."""
    wanted = set(keys)
    return [item for item in run.items if item.key in wanted]


def shared_clusters(runs: Sequence[RunItems], keys: Sequence[tuple[str, str]]) -> list[str]:
    """The cluster of each key: its scenario as any run recorded it (runs stored before scenarios were
    recorded have none), else the example itself."""
    scenario: dict[tuple[str, str], str] = {}
    for run in runs:
        for item in run.items:
            if item.scenario and item.key not in scenario:
                scenario[item.key] = item.scenario
    return [f"scenario:{scenario[key]}" if key in scenario else f"example:{key[0]}" for key in keys]


def _repeats_note(names: Sequence[str], columns: Sequence[RunColumn]) -> str | None:
    repeated = [
        f"{name} ({column.repeats.repeats} repeats)"
        for name, column in zip(names, columns, strict=True)
        if column.repeats is not None
    ]
    if not repeated:
        return None
    return (
        f"Runs with repeats ({', '.join(repeated)}) are scored on each example's majority answer; a tie "
        "goes to the answer the earliest repeat gave, and timeouts and server errors cast no vote. Latency "
        "covers every repeat."
    )


def compare_runs(
    runs: Sequence[RunItems],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    permutations: int = DEFAULT_PERMUTATIONS,
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
    clusters = shared_clusters(runs, keys)
    items = [aligned(run, keys) for run in runs]
    columns = []
    for name, run, run_items in zip(names, runs, items, strict=True):
        acc, macro = bootstrap_intervals(run_items, clusters, resamples=resamples, seed=seed)
        every = shared_results(run, keys)
        # Scores are of the majority answers; what it cost is every repeat's.
        metrics = score_run(run_items).model_copy(update={"latency": latency_summary(every)})
        columns.append(
            RunColumn(
                letter=name,
                run_id=run.run_id,
                label=run.label,
                golden_version=run.golden_version,
                slice=run.slice,
                metrics=metrics,
                accuracy=acc,
                macro_f1=macro,
                results=len(every),
                repeats=repeat_agreement(every),
            )
        )
    tests = []
    for index in range(1, len(runs)):
        deltas = paired_differences(items[0], items[index], clusters, resamples=resamples, seed=seed)
        mcnemar = mcnemar_test(items[0], items[index])
        permutation = paired_permutation_test(items[0], items[index], permutations=permutations, seed=seed)
        tests.append((index, deltas, mcnemar, permutation))
    family = len(tests)
    adjusted = {
        "accuracy": holm([mcnemar.p_value for _, _, mcnemar, _ in tests]),
        "macro_f1": holm([permutation.p_value for _, _, _, permutation in tests]),
    }
    pairs = []
    for position, (index, (acc_delta, macro_delta), mcnemar, permutation) in enumerate(tests):
        claims = [
            make_claim(
                names[0],
                names[index],
                metric,
                acc_delta if metric == "accuracy" else macro_delta,
                paired_test_name(metric, mcnemar),
                mcnemar.p_value if metric == "accuracy" else permutation.p_value,
                adjusted[metric][position],
                adjusted_over=family,
                alpha=alpha,
            )
            for metric in METRICS
        ]
        pairs.append(
            PairComparison(
                a=names[0],
                b=names[index],
                a_run_id=runs[0].run_id,
                b_run_id=runs[index].run_id,
                accuracy_delta=acc_delta,
                macro_f1_delta=macro_delta,
                mcnemar=mcnemar,
                permutation=permutation,
                claims=claims,
                direction=pair_direction(claims),
                verdict="; ".join(claim.text for claim in claims),
            )
        )
    note = shared_items_note(runs, len(keys))
    return Comparison(
        runs=columns,
        pairs=pairs,
        shared_items=len(keys),
        shared_scenarios=len(set(clusters)),
        all_items_shared=note is None,
        note=note,
        repeats_note=_repeats_note(names, columns),
        multiple_comparisons=(
            f"p-values are Holm-adjusted over the {family} comparisons against A, per metric."
            if family > 1
            else None
        ),
        alpha=alpha,
        resamples=resamples,
        permutations=permutations,
        seed=seed,
    )


# --- the gate ------------------------------------------------------------------------------------------------


def regression_gate(
    comparison: Comparison, metric: Metric = "macro_f1", margin_points: float = 0.0
) -> GateResult:
    """Fail when a run is significantly worse than A on ``metric`` by more than ``margin_points`` points.

    "Significantly" is the metric's own paired test (Holm-adjusted when several runs face A) at the
    comparison's alpha; the drop is the point estimate of B - A. The message is one line saying why.
    """
    if margin_points < 0:
        raise InputError(f"the margin must be 0 or more points, got {margin_points}")
    name = METRIC_LABELS[metric]
    failures: list[str] = []
    lines: list[str] = []
    for pair in comparison.pairs:
        claim = pair.claim(metric)
        points = claim.delta.value * 100
        who = f"{pair.b} (run {pair.b_run_id[:8]})"
        p_text = f"{claim.test}, {format_p(claim.p_adjusted)}"
        if len(comparison.pairs) > 1:
            p_text += " Holm-adjusted"
        if claim.direction == "worse" and -points > margin_points:
            failures.append(pair.b_run_id)
            lines.append(
                f"{who} is worse than {pair.a} on {name} by {-points:.1f} points, beyond the "
                f"{margin_points:g}-point margin ({p_text}, significant at {comparison.alpha:g})"
            )
        elif claim.direction == "worse":
            lines.append(f"{who} is worse by {-points:.1f} points, within the {margin_points:g}-point margin")
        elif claim.direction == "better":
            lines.append(f"{who} is better by {points:.1f} points ({p_text})")
        else:
            lines.append(f"{who} {points:+.1f} points, not significant ({p_text})")
    failed = bool(failures)
    verdict = f"regression on {name}" if failed else f"no regression on {name}"
    return GateResult(
        metric=metric,
        margin_points=margin_points,
        alpha=comparison.alpha,
        failed=failed,
        regressions=failures,
        message=f"{verdict}: " + "; ".join(lines),
    )


# --- examples ------------------------------------------------------------------------------------------------


def pair_category(a: ItemResult, b: ItemResult) -> PairCategory:
    """Which of the four cases a pair of results is."""
    a_right, b_right = a.outcome == "correct", b.outcome == "correct"
    if a_right and not b_right:
        return "A right, B wrong"
    if b_right and not a_right:
        return "A wrong, B right"
    return "both right" if a_right else "both wrong"


def _agreement_text(results: Sequence[ItemResult]) -> str:
    agree, total = answer_agreement(results)
    return f"{agree}/{total}" if total > 1 else ""


def example_outcomes(a: RunItems, b: RunItems) -> list[ExampleOutcome]:
    """Every example two runs share, with both (majority) predictions and its case, sorted by example id."""
    keys = shared_keys([a, b])
    a_groups, b_groups = group_repeats(a.items), group_repeats(b.items)
    clusters = dict(zip(keys, shared_clusters([a, b], keys), strict=True))
    rows = []
    for key in keys:
        a_item, b_item = majority_answer(a_groups[key]), majority_answer(b_groups[key])
        cluster = clusters[key]
        rows.append(
            ExampleOutcome(
                example_id=a_item.example_id,
                scenario=cluster.removeprefix("scenario:") if cluster.startswith("scenario:") else None,
                expected=a_item.expected,
                a_predicted=a_item.predicted_label,
                b_predicted=b_item.predicted_label,
                a_outcome=a_item.outcome,
                b_outcome=b_item.outcome,
                a_agreement=_agreement_text(a_groups[key]),
                b_agreement=_agreement_text(b_groups[key]),
                category=pair_category(a_item, b_item),
            )
        )
    return rows
