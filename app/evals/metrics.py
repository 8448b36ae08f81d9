"""Scores of an eval run: pure functions over a list of item results, 0 wherever a ratio has no denominator.

Conventions, the same everywhere (tables, comparisons, the Pushgateway):

* an item whose model gave no usable answer (invalid output, timeout, server error) counts as the
  prediction ``"invalid"``: wrong for accuracy, a miss for its true class's recall, and in the confusion
  matrix's extra ``invalid`` column; it is nobody's false positive;
* per-class scores and the macro average cover the taxonomy classes that occur in the items, as truth
  or as a prediction (scikit-learn's ``labels`` = those classes, ``zero_division=0``);
* micro-F1 pools those classes' counts, so it equals accuracy when every answer is valid and falls below
  it when answers are missing;
* latency figures cover the items the model answered (correct, wrong or invalid output), cached ones
  with the figures measured when they were first run;
* a run with repeats holds several results per example (``repeat`` 0..N-1); the scores here count every
  result, ``majority_answers`` reduces them to one answer per example (what comparisons use), and
  ``repeat_agreement`` says how often the repeats agree;
* an answer that copies a worked example of its prompt (``copied_example``, from
  ``app.prompts.leakage``) is counted in ``leaked_items``; ``leak_rate`` is its share of the answers that
  were checked (valid answers under a prompt; the baseline's and runs stored before the check have none);
* items of one golden scenario are variations of one situation, not independent evidence: ``cluster``
  names the unit a bootstrap resamples (the scenario, else the example).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.llm.stream import percentile
from app.taxonomy import ROOT_CAUSES

Outcome = Literal["correct", "wrong", "invalid_output", "timeout", "server_error"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
ANSWERED: frozenset[str] = frozenset({"correct", "wrong", "invalid_output"})
INVALID = "invalid"
"""The prediction of an item without a usable answer, and the confusion matrix's extra column."""
LATENCY_QUANTILES: tuple[float, ...] = (0.5, 0.95, 0.99)


class ItemResult(BaseModel):
    """One golden example's result in a run: what was expected, what came back, why it failed, what it cost."""

    model_config = ConfigDict(frozen=True)

    example_id: str
    content_hash: str = ""
    expected: str
    predicted: str | None = None
    outcome: Outcome
    error: str | None = None
    raw_output: str = ""
    parsed: dict[str, Any] | None = None
    expected_evidence: list[int] = Field(default_factory=list, description="Labeled evidence, entry indices.")
    cited_evidence: list[int] = Field(default_factory=list, description="Entries behind the cited lines.")
    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    trace_id: str | None = None
    cached: bool = False
    repeat: int = Field(default=0, ge=0, description="Which repeat of the example this result is (0..N-1).")
    scenario: str | None = Field(
        default=None, description="The golden example's scenario; None for examples without one (v1 runs)."
    )
    copied_example: list[str] | None = Field(
        default=None,
        description="What the answer copies from the prompt's worked examples (identifiers, phrases); "
        "empty when nothing, None when not checked (no valid answer, the baseline, runs stored before).",
    )

    @property
    def leaked(self) -> bool:
        """Whether the answer copies a worked example of its prompt."""
        return bool(self.copied_example)

    @property
    def predicted_label(self) -> str:
        """The predicted class, or ``"invalid"`` when there is no usable answer."""
        return (
            self.predicted if self.predicted is not None and self.outcome in ("correct", "wrong") else INVALID
        )

    @property
    def key(self) -> tuple[str, str]:
        """(example id, content hash): what must match for two runs' items to be the same item."""
        return self.example_id, self.content_hash

    @property
    def cluster(self) -> str:
        """The independent unit this item belongs to: its scenario, or the example itself without one."""
        return f"scenario:{self.scenario}" if self.scenario else f"example:{self.example_id}"


class RepeatAgreement(BaseModel):
    """How stable the answers are across repeats: per example, the share of answers equal to its mode."""

    repeats: int
    examples: int = Field(description="Examples with at least two answers (timeouts and errors are none).")
    mean_agreement: float = Field(description="Mean over those examples of modal answers / answers.")
    flip_rate: float = Field(description="Share of those examples with more than one distinct answer.")
    flipped: list[str] = Field(default_factory=list, description="Ids of the examples whose answer flips.")


