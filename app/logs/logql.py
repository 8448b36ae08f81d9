"""LogQL for the triage path: a filter model, a builder that escapes every value, and a parser.

The builder emits one shape only::

    {namespace="payments", pod="api-7d9f"} | detected_level="error" |= "timeout" != "healthz" |~ "5\\d\\d"

with two variations a filter can ask for: a pod or container matched by prefix (``pod=~"api-(?s:.*)"``) and
text matched regardless of case (``|~ "(?i)timeout"`` and ``!~ "(?i)healthz"``), the text quoted so
that no character of it acts as a regex operator.

The parser reads that shape back (plus the other matcher and filter operators and Go raw strings a
user may type) so the demo source and the fake Loki can answer it; anything else is refused with
``UnsupportedQueryError`` rather than being half-understood.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.errors import InputError, UnsupportedQueryError
from app.logs.models import LEVELS, Level, LogEntry, datetime_to_ns

MatchOp = Literal["=", "!=", "=~", "!~"]
LineOp = Literal["|=", "!=", "|~", "!~"]
# Longest first, so "=~" is not read as "=" followed by "~".
_MATCH_OPS: tuple[MatchOp, ...] = ("=~", "!~", "!=", "=")
_LINE_OPS: tuple[LineOp, ...] = ("|=", "|~", "!=", "!~")

# Loki 3 writes these values into ``detected_level``; several of them mean one of our levels, so the
# level filter matches all of them (Loki says "warn", an app's own label may say "warning").
LEVEL_LABEL_VALUES: dict[Level, tuple[str, ...]] = {
    "critical": ("critical", "fatal"),
    "error": ("error",),
    "warn": ("warn", "warning"),
    "info": ("info",),
    "debug": ("debug", "trace"),
    "unknown": ("unknown",),
}

_LEVEL_ALIASES: dict[str, Level] = {
    **{level: level for level in LEVELS},
    "warning": "warn",
    "fatal": "critical",
    "crit": "critical",
    "err": "error",
    "trace": "debug",
}

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The characters Go's regexp.QuoteMeta escapes; a backslash before each is a literal in RE2 and in Python.
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def query_window_ns(start: datetime, end: datetime, limit: int | None = None) -> tuple[int, int]:
    """The [start, end) window of a log query in Unix nanoseconds, after checking it (and the limit)."""
    try:
        start_ns, end_ns = datetime_to_ns(start), datetime_to_ns(end)
    except ValueError:
        raise InputError("the start and end of the time range must be timezone-aware") from None
    if end_ns <= start_ns:
        raise InputError(
            f"the end of the time range ({end.isoformat()}) is not after its start ({start.isoformat()})"
        )
    if limit is not None and limit < 1:
        raise InputError(f"the line limit must be at least 1, not {limit}")
    return start_ns, end_ns


def check_label_name(label: str) -> str:
    """``label`` unchanged when it is a valid Loki label name; InputError otherwise."""
    if not _LABEL_NAME.fullmatch(label):
        raise InputError(
            f"{label!r} is not a valid label name (letters, digits and _, not starting with a digit)"
        )
    return label


def escape_logql_string(value: str) -> str:
    """``value`` as a double-quoted LogQL (Go) string literal that reads back as exactly ``value``."""
    out = ['"']
    for char in value:
        short = _SHORT_ESCAPES.get(char)
        if short is not None:
            out.append(short)
        elif char.isprintable() and char != "\ufeff":
            # Go's scanner rejects a BOM anywhere but at the start, so it is escaped like a control char.
            out.append(char)
        else:
            code = ord(char)
            if 0xD800 <= code <= 0xDFFF:
                raise InputError(f"text contains a lone surrogate (U+{code:04X}) that cannot be sent to Loki")
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def regex_literal(text: str) -> str:
    """A regex (RE2 and Python alike) that matches exactly ``text``, as Go's ``regexp.QuoteMeta`` does."""
    return _REGEX_META.sub(r"\\\1", text)


