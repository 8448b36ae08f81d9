"""Loki HTTP client: range queries paginated the way logcli does it, labels, readiness.

Every request has explicit timeouts and is retried (exponential backoff with jitter, ``Retry-After``
honoured) on connect errors, timeouts, 429 and 5xx; other 4xx are final. httpx exceptions and error
statuses become ``LokiConnectError``, ``LokiTimeoutError`` or ``LokiHTTPError`` here and nowhere else.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Self

import httpx
from opentelemetry import propagate, trace
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from app.config import Settings
from app.errors import (
    ConfigError,
    InputError,
    LogSourceError,
    LokiConnectError,
    LokiHTTPError,
    LokiTimeoutError,
)
from app.logs.logql import check_label_name, query_window_ns
from app.logs.models import LogEntry, LogQueryResult
from app.telemetry.metrics import LOKI_QUERY_DURATION

logger = logging.getLogger(__name__)

QUERY_RANGE_PATH = "/loki/api/v1/query_range"
LABELS_PATH = "/loki/api/v1/labels"
READY_PATH = "/ready"
ENCODING_FLAGS_HEADER = "X-Loki-Response-Encoding-Flags"
CATEGORIZE_LABELS = "categorize-labels"
TENANT_HEADER = "X-Scope-OrgID"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A server asking us to wait longer than this is treated as if it had asked for this long, so a
# misconfigured proxy cannot park a triage for an hour.
MAX_RETRY_AFTER_SECONDS = 30.0


# --- Loki's response, as documented (GET /loki/api/v1/query_range, resultType "streams") ---------


class CategorizedLabels(BaseModel):
    """The third element of a value under ``categorize-labels``: labels that are not stream labels."""

    structured_metadata: dict[str, str] = Field(default_factory=dict, alias="structuredMetadata")
    parsed: dict[str, str] = Field(default_factory=dict)


class LokiStream(BaseModel):
    """One stream of a streams result: its labels and ``[ts, line]`` or ``[ts, line, {...}]`` values."""

    stream: dict[str, str]
    values: list[tuple[str, str] | tuple[str, str, CategorizedLabels]]


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


def parse_query_response(payload: Mapping[str, Any]) -> list[LogEntry]:
    """The log entries of a query_range response body, in the order Loki sent them."""
    try:
        response = LokiQueryResponse.model_validate(payload)
    except ValidationError as exc:
        raise LogSourceError(f"Loki's answer is not a query response: {_first_error(exc)}") from None
    if response.data.result_type != "streams":
        raise InputError(
            f"the query returned a {response.data.result_type} (a metric query); LogTriage needs a log query",
            hint="drop rate(), count_over_time() and similar; select log lines instead",
        )
    try:
        streams = _STREAMS.validate_python(response.data.result)
    except ValidationError as exc:
        raise LogSourceError(f"Loki's streams are malformed: {_first_error(exc)}") from None
    entries: list[LogEntry] = []
    for stream in streams:
        for value in stream.values:
            labels = stream.stream
            metadata: dict[str, str] = {}
            if len(value) == 3:
                categorized = value[2]
                metadata = categorized.structured_metadata
                if categorized.parsed:
                    # Without categorize-labels Loki merges parsed labels into the stream labels; keep
                    # that meaning so the two encodings give the same entries.
                    labels = {**labels, **categorized.parsed}
            entries.append(
                LogEntry(ts_ns=int(value[0]), labels=labels, line=value[1], structured_metadata=metadata)
            )
    return entries


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"


# --- Pagination (pure) ------------------------------------------------------------------------

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
    """The entries of a page not returned before, newest first."""
    ordered = sorted(page, key=lambda e: e.ts_ns, reverse=True)
    if cursor.boundary_ns is None:
        return ordered
    boundary = cursor.boundary_ns
    return [
        e
        for e in ordered
        if e.ts_ns < boundary or (e.ts_ns == boundary and entry_key(e) not in cursor.seen_at_boundary)
    ]


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


# --- Retries (pure) -----------------------------------------------------------------------------


class _RetryableStatus(Exception):
    """A 429 or 5xx, raised inside the retry loop so tenacity sees it."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(
        exc, _RetryableStatus | httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
    )