class ClassMetrics(BaseModel):
    """Precision, recall and F1 of one class; support = items of that class, predicted = items called it."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


class ConfusionMatrix(BaseModel):
    """Counts of (expected row, predicted column); rows in taxonomy order, columns the same plus ``invalid``."""

    rows: list[str]
    columns: list[str]
    counts: list[list[int]]


class LatencySummary(BaseModel):
    """Latency quantiles (ms) of answered items, mean decoding speed and token totals."""

    timed_items: int = 0
    total_ms: dict[str, float] = Field(default_factory=dict, description="Quantile ('0.5') -> ms.")
    total_ms_sum: float = 0.0
    ttft_items: int = 0
    ttft_ms: dict[str, float] = Field(default_factory=dict, description="Quantile ('0.5') -> ms.")
    ttft_ms_sum: float = 0.0
    tokens_per_s_mean: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class RunMetrics(BaseModel):
    """Every score of a set of items."""

    items: int
    outcomes: dict[str, int]
    accuracy: float
    macro_f1: float
    micro_f1: float
    invalid_output_rate: float
    error_rate: float = Field(description="Share of items that timed out or hit a server error.")
    evidence_recall: float
    evidence_items: int = Field(description="Items with labeled evidence (evidence recall's base).")
    cached_items: int
    leak_checked_items: int = Field(default=0, description="Answers checked for copied worked examples.")
    leaked_items: int = Field(default=0, description="Answers that copy a worked example of the prompt.")
    leak_rate: float = Field(default=0.0, description="leaked_items / leak_checked_items.")
    per_class: list[ClassMetrics]
    confusion: ConfusionMatrix
    latency: LatencySummary


# --- the formulas, shared with the bootstrap (which feeds them arrays of resampled counts) ---------------


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0


def f1_from_counts(tp: np.ndarray, n_true: np.ndarray, n_pred: np.ndarray) -> np.ndarray:
    """F1 per class from true positives, true counts and predicted counts (any shape; 0 where undefined)."""
    # 2PR/(P+R) = 2TP/(true + predicted), which is defined wherever the class occurs at all.
    denominator = n_true + n_pred
    return np.divide(2.0 * tp, denominator, out=np.zeros(np.shape(tp), dtype=float), where=denominator > 0)


def macro_from_counts(tp: np.ndarray, n_true: np.ndarray, n_pred: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes (last axis) that occur as truth or prediction; 0 where none does."""
    f1 = f1_from_counts(tp, n_true, n_pred)
    present = (n_true + n_pred) > 0
    count = present.sum(axis=-1)
    total = np.where(present, f1, 0.0).sum(axis=-1)
    return np.divide(total, count, out=np.zeros(np.shape(total), dtype=float), where=count > 0)


def label_codes(items: Sequence[ItemResult]) -> tuple[np.ndarray, np.ndarray]:
    """Expected and predicted labels as taxonomy indices; ``invalid`` (and unknown labels) is len(taxonomy)."""
    index = {label: i for i, label in enumerate(ROOT_CAUSES)}
    other = len(ROOT_CAUSES)
    expected = np.array([index.get(item.expected, other) for item in items], dtype=np.int64)
    predicted = np.array([index.get(item.predicted_label, other) for item in items], dtype=np.int64)
    return expected, predicted


