"""Durations for people, and a decode speed that is shown only when it means something."""

from __future__ import annotations

import pytest

from app.llm.stream import decode_tokens_per_s as decode_rate
from app.ui.components.readout import (
    MIN_DECODE_MS,
    format_duration,
    format_ms,
    format_rate,
    shown_rate,
)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (0.0004, "0.4 ms"),
        (0.00996, "10 ms"),
        (0.85, "850 ms"),
        (0.9996, "1.0 s"),
        (1.23456, "1.2 s"),
        (6.2, "6.2 s"),
        (59.96, "1 min 0 s"),
        (72.4, "1 min 12 s"),
        (3599.7, "1 h 0 min"),
        (7500, "2 h 5 min"),
        (-3, "0.0 ms"),
    ],
)
def test_durations_read_in_human_units(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_milliseconds_are_shown_the_same_way() -> None:
    assert format_ms(1234.56) == "1.2 s"
    assert format_ms(None) == "—"


def test_no_rate_at_the_first_token() -> None:
    assert decode_rate(1, 800.0, 800.0) is None
    assert decode_rate(0, None, None) is None


def test_no_rate_over_a_burst_of_chunks_microseconds_apart() -> None:
    # What the issue saw: 100 tokens arriving within a millisecond read as 99,000 tokens/s.
    assert decode_rate(100, 800.0, 801.0) is None
    assert decode_rate(100, 800.0, 800.0 + MIN_DECODE_MS - 0.1) is None


def test_the_rate_counts_tokens_after_the_first_over_the_time_since_the_first() -> None:
    assert decode_rate(11, 2000.0, 4000.0) == pytest.approx(5.0)
    assert decode_rate(2, 1000.0, 1000.0 + MIN_DECODE_MS) == pytest.approx(1000 / MIN_DECODE_MS)


def test_a_recorded_rate_is_shown_only_when_its_decode_phase_was_long_enough() -> None:
    assert shown_rate(117_000.0, ttft_ms=900.0, total_ms=900.0) is None
    assert shown_rate(None, ttft_ms=900.0, total_ms=5000.0) is None
    assert shown_rate(0.0, ttft_ms=900.0, total_ms=5000.0) is None
    assert shown_rate(31.5, ttft_ms=900.0, total_ms=5000.0) == 31.5


def test_rates_are_formatted_or_a_dash() -> None:
    assert format_rate(None) == "—"
    assert format_rate(1234.56) == "1,234.6"
