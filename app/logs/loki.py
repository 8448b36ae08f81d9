"""Loki HTTP client: range queries paginated the way logcli does it, labels, readiness.

Every request has explicit timeouts and is retried (exponential backoff with jitter, ``Retry-After``
honoured) on connect errors, timeouts, 429 and 5xx; other 4xx are final. A whole call (every page, retry
and wait) has one overall deadline, so neither a trickling answer nor a long ``Retry-After`` can hold a
command; the error says which limit ended it. httpx exceptions and error statuses become
``LokiConnectError``, ``LokiTimeoutError``, ``LokiDeadlineError``, ``LokiHTTPError`` or
``LokiProtocolError`` here and nowhere else; the bytes themselves are read by ``app/logs/loki_api.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlencode

import httpx
from opentelemetry import propagate, trace
from tenacity import RetryCallState, Retrying, retry_if_exception

from app.config import Settings
from app.errors import (
    ConfigError,
    LogSourceError,
    LokiConnectError,
    LokiDeadlineError,
    LokiHTTPError,
    LokiProtocolError,
    LokiTimeoutError,
    register_secret,
)
from app.logs.logql import check_label_name, query_window_ns
from app.logs.loki_api import (
    CATEGORIZE_LABELS,
    PageCursor,
    advance_cursor,
    backoff_seconds,
    check_query,
    decode_body,
    error_body_summary,
    excerpt,
    http_error_hint,
    page_request_size,
    parse_json_body,
    parse_labels_response,
    parse_query_response,
    retry_after_seconds,
    take_new_entries,
)
from app.logs.models import LogEntry, LogQueryResult, format_rfc3339_ns
from app.telemetry.metrics import LOKI_QUERY_DURATION

logger = logging.getLogger(__name__)

QUERY_RANGE_PATH = "/loki/api/v1/query_range"
LABELS_PATH = "/loki/api/v1/labels"
READY_PATH = "/ready"
ENCODING_FLAGS_HEADER = "X-Loki-Response-Encoding-Flags"
TENANT_HEADER = "X-Scope-OrgID"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_DEADLINE_SECONDS = 120.0
# Longer URLs are sent as a POST form instead (Loki's query handlers take both): proxies and servers
# commonly refuse request lines over 4-8 KiB with 414.
MAX_GET_URL_CHARS = 4096
# One page of 5,000 long lines is a few MiB; a bigger answer is a misbehaving server (or a gzip bomb).
MAX_RESPONSE_BYTES = 128 * 1024 * 1024
# Lines at one timestamp fetched in one request when they overflow a page (Loki's default
# max_entries_limit_per_query); see ``LokiClient._fetch_timestamp``.
MAX_TIMESTAMP_REQUEST = 5000


@dataclass
class _Pages:
    """What a paginated query gathered so far."""

    entries: list[LogEntry] = field(default_factory=list)
    requests: int = 0
    incomplete: bool = False
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


# --- Deadline and retries (pure) ------------------------------------------------------------------------


class Deadline:
    """An overall time limit for one call, on a monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self._at - self._clock()

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.remaining() <= 0


