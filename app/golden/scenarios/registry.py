"""The scenario registry: each scenario is one failure mechanism on one stack, and says what it shows.

A scenario's id (the ``scenario`` field of an example) is ``<mechanism>.<variant>``: the mechanism is
what goes wrong (a heap that outgrows its limit, a Secret key that is missing, a certificate that
expired), the variant is where it happens (Go, JVM, Python or Node.js clients; a registry; a volume
driver), which decides the words the window uses. Names, namespaces, traffic, neighbours and timing
are drawn anew for every example of a scenario.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from app.golden.schema import Severity
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec
from app.taxonomy import RootCause

# What makes a hard window hard; the dataset card groups examples by it.
HardCase = Literal[
    # One cause in another class's words (a DNS failure reported as "cannot connect", a setting as a stack trace).
    "other_words",
    # A symptom many causes produce (CrashLoopBackOff, failing probes, 5xx); one line tells them apart.
    "shared_symptom",
    # The cause first, its symptoms later and in other classes' words; the label is the earliest cause.
    "causal_chain",
    # Only indirect signs: restarts, a process that stops mid-work, an exit code, a line among hundreds.
    "subtle",
    # Healthy, but with lines that look like failures (retries that succeed, 4xx, a restart, a failed try).
    "healthy_alarming",
    # A scenario with benign alarming episodes of other kinds added around its evidence.
    "added_herrings",
]
HARD_CASES: tuple[str, ...] = get_args(HardCase)


@dataclass(frozen=True)
class Verdict:
    """What a window shows: a one-sentence summary and how bad it is."""

    summary: str
    severity: Severity


Prepare = Callable[[StackSpec, random.Random, str], None]
Build = Callable[[Scene, str], Verdict]


@dataclass(frozen=True)
class Scenario:
    """One mechanism of one root cause on one variant of stack."""

    cause: RootCause
    mechanism: str
    variant: str
    hard_case: HardCase | None
    prepare: Prepare
    build: Build

    @property
    def id(self) -> str:
        """``mechanism.variant`` (just the mechanism when it has no variants)."""
        return f"{self.mechanism}.{self.variant}" if self.variant else self.mechanism


SCENARIOS: dict[str, list[Scenario]] = {}


def _no_preparation(spec: StackSpec, rng: random.Random, variant: str) -> None:
    """Leave the drawn stack as it is."""


def scenario(
    cause: RootCause,
    mechanism: str,
    *,
    variants: Sequence[str] = ("",),
    hard_case: HardCase | None = None,
    prepare: Prepare | None = None,
) -> Callable[[Build], Build]:
    """Register the decorated builder once per variant as scenarios of ``cause``."""

    def register(build: Build) -> Build:
        taken = {item.id for items in SCENARIOS.values() for item in items}
        for variant in variants:
            item = Scenario(cause, mechanism, variant, hard_case, prepare or _no_preparation, build)
            if item.id in taken:
                raise ValueError(f"scenario {item.id!r} is registered twice")
            SCENARIOS.setdefault(cause, []).append(item)
        return build

    return register


class Registrar(Protocol):
    """The ``scenario`` decorator of one root cause's module: ``@scenario(mechanism, variants, ...)``."""

    def __call__(
        self,
        mechanism: str,
        variants: Sequence[str] = ("",),
        *,
        hard_case: HardCase | None = None,
        prepare: Prepare | None = None,
    ) -> Callable[[Build], Build]: ...


def scenarios_of(cause: RootCause) -> Registrar:
    """A ``scenario`` decorator that registers its builders under ``cause``."""

    def register(
        mechanism: str,
        variants: Sequence[str] = ("",),
        *,
        hard_case: HardCase | None = None,
        prepare: Prepare | None = None,
    ) -> Callable[[Build], Build]:
        return scenario(cause, mechanism, variants=variants, hard_case=hard_case, prepare=prepare)

    return register
