"""Item results and paired runs made to order, for the tests of comparisons and their statistics."""

from __future__ import annotations

import random

from app.evals.metrics import ItemResult
from app.taxonomy import ROOT_CAUSES


def result(
    n: int,
    expected: str,
    predicted: str | None,
    *,
    content_hash: str | None = None,
    repeat: int = 0,
    scenario: str | None = None,
    total_ms: float | None = None,
) -> ItemResult:
    """Example ``ex-<n>``'s result: correct, wrong, or (``predicted`` None) invalid output."""
    outcome = "invalid_output" if predicted is None else ("correct" if predicted == expected else "wrong")
    return ItemResult(
        example_id=f"ex-{n:03d}",
        content_hash=content_hash or f"h{n}",
        expected=expected,
        predicted=predicted,
        outcome=outcome,
        repeat=repeat,
        scenario=scenario,
        total_ms=total_ms,
    )


def paired_runs(
    rng: random.Random, n: int, a_rate: float, b_rate: float, *, classes: list[str] | None = None
) -> tuple[list[ItemResult], list[ItemResult]]:
    """Two runs over the same n items, right with the given rates (wrong answers random)."""
    pool = classes or list(ROOT_CAUSES)
    a_items: list[ItemResult] = []
    b_items: list[ItemResult] = []
    for i in range(n):
        expected = rng.choice(pool)
        for rate, items in ((a_rate, a_items), (b_rate, b_items)):
            predicted = expected if rng.random() < rate else rng.choice([c for c in pool if c != expected])
            items.append(result(i, expected, predicted))
    return a_items, b_items
