"""A golden example refuses broken labels with a message that says where, and hashes what a model sees."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.golden.schema import GoldenExample, describe_validation_error
from tests.golden import example_data


def problem_with(data: dict[str, Any]) -> str:
    """The user-facing message for data that must not validate."""
    with pytest.raises(ValidationError) as caught:
        GoldenExample.model_validate(data)
    return describe_validation_error(caught.value)


def test_a_valid_example_keeps_its_fields_and_extras() -> None:
    example = GoldenExample.model_validate(example_data(difficulty="hard", scenario="jvm-heap"))

    assert example.label.root_cause == "oom_killed"
    assert example.logs[1].ts == "2026-03-01T12:00:02.000000001Z"
    assert example.model_extra == {"difficulty": "hard", "scenario": "jvm-heap"}


def test_evidence_beyond_the_last_line_names_index_and_line_count() -> None:
    message = problem_with(example_data(evidence=(1, 5)))

    assert message == "label.evidence[1] = 5 is out of range for 3 log lines (valid indices are 0..2)"


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ([-1], "evidence indices are 0-based"),
        ([1, 1], "evidence lists an index twice"),
        ([True], "label.evidence[0]: Input should be a valid integer"),
        (["1"], "label.evidence[0]: Input should be a valid integer"),
    ],
)
def test_evidence_that_is_not_a_distinct_line_index_is_refused(evidence: list[Any], expected: str) -> None:
    data = example_data()
    data["label"]["evidence"] = evidence

    assert expected in problem_with(data)


def test_an_unknown_root_cause_is_named_with_the_valid_ones() -> None:
    message = problem_with(example_data(root_cause="gremlins"))

    assert message.startswith("label.root_cause: Input should be 'oom_killed'")
    assert "'healthy'" in message
    assert message.endswith("(got 'gremlins')")


@pytest.mark.parametrize(
    "bad", ["2026-03-01 12:00", "yesterday", "2026-13-01T00:00:00Z", "2026-03-01T12:00:00"]
)
def test_a_bad_log_timestamp_names_the_line_and_value(bad: str) -> None:
    data = example_data()
    data["logs"][2]["ts"] = bad

    assert problem_with(data) == f"logs[2].ts: not an RFC3339 timestamp: {bad!r}"


def test_a_window_that_starts_after_it_ends_is_refused() -> None:
    data = example_data()
    data["window"] = {"start": "2026-03-01T12:05:00Z", "end": "2026-03-01T12:00:00Z"}

    assert problem_with(data) == "window: start 2026-03-01T12:05:00Z is after end 2026-03-01T12:00:00Z"


def test_missing_fields_and_empty_logs_are_named() -> None:
    data = example_data()
    del data["label"]["severity"]
    assert problem_with(data) == "label.severity: Field required"

    no_logs = example_data(evidence=())
    no_logs["logs"] = []
    assert problem_with(no_logs).startswith("logs: List should have at least 1 item")


def test_several_problems_say_how_many_more_there_are() -> None:
    data = example_data()
    data["source"] = "scraped"
    data["label"]["severity"] = "meh"

    assert problem_with(data).endswith("(and 1 more problem)")


def test_logs_outside_the_window_still_import_and_are_listed() -> None:
    # Other tools round their windows; such sets must import, and validation points the lines out.
    data = example_data()
    data["logs"][0]["ts"] = "2026-03-01T11:59:59.999999999Z"

    example = GoldenExample.model_validate(data)

    assert example.logs_outside_window() == [0]


def test_content_hash_follows_what_the_model_sees_not_the_label() -> None:
    example = GoldenExample.model_validate(example_data())
    relabeled = example_data(root_cause="probe_failure", scenario="other")
    relabeled["id"] = "ex-renamed"
    changed_line = example_data()
    changed_line["logs"][0]["line"] = "level=info msg=started again"

    assert example.content_hash() == GoldenExample.model_validate(relabeled).content_hash()
    assert example.content_hash() != GoldenExample.model_validate(changed_line).content_hash()
    assert len(example.content_hash()) == 64


def test_content_hash_is_the_same_for_two_spellings_of_one_instant() -> None:
    offset = example_data()
    offset["window"] = {"start": "2026-03-01T13:00:00+01:00", "end": "2026-03-01T13:05:00.000+01:00"}
    offset["logs"][0]["ts"] = "2026-03-01T13:00:01.000000001+01:00"

    assert (
        GoldenExample.model_validate(offset).content_hash()
        == GoldenExample.model_validate(example_data()).content_hash()
    )


def test_log_entries_line_up_with_evidence_indices() -> None:
    example = GoldenExample.model_validate(example_data())

    entries = example.to_log_entries()

    assert [entry.line for entry in entries] == [log.line for log in example.logs]
    assert entries[example.label.evidence[0]].line.startswith("Memory cgroup out of memory")
    assert entries[1].ts_ns - entries[0].ts_ns == 1_000_000_000
    assert entries[0].pod == "api-7d9f"
