"""The cheaper prompt form of one log line: the same facts in fewer tokens.

What goes, and why it can go:
- the line's own timestamp (the prompt shows the entry's time), and time/level keys of JSON and logfmt;
- a leading level word (the prompt shows the level as a tag);
- JSON punctuation: an object becomes ``message key=value ...``;
- headers that repeat on every line of a format (klog's, Spring Boot's pid and thread, Redis's role);
- ids with no meaning to a reader (UUIDs, long hex), which become ``<id>``;
- a user agent's platform details, and the protocol of a request line;
- directories of source files in stack frames.

Nothing else is dropped; every cut is a pattern that holds for logs in general.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from app.logs.models import Level

_TIME_KEYS = frozenset(
    {"time", "ts", "timestamp", "@timestamp", "datetime", "date", "t", "time_local", "logtime", "asctime"}
)
_LEVEL_KEYS = frozenset({"level", "lvl", "severity", "loglevel", "levelname", "log.level", "severity_text"})
_NOISE_KEYS = frozenset({"pid", "hostname", "v"})
_MESSAGE_KEYS = ("msg", "message", "event", "log", "text")

# Longer JSON lines are not parsed (cost); they fall through to the generic rules.
_MAX_JSON_CHARS = 20_000

_LEVEL_WORDS: dict[str, Level] = {
    "INFO": "info", "INF": "info", "NOTICE": "info", "WARN": "warn", "WARNING": "warn", "WRN": "warn",
    "ERROR": "error", "ERR": "error", "FATAL": "critical", "CRITICAL": "critical", "CRIT": "critical",
    "PANIC": "critical", "DEBUG": "debug", "DBG": "debug", "TRACE": "debug", "LOG": "info",
}  # fmt: skip

_DATE = r"\d{4}[-/]\d{2}[-/]\d{2}"
_CLOCK = r"\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
_ZONE = r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?"
# A timestamp that opens the line, bracketed or not, in the usual shapes (ISO, Go's log package, syslog,
# klog's header with thread id, Redis's 'pid:role date').
_LEADING_TIME = re.compile(
    rf"^(?:\[?{_DATE}[T ]{_CLOCK}{_ZONE}\]?"
    rf"|[A-Z][a-z]{{2}} [ \d]\d {_CLOCK}"
    rf"|[IWEF]\d{{4}} {_CLOCK}\s+\d+(?: [\w.-]+:\d+\])?"
    rf"|\d+:[MSCX] \d{{2}} [A-Z][a-z]{{2}} \d{{4}} {_CLOCK}"
    r"|\d{10}(?:\.\d+)?)[\s:|,-]*"
)
_KLOG = re.compile(r"^[IWEF]\d{4} ")
_CLF_TIME = re.compile(r"\s?\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]")
_LEADING_LEVEL = re.compile(r"^(?:level=)?\[?([A-Za-z]{3,8})\]?:?(?:\s+|$)")
_LEADING_PID = re.compile(r"^\[\d+\]\s+")
_SPRING_HEADER = re.compile(r"^\d+ --- (?:\[[^\]]*\] )*\[\s*[^\]]*\]\s+(\S+)\s+:\s")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_LONG_HEX = re.compile(r"\b(?=[a-fA-F]*\d)(?=\d*[a-fA-F])[0-9a-fA-F]{16,}\b")
_PROTOCOL = re.compile(r'("[A-Z]+ \S+) HTTP/\d(?:\.\d)?"')
_USER_AGENT = re.compile(r'"([\w.-]+/[\w.-]+) \([^"]*"')
_EMPTY_QUOTED = re.compile(r' "-"(?= |$)| \[\](?= |$)')
_FRAME_PATH = re.compile(r'(?<=["(])/(?:[^/"():\s]+/)+(?=[^/"():\s]+/[^/"():\s]+[":])')
_SPACES = re.compile(r"[ \t]{2,}|\t")
_ANONYMOUS_CLIENT = re.compile(r"^(\S+) - - ")
_LOGFMT_PAIR = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_BARE_VALUE = re.compile(r'^[^\s"=]+$')


def single_line(line: str) -> str:
    """A log line made safe for a one-line-per-entry prompt."""
    # Embedded line breaks would shift the line numbers the model cites, so they become visible escapes;
    # other control characters stay as they are. Lone surrogates (undecodable bytes) become \\udcXX text
    # so the prompt can still be encoded for the server.
    text = line.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def compact_text(line: str, level: Level, rename: Callable[[str], str] | None = None) -> str:
    """The cheaper form of one log line (see the module docstring); ``rename`` shortens pod names."""
    text = single_line(line)
    structured = _from_json(text) if text.startswith("{") and text.endswith("}") else None
    if structured is None:
        structured = _from_logfmt(text)
    text = _generic(text, level) if structured is None else structured
    text = _UUID.sub("<id>", text)
    text = _LONG_HEX.sub("<id>", text)
    if rename is not None:
        text = rename(text)
    return text


def compact_continuation(line: str) -> str:
    """The cheaper form of a continuation line of a multi-line record (a stack frame, a message line)."""
    text = single_line(line).strip()
    text = _FRAME_PATH.sub(".../", text)
    text = _SPACES.sub(" ", text)
    text = _UUID.sub("<id>", text)
    return _LONG_HEX.sub("<id>", text)


# --- structured lines -----------------------------------------------------------------------------


def _value(value: Any) -> str:
    """A field value in logfmt style: bare when unambiguous, else quoted JSON."""
    if isinstance(value, str):
        return value if _BARE_VALUE.match(value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return str(value)  # as written: 0.070 stays 0.070
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return json.dumps(value)


def _from_json(text: str) -> str | None:
    """``message key=value ...`` for a JSON object line; None when it is not one."""
    if len(text) > _MAX_JSON_CHARS:
        return None
    try:
        # Decimal keeps numbers as written, so values can be matched back to the raw line.
        record = json.loads(text, parse_float=Decimal)
    except ValueError:
        return None
    if not isinstance(record, dict) or not record:
        return None
    return _fields_to_text(record)


def _fields_to_text(record: dict[str, Any]) -> str:
    """The message first, then the remaining fields, without time, level and per-process noise."""
    if _is_kube_event(record):
        return _kube_event(record)
    message = ""
    for key in _MESSAGE_KEYS:
        value = record.get(key)
        if isinstance(value, str) and value:
            message = value
            break
    parts = [message] if message else []
    for key, value in record.items():
        lowered = key.lower()
        if (message and value is record.get(key) and value == message and key in _MESSAGE_KEYS) or (
            lowered in _TIME_KEYS or lowered in _LEVEL_KEYS or lowered in _NOISE_KEYS
        ):
            continue
        parts.append(f"{key}={_value(value)}")
    return " ".join(parts)


def _is_kube_event(record: dict[str, Any]) -> bool:
    """Whether a record is a Kubernetes event, as an event shipper writes it (Alloy's logfmt, a
    type/reason/object line, or kubernetes-event-exporter's JSON)."""
    return record.get("type") in ("Normal", "Warning") and isinstance(record.get("reason"), str)


# Event fields that only identify the event object itself.
_EVENT_NOISE = frozenset({"type", "reason", "object", "kind", "name", "action", "objectAPIversion", "objectRV",
                          "involvedObject", "count", "firstTimestamp", "lastTimestamp", "metadata"})  # fmt: skip
_EVENT_NAME_SUFFIX = re.compile(r"\.[0-9a-f]{8,}$")


def _kube_event(record: dict[str, Any]) -> str:
    """``BackOff pod/x: message`` and any further fields; the type (Normal, Warning) is the line's level."""
    message = next((record[key] for key in _MESSAGE_KEYS if isinstance(record.get(key), str)), "")
    target = record.get("object")
    if not isinstance(target, str):
        involved = record.get("involvedObject")
        source = involved if isinstance(involved, dict) else record
        kind, name = source.get("kind"), source.get("name")
        # Alloy names the event after its object plus a unique suffix.
        name = _EVENT_NAME_SUFFIX.sub("", name) if isinstance(name, str) else ""
        target = f"{kind.lower()}/{name}" if isinstance(kind, str) and name else name
    head = f"{record['reason']} {target}".rstrip()
    rest = [
        f"{key}={_value(value)}"
        for key, value in record.items()
        if key not in _EVENT_NOISE and value is not message and key.lower() not in _TIME_KEYS
    ]
    return " ".join([f"{head}: {message}" if message else head, *rest])


def _from_logfmt(text: str) -> str | None:
    """The same for a logfmt line (``key=value`` pairs only); None when the line is not logfmt."""
    if "=" not in text[:40]:
        return None
    pairs = _LOGFMT_PAIR.findall(text)
    if len(pairs) < 2 or not text.startswith(pairs[0][0] + "="):
        return None
    # Everything but the pairs and the spaces between them must be absent, or this is prose with '='.
    covered = sum(len(key) + 1 + len(value) for key, value in pairs) + len(pairs) - 1
    if covered != len(text):
        return None
    record: dict[str, Any] = {}
    for key, value in pairs:
        if value.startswith('"'):
            try:
                record[key] = json.loads(value)
            except ValueError:
                record[key] = value
        else:
            record[key] = value
    return _fields_to_text(record)


# --- unstructured lines ---------------------------------------------------------------------------


def _generic(text: str, level: Level) -> str:
    """Leading time and level, well-known headers, access-log padding and runs of spaces removed."""
    klog = bool(_KLOG.match(text))
    match = _LEADING_TIME.match(text)
    if match and match.end() < len(text):
        text = text[match.end() :]
    text = _LEADING_PID.sub("", text)
    if not klog:
        word = _LEADING_LEVEL.match(text)
        if (
            word
            and _LEVEL_WORDS.get(word.group(1).upper()) in (level, "info", "debug")
            and word.end() < len(text)
        ):
            text = text[word.end() :]
    spring = _SPRING_HEADER.match(text)
    if spring:
        text = f"{spring.group(1)}: {text[spring.end() :]}"
    if '"' in text:
        text = _PROTOCOL.sub(r'\1"', text)
        text = _USER_AGENT.sub(r'"\1"', text)
        text = _CLF_TIME.sub("", text)
        text = _ANONYMOUS_CLIENT.sub(r"\1 ", text)
        text = _EMPTY_QUOTED.sub("", text)
    return _SPACES.sub(" ", text).strip()