def _http_error_hint(status: int, body: str) -> str | None:
    text = body.lower()
    if "no org id" in text:
        return "this Loki is multi-tenant: set LOKI_TENANT (sent as X-Scope-OrgID)"
    if status in (401, 403):
        return "check LOKI_USERNAME/LOKI_PASSWORD or LOKI_BEARER_TOKEN"
    if "max entries limit" in text:
        return "lower LOKI_PAGE_SIZE to Loki's max_entries_limit_per_query"
    if "parse error" in text:
        return "the query is not valid LogQL"
    if status == 404:
        return "LOKI_URL should be Loki's base URL, without /loki/api/v1"
    if status == 429:
        return "Loki is rate limiting: try a shorter time range or fewer lines"
    if status >= 500:
        return "Loki failed on its side; check its health (GET /ready) and logs"
    return None


# --- The client -----------------------------------------------------------------------------------


class LokiClient:
    """A log source backed by Loki's HTTP API."""

    name = "loki"

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client,
        tenant: str | None = None,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        page_size: int = 5000,
        max_retries: int = 4,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.strip():
            raise ConfigError("LOKI_URL is empty")
        if page_size < 1:
            raise ConfigError(f"LOKI_PAGE_SIZE must be at least 1, not {page_size}")
        if bearer_token and username:
            raise ConfigError("set either LOKI_USERNAME/LOKI_PASSWORD or LOKI_BEARER_TOKEN, not both")
        self.base_url = base_url.strip().rstrip("/")
        self.page_size = page_size
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._client = client
        self._owns_client = False
        self._sleep = sleep
        self._auth = httpx.BasicAuth(username, password or "") if username else None
        self._headers: dict[str, str] = {ENCODING_FLAGS_HEADER: CATEGORIZE_LABELS}
        if tenant:
            self._headers[TENANT_HEADER] = tenant
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {bearer_token}"

    @classmethod
    def from_settings(cls, settings: Settings, client: httpx.Client | None = None) -> LokiClient:
        """A client configured from LOKI_* settings; it owns (and closes) the httpx client it makes."""
        if not settings.loki_url:
            raise ConfigError("LOKI_URL is not set")
        timeout = httpx.Timeout(settings.loki_timeout_seconds, connect=settings.loki_connect_timeout_seconds)
        owns = client is None
        loki = cls(
            settings.loki_url,
            client=client or httpx.Client(timeout=timeout),
            tenant=settings.loki_tenant,
            username=settings.loki_username,
            password=settings.loki_password.get_secret_value() if settings.loki_password else None,
            bearer_token=settings.loki_bearer_token.get_secret_value()
            if settings.loki_bearer_token
            else None,
            page_size=settings.loki_page_size,
            max_retries=settings.loki_max_retries,
            timeout=timeout,
        )
        loki._owns_client = owns
        return loki

    def close(self) -> None:
        """Close the httpx client if this Loki client made it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- queries

    def query_range(self, query: str, start: datetime, end: datetime, *, limit: int) -> LogQueryResult:
        """Lines matching ``query`` in [start, end), up to ``limit``, newest kept, returned oldest first."""
        start_ns, end_ns = query_window_ns(start, end, limit)
        tracer = trace.get_tracer("logtriage.logs")
        began = time.perf_counter()
        with tracer.start_as_current_span(
            "loki.query_range", attributes={"loki.query": query, "loki.limit": limit}
        ) as span:
            try:
                entries, truncated, pages = self._paginate(query, start_ns, end_ns, limit)
            finally:
                LOKI_QUERY_DURATION.labels(source="loki").observe(time.perf_counter() - began)
            span.set_attribute("loki.entries", len(entries))
            span.set_attribute("loki.pages", pages)
            span.set_attribute("loki.truncated", truncated)
        return LogQueryResult(
            query=query,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            entries=entries,
            truncated=truncated,
            source=self.name,
            requests=pages,
            duration_s=time.perf_counter() - began,
        )

    def _paginate(
        self, query: str, start_ns: int, end_ns: int, limit: int
    ) -> tuple[list[LogEntry], bool, int]:
        collected: list[LogEntry] = []
        cursor = PageCursor(end_ns=end_ns)
        pages = 0
        while True:
            size = page_request_size(self.page_size, limit - len(collected), len(cursor.seen_at_boundary))
            params = {
                "query": query,
                "start": str(start_ns),
                "end": str(cursor.end_ns),
                "limit": str(size),
                "direction": "backward",
            }
            page = parse_query_response(self._get_json(QUERY_RANGE_PATH, params))
            pages += 1
            new = take_new_entries(page, cursor)
            collected.extend(new)
            if len(page) < size:
                break  # the window is exhausted
            if len(collected) > limit:
                break
            if not new and cursor.boundary_ns is not None:
                # A full page of lines already seen: more lines share this timestamp than a page holds
                # and Loki cannot page inside one timestamp. Step past it rather than stop (as logcli
                # does), so older lines still arrive.
                if cursor.boundary_ns <= start_ns:
                    break
                logger.warning(
                    "more than %d Loki lines share timestamp %d; some of them may be missing "
                    "(raise LOKI_PAGE_SIZE to get them all)",
                    self.page_size,
                    cursor.boundary_ns,
                )
                cursor = PageCursor(end_ns=cursor.boundary_ns)
                continue
            cursor = advance_cursor(cursor, page)
        truncated = len(collected) > limit
        newest_first = collected[:limit]
        newest_first.reverse()
        return newest_first, truncated, pages

    def labels(self, start: datetime, end: datetime) -> list[str]:
        """Label names seen in [start, end), sorted."""
        start_ns, end_ns = query_window_ns(start, end)
        return self._labels(LABELS_PATH, start_ns, end_ns)

    def label_values(
        self, label: str, start: datetime, end: datetime, *, query: str | None = None
    ) -> list[str]:
        """Values of ``label`` seen in [start, end), sorted; only in streams ``query`` selects, when given."""
        check_label_name(label)
        start_ns, end_ns = query_window_ns(start, end)
        return self._labels(f"/loki/api/v1/label/{label}/values", start_ns, end_ns, query)

    def _labels(self, path: str, start_ns: int, end_ns: int, query: str | None = None) -> list[str]:
        params = {"start": str(start_ns), "end": str(end_ns)}
        if query is not None:
            params["query"] = query  # a stream selector: Loki answers from the streams it selects
        payload = self._get_json(path, params)
        try:
            response = LokiLabelsResponse.model_validate(payload)
        except ValidationError as exc:
            raise LogSourceError(f"Loki's answer to {path} is malformed: {_first_error(exc)}") from None
        return sorted(set(response.data))

    def ready(self) -> bool:
        """Whether Loki says it is ready (GET /ready answers 200); never raises."""
        try:
            response = self._client.get(
                self.base_url + READY_PATH,
                headers=self._request_headers(),
                auth=self._auth,
                timeout=self.timeout,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # -- transport

    def _request_headers(self) -> dict[str, str]:
        headers = dict(self._headers)
        propagate.inject(headers)  # traceparent of the current span, so Loki's own traces join ours
        return headers

    def _get_json(self, path: str, params: Mapping[str, str]) -> Any:
        response = self._get(path, params)
        try:
            return response.json()
        except ValueError:
            raise LogSourceError(
                f"Loki at {self.base_url} answered {path} with something that is not JSON: {response.text[:200]!r}",
                hint="is LOKI_URL pointing at Loki (not at Grafana or a login page)?",
            ) from None

    def _get(self, path: str, params: Mapping[str, str]) -> httpx.Response:
        url = self.base_url + path
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._client.get(
                        url,
                        params=params,
                        headers=self._request_headers(),
                        auth=self._auth,
                        timeout=self.timeout,
                    )
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _RetryableStatus(response)
        except _RetryableStatus as exc:
            raise self._http_error(path, exc.response) from None
        except httpx.TimeoutException as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise LokiTimeoutError(
                f"Loki at {self.base_url} did not answer {path} in time ({attempts} attempts): {exc!r}",
                hint="try a shorter time range, or raise LOKI_TIMEOUT_SECONDS",
            ) from None
        except httpx.TransportError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise LokiConnectError(
                f"could not connect to Loki at {self.base_url} ({attempts} attempts): {exc}",
                hint="check LOKI_URL and that Loki is running",
            ) from None
        if response.status_code >= 400:
            raise self._http_error(path, response)
        return response

    def _http_error(self, path: str, response: httpx.Response) -> LokiHTTPError:
        body = response.text
        return LokiHTTPError(
            f"Loki at {self.base_url} answered {response.status_code} to {path}: {body.strip()}",
            status_code=response.status_code,
            body=body,
            hint=_http_error_hint(response.status_code, body),
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus):
            asked = retry_after_seconds(exc.response.headers.get("Retry-After"))
            if asked is not None:
                return min(asked, MAX_RETRY_AFTER_SECONDS)
        return backoff_seconds(state.attempt_number, self.backoff_base, self.backoff_max)
