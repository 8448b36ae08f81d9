"""The scenario registry: each scenario builds one kind of window and says what it shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from app.golden.scenarios.window import Window
from app.golden.schema import Severity
from app.taxonomy import RootCause

Difficulty = Literal["easy", "hard"]
# What makes a hard window hard; the README's hard-case table groups examples by it.
HardCase = Literal[
    # One cause in another class's words: a DNS failure reported as "cannot connect", a config error
    # that surfaces as a stack trace, an image pull refused with x509 or 403.
    "other_words",
    # A symptom many causes produce (CrashLoopBackOff, failing probes, SIGTERM, 5xx); one line tells.
    "shared_symptom",
    # The cause comes first, its symptoms later and in other classes' words (refused connections,
    # 502s, restarts with exit 137); the label is the earliest cause.
    "causal_chain",
    # Convincing lines of another class that are not the cause: a DNS timeout that recovered, a
    # start-up probe failure, an old OOMKilled, an ignored x509 warning from a sidecar.
    "red_herring",
    # The cause in a component's own words, off the usual keywords (ETIMEDOUT, Communications link
    # failure, EAI_AGAIN, no healthy upstream, TopicAuthorizationException, ...).
    "paraphrase",
    # One line among noise, or only a reason field or an exit code, or cause and symptom far apart.
    "subtle",
    # Healthy, but full of lines that look like failures (retries that succeed, 4xx, handled errors).
    "healthy_alarming",
    # An easy scenario with benign alarming lines and one cross-class decoy added (set by the generator).
    "added_herrings",
]
HARD_CASES: tuple[str, ...] = get_args(HardCase)


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
    """A named template for windows of one root cause; ``hard_case`` says what makes it hard, if anything."""

    cause: RootCause
    name: str
    hard_case: HardCase | None
    build: ScenarioBuilder

    @property
    def difficulty(self) -> Difficulty:
        """``hard`` when the template names a hard-case type, else ``easy``."""
        return "easy" if self.hard_case is None else "hard"


SCENARIOS: dict[str, list[Scenario]] = {}


def scenario(
    cause: RootCause, hard_case: HardCase | None = None
) -> Callable[[ScenarioBuilder], ScenarioBuilder]:
    """Register the decorated function as a scenario of ``cause``, named after the function."""

    def register(build: ScenarioBuilder) -> ScenarioBuilder:
        names = {item.name for items in SCENARIOS.values() for item in items}
        if build.__name__ in names:
            raise ValueError(f"scenario {build.__name__!r} is registered twice")
        SCENARIOS.setdefault(cause, []).append(Scenario(cause, build.__name__, hard_case, build))
        return build

    return register
