"""The shipped golden set, checked the way the golden-set v2 issue asks, plus its internal consistency."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict

import pytest

from app.golden.jsonl import dataset_version
from app.golden.schema import GoldenExample
from app.golden.stats import golden_stats, scenario_of, validate_examples
from app.logs.synthetic.events import EVENTS_INSTANCE, EVENTS_JOB
from app.taxonomy import ROOT_CAUSES
from tests.golden import SHIPPED, shipped_examples
from tests.golden.audit import bag_of_words, giveaways
from tests.logs.test_demo import ALLOY_EVENT

POD_LABELS = {"namespace", "pod", "container", "node", "service_name", "app"}
EVENT_LABELS = {"namespace", "job", "instance", "service_name"}
CONTROL_PLANE = re.compile(
    r"^(kube-(apiserver|scheduler|controller-manager|proxy)|etcd|coredns|cloud-controller-manager)(-|$)"
)
NODE_LEVEL = re.compile(
    r"Memory cgroup out of memory|invoked oom-killer|TaskExit event|kubelet\.go:\d+\]|level=\w+ msg=\S* ?\"?(RunPodSandbox|StartContainer)"
)


@pytest.fixture(scope="module")
def examples() -> list[GoldenExample]:
    return shipped_examples()


def test_the_set_is_big_and_balanced_enough(examples: list[GoldenExample]) -> None:
    counts = Counter(example.label.root_cause for example in examples)

    assert len(examples) >= 520
    assert set(counts) == set(ROOT_CAUSES)
    assert min(counts.values()) >= 25, counts
    assert validate_examples(examples) == []


def test_at_least_250_scenarios_none_used_more_than_three_times(examples: list[GoldenExample]) -> None:
    uses = Counter(scenario_of(example) for example in examples)

    assert len(uses) >= 250
    assert max(uses.values()) <= 3, uses.most_common(3)
    assert golden_stats(examples).scenarios == len(uses)


def test_every_line_is_what_the_namespace_query_returns(examples: list[GoldenExample]) -> None:
    for example in examples:
        for log in example.logs:
            assert log.labels.get("namespace") == example.namespace, example.id
            keys = set(log.labels)
            if "job" in keys:
                assert keys == EVENT_LABELS, (example.id, keys)
                assert (log.labels["job"], log.labels["instance"]) == (EVENTS_JOB, EVENTS_INSTANCE)
            else:
                assert {"namespace", "pod", "container", "node", "service_name"} <= keys <= POD_LABELS, (
                    example.id,
                    keys,
                )


def test_no_node_level_or_control_plane_lines(examples: list[GoldenExample]) -> None:
    for example in examples:
        for log in example.logs:
            assert not CONTROL_PLANE.match(log.labels.get("pod", "")), (example.id, log.labels)
            assert not NODE_LEVEL.search(log.line), (example.id, log.line)


def test_events_are_in_alloys_format(examples: list[GoldenExample]) -> None:
    for example in examples:
        for log in example.logs:
            if log.labels.get("job") == EVENTS_JOB:
                assert ALLOY_EVENT.match(log.line), (example.id, log.line)


def test_no_name_gives_a_class_away(examples: list[GoldenExample]) -> None:
    assert giveaways(examples, min_windows=5, limit=0.8) == {}


def test_severity_is_judged_per_window_not_fixed_by_class(examples: list[GoldenExample]) -> None:
    severities: dict[str, set[str]] = defaultdict(set)
    for example in examples:
        severities[example.label.root_cause].add(example.label.severity)
    for cause in ROOT_CAUSES:
        assert severities[cause] == ({"info"} if cause == "healthy" else {"warning", "critical"}), (
            cause,
            severities[cause],
        )


def test_a_good_share_of_windows_is_large(examples: list[GoldenExample]) -> None:
    sizes = [len(example.logs) for example in examples]

    assert sum(size >= 200 for size in sizes) >= 0.2 * len(sizes)
    assert sum(size >= 1000 for size in sizes) >= 10


def test_evidence_is_cited_for_every_failure_and_never_for_healthy(examples: list[GoldenExample]) -> None:
    for example in examples:
        assert bool(example.label.evidence) == (example.label.root_cause != "healthy"), example.id


def _streams(example: GoldenExample) -> dict[str, list[tuple[float, str]]]:
    streams: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for log in example.logs:
        streams[log.labels.get("pod", "") + "/" + log.labels.get("container", "")].append(
            (log.ts_ns / 1e9, log.line)
        )
    return streams


def test_redis_saves_follow_the_save_rules(examples: list[GoldenExample]) -> None:
    for example in examples:
        for lines in _streams(example).values():
            last = None
            for at, line in lines:
                if "Redis is starting" in line:
                    last = None
                saving = re.search(r"\* \d+ changes in (\d+) seconds\. Saving\.\.\.", line)
                if saving:
                    assert last is None or at - last >= int(saving[1]) - 0.5, (example.id, line)
                    last = at


def test_postgres_time_checkpoints_are_five_minutes_apart(examples: list[GoldenExample]) -> None:
    for example in examples:
        for lines in _streams(example).values():
            last = None
            for at, line in lines:
                if "database system is ready to accept connections" in line or "starting PostgreSQL" in line:
                    last = None
                if line.endswith("LOG:  checkpoint starting: time"):
                    assert last is None or at - last >= 299, example.id
                    last = at


def test_statements_are_logged_as_the_extended_protocol_does(examples: list[GoldenExample]) -> None:
    for example in examples:
        for log in example.logs:
            if " UTC [" in log.line and "duration:" in log.line:
                assert re.search(r"duration: [\d.]+ ms  execute (<unnamed>|S_\d+): ", log.line), log.line


def test_stack_frames_and_heaps_are_stable_within_a_window(examples: list[GoldenExample]) -> None:
    for example in examples:
        frames: dict[str, set[str]] = defaultdict(set)
        heaps: dict[str, set[str]] = defaultdict(set)
        for log in example.logs:
            frame = re.match(r"\tat ([\w.$/<>]+)\(\w+\.java:(\d+)\)", log.line)
            # JDK frames are left out: its overloads share a name (ProcessBuilder.start at two lines).
            if frame and not frame[1].startswith("java.base/"):
                frames[frame[1]].add(frame[2])
            gc = re.search(r"\]\[gc\] GC\(\d+\) .*\((\d+)M\) [\d.]+ms$", log.line)
            if gc:
                heaps[log.labels.get("container", "")].add(gc[1])
        assert all(len(lines) == 1 for lines in frames.values()), (
            example.id,
            {k: v for k, v in frames.items() if len(v) > 1},
        )
        assert all(len(sizes) == 1 for sizes in heaps.values()), (example.id, heaps)


def test_cronjobs_keep_their_period(examples: list[GoldenExample]) -> None:
    for example in examples:
        created: dict[str, list[int]] = defaultdict(list)
        for log in example.logs:
            found = re.search(
                r"^name=(\S+) kind=CronJob .*reason=SuccessfulCreate .*msg=\"Created job \S+-(\d+)\"",
                log.line,
            )
            if found:
                created[found[1]].append(int(found[2]))
        for name, minutes in created.items():
            gaps = {b - a for a, b in itertools.pairwise(minutes)}
            assert len(gaps) <= 1, (example.id, name, minutes)


def test_a_bag_of_words_gains_little_from_seeing_a_scenario_s_siblings(examples: list[GoldenExample]) -> None:
    result = bag_of_words(examples)

    assert result.gap <= 0.08, f"random folds {result.random_folds:.3f}, grouped {result.grouped_folds:.3f}"
    assert result.grouped_folds < 0.95, "a bag of words should not solve the set"


def test_the_shipped_file_is_the_only_synthetic_set_in_golden() -> None:
    others = [path.name for path in SHIPPED.parent.glob("*.jsonl") if path != SHIPPED]
    assert others == []


def test_the_dataset_card_describes_the_shipped_version(examples: list[GoldenExample]) -> None:
    card = (SHIPPED.parent / "README.md").read_text(encoding="utf-8")

    # The card's figures were measured on one version; a regenerated file needs them measured again.
    assert f"`{dataset_version(examples)}`" in card, "golden/README.md describes another version of the set"
