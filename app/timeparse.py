"""Parsing of the time ranges users type: relative durations and RFC3339 instants."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """A duration like 15m, 1h, 6h, 2d."""
    match = _DURATION.match(text or "")
    if not match:
        raise InputError(
            f"cannot read duration {_shown(text or '')}", hint="use a number and a unit, e.g. 15m, 1h, 6h, 2d"
        )
    seconds = float(match[1]) * _UNITS[match[2].lower()]
    if seconds <= 0:
        raise InputError(f"duration {text!r} must be positive")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # float('9' * 400) is inf; timedelta stops at 999,999,999 days
        raise InputError(
            f"duration {_shown(text)} is longer than any time range", hint="use e.g. 15m, 1h, 6h, 2d"
        ) from None


def _shown(text: str) -> str:
    """A user's text quoted for a message, cut short when it is long."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_instant(text: str) -> datetime:
    """An RFC3339 timestamp (naive ones are taken as UTC) or 'now'."""
    raw = text.strip()
    if raw.lower() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"cannot read time {_shown(text)}", hint="use RFC3339, e.g. 2026-11-26T10:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_window(
    since: str | None, start: str | None, end: str | None, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The [start, end) a user asked for with --since or --start/--end; end before start is an error."""
    now = now or datetime.now(UTC)
    end_at = parse_instant(end) if end else now
    if start and since:
        raise InputError("give either --since or --start, not both")
    if start:
        start_at = parse_instant(start)
    else:
        duration = parse_duration(since or "1h")
        try:
            start_at = end_at - duration
        except OverflowError:
            raise InputError(
                f"--since {_shown(since or '')} reaches back before year 1", hint="use a shorter duration"
            ) from None
    if end_at <= start_at:
        raise InputError(
            f"end {end_at.isoformat()} is not after start {start_at.isoformat()}", hint="check --start/--end"
        )
    return start_at, end_at
