"""Pydantic models of one golden example: a window of logs and the label a labeler gave it."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.logs.models import LogEntry, parse_rfc3339_ns
from app.taxonomy import RootCause

Source = Literal["synthetic", "labeled", "imported"]
Severity = Literal["info", "warning", "critical"]


def _check_rfc3339(value: str) -> str:
    # Keep the original text: re-formatting would break byte-identical round trips.
    try:
        parse_rfc3339_ns(value)
    except ValueError:
        raise PydanticCustomError(
            "rfc3339", "not an RFC3339 timestamp: {value}", {"value": repr(value)}
        ) from None
    return value


Rfc3339 = Annotated[str, AfterValidator(_check_rfc3339)]


class GoldenLog(BaseModel):
    """One log line of a golden window, its timestamp kept exactly as written."""

    model_config = ConfigDict(extra="allow")

    ts: Rfc3339 = Field(description="RFC3339 timestamp, up to nanosecond precision.")
    labels: dict[str, str] = Field(default_factory=dict)
    line: str

    @property
    def ts_ns(self) -> int:
        """The timestamp as Unix nanoseconds."""
        return parse_rfc3339_ns(self.ts)


class GoldenWindow(BaseModel):
    """The time range the logs were taken from."""

    model_config = ConfigDict(extra="allow")

    start: Rfc3339
    end: Rfc3339

    @model_validator(mode="after")
    def _start_before_end(self) -> GoldenWindow:
        if self.start_ns > self.end_ns:
            raise PydanticCustomError(
                "window_order",
                "start {start} is after end {end}",
                {"start": self.start, "end": self.end},
            )
        return self

    @property
    def start_ns(self) -> int:
        """The window start as Unix nanoseconds."""
        return parse_rfc3339_ns(self.start)

    @property
    def end_ns(self) -> int:
        """The window end as Unix nanoseconds."""
        return parse_rfc3339_ns(self.end)


class GoldenLabel(BaseModel):
    """What the labeler decided: the root cause, the lines that prove it, and how bad it is."""

    model_config = ConfigDict(extra="allow")

    root_cause: RootCause
    # StrictInt: lax mode would read `true` as line 1 and "3" as 3, hiding a broken label.
    evidence: list[StrictInt] = Field(
        default_factory=list, description="0-based indices into the example's logs that prove the cause."
    )
    severity: Severity
    summary: str
    labeler: str = Field(min_length=1)
    labeled_at: Rfc3339

    @field_validator("evidence")
    @classmethod
    def _evidence_distinct_and_non_negative(cls, value: list[int]) -> list[int]:
        negative = [index for index in value if index < 0]
        if negative:
            raise PydanticCustomError(
                "evidence_negative", "evidence indices are 0-based; got {negative}", {"negative": negative}
            )
        if len(set(value)) != len(value):
            raise PydanticCustomError(
                "evidence_repeated", "evidence lists an index twice: {value}", {"value": value}
            )
        return value


class GoldenExample(BaseModel):
    """One labeled window of logs; the unit of the golden set and of every eval."""

    model_config = ConfigDict(extra="allow")

    # 200: the width of golden_examples.id, so an over-long id is refused on import, not by the database.
    id: str = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    source: Source
    namespace: str
    window: GoldenWindow
    logs: list[GoldenLog] = Field(min_length=1)
    label: GoldenLabel

    @model_validator(mode="after")
    def _evidence_within_logs(self) -> GoldenExample:
        count = len(self.logs)
        for position, index in enumerate(self.label.evidence):
            if index >= count:
                raise PydanticCustomError(
                    "evidence_out_of_range",
                    "label.evidence[{position}] = {index} is out of range for {count} log lines "
                    "(valid indices are 0..{last})",
                    {"position": position, "index": index, "count": count, "last": count - 1},
                )
        # Lines outside the window are reported by validate_examples, not refused here: sets exported by
        # other tools round their windows, and an unseen set in this format must still import.
        return self

    def logs_outside_window(self) -> list[int]:
        """Indices of log lines whose timestamp lies outside the example's window."""
        start, end = self.window.start_ns, self.window.end_ns
        return [index for index, log in enumerate(self.logs) if not start <= log.ts_ns <= end]

    def content_hash(self) -> str:
        """SHA-256 of what a model is shown (namespace, window, logs); the eval cache key."""
        # Timestamps are hashed as nanoseconds so two spellings of one instant share a cache entry.
        content = {
            "namespace": self.namespace,
            "window": {"start_ns": self.window.start_ns, "end_ns": self.window.end_ns},
            "logs": [{"ts_ns": log.ts_ns, "labels": log.labels, "line": log.line} for log in self.logs],
        }
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_log_entries(self) -> list[LogEntry]:
        """The logs as LogEntry objects, in the example's order (evidence index i is entry i)."""
        return [LogEntry(ts_ns=log.ts_ns, labels=dict(log.labels), line=log.line) for log in self.logs]


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as ``field.path: message (got value)``, for users."""
    first = exc.errors()[0]
    path = ""
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = first["msg"]
    value = first.get("input")
    if first["type"] == "literal_error" and isinstance(value, str):
        message = f"{message} (got {value!r})"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {message}{suffix}" if path else f"{message}{suffix}"
