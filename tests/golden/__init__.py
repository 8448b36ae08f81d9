"""Tests of the golden set, and a builder of valid example data they share."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from app.golden.jsonl import read_jsonl
from app.golden.schema import GoldenExample

# The shipped synthetic set (golden/ holds nothing else: GOLDEN_DIR loads every *.jsonl in it).
SHIPPED = Path(__file__).resolve().parents[2] / "golden" / "synthetic-v2.jsonl"
REGENERATE = "uv run logtriage golden generate"


@cache
def _shipped() -> tuple[GoldenExample, ...]:
    return tuple(read_jsonl(SHIPPED))


def shipped_examples() -> list[GoldenExample]:
    """The shipped set, read once per test session."""
    return list(_shipped())


def example_data(
    example_id: str = "ex-1",
    root_cause: str = "oom_killed",
    lines: tuple[str, ...] = (
        "level=info msg=started",
        "Memory cgroup out of memory: Killed process 4242 (java)",
        'reason=BackOff msg="Back-off restarting failed container"',
    ),
    evidence: tuple[int, ...] = (1,),
    **extra: Any,
) -> dict[str, Any]:
    """A valid golden example as plain JSON data, one log line per second from 12:00:01."""
    return {
        "id": example_id,
        "source": "synthetic",
        "namespace": "shop",
        "window": {"start": "2026-03-01T12:00:00Z", "end": "2026-03-01T12:05:00Z"},
        "logs": [
            {
                "ts": f"2026-03-01T12:00:{second:02d}.000000001Z",
                "labels": {"namespace": "shop", "pod": "api-7d9f", "container": "api"},
                "line": line,
            }
            for second, line in enumerate(lines, start=1)
        ],
        "label": {
            "root_cause": root_cause,
            "evidence": list(evidence),
            "severity": "critical",
            "summary": "test example",
            "labeler": "tester",
            "labeled_at": "2026-03-02T09:00:00Z",
        },
        **extra,
    }
