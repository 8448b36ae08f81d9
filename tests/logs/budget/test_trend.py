from __future__ import annotations

from app.logs.budget.groups import build_window
from app.logs.budget.trend import rises
from app.logs.models import LogEntry

SECOND = 1_000_000_000
WORKER = {"namespace": "shop", "pod": "worker-7d9f8b6c5d-x2k4p", "container": "worker"}
OTHER = {"namespace": "shop", "pod": "worker-7d9f8b6c5d-q8r2t", "container": "worker"}


def rising_lines(lines: list[tuple[float, str, dict[str, str]]]) -> dict[str, bool]:
    """Whether each group (by its first line) is taken for a climbing resource."""
    entries = [LogEntry(ts_ns=int(t * SECOND), labels=labels, line=line) for t, line, labels in lines]
    window = build_window(entries)
    return {entries[group.heads[0]].line: rises(window, group) for group in window.groups}


def test_memory_that_climbs_within_a_stream_is_a_trend_even_with_a_restart_between() -> None:
    rss = [308, 375, 442, 509, 294, 348, 402, 456]
    lines = [
        (n * 20.0, f'{{"level":"info","message":"process memory","rss":{value * 1048576}}}', WORKER)
        for n, value in enumerate(rss)
    ]
    lines += [(n * 20.0 + 5, f"INFO worker rss {200 + 25 * n} MiB", WORKER) for n in range(4)]
    lines += [
        (
            n * 20.0 + 7,
            f"[{n}.5s][info][gc] GC({n}) Pause Young {300 + 60 * n}M->{260 + 60 * n}M(512M) 9.1ms",
            WORKER,
        )
        for n in range(3)
    ]

    assert all(rising_lines(lines).values())


def test_clocks_counters_durations_and_noise_are_not_trends() -> None:
    lines = [
        (n * 10.0, f"2026-01-02T03:04:{n:02d}Z INFO served request #{1000 + n} in {100 + 40 * n}ms", WORKER)
        for n in range(6)
    ]
    # Memory that goes up and down around a level is not climbing.
    lines += [
        (n * 10.0 + 1, f"INFO heap_used_mb={v}", WORKER) for n, v in enumerate([500, 530, 490, 520, 480, 510])
    ]
    # Two streams each reading steady: interleaved, they would zigzag, never climb.
    lines += [
        (n * 10.0 + 2, f"INFO rss_mb={300 if n % 2 else 400}", WORKER if n % 2 else OTHER) for n in range(8)
    ]

    assert not any(rising_lines(lines).values())


def test_two_readings_are_not_a_trend() -> None:
    lines = [(n * 10.0, f"INFO memory_mb={v}", WORKER) for n, v in enumerate([200, 400])]

    assert not any(rising_lines(lines).values())
