"""Generate the synthetic golden set from the scenario catalog, deterministically.

Every example is one namespace simulated by the synthetic-log engine (``app.logs.synthetic``) over a
window, with one scenario's failure in it (or none, for ``healthy``), labeled by the scenario. The
window holds exactly what ``{namespace="X"}`` returns from the Loki that k8s/'s Alloy feeds: the
namespace's containers' own output and the events of objects in the namespace. The labeling rules
the scenarios follow are in golden/README.md ("Labeling rules"); they are not repeated here.

Output is byte-stable: every random choice comes from ``random.Random`` seeded with the set's seed,
the scenario and the example number, and timestamps from a fixed date, never from now.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.golden.scenarios import SCENARIOS, Scenario, Verdict
from app.golden.scenarios.incidentals import add_incidentals
from app.golden.schema import GoldenExample, GoldenLabel, GoldenLog, GoldenWindow
from app.logs.models import detect_level, format_rfc3339_ns, parse_rfc3339_ns
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import compose, draw_spec, finish
from app.logs.synthetic.timeline import Line
from app.logs.synthetic.traffic import estimate_lines
from app.taxonomy import ROOT_CAUSES

DEFAULT_SEED = 20261126
# The file ``logtriage golden generate`` writes in GOLDEN_DIR by default.
SET_FILE_NAME = "synthetic-v2.jsonl"
LABELER = "synthetic-generator"
PER_CLASS = 40
MAX_USES = 3
MAX_EVIDENCE = 10
# Fixed, not now-relative: the same seed must give the same bytes on any day.
BASE_NS = parse_rfc3339_ns("2026-11-02T00:00:00Z")
SPREAD_DAYS = 28
MIN_DURATION_S = 420.0
_ATTEMPTS = 12


class GenerationError(ValueError):
    """The catalog cannot produce a valid set (too few scenarios, or a scenario that shows nothing)."""


@dataclass(frozen=True)
class GenerationReport:
    """What a generated set holds: examples per class and scenarios per class."""

    examples: list[GoldenExample]

    def summary(self) -> str:
        """Examples and distinct scenarios per class, one line each."""
        per_class: Counter[str] = Counter(example.label.root_cause for example in self.examples)
        scenarios: dict[str, set[str]] = {}
        for example in self.examples:
            scenarios.setdefault(example.label.root_cause, set()).add(
                str((example.model_extra or {})["scenario"])
            )
        rows = [
            f"{cause:<24} {per_class[cause]:>4} examples  {len(scenarios.get(cause, ())):>3} scenarios"
            for cause in ROOT_CAUSES
        ]
        distinct = len(set().union(*scenarios.values())) if scenarios else 0
        return "\n".join([*rows, f"{'total':<24} {len(self.examples):>4} examples  {distinct:>3} scenarios"])


def generate_golden_set(seed: int = DEFAULT_SEED, per_class: int = PER_CLASS) -> list[GoldenExample]:
    """``per_class`` examples of every root cause, spread over its scenarios; the same for the same seed."""
    examples: list[GoldenExample] = []
    for cause in ROOT_CAUSES:
        plan = plan_uses(SCENARIOS.get(cause, []), per_class, random.Random(f"{seed}/{cause}/plan"))
        for number, chosen in enumerate(plan, start=1):
            examples.append(build_example(chosen, seed, number, f"syn-{cause}-{number:03d}"))
    return examples


def plan_uses(scenarios: Sequence[Scenario], count: int, rng: random.Random) -> list[Scenario]:
    """``count`` picks from ``scenarios``, each used as evenly as possible and at most ``MAX_USES`` times."""
    if not scenarios:
        raise GenerationError("no scenario is registered for a root cause")
    if count > len(scenarios) * MAX_USES:
        raise GenerationError(
            f"{count} examples need more than {MAX_USES} uses of {len(scenarios)} scenarios"
        )
    order = list(scenarios)
    rng.shuffle(order)
    plan = [order[index % len(order)] for index in range(count)]
    rng.shuffle(plan)
    return plan


def window_size(rng: random.Random) -> tuple[float, int]:
    """A window's length (seconds) and the number of lines its benign traffic should come to.

    Most windows are what a "last 15 minutes" query returns from a quiet namespace; some
    are a busy stretch of a thousand lines or more (about one in thirty), with the evidence buried in traffic.
    The caps keep the shipped file a sensible size for a git repository (about 40 MB).
    """
    if rng.random() < 0.03:
        target = int(min(2000, rng.lognormvariate(math.log(1000), 0.35)))
    else:
        target = int(min(600, max(25, rng.lognormvariate(math.log(40), 0.75))))
    duration = min(5400.0, max(900.0, rng.uniform(900, 3000) * (target / 200) ** 0.3))
    return duration, target


def build_example(chosen: Scenario, seed: int, number: int, example_id: str) -> GoldenExample:
    """One example of a scenario; a draw that leaves the failure invisible is redrawn (deterministically)."""
    problem = ""
    for attempt in range(_ATTEMPTS):
        damping = 1.0
        for _resize in range(3):
            built = _draw(chosen, random.Random(f"{seed}/{chosen.id}/{number}/{attempt}"), damping)
            lines, target = built[0], built[1]
            # Failures can write far more per request than ordinary traffic (stack traces, retries):
            # a window that grew well past its size is drawn again with the same dice and less traffic.
            if len(lines) <= max(3 * target, target + 1200):
                break
            damping *= 1.5 * target / len(lines)
        lines, _target, scene, start_ns, verdict, hard_case = built
        problem = _problem(lines, chosen.cause)
        if not problem:
            return _example(
                example_id,
                scene.namespace,
                start_ns,
                scene.timeline.end_ns,
                lines,
                chosen,
                verdict,
                hard_case,
            )
    raise GenerationError(f"{chosen.id}: no valid window in {_ATTEMPTS} draws ({problem})")


def _draw(
    chosen: Scenario, rng: random.Random, damping: float
) -> tuple[list[Line], int, Scene, int, Verdict, str | None]:
    """One window of a scenario from ``rng``; ``damping`` scales its traffic down."""
    spec = draw_spec(rng)
    chosen.prepare(spec, rng, chosen.variant)
    duration, target = window_size(rng)
    start_ns = BASE_NS + rng.randrange(SPREAD_DAYS * 86400) * 1_000_000_000 + rng.randrange(10**9)
    scene = compose(rng, spec, start_ns=start_ns, duration_s=duration)
    # Probes, timers and CronJobs write whatever the traffic: keep them to part of the target.
    fixed, _variable = estimate_lines(scene)
    if fixed > 0.5 * target:
        scene.timeline.resize(max(MIN_DURATION_S, duration * 0.5 * target / fixed))
    verdict = chosen.build(scene, chosen.variant)
    herrings = add_incidentals(scene, chosen.cause)
    hard_case = chosen.hard_case
    # One benign episode is an ordinary namespace; two or more make an easy window hard to read.
    if herrings >= 2 and hard_case is None:
        hard_case = "healthy_alarming" if chosen.cause == "healthy" else "added_herrings"
    fixed, variable = estimate_lines(scene)
    placed = len(scene.timeline)
    scale = (target - fixed - placed) / variable if variable else 1.0
    scene.traffic_scale = min(40.0, max(0.05, scale)) * damping
    return finish(scene), target, scene, start_ns, verdict, hard_case


def _problem(lines: list[Line], cause: str) -> str:
    evidence = [line for line in lines if line.evidence]
    if not lines:
        return "the window is empty"
    if cause == "healthy":
        return "a healthy window cites evidence" if evidence else ""
    if not evidence:
        return "no evidence line fell in the window"
    levels = {detect_level(line.text, line.labels) for line in evidence[:MAX_EVIDENCE]}
    if levels <= {"info", "debug"}:
        return f"every evidence line reads as plain info ({sorted(levels)})"
    return ""


def _example(
    example_id: str,
    namespace: str,
    start_ns: int,
    end_ns: int,
    lines: list[Line],
    chosen: Scenario,
    verdict: Verdict,
    hard_case: str | None,
) -> GoldenExample:
    evidence = [index for index, line in enumerate(lines) if line.evidence][:MAX_EVIDENCE]
    cause = chosen.cause
    end = format_rfc3339_ns(end_ns)
    return GoldenExample(
        id=example_id,
        source="synthetic",
        namespace=namespace,
        window=GoldenWindow(start=format_rfc3339_ns(start_ns), end=end),
        logs=[
            GoldenLog.model_construct(ts=format_rfc3339_ns(line.ts_ns), labels=line.labels, line=line.text)
            for line in lines
        ],
        label=GoldenLabel(
            root_cause=cause,
            evidence=evidence,
            severity=verdict.severity,
            summary=verdict.summary,
            labeler=LABELER,
            labeled_at=end,
        ),
        difficulty="easy" if hard_case is None else "hard",
        hard_case=hard_case,
        scenario=chosen.id,
        components=sorted({line.component for line in lines}),
    )
