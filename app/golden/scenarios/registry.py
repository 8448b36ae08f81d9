"""The scenario registry: each scenario builds one kind of window and says what it shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from app.golden.scenarios.window import Window
from app.golden.schema import Severity
from app.golden.taxonomy import RootCause

Difficulty = Literal["easy", "hard"]


@dataclass(frozen=True)
class Verdict:
    """What a scenario's window shows: a one-sentence summary and how bad it is."""

    summary: str
    severity: Severity


class ScenarioBuilder(Protocol):
    """A function that fills a window with one scenario's lines and returns its verdict."""

    __name__: str

    def __call__(self, w: Window, /) -> Verdict: ...


@dataclass(frozen=True)
class Scenario:
    """A named template for windows of one root cause."""

    cause: RootCause
    name: str
    difficulty: Difficulty
    build: ScenarioBuilder


SCENARIOS: dict[str, list[Scenario]] = {}


def scenario(
    cause: RootCause, difficulty: Difficulty = "easy"
) -> Callable[[ScenarioBuilder], ScenarioBuilder]:
    """Register the decorated function as a scenario of ``cause``, named after the function."""

    def register(build: ScenarioBuilder) -> ScenarioBuilder:
        names = {item.name for items in SCENARIOS.values() for item in items}
        if build.__name__ in names:
            raise ValueError(f"scenario {build.__name__!r} is registered twice")
        SCENARIOS.setdefault(cause, []).append(Scenario(cause, build.__name__, difficulty, build))
        return build

    return register
