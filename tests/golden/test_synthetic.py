"""The generator: deterministic, spread over the catalog, and with labels that hold up."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from app.golden.jsonl import dump_jsonl
from app.golden.scenarios import SCENARIOS
from app.golden.scenarios.registry import HARD_CASES, Scenario
from app.golden.schema import GoldenExample
from app.golden.synthetic import (
    DEFAULT_SEED,
    LABELER,
    MAX_USES,
    GenerationError,
    build_example,
    generate_golden_set,
    plan_uses,
)
from app.logs.models import detect_level
from app.taxonomy import ROOT_CAUSES
from tests.golden import REGENERATE, SHIPPED, shipped_examples


def extra(example: GoldenExample, key: str) -> object:
    """One of the extra fields the generator adds (difficulty, hard_case, scenario, components)."""
    return (example.model_extra or {})[key]


@pytest.fixture(scope="module")
def shipped() -> list[GoldenExample]:
    return shipped_examples()


def test_default_seed_reproduces_the_shipped_file_byte_for_byte() -> None:
    generated = dump_jsonl(generate_golden_set()).encode("utf-8")

    assert generated == SHIPPED.read_bytes(), (
        f"{SHIPPED.name} is not what the generator makes; if the change is intended, run `{REGENERATE}`"
    )


def test_the_same_seed_gives_the_same_examples_and_another_seed_others() -> None:
    cause = "dns_resolution_failure"
    chosen = SCENARIOS[cause][0]

    one = build_example(chosen, DEFAULT_SEED, 1, "a")
    again = build_example(chosen, DEFAULT_SEED, 1, "a")
    other = build_example(chosen, DEFAULT_SEED + 1, 1, "a")

    assert dump_jsonl([one]) == dump_jsonl([again])
    assert dump_jsonl([one]) != dump_jsonl([other])


def test_every_class_has_scenarios_enough_for_its_examples() -> None:
    for cause in ROOT_CAUSES:
        assert len(SCENARIOS[cause]) * MAX_USES >= 40, cause
    ids = [item.id for items in SCENARIOS.values() for item in items]
    assert len(ids) == len(set(ids))


def test_plans_spread_uses_evenly_and_refuse_to_overuse() -> None:
    scenarios = SCENARIOS["healthy"][:10]

    plan = plan_uses(scenarios, 25, random.Random(1))
    uses = Counter(item.id for item in plan)
    assert len(plan) == 25
    assert set(uses.values()) <= {2, 3}
    with pytest.raises(GenerationError, match="more than 3 uses"):
        plan_uses(scenarios, 31, random.Random(1))


def test_examples_describe_themselves(shipped: list[GoldenExample]) -> None:
    by_id = {item.id: item for items in SCENARIOS.values() for item in items}
    for example in shipped:
        scenario: Scenario = by_id[str(extra(example, "scenario"))]
        assert example.source == "synthetic"
        assert example.label.labeler == LABELER
        assert scenario.cause == example.label.root_cause
        assert extra(example, "components")
        hard_case = extra(example, "hard_case")
        assert (extra(example, "difficulty") == "easy") == (hard_case is None), example.id
        assert hard_case is None or hard_case in HARD_CASES
        assert (example.label.severity == "info") == (example.label.root_cause == "healthy"), example.id


def test_evidence_points_at_lines_that_are_not_plain_info(shipped: list[GoldenExample]) -> None:
    for example in shipped:
        if example.label.root_cause == "healthy":
            continue
        levels = {detect_level(example.logs[i].line, example.logs[i].labels) for i in example.label.evidence}
        assert not levels <= {"info", "debug"}, (example.id, levels)


def test_windows_interleave_pods_in_time_order(shipped: list[GoldenExample]) -> None:
    pods = [len({log.labels.get("pod") for log in example.logs} - {None}) for example in shipped]
    for example in shipped:
        times = [log.ts_ns for log in example.logs]
        assert times == sorted(times), example.id
    # A namespace with one talkative pod happens; most windows interleave several.
    assert sum(count >= 2 for count in pods) >= 0.9 * len(pods)


def test_every_class_mixes_easy_and_hard_windows(shipped: list[GoldenExample]) -> None:
    kinds: dict[str, set[object]] = defaultdict(set)
    for example in shipped:
        kinds[example.label.root_cause].add(extra(example, "difficulty"))
    assert all(kinds[cause] == {"easy", "hard"} for cause in ROOT_CAUSES), kinds