def class_indicators(items: Sequence[ItemResult]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item and taxonomy class (n x K 0/1 arrays): is it truly the class, predicted as it, both."""
    expected, predicted = label_codes(items)
    classes = np.arange(len(ROOT_CAUSES))
    is_true = (expected[:, None] == classes[None, :]).astype(float)
    is_pred = (predicted[:, None] == classes[None, :]).astype(float)
    return is_true, is_pred, is_true * is_pred


# --- the metrics -----------------------------------------------------------------------------------------


def accuracy(items: Sequence[ItemResult]) -> float:
    """Share of items whose prediction equals the expected class (failed items count as wrong)."""
    return ratio(sum(1 for item in items if item.outcome == "correct"), len(items))


def precision_recall_by_class(items: Sequence[ItemResult]) -> list[ClassMetrics]:
    """Precision, recall, F1, support and predicted count of every class that occurs, in taxonomy order."""
    truth = Counter(item.expected for item in items)
    predicted = Counter(item.predicted_label for item in items)
    hits = Counter(item.expected for item in items if item.outcome == "correct")
    rows: list[ClassMetrics] = []
    for label in ROOT_CAUSES:
        support, called, tp = truth[label], predicted[label], hits[label]
        if support == 0 and called == 0:
            continue
        precision, recall = ratio(tp, called), ratio(tp, support)
        f1 = float(f1_from_counts(np.array(tp), np.array(support), np.array(called)))
        rows.append(
            ClassMetrics(
                label=label, precision=precision, recall=recall, f1=f1, support=support, predicted=called
            )
        )
    return rows


def macro_f1(items: Sequence[ItemResult]) -> float:
    """Unweighted mean F1 over the classes that occur as truth or prediction."""
    rows = precision_recall_by_class(items)
    return ratio(sum(row.f1 for row in rows), len(rows))


def micro_f1(items: Sequence[ItemResult]) -> float:
    """F1 of the pooled counts over the taxonomy classes (missing answers are misses, not false positives)."""
    tp = sum(1 for item in items if item.outcome == "correct")
    n_true = sum(1 for item in items if item.expected in ROOT_CAUSES)
    n_pred = sum(1 for item in items if item.predicted_label in ROOT_CAUSES)
    return float(f1_from_counts(np.array(tp), np.array(n_true), np.array(n_pred)))


def confusion_matrix(items: Sequence[ItemResult]) -> ConfusionMatrix:
    """Counts of expected (rows, taxonomy order) against predicted (columns, taxonomy order + invalid)."""
    rows = list(ROOT_CAUSES)
    columns = [*ROOT_CAUSES, INVALID]
    column_of = {label: i for i, label in enumerate(columns)}
    row_of = {label: i for i, label in enumerate(rows)}
    counts = [[0] * len(columns) for _ in rows]
    for item in items:
        row = row_of.get(item.expected)
        if row is not None:
            counts[row][column_of.get(item.predicted_label, column_of[INVALID])] += 1
    return ConfusionMatrix(rows=rows, columns=columns, counts=counts)


def invalid_output_rate(items: Sequence[ItemResult]) -> float:
    """Share of items whose answer did not validate against the RCA schema."""
    return ratio(sum(1 for item in items if item.outcome == "invalid_output"), len(items))


def error_rate(items: Sequence[ItemResult]) -> float:
    """Share of items that timed out or got a server error."""
    return ratio(sum(1 for item in items if item.outcome in ("timeout", "server_error")), len(items))


def evidence_recall(items: Sequence[ItemResult]) -> float:
    """Labeled evidence lines the model cited / labeled evidence lines, over items with labeled evidence."""
    labeled = cited = 0
    for item in items:
        if item.expected_evidence:
            expected = set(item.expected_evidence)
            labeled += len(expected)
            cited += len(expected & set(item.cited_evidence))
    return ratio(cited, labeled)


def leak_counts(items: Sequence[ItemResult]) -> tuple[int, int]:
    """(answers that copy a worked example, answers checked for it)."""
    checked = [item for item in items if item.copied_example is not None]
    return sum(1 for item in checked if item.leaked), len(checked)


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {f"{q:g}": float(percentile(values, q * 100) or 0.0) for q in LATENCY_QUANTILES}


def latency_summary(items: Sequence[ItemResult]) -> LatencySummary:
    """p50/p95/p99 of total time and TTFT, mean tokens/s and token totals, over answered items."""
    answered = [item for item in items if item.outcome in ANSWERED]
    totals = [item.total_ms for item in answered if item.total_ms is not None]
    ttfts = [item.ttft_ms for item in answered if item.ttft_ms is not None]
    speeds = [item.tokens_per_s for item in answered if item.tokens_per_s]
    return LatencySummary(
        timed_items=len(totals),
        total_ms=_quantiles(totals),
        total_ms_sum=math.fsum(totals),
        ttft_items=len(ttfts),
        ttft_ms=_quantiles(ttfts),
        ttft_ms_sum=math.fsum(ttfts),
        tokens_per_s_mean=ratio(math.fsum(speeds), len(speeds)),
        prompt_tokens=sum(item.prompt_tokens or 0 for item in answered),
        completion_tokens=sum(item.completion_tokens or 0 for item in answered),
    )


def outcome_counts(items: Sequence[ItemResult]) -> dict[str, int]:
    """Items per outcome, every outcome listed."""
    counts: Counter[str] = Counter(item.outcome for item in items)
    return {outcome: counts[outcome] for outcome in OUTCOMES}


def scenario_count(items: Sequence[ItemResult]) -> int:
    """Distinct independent units (scenarios, or examples without one) among the items."""
    return len({item.cluster for item in items})


def group_repeats(items: Sequence[ItemResult]) -> dict[tuple[str, str], list[ItemResult]]:
    """Each example's results (by key), in repeat order; keys sorted."""
    groups: defaultdict[tuple[str, str], list[ItemResult]] = defaultdict(list)
    for item in items:
        groups[item.key].append(item)
    return {key: sorted(groups[key], key=lambda item: item.repeat) for key in sorted(groups)}


def majority_answer(results: Sequence[ItemResult]) -> ItemResult:
    """The result whose answer most of ``results`` gave; a tie goes to the answer the earliest repeat gave.

    Answers are the predicted labels of answered results ("invalid" for output that is not an RCA);
    timeouts and server errors say more about the moment than the model and cast no vote, unless no
    repeat answered at all (then the earliest failure stands). The result returned is the earliest
    repeat that gave the winning answer, so its output, evidence and latency are a real answer's.
    """
    if not results:
        raise ValueError("majority_answer needs at least one result")
    ordered = sorted(results, key=lambda item: item.repeat)
    voters = [item for item in ordered if item.outcome in ANSWERED] or ordered[:1]
    votes = Counter(item.predicted_label for item in voters)
    top = max(votes.values())
    # Counter keeps first-seen order, so the first label with the top count is the earliest one.
    winner = next(label for label, count in votes.items() if count == top)
    return next(item for item in voters if item.predicted_label == winner)


def majority_answers(items: Sequence[ItemResult]) -> list[ItemResult]:
    """One result per example: its majority answer across repeats (the result itself without repeats)."""
    return [majority_answer(results) for results in group_repeats(items).values()]


def answer_agreement(results: Sequence[ItemResult]) -> tuple[int, int]:
    """(answers equal to the modal one, answers) among one example's repeats; failures are no answers."""
    votes = Counter(item.predicted_label for item in results if item.outcome in ANSWERED)
    return (max(votes.values()), sum(votes.values())) if votes else (0, 0)


def repeat_agreement(items: Sequence[ItemResult], repeats: int | None = None) -> RepeatAgreement | None:
    """Agreement across repeats and the share of examples whose answer flips, over examples with two or
    more answers; None for a run without repeats (``repeats`` <= 1, or by default no example repeated)."""
    groups = group_repeats(items)
    repeats = (
        repeats if repeats is not None else max((len(results) for results in groups.values()), default=0)
    )
    if repeats <= 1:
        return None
    shares: list[float] = []
    flipped: list[str] = []
    for (example_id, _), results in groups.items():
        modal, answers = answer_agreement(results)
        if answers < 2:
            continue
        shares.append(modal / answers)
        if modal < answers:
            flipped.append(example_id)
    return RepeatAgreement(
        repeats=repeats,
        examples=len(shares),
        mean_agreement=ratio(sum(shares), len(shares)),
        flip_rate=ratio(len(flipped), len(shares)),
        flipped=flipped,
    )


def score_run(items: Sequence[ItemResult]) -> RunMetrics:
    """Every metric of a run's items."""
    leaked, checked = leak_counts(items)
    return RunMetrics(
        items=len(items),
        outcomes=outcome_counts(items),
        accuracy=accuracy(items),
        macro_f1=macro_f1(items),
        micro_f1=micro_f1(items),
        invalid_output_rate=invalid_output_rate(items),
        error_rate=error_rate(items),
        evidence_recall=evidence_recall(items),
        evidence_items=sum(1 for item in items if item.expected_evidence),
        cached_items=sum(1 for item in items if item.cached),
        leak_checked_items=checked,
        leaked_items=leaked,
        leak_rate=ratio(leaked, checked),
        per_class=precision_recall_by_class(items),
        confusion=confusion_matrix(items),
        latency=latency_summary(items),
    )
