"""The texts a group can be shown with, from a brief mention to its full detail, with value ranges for
repeats and stack traces cut to the lines that name the failure."""

from __future__ import annotations

import re

from app.logs.budget.compact import compact_continuation, compact_text
from app.logs.budget.groups import Group, Window, frame_flags

FORM_CHARS = (40, 120)
"""Characters per physical line of the brief forms; the full form uses ``max_line_chars``."""
FORM_MESSAGES = (1, 2)
"""Continuation lines (other than stack frames) the brief forms keep, the most telling first."""
MAX_RECORD_LINES_SHOWN = 16
"""Physical lines a record's full form shows at most."""

_PYTHON_FILE = re.compile(r'^File "')
_TELLING = re.compile(
    r"\b[A-Z]\w*(?:Error|Exception|Fault)\b|^Caused by:|^panic:|\b(?:fail|refused|denied|invalid|missing|not)\w*",
    re.I,
)
# Runs of word characters holding a digit: the values that differ between repeats of one line.
_SLOT = re.compile(r"(?<![\w.])(?=[\w.]*\d)[\w.]+")
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)([a-zA-Zµ%]*)$")
# Both ends of a range are shown only while they stay short; longer values that vary become '*'.
_MAX_RANGE_END = 9
# Variants that word one place in more ways than this show '*' there.
_MAX_ALTERNATIVES = 3


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit:,} chars)"