@dataclass
class _Answer:
    """One HTTP answer, read whole."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class _RetryableStatus(Exception):
    """A 429 or 5xx, raised inside the retry loop so tenacity sees it."""

    def __init__(self, answer: _Answer) -> None:
        super().__init__(f"HTTP {answer.status}")
        self.answer = answer


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, _RetryableStatus | httpx.TimeoutException | httpx.TransportError)


def display_url(url: str) -> str:
    """``url`` without its user info, for messages (the password must never be shown)."""
    try:
        return str(httpx.URL(url).copy_with(username=None, password=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "(an invalid URL)"


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
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not base_url.strip():
            raise ConfigError("LOKI_URL is empty")
        if page_size < 1:
            raise ConfigError(f"LOKI_PAGE_SIZE must be at least 1, not {page_size}")
        if deadline_seconds <= 0:
            raise ConfigError(f"LOKI_DEADLINE_SECONDS must be positive, not {deadline_seconds}")
        if bearer_token and username:
            raise ConfigError("set either LOKI_USERNAME/LOKI_PASSWORD or LOKI_BEARER_TOKEN, not both")
        self.base_url = base_url.strip().rstrip("/")
        parsed = _parse_base_url(self.base_url)
        for secret in (password, bearer_token, parsed.password):
            register_secret(secret)
        self.display_url = display_url(self.base_url)
        self.page_size = page_size
        self.max_retries = max_retries
        self.timeout = timeout
        self.deadline_seconds = deadline_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._client = client
        self._owns_client = False
        self._sleep = sleep
        self._clock = clock
        self._auth = httpx.BasicAuth(username, password or "") if username else None
        self._headers: dict[str, str] = {ENCODING_FLAGS_HEADER: CATEGORIZE_LABELS}
        if tenant:
            self._headers[TENANT_HEADER] = _header_value("LOKI_TENANT", tenant)
        if bearer_token:
            self._headers["Authorization"] = f"Bearer {_header_value('LOKI_BEARER_TOKEN', bearer_token)}"
        if username is not None:
            _header_value("LOKI_USERNAME", username)  # basic auth goes in a header too

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
            deadline_seconds=settings.loki_deadline_seconds,
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
        check_query(query)
        deadline = Deadline(self.deadline_seconds, self._clock)
        tracer = trace.get_tracer("logtriage.logs")
        began = time.perf_counter()
        with tracer.start_as_current_span(
            "loki.query_range", attributes={"loki.query": query, "loki.limit": limit}
        ) as span:
            pages = _Pages()
            try:
                self._paginate(query, start_ns, end_ns, limit, deadline, pages)
            finally:
                LOKI_QUERY_DURATION.labels(source="loki").observe(time.perf_counter() - began)
            truncated = pages.incomplete or len(pages.entries) > limit
            entries = pages.entries[:limit]
            entries.reverse()
            span.set_attribute("loki.entries", len(entries))
            span.set_attribute("loki.pages", pages.requests)
            span.set_attribute("loki.truncated", truncated)
        return LogQueryResult(
            query=query,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            entries=entries,
            truncated=truncated,
            source=self.name,
            requests=pages.requests,
            duration_s=time.perf_counter() - began,
            warnings=pages.warnings,
        )

    def _paginate(
        self, query: str, start_ns: int, end_ns: int, limit: int, deadline: Deadline, pages: _Pages
    ) -> None:
        """Gather up to ``limit`` + 1 newest lines into ``pages``, newest first."""
        cursor = PageCursor(end_ns=end_ns)
        while cursor.end_ns > start_ns:
            overlap = len(cursor.seen_at_boundary)
            size = page_request_size(self.page_size, limit - len(pages.entries), overlap)
            if cursor.boundary_ns is not None and size <= overlap:
                # A page could hold only lines already seen: more lines share the boundary timestamp than
                # a page holds, and Loki cannot page inside one timestamp. Fetch that timestamp on its
                # own, then continue strictly before it.
                self._fetch_timestamp(query, cursor, limit, deadline, pages)
                cursor = PageCursor(end_ns=cursor.boundary_ns)
                if len(pages.entries) > limit:
                    return
                continue
            page = self._query_page(query, start_ns, cursor.end_ns, size, deadline, pages)
            inside = [e for e in page if start_ns <= e.ts_ns < cursor.end_ns]
            outside = len(page) - len(inside)
            if outside:
                pages.warn(f"Loki sent {outside} lines outside the requested time range; they are left out")
            new = take_new_entries(inside, cursor)
            pages.entries.extend(new)
            if len(page) < size or len(pages.entries) > limit:
                return  # the window is exhausted, or more lines matched than the limit keeps
            following = advance_cursor(cursor, inside) if inside else cursor
            if not new and following == cursor:
                why = (
                    "ignores the requested time range (start/end)"
                    if outside
                    else "repeats lines it sent before"
                )
                raise LokiProtocolError(
                    f"Loki at {self.display_url} {why}: a full page of {len(page)} lines held none not "
                    "seen already, so paging on would only repeat them"
                )
            cursor = following

    def _fetch_timestamp(
        self, query: str, cursor: PageCursor, limit: int, deadline: Deadline, pages: _Pages
    ) -> None:
        """Every line at the cursor's boundary timestamp, in one request bigger than a page if need be."""
        assert cursor.boundary_ns is not None
        at = cursor.boundary_ns
        seen = len(cursor.seen_at_boundary)
        wanted = seen + (limit - len(pages.entries)) + 1
        size = min(wanted, max(self.page_size, MAX_TIMESTAMP_REQUEST))
        when = format_rfc3339_ns(at)
        try:
            page = self._query_page(query, at, at + 1, size, deadline, pages)
        except LokiHTTPError as exc:
            if exc.status_code != 400:
                raise
            # Loki refused the bigger page (max_entries_limit_per_query): what was seen is all we get.
            pages.incomplete = True
            pages.warn(
                f"more than {seen} lines share the timestamp {when}; only {seen} of them were fetched "
                f"(Loki refused a page of {size}: {excerpt(exc.body, 120)})"
            )
            return
        at_boundary = [e for e in page if e.ts_ns == at]  # a Loki ignoring start/end must not sneak others in
        if len(at_boundary) < len(page):
            pages.warn(
                f"Loki sent {len(page) - len(at_boundary)} lines outside the requested time range; left out"
            )
        pages.entries.extend(take_new_entries(at_boundary, cursor))
        if len(page) >= size and size < wanted:
            pages.incomplete = True
            pages.warn(
                f"more than {size} lines share the timestamp {when}; only {size} of them were fetched "
                "(raise LOKI_PAGE_SIZE to get them all)"
            )

    def _query_page(
        self, query: str, start_ns: int, end_ns: int, size: int, deadline: Deadline, pages: _Pages
    ) -> list[LogEntry]:
        params = {
            "query": query,
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(size),
            "direction": "backward",
        }
        pages.requests += 1
        payload, replaced = self._fetch_json(QUERY_RANGE_PATH, params, deadline)
        if replaced:
            pages.warn("Loki sent bytes that are not UTF-8; they are shown as U+FFFD (�)")
        return parse_query_response(payload)

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
        deadline = Deadline(self.deadline_seconds, self._clock)
        params = {"start": str(start_ns), "end": str(end_ns)}
        if query is not None:
            params["query"] = query  # a stream selector: Loki answers from the streams it selects
        payload, _ = self._fetch_json(path, params, deadline)
        return parse_labels_response(payload, path)

    def ready(self) -> bool:
        """Whether Loki says it is ready (GET /ready answers 200); never raises."""
        try:
            response = self._client.get(
                self.base_url + READY_PATH,
                headers=self._request_headers(),
                auth=self._auth,
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    # -- transport

    def _request_headers(self) -> dict[str, str]:
        headers = dict(self._headers)
        propagate.inject(headers)  # traceparent of the current span, so Loki's own traces join ours
        return headers

    def _fetch_json(self, path: str, params: Mapping[str, str], deadline: Deadline) -> tuple[Any, bool]:
        """Loki's JSON answer to ``path`` and whether non-UTF-8 bytes in it were replaced."""
        answer = self._fetch(path, params, deadline)
        text, replaced = decode_body(answer.body)
        where = f"Loki at {self.display_url} ({path})"
        return parse_json_body(text, content_type=answer.content_type, where=where), replaced

    def _fetch(self, path: str, params: Mapping[str, str], deadline: Deadline) -> _Answer:
        """A successful answer to ``path``, after the retries and within the deadline allow."""
        stopped_for_deadline: list[float] = []

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number > self.max_retries:
                return True
            if state.upcoming_sleep >= deadline.remaining():
                stopped_for_deadline.append(state.upcoming_sleep)
                return True
            return False

        retrying = Retrying(
            stop=stop,
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    answer = self._send(path, params, deadline)
                    if answer.status == 429 or answer.status >= 500:
                        raise _RetryableStatus(answer)
        except _RetryableStatus as exc:
            if stopped_for_deadline:
                raise self._deadline_error(
                    path, deadline, waiting=stopped_for_deadline[0], answer=exc.answer
                ) from None
            raise self._http_error(path, exc.answer, retrying) from None
        except httpx.TimeoutException as exc:
            if stopped_for_deadline or deadline.expired():
                raise self._deadline_error(path, deadline) from None
            raise LokiTimeoutError(
                f"Loki at {self.display_url} did not answer {path} within LOKI_TIMEOUT_SECONDS="
                f"{self.timeout.read:g} ({_attempts(retrying)}): {type(exc).__name__}"
            ) from None
        except httpx.TransportError as exc:
            if stopped_for_deadline:
                raise self._deadline_error(path, deadline) from None
            what = "could not connect to" if isinstance(exc, httpx.ConnectError) else "lost the connection to"
            detail = str(exc) or "connection failed"
            raise LokiConnectError(
                f"{what} Loki at {self.display_url} ({_attempts(retrying)}): "
                f"{type(exc).__name__}: {excerpt(detail, 160)}",
                hint=_transport_hint(detail),
            ) from None
        except httpx.DecodingError as exc:
            raise LokiProtocolError(
                f"Loki at {self.display_url} answered {path} with a body that does not match its "
                f"Content-Encoding: {excerpt(str(exc), 120)}"
            ) from None
        except httpx.HTTPError as exc:
            raise LogSourceError(
                f"the request to Loki at {self.display_url} ({path}) failed: {type(exc).__name__}: "
                f"{excerpt(str(exc), 160)}"
            ) from None
        if 300 <= answer.status < 400:
            location = (
                display_url(answer.headers.get("location", "")) if answer.headers.get("location") else ""
            )
            raise LokiHTTPError(
                f"Loki at {self.display_url} answered {path} with a redirect ({answer.status}"
                f"{f' to {location}' if location else ''}); LogTriage does not follow redirects, so "
                "credentials never go to another address",
                status_code=answer.status,
                hint="set LOKI_URL to the address Loki itself answers on",
            )
        if answer.status >= 400:
            raise self._http_error(path, answer, retrying)
        return answer

    def _send(self, path: str, params: Mapping[str, str], deadline: Deadline) -> _Answer:
        """One request, its body read whole with the deadline checked between chunks."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise self._deadline_error(path, deadline)
        # Every phase gets at most what is left of the deadline, so a silent server cannot outlast it.
        timeout = httpx.Timeout(
            connect=min(self.timeout.connect or remaining, remaining),
            read=min(self.timeout.read or remaining, remaining),
            write=min(self.timeout.write or remaining, remaining),
            pool=min(self.timeout.pool or remaining, remaining),
        )
        url = self.base_url + path
        headers = self._request_headers()
        if len(url) + 1 + len(urlencode(params)) > MAX_GET_URL_CHARS:
            request = self._client.build_request(
                "POST", url, data=dict(params), headers=headers, timeout=timeout
            )
        else:
            request = self._client.build_request("GET", url, params=params, headers=headers, timeout=timeout)
        response = self._client.send(request, auth=self._auth, stream=True, follow_redirects=False)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in _decoded_chunks(response, f"Loki at {self.display_url} answered {path}"):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise LokiProtocolError(
                        f"Loki at {self.display_url} answered {path} with more than "
                        f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MiB",
                        hint="lower LOKI_PAGE_SIZE, or check what answers on LOKI_URL",
                    )
                chunks.append(chunk)
                if deadline.expired():
                    raise self._deadline_error(path, deadline, reading=size)
        finally:
            response.close()
        return _Answer(status=response.status_code, headers=response.headers, body=b"".join(chunks))

    def _http_error(self, path: str, answer: _Answer, retrying: Retrying) -> LokiHTTPError:
        text, _ = decode_body(answer.body)
        tried = f" ({_attempts(retrying)})" if answer.status == 429 or answer.status >= 500 else ""
        return LokiHTTPError(
            f"Loki at {self.display_url} answered {answer.status} to {path}{tried}: "
            f"{error_body_summary(text, answer.content_type)}",
            status_code=answer.status,
            body=text,
            hint=http_error_hint(answer.status, text),
        )

    def _deadline_error(
        self,
        path: str,
        deadline: Deadline,
        *,
        waiting: float | None = None,
        answer: _Answer | None = None,
        reading: int | None = None,
    ) -> LokiDeadlineError:
        limit = f"LOKI_DEADLINE_SECONDS={self.deadline_seconds:g}"
        if waiting is not None:
            asked = answer.headers.get("retry-after") if answer is not None else None
            why = (
                f"Loki answered {answer.status if answer else 'an error'} and asked to retry after "
                f"{waiting:g} s{' (Retry-After)' if asked else ''}, past the {limit} deadline"
            )
            return LokiDeadlineError(f"the query to Loki at {self.display_url} ({path}) was stopped: {why}")
        doing = f" while reading its answer ({reading:,} bytes so far)" if reading is not None else ""
        return LokiDeadlineError(f"the query to Loki at {self.display_url} ({path}) ran past {limit}{doing}")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus):
            asked = retry_after_seconds(exc.answer.headers.get("Retry-After"))
            if asked is not None:
                return asked
        return backoff_seconds(state.attempt_number, self.backoff_base, self.backoff_max)


def _transport_hint(detail: str) -> str | None:
    """What to do about a failed connection, when its text tells more than "check LOKI_URL"."""
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail.lower():
        return (
            "Loki's TLS certificate is not trusted here: point SSL_CERT_FILE at the CA bundle that signed it"
        )
    if "Name or service not known" in detail or "nodename nor servname" in detail:
        return "the host in LOKI_URL does not resolve: check its spelling and your DNS"
    return None


def _header_value(name: str, value: str) -> str:
    """``value`` when it can go in an HTTP header; a ConfigError naming the setting otherwise."""
    if not value.isascii() or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ConfigError(
            f"{name} holds characters an HTTP header cannot carry (non-ASCII or control characters)"
        )
    return value


def _attempts(retrying: Retrying) -> str:
    count = retrying.statistics.get("attempt_number", 1)
    return f"{count} attempt{'s' if count != 1 else ''}"


def _decoded_chunks(response: httpx.Response, what: str) -> Iterator[bytes]:
    """The body's chunks, decoded per Content-Encoding; a body that is not what that header says is an error."""
    try:
        yield from response.iter_bytes()
    except httpx.DecodingError as exc:
        encoding = response.headers.get("content-encoding", "none")
        raise LokiProtocolError(
            f"{what} with a body that is not valid {encoding} (its Content-Encoding): {excerpt(str(exc), 120)}"
        ) from None


def _parse_base_url(base_url: str) -> httpx.URL:
    """LOKI_URL parsed, or a ConfigError saying what is wrong with it (the password never shown)."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(
            f"LOKI_URL {display_url(base_url)} is not a valid URL", hint="use e.g. http://loki:3100"
        ) from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigError(
            f"LOKI_URL {display_url(base_url)} is not an http(s) URL with a host",
            hint="use e.g. http://loki.monitoring:3100",
        )
    return url
