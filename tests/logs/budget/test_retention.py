"""The budget's goal, measured: at a tenth of a window's raw tokens (at most 2,000), the labeled
evidence lines stay among the lines shown; with no limit, nothing grows past 1.2x its raw size."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from app.config import Settings
from app.golden.jsonl import load_golden_dir
from app.logs.compress import estimate_tokens, fit_to_budget
from app.logs.models import LogEntry
from tests.fixtures.heldout import make_windows


def tenth_of_raw(entries: Sequence[LogEntry]) -> int:
    """The issue's budget: one tenth of the lines' own tokens, capped at 2,000."""
    return min(2000, sum(estimate_tokens(entry.line) for entry in entries) // 10)


def evidence_kept(windows: list[tuple[list[LogEntry], list[int]]]) -> float:
    labeled = kept = 0
    for entries, evidence in windows:
        result = fit_to_budget(entries, max_tokens=tenth_of_raw(entries))
        shown = {index for line in result.lines for index in line.source_indices}
        labeled += len(evidence)
        kept += sum(1 for index in evidence if index in shown)
    return kept / labeled


@pytest.fixture(scope="module")
def heldout() -> list[tuple[list[LogEntry], list[int]]]:
    return [(window.entries, window.evidence) for window in make_windows(16, seed=11)]


def test_the_heldout_windows_are_large_mostly_benign_and_labeled(
    heldout: list[tuple[list[LogEntry], list[int]]],
) -> None:
    for entries, evidence in heldout:
        assert 500 <= len(entries) <= 3200
        assert all(0 <= index < len(entries) for index in evidence)
        assert len(evidence) <= 5
    assert sum(1 for _, evidence in heldout if evidence) >= 12


def test_at_a_tenth_of_raw_tokens_large_windows_keep_at_least_95_percent_of_their_evidence(
    heldout: list[tuple[list[LogEntry], list[int]]],
) -> None:
    assert evidence_kept(heldout) >= 0.95


def test_with_no_limit_large_windows_never_outgrow_their_raw_size(
    heldout: list[tuple[list[LogEntry], list[int]]],
) -> None:
    for entries, _ in heldout:
        report = fit_to_budget(entries, max_tokens=10**9).report
        assert report.kept_lines == len(entries)
        assert report.tokens_after <= 1.2 * report.tokens_before


def test_the_shipped_golden_set_keeps_at_least_98_percent_of_its_evidence_at_a_tenth_of_raw() -> None:
    examples = load_golden_dir(Settings().golden_dir)
    windows = [(example.to_log_entries(), example.label.evidence) for example in examples]

    assert evidence_kept(windows) >= 0.98
    for entries, _ in windows:
        report = fit_to_budget(entries, max_tokens=10**9).report
        assert report.tokens_after <= 1.2 * report.tokens_before
