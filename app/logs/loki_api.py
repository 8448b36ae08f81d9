"""Loki's HTTP API as data: response models, body decoding and parsing, paging rules, error hints.

Pure functions, no I/O: ``app/logs/loki.py`` sends the requests and hands the bytes here. Everything Loki
sends is untrusted: a body is decoded as UTF-8 with replacement (one bad byte must not lose the page),
lone surrogates from ``\\ud800``-style JSON escapes become U+FFFD, timestamps must be decimal Unix
nanoseconds a datetime can hold, and anything else is a ``LokiProtocolError`` naming what was wrong.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from app.errors import InputError, LokiProtocolError
from app.logs.models import LogEntry, parse_ns_timestamp

CATEGORIZE_LABELS = "categorize-labels"
# No real query comes near this; a bigger one is a pasted file, and Loki would parse it for nothing.
MAX_QUERY_BYTES = 64 * 1024
# How much of an unexpected body a message quotes: enough to recognise it, not a whole page.
BODY_EXCERPT_CHARS = 200

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def replace_lone_surrogates(text: str) -> str:
    """``text`` with unpaired UTF-16 surrogates (which no encoder accepts) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


# --- Loki's response, as documented (GET /loki/api/v1/query_range, resultType "streams") ---------


class CategorizedLabels(BaseModel):
    """The third element of a value under ``categorize-labels``: labels that are not stream labels."""

    structured_metadata: dict[str, str] = Field(default_factory=dict, alias="structuredMetadata")
    parsed: dict[str, str] = Field(default_factory=dict)


class LokiStream(BaseModel):
    """One stream of a streams result: its labels and raw values, each checked by ``parse_value``."""

    stream: dict[str, str]
    values: list[list[Any]]


class LokiQueryData(BaseModel):
    """``data`` of a query response; ``result`` is checked further once ``resultType`` is known."""

    result_type: str = Field(alias="resultType")
    result: list[Any]
    encoding_flags: list[str] = Field(default_factory=list, alias="encodingFlags")
    stats: dict[str, Any] = Field(default_factory=dict)


class LokiQueryResponse(BaseModel):
    """The body of a successful query_range response."""

    status: Literal["success"]
    data: LokiQueryData


class LokiLabelsResponse(BaseModel):
    """The body of /labels and /label/<name>/values (Loki omits ``data`` when there is nothing)."""

    status: Literal["success"]
    data: list[str] = Field(default_factory=list)


_STREAMS = TypeAdapter(list[LokiStream])


def first_error(exc: ValidationError) -> str:
    """The first problem pydantic found, as ``where: what``."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


def _clean_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in labels.items()}


def parse_query_response(payload: Any) -> list[LogEntry]:
    """The log entries of a query_range response body, in the order Loki sent them."""
    check_status(payload, "query_range")
    try:
        response = LokiQueryResponse.model_validate(payload)
    except ValidationError as exc:
        raise LokiProtocolError(f"Loki's answer is not a query response: {first_error(exc)}") from None
    if response.data.result_type != "streams":
        raise InputError(
            f"the query returned a {response.data.result_type} (a metric query); LogTriage needs a log query",
            hint="drop rate(), count_over_time() and similar; select log lines instead",
        )
    try:
        streams = _STREAMS.validate_python(response.data.result)
    except ValidationError as exc:
        raise LokiProtocolError(f"Loki's streams are malformed: {first_error(exc)}") from None
    entries: list[LogEntry] = []
    for s_index, stream in enumerate(streams):
        stream_labels = _clean_labels(stream.stream)
        for v_index, value in enumerate(stream.values):
            try:
                entries.append(parse_value(value, stream_labels))
            except ValueError as exc:
                raise LokiProtocolError(
                    f"Loki's streams are malformed: result.{s_index}.values.{v_index}: {exc}"
                ) from None
    return entries


def parse_value(value: list[Any], stream_labels: dict[str, str]) -> LogEntry:
    """One ``[ts, line]`` or ``[ts, line, {structuredMetadata, parsed}]`` value as a LogEntry; ValueError if not."""
    if len(value) not in (2, 3):
        raise ValueError(
            f"a value has {len(value)} elements, not [timestamp, line] or [timestamp, line, labels]"
        )
    ts_ns = parse_ns_timestamp(value[0])
    if not isinstance(value[1], str):
        raise ValueError(f"the line is a {type(value[1]).__name__}, not a string")
    labels = stream_labels
    metadata: dict[str, str] = {}
    if len(value) == 3:
        try:
            categorized = CategorizedLabels.model_validate(value[2])
        except ValidationError as exc:
            raise ValueError(f"its labels are malformed: {first_error(exc)}") from None
        metadata = _clean_labels(categorized.structured_metadata)
        if categorized.parsed:
            # Without categorize-labels Loki merges parsed labels into the stream labels; keep that
            # meaning so the two encodings give the same entries.
            labels = {**labels, **_clean_labels(categorized.parsed)}
    return LogEntry(
        ts_ns=ts_ns, labels=labels, line=replace_lone_surrogates(value[1]), structured_metadata=metadata
    )


def parse_labels_response(payload: Any, path: str) -> list[str]:
    """The sorted, distinct names or values of a /labels or /label/<name>/values response body."""
    check_status(payload, path)
    try:
        response = LokiLabelsResponse.model_validate(payload)
    except ValidationError as exc:
        raise LokiProtocolError(f"Loki's answer to {path} is malformed: {first_error(exc)}") from None
    return sorted({replace_lone_surrogates(value) for value in response.data})


def check_status(payload: Any, path: str) -> None:
    """Raise Loki's own error when a body says ``"status": "error"`` (some proxies answer errors with 200)."""
    if isinstance(payload, dict) and payload.get("status") == "error":
        text = str(payload.get("error") or payload.get("errorType") or "no reason given")
        raise LokiProtocolError(
            f"Loki answered {path} with status error: {excerpt(text)}",
            hint=http_error_hint(400, text) or LokiProtocolError.hint,
        )


