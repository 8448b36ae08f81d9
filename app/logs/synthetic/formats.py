"""Timestamps and quoting that many log formats share: Go's ``%q``, logfmt, klog and compact JSON.

A line is rendered from its Unix-nanosecond timestamp (``Render``), so the time a line prints always
matches the time Loki stores for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

Render = Callable[[int], str]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def utc(ts_ns: int) -> datetime:
    """The second of ``ts_ns`` as an aware UTC datetime."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)


def millis(ts_ns: int) -> int:
    """The millisecond within the second."""
    return ts_ns % 1_000_000_000 // 1_000_000


def micros(ts_ns: int) -> int:
    """The microsecond within the second."""
    return ts_ns % 1_000_000_000 // 1000


def iso_ms(ts_ns: int) -> str:
    """RFC3339 with milliseconds and ``Z``, as most application loggers write it."""
    return f"{utc(ts_ns):%Y-%m-%dT%H:%M:%S}.{millis(ts_ns):03d}Z"


def iso_us(ts_ns: int) -> str:
    """RFC3339 with microseconds and ``Z``."""
    return f"{utc(ts_ns):%Y-%m-%dT%H:%M:%S}.{micros(ts_ns):06d}Z"


def iso_s(ts_ns: int) -> str:
    """RFC3339 to the second, as Go prints a ``time.Time`` in x509 errors and logrus writes ``time``."""
    return f"{utc(ts_ns):%Y-%m-%dT%H:%M:%S}Z"


def go_rfc3339nano(ts_ns: int) -> str:
    """Go's ``time.RFC3339Nano``: trailing zeros of the fraction dropped (containerd, Envoy Gateway)."""
    fraction = f"{ts_ns % 1_000_000_000:09d}".rstrip("0")
    return f"{utc(ts_ns):%Y-%m-%dT%H:%M:%S}{'.' + fraction if fraction else ''}Z"


def clf_time(ts_ns: int) -> str:
    """The Common Log Format time nginx writes: ``26/Nov/2026:10:00:00 +0000``."""
    moment = utc(ts_ns)
    return f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def go_quote(value: object) -> str:
    """``value`` quoted as Go's ``strconv.Quote`` (``%q``) does: printable runes kept, others escaped."""
    out = ['"']
    for char in str(value):
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _logfmt_needs_quotes(text: str) -> bool:
    return text == "" or any(char <= " " or char in '="\\' or not char.isprintable() for char in text)


def logfmt_value(value: object) -> str:
    """A logfmt value: bare when it can be, else quoted like Go's ``%q`` (go-kit, logrus, Grafana)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return go_quote(text) if _logfmt_needs_quotes(text) else text


def logfmt(fields: dict[str, object]) -> str:
    """``key=value`` pairs joined by spaces."""
    return " ".join(f"{key}={logfmt_value(value)}" for key, value in fields.items())


def compact_json(fields: dict[str, object]) -> str:
    """JSON on one line without spaces, non-ASCII kept, as Go's and Node's JSON loggers write it."""
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def klog_prefix(severity: str, ts_ns: int, thread: int, source: str) -> str:
    """klog's header: ``I1126 10:00:00.123456    4242 file.go:123] ``."""
    return f"{severity}{utc(ts_ns):%m%d %H:%M:%S}.{micros(ts_ns):06d} {thread:>7} {source}] "


def klog(severity: str, thread: int, source: str, message: str, **fields: object) -> Render:
    """A klog line; structured (``"msg" key="value"``) when fields are given, as Kubernetes components log."""
    if fields:
        text = go_quote(message) + "".join(f" {key}={_klog_value(value)}" for key, value in fields.items())
    else:
        text = message
    return lambda ts: klog_prefix(severity, ts, thread, source) + text


def _klog_value(value: object) -> str:
    # klog's text format quotes strings and prints numbers and booleans bare.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return go_quote(value)


def fixed(text: str) -> Render:
    """A line that prints no timestamp of its own (stack frames, banners)."""
    return lambda _ts: text