class LogFilter(BaseModel):
    """What the user asked to see: one namespace, optionally narrowed by pod, container, level and text."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    pod: str | None = None
    container: str | None = None
    level: Level | None = None
    contains: str | None = None
    excludes: str | None = None
    regex: str | None = None
    pod_prefix: bool = Field(default=False, description="Match pods whose name starts with ``pod``.")
    container_prefix: bool = Field(default=False, description="Match containers starting with ``container``.")
    ignore_case: bool = Field(default=False, description="``contains`` and ``excludes`` ignore case.")

    @field_validator("namespace", mode="before")
    @classmethod
    def _namespace_required(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError("choose a namespace: the namespace filter is empty")
        return value.strip() if isinstance(value, str) else value

    @field_validator("pod", "container", mode="before")
    @classmethod
    def _label_not_blank(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            if not value.strip():
                raise InputError(f"the {info.field_name} filter is empty; leave it unset instead")
            return value.strip()
        return value

    @field_validator("contains", "excludes", "regex", mode="before")
    @classmethod
    def _text_not_blank(cls, value: object, info: ValidationInfo) -> object:
        # Surrounding spaces may be meant ("ERROR " vs "ERRORS"), so text is kept as typed; only a
        # filter of nothing but whitespace is refused, since it would match (or drop) every line.
        if isinstance(value, str) and not value.strip():
            raise InputError(f"the {info.field_name} filter is empty; leave it unset instead")
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise InputError(
                    f"the regex filter {value!r} is not a valid regular expression: {exc}"
                ) from None
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _known_level(cls, value: object) -> object:
        if value is None:
            return None
        level = _LEVEL_ALIASES.get(str(value).strip().lower())
        if level is None:
            raise InputError(f"unknown level {value!r}; use one of {', '.join(LEVELS)}")
        return level


def _label_matcher(name: str, value: str, prefix: bool) -> str:
    if prefix:
        # (?s:...): the rest may hold any character, a newline too, whichever Loki's default for "." is.
        return f"{name}=~{escape_logql_string(regex_literal(value) + '(?s:.*)')}"
    return f"{name}={escape_logql_string(value)}"


def _text_filter(include: bool, text: str, ignore_case: bool) -> str:
    if ignore_case:
        return f"{'|~' if include else '!~'} {escape_logql_string('(?i)' + regex_literal(text))}"
    return f"{'|=' if include else '!='} {escape_logql_string(text)}"


def build_logql(f: LogFilter) -> str:
    """The LogQL log query selecting the lines ``f`` describes."""
    matchers = [f"namespace={escape_logql_string(f.namespace)}"]
    if f.pod is not None:
        matchers.append(_label_matcher("pod", f.pod, f.pod_prefix))
    if f.container is not None:
        matchers.append(_label_matcher("container", f.container, f.container_prefix))
    parts = ["{" + ", ".join(matchers) + "}"]
    if f.level is not None:
        values = LEVEL_LABEL_VALUES[f.level]
        if len(values) == 1:
            parts.append(f"| detected_level={escape_logql_string(values[0])}")
        else:
            parts.append(f"| detected_level=~{escape_logql_string('|'.join(values))}")
    if f.contains is not None:
        parts.append(_text_filter(True, f.contains, f.ignore_case))
    if f.excludes is not None:
        parts.append(_text_filter(False, f.excludes, f.ignore_case))
    if f.regex is not None:
        parts.append(f"|~ {escape_logql_string(f.regex)}")
    return " ".join(parts)


class LabelMatcher(BaseModel):
    """``name op "value"`` in a stream selector or a label filter."""

    model_config = ConfigDict(frozen=True)

    name: str
    op: MatchOp
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label counts as the empty string)."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        # Prometheus and Loki anchor label regexes at both ends.
        found = _compiled(self.value).fullmatch(actual) is not None
        return found if self.op == "=~" else not found


class LineFilter(BaseModel):
    """``op "value"`` applied to the log line."""

    model_config = ConfigDict(frozen=True)

    op: LineOp
    value: str

    def matches(self, line: str) -> bool:
        """Whether ``line`` passes this filter (regexes match anywhere in the line)."""
        if self.op == "|=":
            return self.value in line
        if self.op == "!=":
            return self.value not in line
        found = _compiled(self.value).search(line) is not None
        return found if self.op == "|~" else not found


class ParsedQuery(BaseModel):
    """A log query of the shape the builder emits, taken apart."""

    model_config = ConfigDict(frozen=True)

    matchers: list[LabelMatcher]
    line_filters: list[LineFilter]
    label_filters: list[LabelMatcher]

    def matches(self, entry: LogEntry) -> bool:
        """Whether the query selects ``entry``."""
        if not all(m.matches(entry.labels) for m in self.matchers):
            return False
        if not all(f.matches(entry.line) for f in self.line_filters):
            return False
        if self.label_filters:
            # Label filters also see structured metadata and the level Loki 3 detects for each line.
            level = entry.structured_metadata.get("detected_level") or entry.level
            visible = {**entry.labels, **entry.structured_metadata, "detected_level": level}
            return all(m.matches(visible) for m in self.label_filters)
        return True

    def selector_value(self, name: str) -> str | None:
        """The value of the first ``name="..."`` equality matcher, or None."""
        for m in self.matchers:
            if m.name == name and m.op == "=":
                return m.value
        return None


_regex_cache: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _regex_cache.get(pattern)
    if compiled is None:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise UnsupportedQueryError(f"invalid regular expression {pattern!r}: {exc}") from None
        _regex_cache[pattern] = compiled
    return compiled


def _unsupported(query: str, pos: int, what: str) -> UnsupportedQueryError:
    return UnsupportedQueryError(
        f"{what} at character {pos + 1} of {query!r}: not supported by the demo source "
        "(it understands a stream selector followed by |=, !=, |~, !~ line filters and label filters)",
        hint="set LOKI_URL to query a real Loki for full LogQL",
    )


class _Reader:
    """A cursor over the query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def take(self, *tokens: str) -> str | None:
        """The first of ``tokens`` found at the cursor (consumed), or None."""
        self.skip_space()
        for token in tokens:
            if self.text.startswith(token, self.pos):
                self.pos += len(token)
                return token
        return None

    def expect(self, *tokens: str) -> str:
        token = self.take(*tokens)
        if token is None:
            raise _unsupported(self.text, self.pos, f"expected {' or '.join(tokens)}")
        return token

    def label_name(self) -> str:
        self.skip_space()
        match = _LABEL_NAME.match(self.text, self.pos)
        if not match:
            raise _unsupported(self.text, self.pos, "expected a label name")
        self.pos = match.end()
        return match.group()

    def string(self) -> str:
        self.skip_space()
        if self.text.startswith("`", self.pos):
            end = self.text.find("`", self.pos + 1)
            if end < 0:
                raise _unsupported(self.text, self.pos, "unterminated raw string")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return value
        if not self.text.startswith('"', self.pos):
            raise _unsupported(self.text, self.pos, "expected a quoted string")
        return self._quoted()

    def _quoted(self) -> str:
        text, start = self.text, self.pos
        i = start + 1
        out: list[str] = []
        while i < len(text):
            char = text[i]
            if char == '"':
                self.pos = i + 1
                return "".join(out)
            if char == "\n":
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            decoded, i = _unescape(text, i, start)
            out.append(decoded)
        raise _unsupported(text, start, "unterminated string")


