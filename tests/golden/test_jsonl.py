"""Golden JSONL: strict import naming file:line:reason, deterministic export, versions and merges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import InputError
from app.evals.baseline import evaluate_baseline
from app.golden.jsonl import (
    dataset_version,
    dump_jsonl,
    load_golden_dir,
    merge_by_id,
    read_jsonl,
    write_jsonl,
)
from app.golden.schema import GoldenExample
from tests.golden import example_data

# A set written by hand, as another team would: keys in no particular order, ids out of order, extra
# fields at every level, offsets and mixed precision in timestamps, non-ASCII text, a line separator
# (U+2028) inside a log line, a BOM-free CRLF file and a blank line.
UNSEEN_SET = (
    '{"label": {"severity": "critical", "root_cause": "dns_resolution_failure", "evidence": [1, 0],'
    ' "summary": "Auflösung von postgres schlägt fehl", "labeler": "zoë", "labeled_at": "2026-02-01T10:00:00+01:00",'
    ' "confidence_by_labeler": 0.9},'
    ' "id": "team-b/0002", "source": "imported", "namespace": "zahlungen",'
    ' "window": {"start": "2026-02-01T08:00:00.5+01:00", "end": "2026-02-01T08:10:00+01:00", "step": "1m"},'
    ' "logs": [{"ts": "2026-02-01T07:01:00.123456789Z", "labels": {"namespace": "zahlungen", "pod": "api-0"},'
    ' "line": "dial tcp: lookup postgres.zahlungen.svc.cluster.local on 10.96.0.10:53: no such host"},'
    ' {"ts": "2026-02-01T08:01:01+01:00", "labels": {}, "line": "重试 3/5 \u2028 ✗ 🚨", "stream": "stderr"}],'
    ' "ticket": {"system": "jira", "key": "OPS-17", "tags": ["dns", "ünïcode"]}, "reviewed": true, "weight": 1.5}\r\n'
    "\r\n"
    '{"id": "team-b/0001", "source": "labeled", "namespace": "default",'
    ' "window": {"start": "2026-02-01T00:00:00Z", "end": "2026-02-01T00:01:00Z"},'
    ' "logs": [{"ts": "2026-02-01T00:00:30Z", "labels": {"pod": "web"}, "line": "GET /healthz 200"}],'
    ' "label": {"root_cause": "healthy", "evidence": [], "severity": "info", "summary": "",'
    ' "labeler": "al", "labeled_at": "2026-02-01T00:02:00Z"}, "difficulty": null}\r\n'
)


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def write_examples(path: Path, *examples: dict) -> Path:
    return write_text(path, "".join(json.dumps(example) + "\n" for example in examples))


def test_an_unseen_set_imports_and_exports_byte_identically_after_a_second_round_trip(tmp_path: Path) -> None:
    imported = read_jsonl(write_text(tmp_path / "unseen.jsonl", UNSEEN_SET))
    write_jsonl(tmp_path / "first.jsonl", imported)
    write_jsonl(tmp_path / "second.jsonl", read_jsonl(tmp_path / "first.jsonl"))

    first = (tmp_path / "first.jsonl").read_bytes()
    assert (tmp_path / "second.jsonl").read_bytes() == first
    lines = first.decode("utf-8").split("\n")
    assert lines[-1] == ""  # trailing newline
    assert [json.loads(line)["id"] for line in lines[:-1]] == ["team-b/0001", "team-b/0002"]
    dns = json.loads(lines[1])
    # Extras at every level, the timestamps as written and the non-ASCII text all survive.
    assert dns["ticket"] == {"system": "jira", "key": "OPS-17", "tags": ["dns", "ünïcode"]}
    assert dns["reviewed"] is True
    assert dns["weight"] == 1.5
    assert dns["window"]["step"] == "1m"
    assert dns["label"]["confidence_by_labeler"] == 0.9
    assert dns["logs"][1]["stream"] == "stderr"
    assert dns["logs"][1]["ts"] == "2026-02-01T08:01:01+01:00"
    assert dns["logs"][1]["line"] == "重试 3/5 \u2028 ✗ 🚨"
    assert "重试" in lines[1]  # written as UTF-8, not \u escapes
    assert json.loads(lines[0])["difficulty"] is None


def test_an_unseen_set_can_be_evaluated(tmp_path: Path) -> None:
    examples = read_jsonl(write_text(tmp_path / "unseen.jsonl", UNSEEN_SET))

    report = evaluate_baseline(examples)

    assert report.examples == 2
    assert {item.example_id: item.predicted for item in report.items} == {
        "team-b/0001": "healthy",
        "team-b/0002": "dns_resolution_failure",
    }


def test_export_is_canonical_whatever_order_and_spacing_came_in() -> None:
    a = GoldenExample.model_validate(example_data("b-2"))
    b = GoldenExample.model_validate(example_data("a-1", root_cause="healthy", evidence=()))

    text = dump_jsonl([a, b])

    assert text == dump_jsonl([b, a])
    first = text.split("\n")[0]
    assert first.startswith('{"id":"a-1","label":{"evidence":[],')
    assert first == json.dumps(json.loads(first), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def test_dataset_version_is_a_content_hash_of_the_export() -> None:
    examples = [GoldenExample.model_validate(example_data(f"ex-{n}")) for n in range(3)]
    edited = example_data("ex-2")
    edited["label"]["summary"] = "a better summary"

    version = dataset_version(examples)

    assert len(version) == 12
    assert int(version, 16) >= 0
    assert dataset_version(reversed(examples)) == version
    assert dataset_version([*examples[:2], GoldenExample.model_validate(edited)]) != version


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"id": "x", ', "not valid JSON: Expecting property name enclosed in double quotes at column 13"),
        ("[1, 2]", "expected a JSON object, got list"),
        (json.dumps(example_data("x", root_cause="gremlins")), "label.root_cause: Input should be"),
        (json.dumps(example_data("x", evidence=(7,))), "label.evidence[0] = 7 is out of range"),
        ('{"id": "x", "id": "y"}', "key 'id' appears twice in one object"),
        ('{"id": "x", "score": NaN}', "NaN is not a JSON value"),
        ('{"id": "x", "score": 1e999}', "number 1e999 is too large for a 64-bit float"),
        ('{"id": "x", "note": "\\ud800"}', "lone UTF-16 surrogate"),
    ],
)
def test_a_malformed_line_is_rejected_with_file_line_and_reason(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    path = write_text(
        tmp_path / "incoming.jsonl",
        json.dumps(example_data("ok-1")) + "\n" + json.dumps(example_data("ok-2")) + "\n" + bad_line + "\n",
    )

    with pytest.raises(InputError) as caught:
        read_jsonl(path)

    assert str(caught.value).startswith(f"{path}:3: ")
    assert reason in str(caught.value)


def test_a_failed_import_leaves_the_golden_set_untouched(tmp_path: Path) -> None:
    golden = tmp_path / "golden.jsonl"
    write_jsonl(golden, [GoldenExample.model_validate(example_data("kept"))])
    before = golden.read_bytes()
    incoming = write_text(
        tmp_path / "incoming.jsonl", json.dumps(example_data("new-1")) + "\nnot json at all\n"
    )

    with pytest.raises(InputError, match=r"incoming\.jsonl:2: not valid JSON"):
        write_jsonl(golden, merge_by_id(read_jsonl(golden), read_jsonl(incoming)).merged)

    assert golden.read_bytes() == before
    assert [example.id for example in read_jsonl(golden)] == ["kept"]


def test_duplicate_ids_in_one_file_name_both_lines(tmp_path: Path) -> None:
    path = write_examples(tmp_path / "dup.jsonl", example_data("a"), example_data("b"), example_data("a"))

    with pytest.raises(InputError, match=r"dup\.jsonl:3: duplicate id 'a' \(first seen on line 1\)"):
        read_jsonl(path)


def test_file_level_problems_are_reported_with_the_file(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"line": "Größe"}\n'.encode("latin-1"))

    with pytest.raises(InputError, match=r"latin1\.jsonl: not UTF-8 text"):
        read_jsonl(latin1)
    with pytest.raises(InputError, match=r"missing\.jsonl: no such file"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_a_byte_order_mark_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(example_data("a")).encode() + b"\n\n   \n")

    assert [example.id for example in read_jsonl(path)] == ["a"]


def test_merging_the_same_import_twice_adds_nothing() -> None:
    existing = [GoldenExample.model_validate(example_data(f"old-{n}")) for n in range(2)]
    incoming = [
        GoldenExample.model_validate(example_data("old-1", root_cause="probe_failure")),
        GoldenExample.model_validate(example_data("new-1")),
    ]

    first = merge_by_id(existing, incoming)
    second = merge_by_id(first.merged, incoming)

    assert (first.added, first.updated, first.unchanged) == (1, 1, 0)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 2)
    assert dump_jsonl(second.merged) == dump_jsonl(first.merged)
    assert [example.id for example in first.merged] == ["new-1", "old-0", "old-1"]
    assert first.merged[2].label.root_cause == "probe_failure"


def test_merge_refuses_an_import_that_repeats_an_id() -> None:
    twice = [GoldenExample.model_validate(example_data("a"))] * 2

    with pytest.raises(InputError, match="duplicate id 'a' in the examples being imported"):
        merge_by_id([], twice)


def test_a_golden_dir_loads_every_file_and_refuses_an_id_in_two(tmp_path: Path) -> None:
    write_examples(tmp_path / "a.jsonl", example_data("x-2"), example_data("x-1"))
    write_examples(tmp_path / "b.jsonl", example_data("y-1"))
    (tmp_path / "notes.txt").write_text("not a golden file")

    assert [example.id for example in load_golden_dir(tmp_path)] == ["x-1", "x-2", "y-1"]

    write_examples(tmp_path / "c.jsonl", example_data("x-1"))
    with pytest.raises(InputError, match=r"duplicate id 'x-1' in .*a\.jsonl and .*c\.jsonl"):
        load_golden_dir(tmp_path)


def test_write_jsonl_leaves_no_partial_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "set.jsonl"

    write_jsonl(target, [GoldenExample.model_validate(example_data("a"))])

    assert sorted(path.name for path in target.parent.iterdir()) == ["set.jsonl"]
