"""Rising quantities: a repeated line whose resource figure climbs within one stream.

Memory running out, a disk filling, a queue backing up: the lines that show it are ordinary,
informational lines ('process memory rss=...', 'GC ... 324M->285M(512M)', 'worker rss 221 MiB'),
repeated on a timer; only their figures, read in order, say where the process is heading. A figure
counts as a quantity when it carries a size unit (B, KiB, MB, G, %...) or its key names a resource
(heap, rss, memory, used, queue, lag, ...); clocks, counters of events and durations do not, so the
time stamps and sequence numbers that climb in every log are not taken for trends.
"""

from __future__ import annotations

import re
from itertools import pairwise

from app.logs.budget.groups import Group, Window

MIN_POINTS = 3
"""Readings of one stream a trend needs at least."""
MIN_GROWTH = 1.2
"""How much a figure must grow over one unbroken climb (last / first) to count as a trend."""
UPS_PER_DOWN = 3
"""Rises needed per fall: a sawtooth (climb, restart, climb again) is a trend; noise is not."""

# A number, its unit, and nothing word-like glued to either side (so ids, versions and hex are not
# figures). The unit is checked against _SIZE_UNITS below.
_FIGURE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([A-Za-z%]*)(?![\w.])")
_SIZE_UNITS = frozenset(
    {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", "t", "tb", "tib", "bytes", "%"}
)
# Words a key is split into: 'heapUsed' -> heap, used; 'heap_alloc_mb' -> heap, alloc, mb.
_KEY_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.-]*")
_RESOURCE_WORDS = frozenset(
    {
        "mem", "memory", "heap", "rss", "alloc", "allocated", "resident", "used", "usage", "size",
        "bytes", "kb", "kib", "mb", "mib", "gb", "gib", "buffer", "buffers", "cache", "queue", "queued",
        "backlog", "lag", "pending", "inflight", "disk", "swap", "fds", "descriptors", "connections",
        "conns", "sessions", "threads", "goroutines", "waiting", "full", "utilization", "utilisation",
        "pressure", "load", "depth", "occupancy",
    }
)  # fmt: skip


def _quantities(line: str) -> list[float | None]:
    """Every figure of ``line`` in order: its value when it is a resource quantity, else None."""
    figures: list[float | None] = []
    cursor = 0
    for match in _FIGURE.finditer(line):
        value, unit = match.group(1), match.group(2)
        quantity = unit.lower() in _SIZE_UNITS
        if not quantity and not unit:
            keys = _IDENTIFIER.findall(line, cursor, match.start())
            if keys:
                words = {word.lower() for word in _KEY_WORDS.findall(keys[-1])}
                quantity = not words.isdisjoint(_RESOURCE_WORDS)
        figures.append(float(value) if quantity else None)
        cursor = match.end()
    return figures


def _climbs(values: list[float]) -> bool:
    """Whether a series rises far more often than it falls, with one climb of ``MIN_GROWTH`` or more."""
    if len(values) < MIN_POINTS:
        return False
    ups = downs = 0
    best = 1.0
    start = values[0]
    for previous, value in pairwise(values):
        if value > previous:
            ups += 1
        elif value < previous:
            downs += 1
            start = value
        if start > 0:
            best = max(best, value / start)
    return ups >= MIN_POINTS - 1 and ups >= UPS_PER_DOWN * downs and best >= MIN_GROWTH


def rises(window: Window, group: Group) -> bool:
    """Whether one of the group's resource quantities climbs within one of its streams."""
    if group.repeats < MIN_POINTS:
        return False
    entries = window.entries
    first = _quantities(entries[group.heads[0]].line)
    if all(value is None for value in first):
        return False
    series: dict[tuple[tuple[str, str, str], int], list[float]] = {}
    for head in group.heads:  # in time order
        stream = window.streams[head]
        figures = _quantities(entries[head].line)
        if len(figures) != len(first):
            continue  # another shape of line: its figures do not line up with the first one's
        for slot, value in enumerate(figures):
            if value is not None and first[slot] is not None:
                series.setdefault((stream, slot), []).append(value)
    return any(_climbs(values) for values in series.values())