# --- bodies ---------------------------------------------------------------------------------------


def decode_body(raw: bytes) -> tuple[str, bool]:
    """A body as text (UTF-8; invalid bytes become U+FFFD) and whether any byte had to be replaced."""
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8-sig", errors="replace"), True


def parse_json_body(text: str, *, content_type: str, where: str) -> Any:
    """The JSON value of a body, or a LokiProtocolError saying what the body is instead."""
    if not text.strip():
        raise LokiProtocolError(f"{where} answered with an empty body")
    try:
        return json.loads(text)
    except RecursionError:
        raise LokiProtocolError(f"{where} answered with JSON nested too deeply to read") from None
    except ValueError as exc:
        raise LokiProtocolError(
            f"{where} answered with {describe_non_json(text, content_type, exc)}"
        ) from None


def describe_non_json(text: str, content_type: str, exc: ValueError | None = None) -> str:
    """What a body that should have been JSON is: an HTML page (with its title), cut-off JSON, or text."""
    kind = content_type.split(";")[0].strip().lower()
    stripped = text.lstrip()
    if kind == "text/html" or stripped[:15].lower().startswith(("<!doctype html", "<html")):
        title = html_title(text)
        return f"an HTML page{f' titled {title!r}' if title else ''}, not Loki's JSON"
    if stripped[:1] in "{[" and text.rstrip()[-1:] not in "}]":
        # A JSON object or array always ends with its closing bracket: this one stops early.
        return f"JSON that stops after {len(text):,} characters (the answer was cut off)"
    if isinstance(exc, json.JSONDecodeError) and stripped[:1] in "{[":
        return f"malformed JSON ({exc.msg} at character {exc.pos})"
    if exc is not None and stripped[:1] in "{[":
        # Well-formed JSON the parser refuses, e.g. a number thousands of digits long.
        return f"JSON holding a value too large to read ({str(exc).split(':')[0]})"
    return f"something that is not JSON ({kind or 'no content type'}): {excerpt(text)!r}"


def html_title(text: str) -> str:
    """The <title> of an HTML page as plain text ('' when it has none)."""
    match = _HTML_TITLE.search(text[:20_000])
    return excerpt(html.unescape(_TAG.sub("", match[1]))) if match else ""


