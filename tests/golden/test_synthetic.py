"""The synthetic starter set: deterministic, balanced, hard enough, and with evidence that holds up."""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from app.golden.jsonl import dump_jsonl, read_jsonl
from app.golden.scenarios.decoys import DECOYS, add_decoys
from app.golden.scenarios.noise import background
from app.golden.scenarios.registry import HARD_CASES
from app.golden.scenarios.window import Window
from app.golden.schema import GoldenExample
from app.golden.synthetic import DEFAULT_SEED, LABELER, generate_starter_set, main
from app.logs.models import detect_level
from app.taxonomy import ROOT_CAUSES

STARTER = Path(__file__).resolve().parents[2] / "golden" / "starter.jsonl"
REGENERATE = "uv run python -m app.golden.synthetic --out golden/starter.jsonl"


def extra(example: GoldenExample, key: str) -> object:
    """One of the extra fields the generator adds (difficulty, scenario, components)."""
    return (example.model_extra or {})[key]


@pytest.fixture(scope="module")
def generated() -> list[GoldenExample]:
    """The set as the generator makes it now, with the default seed."""
    return generate_starter_set()


@pytest.fixture(scope="module")
def committed() -> list[GoldenExample]:
    """The set as committed in golden/starter.jsonl."""
    return read_jsonl(STARTER)


def test_default_seed_reproduces_the_committed_file_byte_for_byte(generated: list[GoldenExample]) -> None:
    assert dump_jsonl(generated).encode("utf-8") == STARTER.read_bytes(), (
        f"golden/starter.jsonl is not what the generator produces; if the change is intended, run `{REGENERATE}`"
    )


def test_committed_file_round_trips_through_read_and_dump(committed: list[GoldenExample]) -> None:
    assert dump_jsonl(committed).encode("utf-8") == STARTER.read_bytes()


def test_every_root_cause_is_well_represented(committed: list[GoldenExample]) -> None:
    counts = Counter(example.label.root_cause for example in committed)
    assert len(committed) >= 500
    assert set(counts) == set(ROOT_CAUSES)
    assert min(counts.values()) >= 25, counts


def test_each_class_has_several_distinct_scenarios(committed: list[GoldenExample]) -> None:
    scenarios: dict[str, set[str]] = defaultdict(set)
    for example in committed:
        scenarios[example.label.root_cause].add(str(extra(example, "scenario")))
    thin = {cause: len(names) for cause, names in scenarios.items() if len(names) < 6}
    assert not thin, f"classes with fewer than 6 scenario variants: {thin}"


def test_ids_are_unique_and_readable(committed: list[GoldenExample]) -> None:
    ids = [example.id for example in committed]
    assert len(ids) == len(set(ids))
    for example in committed:
        assert re.fullmatch(rf"syn-{example.label.root_cause}-\d{{3}}", example.id), example.id


def test_a_majority_but_not_all_are_hard(committed: list[GoldenExample]) -> None:
    # Enough hard windows that a grep cannot look good; enough easy ones that it must get some right.
    difficulties = Counter(extra(example, "difficulty") for example in committed)
    assert set(difficulties) == {"easy", "hard"}
    assert 0.55 <= difficulties["hard"] / len(committed) <= 0.65, difficulties


def test_every_hard_example_says_what_makes_it_hard(committed: list[GoldenExample]) -> None:
    for example in committed:
        hard_case = extra(example, "hard_case")
        if extra(example, "difficulty") == "easy":
            assert hard_case is None, example.id
        else:
            assert hard_case in HARD_CASES, f"{example.id}: {hard_case!r}"


def test_every_failure_class_has_red_herrings_and_other_words(committed: list[GoldenExample]) -> None:
    kinds: dict[str, set[object]] = defaultdict(set)
    for example in committed:
        kinds[example.label.root_cause].add(extra(example, "hard_case"))
    for cause in ROOT_CAUSES:
        if cause == "healthy":
            assert "healthy_alarming" in kinds[cause]
            continue
        assert "red_herring" in kinds[cause], (cause, kinds[cause])
        assert kinds[cause] & {"paraphrase", "other_words"}, (cause, kinds[cause])
        assert len(kinds[cause] - {None}) >= 4, (cause, kinds[cause])


@pytest.mark.parametrize("seed", range(20))
def test_healthy_windows_get_only_decoys_that_are_benign_on_their_own(seed: int) -> None:
    # A sidecar that cannot verify a certificate is a (minor) problem: alone in a window, it is the cause.
    window = Window(random.Random(seed))
    window.app()
    spoken = add_decoys(window, "healthy", len(DECOYS))
    assert spoken
    assert not set(spoken) & {"tls_certificate_error", "permission_denied"}


@pytest.mark.parametrize("seed", range(20))
def test_decoys_never_speak_the_class_of_the_window_or_explain_it(seed: int) -> None:
    window = Window(random.Random(seed))
    window.app()
    spoken = add_decoys(window, "probe_failure", len(DECOYS))
    # A cache refusal next to failing probes could be read as their reason.
    assert not set(spoken) & {"probe_failure", "dependency_unavailable", "dns_resolution_failure"}
    built = window.finish(background)
    assert built.evidence == []


def test_examples_describe_themselves(committed: list[GoldenExample]) -> None:
    for example in committed:
        assert example.source == "synthetic"
        assert example.label.labeler == LABELER
        assert extra(example, "scenario")
        assert extra(example, "components")
        assert (example.label.severity == "info") == (example.label.root_cause == "healthy"), example.id


def test_every_window_interleaves_several_pods_in_time_order(committed: list[GoldenExample]) -> None:
    for example in committed:
        pods = {log.labels["pod"] for log in example.logs if "pod" in log.labels}
        assert len(pods) >= 2, f"{example.id} shows only {pods}"
        assert 20 <= len(example.logs) <= 120, f"{example.id} has {len(example.logs)} lines"
        times = [log.ts_ns for log in example.logs]
        assert times == sorted(times), f"{example.id} is not in time order"


def test_evidence_points_at_lines_that_are_not_plain_info(committed: list[GoldenExample]) -> None:
    for example in committed:
        evidence = example.label.evidence
        if example.label.root_cause == "healthy":
            assert evidence == [], example.id
            continue
        assert evidence, f"{example.id} has no evidence"
        assert all(0 <= index < len(example.logs) for index in evidence), example.id
        levels = {detect_level(example.logs[i].line, example.logs[i].labels) for i in evidence}
        assert not levels <= {"info", "debug"}, f"{example.id}: evidence lines read as plain info ({levels})"


def test_different_seeds_give_different_data() -> None:
    one = dump_jsonl(generate_starter_set(seed=DEFAULT_SEED, per_class=2))
    again = dump_jsonl(generate_starter_set(seed=DEFAULT_SEED, per_class=2))
    other = dump_jsonl(generate_starter_set(seed=DEFAULT_SEED + 1, per_class=2))
    assert one == again
    assert one != other


def test_command_line_writes_the_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "starter.jsonl"
    assert main(["--out", str(out), "--per-class", "2", "--seed", "7"]) == 0
    assert len(read_jsonl(out)) == 2 * len(ROOT_CAUSES)
    assert f"wrote {2 * len(ROOT_CAUSES)} examples to {out}" in capsys.readouterr().out
