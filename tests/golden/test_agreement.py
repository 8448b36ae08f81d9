"""Agreement between labelers: Cohen's kappa against scikit-learn, its undefined cases, adjudication."""

from __future__ import annotations

import math
import random
import warnings
from typing import NamedTuple

import pytest
from sklearn.metrics import cohen_kappa_score

from app.golden.agreement import (
    ADJUDICATOR,
    Disagreement,
    cohen_kappa,
    find_disagreements,
    kappa_with_definedness,
    pairwise_kappa,
    per_class_kappa,
    resolve,
)
from app.taxonomy import ROOT_CAUSES


class Vote(NamedTuple):
    example_id: str
    labeler: str
    root_cause: str


def sklearn_kappa(a: list[str], b: list[str]) -> float:
    """scikit-learn's kappa; NaN (with a warning we do not care about) where it is undefined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cohen_kappa_score(a, b))


@pytest.mark.parametrize("seed", range(200))
def test_kappa_matches_sklearn_on_random_labels(seed: int) -> None:
    rng = random.Random(seed)
    classes = rng.sample(ROOT_CAUSES, rng.randint(1, 6))
    n = rng.randint(1, 60)
    a = [rng.choice(classes) for _ in range(n)]
    # Correlated raters: b copies a most of the time, so kappa spans the whole range.
    b = [x if rng.random() < rng.random() else rng.choice(classes) for x in a]
    expected = sklearn_kappa(a, b)
    kappa, defined = kappa_with_definedness(a, b)
    if math.isnan(expected):
        assert (kappa, defined) == (0.0, False)
    else:
        assert defined
        assert kappa == pytest.approx(expected, abs=1e-12)


def test_kappa_edge_cases() -> None:
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    assert cohen_kappa(["a", "b"], ["b", "a"]) == -1.0
    assert kappa_with_definedness([], []) == (0.0, False)
    # Both labelers always said "a": agreement is perfect, yet kappa is 0/0.
    assert kappa_with_definedness(["a", "a"], ["a", "a"]) == (0.0, False)
    with pytest.raises(ValueError, match="one length"):
        cohen_kappa(["a"], [])


@pytest.mark.parametrize("seed", range(50))
def test_pairwise_kappa_uses_only_the_items_both_labeled(seed: int) -> None:
    rng = random.Random(seed)
    labelers = ["ann", "ben", "cat"]
    votes = [
        Vote(f"ex-{i}", labeler, rng.choice(ROOT_CAUSES[:4]))
        for i in range(40)
        for labeler in labelers
        if rng.random() < 0.7
    ]
    votes.append(Vote("ex-0", ADJUDICATOR, "healthy"))  # never counted
    by = {(v.labeler, v.example_id): v.root_cause for v in votes}
    rows = pairwise_kappa(votes)
    assert [(row.labeler_a, row.labeler_b) for row in rows] == [
        ("ann", "ben"),
        ("ann", "cat"),
        ("ben", "cat"),
    ]
    for row in rows:
        shared = sorted(
            {v.example_id for v in votes if v.labeler == row.labeler_a}
            & {v.example_id for v in votes if v.labeler == row.labeler_b}
        )
        a = [by[(row.labeler_a, i)] for i in shared]
        b = [by[(row.labeler_b, i)] for i in shared]
        assert row.items == len(shared)
        assert row.agreement == pytest.approx(sum(x == y for x, y in zip(a, b, strict=True)) / len(shared))
        expected = sklearn_kappa(a, b)
        assert row.kappa == (0.0 if math.isnan(expected) else pytest.approx(expected, abs=1e-12))
        assert row.defined is not math.isnan(expected)


@pytest.mark.parametrize("seed", range(50))
def test_per_class_kappa_is_one_vs_rest_pooled_over_pairs(seed: int) -> None:
    rng = random.Random(seed)
    classes = list(ROOT_CAUSES[:5])
    votes = [
        Vote(f"ex-{i}", labeler, rng.choice(classes))
        for i in range(30)
        for labeler in ("ann", "ben", "cat")
        if rng.random() < 0.8
    ]
    by = {(v.labeler, v.example_id): v.root_cause for v in votes}
    pairs = [("ann", "ben"), ("ann", "cat"), ("ben", "cat")]
    shared = {
        pair: sorted(
            {v.example_id for v in votes if v.labeler == pair[0]}
            & {v.example_id for v in votes if v.labeler == pair[1]}
        )
        for pair in pairs
    }
    rows = per_class_kappa(votes)
    seen = {v.root_cause for v in votes}
    assert [row.root_cause for row in rows] == [c for c in ROOT_CAUSES if c in seen]
    for row in rows:
        a = [by[(left, i)] == row.root_cause for (left, _), items in shared.items() for i in items]
        b = [by[(right, i)] == row.root_cause for (_, right), items in shared.items() for i in items]
        expected = sklearn_kappa([str(x) for x in a], [str(y) for y in b])
        assert row.items == len(a)
        assert row.kappa == (0.0 if math.isnan(expected) else pytest.approx(expected, abs=1e-12))


def test_no_shared_items_means_kappa_is_not_defined() -> None:
    rows = pairwise_kappa([Vote("a", "ann", "healthy"), Vote("b", "ben", "healthy")])
    assert [(row.items, row.kappa, row.defined) for row in rows] == [(0, 0.0, False)]
    assert per_class_kappa([]) == []


def test_resolution_prefers_adjudication_then_unanimity() -> None:
    ann, ben = Vote("x", "ann", "oom_killed"), Vote("x", "ben", "oom_killed")
    other = Vote("x", "cat", "probe_failure")
    ruling = Vote("x", ADJUDICATOR, "probe_failure")
    assert (resolve([]).status, resolve([]).label) == ("unlabeled", None)
    assert (resolve([ann]).status, resolve([ann]).label) == ("single", ann)
    assert (resolve([ben, ann]).status, resolve([ben, ann]).label) == ("agreed", ben)
    assert (resolve([ann, other]).status, resolve([ann, other]).label) == ("disputed", None)
    assert (resolve([ann, other, ruling]).status, resolve([ann, other, ruling]).label) == (
        "adjudicated",
        ruling,
    )


def test_disagreements_list_unsettled_splits_only() -> None:
    votes = [
        Vote("b", "ben", "oom_killed"),
        Vote("b", "ann", "probe_failure"),
        Vote("a", "ann", "healthy"),
        Vote("a", "ben", "healthy"),
        Vote("c", "ann", "healthy"),
        Vote("c", "ben", "oom_killed"),
        Vote("c", ADJUDICATOR, "healthy"),
        Vote("d", "ann", "healthy"),
    ]
    assert find_disagreements(votes) == [Disagreement("b", {"ann": "probe_failure", "ben": "oom_killed"})]
