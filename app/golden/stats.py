"""What a golden set holds (class balance, sources, window sizes) and what is wrong with it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

from app.golden.jsonl import dataset_version
from app.golden.schema import GoldenExample
from app.taxonomy import ROOT_CAUSES

DEFAULT_MIN_PER_CLASS = 25


class GoldenStats(BaseModel):
    """Counts and sizes of a golden set, as ``logtriage golden stats --json`` prints them."""

    total: int
    per_class: dict[str, int] = Field(
        description="Examples per root cause, every class listed, taxonomy order."
    )
    per_source: dict[str, int]
    per_severity: dict[str, int]
    per_difficulty: dict[str, int] = Field(
        description="Examples per `difficulty` field; empty when no example has one, 'unspecified' for the rest."
    )
    mean_lines: float = Field(description="Mean log lines per window.")
    min_lines: int
    max_lines: int
    line_quantiles: dict[str, int] = Field(
        default_factory=dict,
        description="Lines per window at the 10th, 25th, 50th, 75th, 90th and 99th percentile.",
    )
    scenarios: int = Field(
        default=0,
        description="Distinct `scenario` values; an example without one counts as its own scenario.",
    )
    scenarios_per_class: dict[str, int] = Field(
        default_factory=dict, description="Distinct scenarios per root cause."
    )
    max_scenario_uses: int = Field(default=0, description="How many examples the most used scenario has.")
    without_scenario: int = Field(default=0, description="Examples with no `scenario` field.")
    mean_evidence: float = Field(description="Mean cited evidence lines per example.")
    invalid_evidence: int = Field(
        description="Examples whose evidence cites a missing line or one line twice."
    )
    dataset_version: str = Field(description="12 hex digits of the canonical export's sha256.")


def _invalid_evidence(example: GoldenExample) -> list[str]:
    """Why an example's evidence does not fit its logs (empty when it does)."""
    # Re-checked here because labels are edited after loading (labeling UI, scripts) without re-validation.
    evidence = example.label.evidence
    count = len(example.logs)
    problems = [
        f"label.evidence cites line index {index}, but the window has {count} lines (0..{count - 1})"
        for index in evidence
        if not 0 <= index < count
    ]
    repeated = sorted({index for index in evidence if evidence.count(index) > 1})
    if repeated:
        problems.append(f"label.evidence lists {repeated} more than once")
    return problems


def scenario_of(example: GoldenExample) -> str:
    """The example's scenario; one without a ``scenario`` field is a scenario of its own (its id)."""
    value = (example.model_extra or {}).get("scenario")
    return str(value) if value else f"id:{example.id}"


def _quantiles(counts: Sequence[int]) -> dict[str, int]:
    if not counts:
        return {}
    ordered = sorted(counts)
    # Nearest-rank percentiles: each is a window size that occurs in the set.
    return {
        f"p{p}": ordered[min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))]
        for p in (10, 25, 50, 75, 90, 99)
    }


def _difficulty(example: GoldenExample) -> str | None:
    value = (example.model_extra or {}).get("difficulty")
    return None if value is None else str(value)


def golden_stats(examples: Sequence[GoldenExample]) -> GoldenStats:
    """Class, source, severity and difficulty counts, window sizes and the version of a golden set."""
    line_counts = [len(example.logs) for example in examples]
    per_class = Counter(example.label.root_cause for example in examples)
    difficulties = [_difficulty(example) for example in examples]
    per_difficulty: Counter[str] = Counter()
    if any(value is not None for value in difficulties):
        per_difficulty.update(value if value is not None else "unspecified" for value in difficulties)
    total = len(examples)
    scenario_uses = Counter(scenario_of(example) for example in examples)
    per_class_scenarios: dict[str, set[str]] = {cause: set() for cause in ROOT_CAUSES}
    for example in examples:
        per_class_scenarios.setdefault(example.label.root_cause, set()).add(scenario_of(example))
    return GoldenStats(
        total=total,
        per_class={cause: per_class.get(cause, 0) for cause in ROOT_CAUSES},
        per_source=dict(sorted(Counter(example.source for example in examples).items())),
        per_severity=dict(sorted(Counter(example.label.severity for example in examples).items())),
        per_difficulty=dict(sorted(per_difficulty.items())),
        mean_lines=sum(line_counts) / total if total else 0.0,
        min_lines=min(line_counts, default=0),
        max_lines=max(line_counts, default=0),
        line_quantiles=_quantiles(line_counts),
        scenarios=len(scenario_uses),
        scenarios_per_class={cause: len(names) for cause, names in per_class_scenarios.items()},
        max_scenario_uses=max(scenario_uses.values(), default=0),
        without_scenario=sum(1 for example in examples if not (example.model_extra or {}).get("scenario")),
        mean_evidence=sum(len(example.label.evidence) for example in examples) / total if total else 0.0,
        invalid_evidence=sum(1 for example in examples if _invalid_evidence(example)),
        dataset_version=dataset_version(examples),
    )


def validate_examples(
    examples: Sequence[GoldenExample], min_per_class: int = DEFAULT_MIN_PER_CLASS
) -> list[str]:
    """Problems that make a golden set unfit for evals, one sentence each; empty when there are none."""
    problems: list[str] = []
    if not examples:
        return ["the golden set is empty"]
    per_class = Counter(example.label.root_cause for example in examples)
    for cause in ROOT_CAUSES:
        if per_class.get(cause, 0) < min_per_class:
            problems.append(
                f"class {cause}: {per_class.get(cause, 0)} examples, below the minimum of {min_per_class}"
            )
    unknown = sorted(set(per_class) - set(ROOT_CAUSES))
    if unknown:
        problems.append(f"root causes outside the taxonomy: {', '.join(unknown)}")
    ids = Counter(example.id for example in examples)
    problems.extend(f"{id_}: id appears {count} times" for id_, count in sorted(ids.items()) if count > 1)

    for example in sorted(examples, key=lambda example: example.id):
        if not example.logs:
            problems.append(f"{example.id}: the window has no log lines")
            continue
        problems.extend(f"{example.id}: {problem}" for problem in _invalid_evidence(example))
        if example.label.root_cause != "healthy" and not example.label.evidence:
            problems.append(f"{example.id}: root cause {example.label.root_cause} cites no evidence line")
        outside = example.logs_outside_window()
        if outside:
            first = example.logs[outside[0]]
            problems.append(
                f"{example.id}: {len(outside)} log line(s) outside the window "
                f"{example.window.start} .. {example.window.end}, first logs[{outside[0]}].ts {first.ts}"
            )
        if example.window.start_ns > example.window.end_ns:
            problems.append(
                f"{example.id}: window start {example.window.start} is after end {example.window.end}"
            )
    return problems