_SIMPLE_UNESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _unescape(text: str, i: int, start: int) -> tuple[str, int]:
    """The character of the Go escape at ``text[i]`` (a backslash) and the index after it."""
    kind = text[i + 1 : i + 2]
    if kind in _SIMPLE_UNESCAPES:
        return _SIMPLE_UNESCAPES[kind], i + 2
    if kind in _HEX_ESCAPES:
        digits = text[i + 2 : i + 2 + _HEX_ESCAPES[kind]]
        if len(digits) == _HEX_ESCAPES[kind] and all(c in "0123456789abcdefABCDEF" for c in digits):
            code = int(digits, 16)
            if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), i + 2 + len(digits)
    elif kind in "01234567" and kind:
        digits = text[i + 1 : i + 4]
        if len(digits) == 3 and all(c in "01234567" for c in digits) and int(digits, 8) <= 0xFF:
            return chr(int(digits, 8)), i + 4
    raise _unsupported(text, i, f"invalid escape in string starting at character {start + 1}")


def parse_selector_and_filters(query: str) -> ParsedQuery:
    """Take apart a log query made of a stream selector, line filters and label filters."""
    reader = _Reader(query)
    reader.expect("{")
    matchers: list[LabelMatcher] = []
    if reader.take("}") is None:
        while True:
            name = reader.label_name()
            op = cast(MatchOp, reader.expect(*_MATCH_OPS))
            matchers.append(LabelMatcher(name=name, op=op, value=reader.string()))
            if reader.expect(",", "}") == "}":
                break
    if not matchers:
        raise _unsupported(query, 0, "an empty stream selector")
    line_filters: list[LineFilter] = []
    label_filters: list[LabelMatcher] = []
    while not reader.at_end():
        stage = reader.expect(*_LINE_OPS, "|")
        if stage != "|":
            line_filters.append(LineFilter(op=cast(LineOp, stage), value=reader.string()))
            continue
        name = reader.label_name()
        label_op = reader.take(*_MATCH_OPS)
        if label_op is None:
            raise _unsupported(query, reader.pos, f"the pipeline stage '| {name}'")
        label_filters.append(LabelMatcher(name=name, op=cast(MatchOp, label_op), value=reader.string()))
    return ParsedQuery(matchers=matchers, line_filters=line_filters, label_filters=label_filters)