def excerpt(text: str, limit: int = BODY_EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_body_summary(text: str, content_type: str) -> str:
    """Loki's error text for a message: its plain text (one line, cut short), or an HTML page's title."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/html" or text.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        title = html_title(text)
        return f"an HTML page{f' titled {title!r}' if title else ''}"
    return excerpt(text) or "(no body)"


# --- Paging backward through query_range (pure) ------------------------------------------------------------------------

EntryKey = tuple[int, tuple[tuple[str, str], ...], str]


def entry_key(entry: LogEntry) -> EntryKey:
    """What makes an entry unique in Loki: timestamp, stream labels and line."""
    return (entry.ts_ns, tuple(sorted(entry.labels.items())), entry.line)


class PageCursor(BaseModel):
    """Where the next backward page starts, and what was already seen at that boundary."""

    end_ns: int = Field(description="Exclusive end of the next request's window.")
    boundary_ns: int | None = Field(default=None, description="Oldest timestamp seen so far.")
    seen_at_boundary: frozenset[EntryKey] = frozenset()


def page_request_size(page_size: int, remaining: int, overlap: int) -> int:
    """How many lines to ask for: what is still wanted, the lines we will see again, and one more.

    The extra line tells "exactly ``limit`` lines matched" apart from "more matched" without a guess.
    """
    return min(page_size, remaining + overlap + 1)


def take_new_entries(page: Iterable[LogEntry], cursor: PageCursor) -> list[LogEntry]:
    """The entries of a page inside the cursor's window and not returned before, newest first, each once."""
    ordered = sorted(page, key=lambda e: e.ts_ns, reverse=True)
    fresh: list[LogEntry] = []
    keys: set[EntryKey] = set()
    for entry in ordered:
        if entry.ts_ns >= cursor.end_ns:
            continue  # outside the window asked for: a Loki (or proxy) that ignored ``end``
        key = entry_key(entry)
        if key in keys or (entry.ts_ns == cursor.boundary_ns and key in cursor.seen_at_boundary):
            continue
        keys.add(key)
        fresh.append(entry)
    return fresh


def advance_cursor(cursor: PageCursor, page: list[LogEntry]) -> PageCursor:
    """The cursor after a full page: end just after its oldest timestamp, remembering that timestamp's lines.

    Loki's end is exclusive, so ending at oldest+1ns asks again for the lines at the oldest timestamp;
    a page may have stopped in the middle of them.
    """
    oldest = min(e.ts_ns for e in page)
    at_oldest = {entry_key(e) for e in page if e.ts_ns == oldest}
    if cursor.boundary_ns == oldest:
        at_oldest |= cursor.seen_at_boundary
    return PageCursor(end_ns=oldest + 1, boundary_ns=oldest, seen_at_boundary=frozenset(at_oldest))


# --- what we send, and how long we wait ---------------------------------------------------------------


def check_query(query: str) -> None:
    """Refuse a LogQL query that cannot be sent: not encodable as UTF-8, or absurdly long."""
    try:
        size = len(query.encode("utf-8"))
    except UnicodeEncodeError:
        raise InputError(
            "the query holds text that is not valid Unicode (a lone surrogate)",
            hint="check the filter values for bytes your terminal could not decode",
        ) from None
    if size > MAX_QUERY_BYTES:
        raise InputError(
            f"the LogQL query is {size:,} bytes, more than the {MAX_QUERY_BYTES:,} LogTriage sends to Loki",
            hint="shorten the namespace, pod or text filters",
        )


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)


# --- error statuses and Retry-After -------------------------------------------------------------------


def http_error_hint(status: int, body: str) -> str | None:
    """What to do about an error answer from Loki, judged from its status and text."""
    text = body.lower()
    if "no org id" in text:
        return "this Loki is multi-tenant: set LOKI_TENANT (sent as X-Scope-OrgID)"
    if status in (401, 403):
        return "check LOKI_USERNAME/LOKI_PASSWORD or LOKI_BEARER_TOKEN"
    if status == 407:
        return "a proxy between LogTriage and Loki wants credentials; LOKI_URL should reach Loki directly"
    if "max entries limit" in text:
        return "lower LOKI_PAGE_SIZE to Loki's max_entries_limit_per_query"
    if "parse error" in text:
        return "the query is not valid LogQL"
    if status in (413, 414, 431):
        return "the query is too long for Loki or a proxy in front of it: shorten the filters"
    if status == 405:
        return "a proxy in front of Loki refuses this method: LOKI_URL should reach Loki's query API"
    if status == 404:
        return "LOKI_URL should be Loki's base URL, without /loki/api/v1"
    if status == 429:
        return "Loki is rate limiting: try a shorter time range or fewer lines"
    if status >= 500:
        return "Loki failed on its side; check its health (GET /ready) and logs"
    return None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit() and value.isascii():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
