"""Scores of a run: hand-computed numbers, and scikit-learn's on random runs."""

from __future__ import annotations

import random
from typing import TypedDict

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from app.evals import metrics
from app.evals.metrics import INVALID, ItemResult, Outcome
from app.taxonomy import ROOT_CAUSES


def item(
    expected: str,
    predicted: str | None,
    outcome: Outcome | None = None,
    *,
    n: int = 0,
    expected_evidence: list[int] | None = None,
    cited: list[int] | None = None,
    total_ms: float | None = None,
    ttft_ms: float | None = None,
    tokens_per_s: float | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> ItemResult:
    if outcome is None:
        outcome = "correct" if predicted == expected else "wrong"
    return ItemResult(
        example_id=f"ex-{n}",
        content_hash=f"h{n}",
        expected=expected,
        predicted=predicted,
        outcome=outcome,
        expected_evidence=expected_evidence or [],
        cited_evidence=cited or [],
        total_ms=total_ms,
        ttft_ms=ttft_ms,
        tokens_per_s=tokens_per_s,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


class TokenCounts(TypedDict):
    """The token counts ``item`` takes, so one dict of them can be splatted into several calls."""

    prompt_tokens: int
    completion_tokens: int


@pytest.fixture
def six_items() -> list[ItemResult]:
    """Two of each of oom, dns and healthy: 2 right, 2 wrong, 1 invalid output, 1 timeout."""
    timed: TokenCounts = {"prompt_tokens": 100, "completion_tokens": 10}
    return [
        item("oom_killed", "oom_killed", n=1, expected_evidence=[1, 2], cited=[2], total_ms=100, ttft_ms=10, tokens_per_s=10, **timed),
        item("oom_killed", "dns_resolution_failure", n=2, total_ms=200, ttft_ms=20, tokens_per_s=20, **timed),
        item("dns_resolution_failure", "dns_resolution_failure", n=3, expected_evidence=[0], cited=[0, 5], total_ms=300, ttft_ms=30, **timed),
        item("dns_resolution_failure", None, "invalid_output", n=4, expected_evidence=[3], total_ms=400, ttft_ms=40, tokens_per_s=0, **timed),
        item("healthy", "oom_killed", n=5, total_ms=500, ttft_ms=50, tokens_per_s=30, **timed),
        item("healthy", None, "timeout", n=6, total_ms=9000, ttft_ms=None),
    ]  # fmt: skip


def test_per_class_scores_by_hand(six_items: list[ItemResult]) -> None:
    rows = {row.label: row for row in metrics.precision_recall_by_class(six_items)}
    assert list(rows) == ["oom_killed", "dns_resolution_failure", "healthy"]  # taxonomy order, present only
    assert (rows["oom_killed"].precision, rows["oom_killed"].recall, rows["oom_killed"].f1) == (0.5, 0.5, 0.5)
    assert (rows["oom_killed"].support, rows["oom_killed"].predicted) == (2, 2)
    assert (rows["dns_resolution_failure"].precision, rows["dns_resolution_failure"].recall) == (0.5, 0.5)
    # Nothing was called healthy: precision has no denominator and is 0, not an error.
    assert (rows["healthy"].precision, rows["healthy"].recall, rows["healthy"].f1) == (0.0, 0.0, 0.0)
    assert (rows["healthy"].support, rows["healthy"].predicted) == (2, 0)


def test_headline_scores_by_hand(six_items: list[ItemResult]) -> None:
    assert metrics.accuracy(six_items) == pytest.approx(2 / 6)
    assert metrics.macro_f1(six_items) == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    # Pooled: 2 right, 6 true, 4 valid predictions -> 2*2 / (6 + 4).
    assert metrics.micro_f1(six_items) == pytest.approx(0.4)
    assert metrics.invalid_output_rate(six_items) == pytest.approx(1 / 6)
    assert metrics.error_rate(six_items) == pytest.approx(1 / 6)
    # Labeled evidence 2 + 1 + 1 lines, of which 1 + 1 + 0 cited.
    assert metrics.evidence_recall(six_items) == pytest.approx(0.5)


def test_failed_items_land_in_the_invalid_column(six_items: list[ItemResult]) -> None:
    matrix = metrics.confusion_matrix(six_items)
    assert matrix.rows == list(ROOT_CAUSES)
    assert matrix.columns == [*ROOT_CAUSES, INVALID]
    row = {
        label: dict(zip(matrix.columns, counts, strict=True))
        for label, counts in zip(matrix.rows, matrix.counts, strict=True)
    }
    assert row["oom_killed"]["oom_killed"] == 1
    assert row["oom_killed"]["dns_resolution_failure"] == 1
    assert row["dns_resolution_failure"][INVALID] == 1
    assert row["healthy"][INVALID] == 1
    assert row["healthy"]["oom_killed"] == 1
    assert sum(map(sum, matrix.counts)) == 6


def test_latency_covers_answered_items_only(six_items: list[ItemResult]) -> None:
    latency = metrics.latency_summary(six_items)
    assert latency.timed_items == 5  # the timeout's 9 s is not an answer's latency
    assert latency.total_ms == pytest.approx({"0.5": 300.0, "0.95": 480.0, "0.99": 496.0})
    assert latency.ttft_ms == pytest.approx({"0.5": 30.0, "0.95": 48.0, "0.99": 49.6})
    assert latency.tokens_per_s_mean == pytest.approx(20.0)  # items without a speed are left out
    assert (latency.prompt_tokens, latency.completion_tokens, latency.total_tokens) == (500, 50, 550)


def test_no_items_score_zero_everywhere() -> None:
    scored = metrics.score_run([])
    assert (scored.items, scored.accuracy, scored.macro_f1, scored.micro_f1) == (0, 0.0, 0.0, 0.0)
    assert (scored.invalid_output_rate, scored.evidence_recall, scored.per_class) == (0.0, 0.0, [])
    assert scored.latency.total_ms == {}
    assert metrics.ratio(3, 0) == 0.0


def test_score_run_gathers_everything(six_items: list[ItemResult]) -> None:
    scored = metrics.score_run(six_items)
    assert scored.outcomes == {"correct": 2, "wrong": 2, "invalid_output": 1, "timeout": 1, "server_error": 0}
    assert scored.evidence_items == 3
    assert scored.macro_f1 == metrics.macro_f1(six_items)
    assert metrics.RunMetrics.model_validate_json(scored.model_dump_json()) == scored


def random_items(rng: random.Random, n: int) -> list[ItemResult]:
    classes = rng.sample(ROOT_CAUSES, rng.randint(2, len(ROOT_CAUSES)))
    items = []
    for i in range(n):
        expected = rng.choice(classes)
        roll = rng.random()
        if roll < 0.1:
            items.append(item(expected, None, rng.choice(["invalid_output", "timeout", "server_error"]), n=i))
        elif roll < 0.55:
            items.append(item(expected, expected, n=i))
        else:
            items.append(item(expected, rng.choice(ROOT_CAUSES), n=i))
    return items


@pytest.mark.parametrize("seed", range(40))
def test_scores_agree_with_scikit_learn(seed: int) -> None:
    rng = random.Random(seed)
    items = random_items(rng, rng.randint(1, 150))
    y_true = [i.expected for i in items]
    y_pred = [i.predicted_label for i in items]
    present = [label for label in ROOT_CAUSES if label in set(y_true) | set(y_pred)]

    assert metrics.accuracy(items) == pytest.approx(accuracy_score(y_true, y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0
    )
    rows = metrics.precision_recall_by_class(items)
    assert [row.label for row in rows] == present
    assert [row.precision for row in rows] == pytest.approx(list(precision))
    assert [row.recall for row in rows] == pytest.approx(list(recall))
    assert [row.f1 for row in rows] == pytest.approx(list(f1))
    assert [row.support for row in rows] == list(support)
    assert metrics.macro_f1(items) == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    )
    assert metrics.micro_f1(items) == pytest.approx(
        f1_score(y_true, y_pred, labels=present, average="micro", zero_division=0)
    )
    labels = [*ROOT_CAUSES, INVALID]
    expected_matrix = sk_confusion_matrix(y_true, y_pred, labels=labels)[: len(ROOT_CAUSES)]
    assert np.array_equal(np.array(metrics.confusion_matrix(items).counts), expected_matrix)


def test_latency_quantiles_agree_with_numpy() -> None:
    rng = random.Random(7)
    values = [rng.uniform(10, 5000) for _ in range(97)]
    items = [item("healthy", "healthy", n=i, total_ms=v, ttft_ms=v / 10) for i, v in enumerate(values)]
    latency = metrics.latency_summary(items)
    for q in metrics.LATENCY_QUANTILES:
        assert latency.total_ms[f"{q:g}"] == pytest.approx(np.percentile(values, q * 100))
        assert latency.ttft_ms[f"{q:g}"] == pytest.approx(np.percentile(values, q * 100) / 10)


def test_bootstrap_formulas_match_the_scalar_ones() -> None:
    """The array formulas the bootstrap uses give the same macro-F1 as the per-class table."""
    items = random_items(random.Random(3), 80)
    is_true, is_pred, hit = metrics.class_indicators(items)
    macro = metrics.macro_from_counts(hit.sum(0), is_true.sum(0), is_pred.sum(0))
    assert float(macro) == pytest.approx(metrics.macro_f1(items))


# --- scenarios and repeats ------------------------------------------------------------------------------------


def answer(
    n: int,
    expected: str,
    predicted: str | None,
    *,
    repeat: int = 0,
    scenario: str | None = None,
    failed: Outcome = "timeout",
) -> ItemResult:
    """A result; ``predicted`` None is a failure of kind ``failed`` (a timeout unless said otherwise)."""
    outcome: Outcome = failed if predicted is None else "correct" if predicted == expected else "wrong"
    return item(expected, predicted, outcome, n=n).model_copy(update={"repeat": repeat, "scenario": scenario})


def test_items_of_one_scenario_are_one_unit() -> None:
    items = [answer(i, "healthy", "healthy", scenario=f"s{i // 4}") for i in range(10)]
    items += [answer(10, "healthy", "healthy"), answer(11, "healthy", "healthy")]  # no scenario: alone
    assert metrics.scenario_count(items) == 3 + 2
    assert items[0].cluster == items[3].cluster != items[4].cluster
    assert items[10].cluster == "example:ex-10"
    # A scenario named like an example id is still a different unit.
    assert answer(1, "healthy", "healthy", scenario="ex-1").cluster != answer(1, "healthy", "healthy").cluster


def test_the_majority_answer_and_its_tie_rule() -> None:
    two_to_one = [
        answer(0, "oom_killed", p, repeat=r) for r, p in enumerate(["healthy", "oom_killed", "oom_killed"])
    ]
    assert metrics.majority_answer(two_to_one).predicted == "oom_killed"
    assert metrics.majority_answer(two_to_one).repeat == 1  # the earliest repeat with the winning answer
    # A tie goes to the answer the earliest repeat gave, whatever order the results come in.
    tie = [answer(0, "oom_killed", "oom_killed", repeat=1), answer(0, "oom_killed", "healthy", repeat=0)]
    assert metrics.majority_answer(tie).predicted == "healthy"
    assert metrics.majority_answer(list(reversed(tie))).predicted == "healthy"
    # Output that is not an RCA is an answer ("invalid") and can win ...
    invalid = [answer(0, "oom_killed", None, repeat=r, failed="invalid_output") for r in range(2)]
    assert (
        metrics.majority_answer([*invalid, answer(0, "oom_killed", "oom_killed", repeat=2)]).predicted_label
        == INVALID
    )
    # ... a timeout or a server error is no answer: it casts no vote, unless nothing else came back.
    timeouts = [answer(0, "oom_killed", None, repeat=r) for r in range(2)]
    assert (
        metrics.majority_answer([*timeouts, answer(0, "oom_killed", "oom_killed", repeat=2)]).outcome
        == "correct"
    )
    assert metrics.majority_answer(timeouts).outcome == "timeout"
    assert metrics.majority_answer(timeouts).repeat == 0
    with pytest.raises(ValueError, match="at least one"):
        metrics.majority_answer([])


def test_agreement_and_flips_across_repeats() -> None:
    items = [
        *(answer(0, "oom_killed", "oom_killed", repeat=r) for r in range(3)),  # 3/3
        *(
            answer(1, "oom_killed", p, repeat=r) for r, p in enumerate(["oom_killed", "healthy", "healthy"])
        ),  # 2/3
        *(
            answer(2, "healthy", p, repeat=r)
            for r, p in enumerate(["healthy", "oom_killed", "probe_failure"])
        ),  # 1/3
        *(
            answer(3, "healthy", p, repeat=r) for r, p in enumerate(["healthy", None, None])
        ),  # one answer: left out
    ]
    agreement = metrics.repeat_agreement(items)
    assert agreement is not None
    assert (agreement.repeats, agreement.examples) == (3, 3)
    assert agreement.mean_agreement == pytest.approx((1 + 2 / 3 + 1 / 3) / 3)
    assert agreement.flip_rate == pytest.approx(2 / 3)
    assert agreement.flipped == ["ex-1", "ex-2"]
    assert [a.predicted_label for a in metrics.majority_answers(items)] == [
        "oom_killed",
        "healthy",
        "healthy",
        "healthy",
    ]
    assert metrics.repeat_agreement([answer(0, "healthy", "healthy")]) is None
    assert metrics.repeat_agreement(items, repeats=1) is None
    assert metrics.repeat_agreement([answer(0, "healthy", "healthy")], repeats=3) == metrics.RepeatAgreement(
        repeats=3, examples=0, mean_agreement=0.0, flip_rate=0.0
    )


def test_leaks_are_counted_over_the_answers_checked_for_them() -> None:
    copied = item("oom_killed", "oom_killed", n=1).model_copy(update={"copied_example": ["app-a"]})
    clean = item("healthy", "healthy", n=2).model_copy(update={"copied_example": []})
    unchecked = item("healthy", None, "invalid_output", n=3)  # no answer to check
    older = item("oom_killed", "healthy", n=4)  # stored before the check: None
    scores = metrics.score_run([copied, clean, unchecked, older])
    assert (scores.leaked_items, scores.leak_checked_items) == (1, 2)
    assert scores.leak_rate == 0.5
    assert copied.leaked
    assert not clean.leaked
    assert not older.leaked
    nothing = metrics.score_run([older])
    assert (nothing.leaked_items, nothing.leak_checked_items, nothing.leak_rate) == (0, 0, 0.0)
    # A summary stored before the count existed reads back with none.
    stored = scores.model_dump(mode="json", exclude={"leaked_items", "leak_checked_items", "leak_rate"})
    assert metrics.RunMetrics.model_validate(stored).leaked_items == 0