def brief(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters at a word boundary, marked with '…'."""
    if len(text) <= limit + 8:
        return text
    cut = text.rfind(" ", limit // 2, limit)
    return text[: cut if cut > 0 else limit] + "…"


def _elide(lines: list[str], keep: list[bool]) -> list[str]:
    """Kept lines, with each run of dropped lines replaced by '... N more lines'."""
    shown: list[str] = []
    dropped = 0
    for line, kept in zip(lines, keep, strict=True):
        if kept:
            if dropped:
                shown.append(f"... {dropped} more lines")
                dropped = 0
            shown.append(line)
        else:
            dropped += 1
    if dropped:
        shown.append(f"... {dropped} more lines")
    return shown


def _trace_keep(lines: list[str], frame: list[bool]) -> list[bool]:
    """Message lines, plus the frames right after and right before each (where the failure is);
    ``frame`` flags the stack-frame lines."""
    keep = [not framed for framed in frame]
    for i, framed in enumerate(frame):
        if framed:
            continue
        if i + 1 < len(lines) and frame[i + 1]:
            keep[i + 1] = True
            # A Go frame is a function line and a file line.
            if i + 2 < len(lines) and frame[i + 2] and lines[i + 2].startswith("/"):
                keep[i + 2] = True
        if i >= 1 and frame[i - 1]:
            keep[i - 1] = True
            # A Python frame is a 'File' line and the code line under it.
            if i >= 2 and _PYTHON_FILE.match(lines[i - 2]):
                keep[i - 2] = True
    if sum(keep) > MAX_RECORD_LINES_SHOWN:
        kept = [i for i, flag in enumerate(keep) if flag]
        for i in kept[MAX_RECORD_LINES_SHOWN // 2 : len(kept) - MAX_RECORD_LINES_SHOWN // 2]:
            keep[i] = False
    return keep


def _brief_keep(lines: list[str], frame: list[bool], messages: int) -> list[bool]:
    """The ``messages`` most telling non-frame lines (exceptions and failures first), in order."""
    candidates = [i for i in range(len(lines)) if not frame[i]]
    candidates.sort(key=lambda i: (not _TELLING.search(lines[i]), i))
    chosen = set(candidates[:messages])
    return [i in chosen for i in range(len(lines))]


def _ranges_from_raw(text: str, raw_lines: list[str]) -> str | None:
    """``text`` (the compact form of ``raw_lines[0]``) with each value that differs across the raw
    lines shown as 'lo..hi' or '*'; None when the values cannot be lined up.

    Repeats share a masked shape, so their raw values line up slot by slot; the compact text keeps a
    subsequence of those slots, found by matching the first line's values in order.
    """
    raw_slots = [_SLOT.findall(line) for line in raw_lines]
    width = len(raw_slots[0])
    if any(len(slots) != width for slots in raw_slots):
        return None
    columns = [set(column) for column in zip(*raw_slots, strict=True)]
    first = raw_slots[0]
    pieces: list[str] = []
    cursor = 0
    k = 0
    for match in _SLOT.finditer(text):
        value = match.group(0)
        while k < width and first[k] != value:
            k += 1
        if k == width:
            return None
        pieces.append(text[cursor : match.start()])
        pieces.append(_range(columns[k]) if len(columns[k]) > 1 else value)
        cursor = match.end()
        k += 1
    pieces.append(text[cursor:])
    return "".join(pieces)


def _with_ranges(texts: list[str]) -> str:
    """The first text, with each value that differs across ``texts`` shown as 'lo..hi' or '*'."""
    first = texts[0]
    slots = [match.span() for match in _SLOT.finditer(first)]
    if not slots or len(texts) == 1:
        return first
    columns: list[set[str]] = [set() for _ in slots]
    for text in texts:
        values = _SLOT.findall(text)
        if len(values) != len(slots):
            # The repeats differ in shape; without aligned values no range can be claimed honestly.
            return first
        for column, value in zip(columns, values, strict=True):
            column.add(value)
    pieces: list[str] = []
    cursor = 0
    for (start, end), column in zip(slots, columns, strict=True):
        pieces.append(first[cursor:start])
        pieces.append(_range(column) if len(column) > 1 else first[start:end])
        cursor = end
    pieces.append(first[cursor:])
    return "".join(pieces)


def _with_alternatives(texts: list[str]) -> str:
    """The first text, with each word the variants word differently shown as 'a|b' (up to three
    alternatives) or '*'; the first text alone when the variants differ in length."""
    split = [text.split(" ") for text in texts]
    if any(len(words) != len(split[0]) for words in split):
        return texts[0]
    shown: list[str] = []
    for column in zip(*split, strict=True):
        distinct = list(dict.fromkeys(column))
        if len(distinct) == 1:
            shown.append(distinct[0])
        elif len(distinct) <= _MAX_ALTERNATIVES:
            shown.append("|".join(distinct))
        else:
            shown.append("*")
    return " ".join(shown)


def _range(values: set[str]) -> str:
    """'lo..hi' for numbers sharing a unit, '*' for anything else that varies."""
    parsed: list[tuple[float, str]] = []
    units: set[str] = set()
    for value in values:
        match = _NUMBER.match(value)
        if match is None:
            return "*"
        parsed.append((float(match.group(1)), value))
        units.add(match.group(2))
    if len(units) > 1:
        return "*"
    low, high = min(parsed)[1], max(parsed)[1]
    if len(low) > _MAX_RANGE_END or len(high) > _MAX_RANGE_END:
        return "*"
    return f"{low}..{high}"


def group_forms(window: Window, group: Group, max_line_chars: int) -> list[str]:
    """The texts a group can be shown with, briefest first; equal neighbours are dropped."""
    entries, names = window.entries, window.names
    head = group.heads[0]
    level = group.level
    text = compact_text(entries[head].line, level, names.rewrite)
    if group.variants > 1:
        text = _with_alternatives(
            [text]
            + [compact_text(entries[other].line, level, names.rewrite) for other in group.variant_heads[1:]]
        )
    elif group.repeats > 1:
        ranged = _ranges_from_raw(text, [entries[other].line for other in group.heads])
        if ranged is None:
            # Compaction changed a value (a renamed pod): compare the compact texts themselves.
            others: dict[str, str] = {}
            texts = [text]
            for other in group.heads[1:]:
                line = entries[other].line
                if line not in others:
                    others[line] = compact_text(line, level, names.rewrite)
                texts.append(others[line])
            ranged = _with_ranges(texts)
        text = ranged
    record = window.records[head]
    # Blank lines inside a trace carry nothing; they are not shown. Frames are told apart as written
    # (a Python source line by its indentation under its 'File' line).
    raw = [entries[i].line for i in record[1:]]
    pairs = [
        (text, flag)
        for text, flag in zip(
            (names.rewrite(compact_continuation(line)) for line in raw), frame_flags(raw), strict=True
        )
        if text
    ]
    continuation = [text for text, _ in pairs]
    frames = [flag for _, flag in pairs]

    forms: list[str] = []
    for chars, messages in zip(FORM_CHARS, FORM_MESSAGES, strict=True):
        limit = min(chars, max_line_chars)
        lines = [brief(text, limit)]
        if continuation:
            lines += [
                brief(line, limit)
                for line in _elide(continuation, _brief_keep(continuation, frames, messages))
            ]
        forms.append("\n".join(lines))
    lines = [shorten(text, max_line_chars)]
    if continuation:
        lines += [
            shorten(line, max_line_chars) for line in _elide(continuation, _trace_keep(continuation, frames))
        ]
    forms.append("\n".join(lines))
    distinct: list[str] = []
    for form in forms:
        if not distinct or (form != distinct[-1] and len(form) > len(distinct[-1])):
            distinct.append(form)
    return distinct
