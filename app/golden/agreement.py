"""How much labelers agree (Cohen's kappa per labeler pair and per class) and how a label is decided.

Pure functions over lists of votes: anything with ``example_id``, ``labeler`` and ``root_cause``. A vote
of the reserved labeler ``adjudicator`` settles an example and is left out of every agreement figure.

Kappa is undefined when the expected agreement is 1 (both labelers put every shared item in one and the
same class) or when two labelers share no item. Then ``cohen_kappa`` returns 0.0 instead of NaN, and the
result rows say ``defined=False`` so a table can show "n/a" rather than a misleading 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Generic, Literal, Protocol, TypeVar

from app.taxonomy import ROOT_CAUSES

ADJUDICATOR = "adjudicator"

Status = Literal["adjudicated", "agreed", "single", "disputed", "unlabeled"]


class Vote(Protocol):
    """One labeler's root cause for one example."""

    @property
    def example_id(self) -> str: ...

    @property
    def labeler(self) -> str: ...

    @property
    def root_cause(self) -> str: ...


V = TypeVar("V", bound=Vote)


@dataclass(frozen=True)
class PairKappa:
    """Agreement of two labelers on the examples both labeled."""

    labeler_a: str
    labeler_b: str
    items: int
    agreement: float  # observed share of shared items with the same root cause
    kappa: float
    defined: bool


@dataclass(frozen=True)
class ClassKappa:
    """One-vs-rest agreement on one class, pooled over every labeler pair and shared item."""

    root_cause: str
    items: int  # (pair, shared item) judgements pooled
    kappa: float
    defined: bool


@dataclass(frozen=True)
class Disagreement:
    """An example whose labelers picked different root causes and that nobody has adjudicated yet."""

    example_id: str
    votes: dict[str, str]  # labeler -> root cause, by labeler name


@dataclass(frozen=True)
class Resolution(Generic[V]):
    """How an example's label is decided, and the vote that decides it (None when none does)."""

    status: Status
    label: V | None


def kappa_with_definedness(a: Sequence[str], b: Sequence[str]) -> tuple[float, bool]:
    """Cohen's kappa of two equally long label sequences, and whether it is defined (0.0 when not)."""
    if len(a) != len(b):
        raise ValueError(f"kappa needs two sequences of one length, got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return 0.0, False
    agree = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    count_a, count_b = Counter(a), Counter(b)
    # kappa = (po - pe) / (1 - pe), scaled by n² so the undefined case is an exact integer zero.
    chance = sum(count_a[label] * count_b[label] for label in count_a)
    denominator = n * n - chance
    if denominator == 0:
        return 0.0, False
    return (agree * n - chance) / denominator, True


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two labelers' labels on the same items; 0.0 when undefined."""
    return kappa_with_definedness(a, b)[0]


def _by_labeler(votes: Iterable[Vote]) -> dict[str, dict[str, str]]:
    """labeler -> example -> root cause, without the adjudicator; a later vote replaces an earlier one."""
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for vote in votes:
        if vote.labeler != ADJUDICATOR:
            table[vote.labeler][vote.example_id] = vote.root_cause
    return table


def _shared(table: dict[str, dict[str, str]]) -> Iterable[tuple[str, str, list[str], list[str]]]:
    for left, right in combinations(sorted(table), 2):
        items = sorted(set(table[left]) & set(table[right]))
        yield left, right, [table[left][i] for i in items], [table[right][i] for i in items]


def pairwise_kappa(votes: Iterable[Vote]) -> list[PairKappa]:
    """Cohen's kappa for every pair of labelers (by name), on the examples both labeled."""
    rows = []
    for left, right, a, b in _shared(_by_labeler(votes)):
        kappa, defined = kappa_with_definedness(a, b)
        agreement = sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a) if a else 0.0
        rows.append(PairKappa(left, right, len(a), agreement, kappa, defined))
    return rows


def per_class_kappa(votes: Iterable[Vote]) -> list[ClassKappa]:
    """One-vs-rest kappa for every class someone voted for, in taxonomy order (unknown classes last)."""
    table = _by_labeler(votes)
    pairs = list(_shared(table))
    seen = {cause for labels in table.values() for cause in labels.values()}
    classes = [cause for cause in ROOT_CAUSES if cause in seen] + sorted(seen - set(ROOT_CAUSES))
    rows = []
    for cause in classes:
        a = [str(x == cause) for _, _, left, _ in pairs for x in left]
        b = [str(y == cause) for _, _, _, right in pairs for y in right]
        kappa, defined = kappa_with_definedness(a, b)
        rows.append(ClassKappa(cause, len(a), kappa, defined))
    return rows


def resolve(labels: Sequence[V]) -> Resolution[V]:
    """Decide one example's label from its labelers' labels, given in the order they first labeled it.

    An adjudicator's label wins. Otherwise, when every labeler picked the same root cause, the first
    labeler's label is taken whole (its evidence, severity and summary belong together; a union of
    evidence would mix two readings). Otherwise the example is disputed and no label decides it.
    """
    for label in labels:
        if label.labeler == ADJUDICATOR:
            return Resolution("adjudicated", label)
    if not labels:
        return Resolution("unlabeled", None)
    if len({label.root_cause for label in labels}) > 1:
        return Resolution("disputed", None)
    return Resolution("agreed" if len(labels) > 1 else "single", labels[0])


def find_disagreements(votes: Iterable[Vote]) -> list[Disagreement]:
    """The examples to adjudicate: labelers picked different root causes and no adjudicator has ruled."""
    by_example: dict[str, dict[str, str]] = defaultdict(dict)
    for vote in votes:
        by_example[vote.example_id][vote.labeler] = vote.root_cause
    found = []
    for example_id in sorted(by_example):
        example_votes = by_example[example_id]
        if ADJUDICATOR in example_votes or len(set(example_votes.values())) < 2:
            continue
        found.append(Disagreement(example_id, dict(sorted(example_votes.items()))))
    return found
