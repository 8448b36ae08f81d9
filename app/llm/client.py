"""Streaming client for OpenAI-compatible chat completions (llama.cpp's llama-server, llama-cpp-python, vLLM).

One request is one ``POST /v1/chat/completions`` with ``stream: true``; the answer arrives as server-sent
events (``data: {chat.completion.chunk}`` ... ``data: [DONE]``), decoded by ``httpx-sse``. The HTTP
exchange runs on a reader thread so that a cancel from the user is honoured at once, whatever the server
is doing, and the connection is shut so the server stops generating. httpx exceptions are translated
into the LLMError tree here only.

Whatever the server does, a request ends: it may stream at most ``max_response_bytes`` (an endless or
bloated stream is cut with LLMResponseTooLargeError) and take at most ``total_timeout_s`` from sending
to the last chunk (LLMTimeoutError), on top of the per-phase connect and read timeouts.

TTFT, inter-token gaps and total time are measured here, from sending the request to each chunk's
arrival; ``app.llm.stream`` turns the chunks into ``InferenceStats`` (token counts, decode rate,
response id and model, cached tokens).
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from httpx_sse import EventSource, SSEError
from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings
from app.errors import (
    InferenceCancelled,
    LLMConnectError,
    LLMError,
    LLMHTTPError,
    LLMResponseTooLargeError,
    LLMTimeoutError,
)
from app.llm.models import ModelConfig, ResponseFormatStyle
from app.llm.stream import InferenceStats, StreamTally, parse_chunk

# How often a waiting stream looks at the cancel event; bounds how late a cancel is noticed.
_CANCEL_POLL_S = 0.05
_HEALTH_READ_TIMEOUT_S = 5.0
_AFTER_DONE_WAIT_S = 1.0
_BODY_EXCERPT_CHARS = 500
# llama-server (cpp-httplib) closes a kept-alive connection after 5 s idle. A request sent on one as it
# closes never reaches the server: the client sees a disconnect (RemoteProtocolError), a reset (ReadError)
# or a broken pipe (WriteError) before any response. On a busy machine the server thread that closes it
# runs late, so several pooled connections can go stale at once; each resend takes the next one or a new
# one, and model requests have no side effects, so a few resends are safe.
_DROPPED_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_RESENDS = 3


def send_with_resend(
    client: httpx.Client,
    request: httpx.Request,
    *,
    stream: bool = False,
    aborted: Callable[[], bool] | None = None,
) -> httpx.Response:
    """``client.send``, resent (up to ``_RESENDS`` times) when the connection dropped before any response.

    Never resent once ``aborted()`` says the caller shut the connection itself (a cancel).
    """
    for attempt in range(_RESENDS + 1):
        try:
            return client.send(request, stream=stream)
        except _DROPPED_CONNECTION:
            if attempt == _RESENDS or (aborted is not None and aborted()):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class ChatMessage(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class SamplingParams(BaseModel):
    """Generation settings sent with every request."""

    model_config = ConfigDict(frozen=True)

    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=768, ge=1)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)


class StreamLimits(BaseModel):
    """Bounds on one streamed answer, whatever the server sends."""

    model_config = ConfigDict(frozen=True)

    max_response_bytes: int = Field(default=Settings.model_fields["llm_max_response_bytes"].default, gt=0)
    total_timeout_s: float = Field(default=Settings.model_fields["llm_total_timeout_seconds"].default, gt=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLimits:
        """The limits LLM_MAX_RESPONSE_BYTES and LLM_TOTAL_TIMEOUT_SECONDS set."""
        return cls(
            max_response_bytes=settings.llm_max_response_bytes,
            total_timeout_s=settings.llm_total_timeout_seconds,
        )


class TokenEvent(BaseModel):
    """A piece of the answer as it arrives."""

    text: str
    elapsed_ms: float
    tokens_so_far: int


class DoneEvent(BaseModel):
    """The end of a stream: the whole answer and its stats."""

    text: str
    stats: InferenceStats


HealthState = Literal["ok", "loading", "unreachable", "timeout", "error"]


class HealthStatus(BaseModel):
    """Whether a model server can take requests now."""

    ok: bool
    status: HealthState
    detail: str
    latency_ms: float


# --- request building (pure) ---------------------------------------------------------------------------


def response_format_for(schema: dict[str, Any], style: ResponseFormatStyle) -> dict[str, Any]:
    """The ``response_format`` field that constrains output to ``schema`` in the given style."""
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "rca", "strict": True, "schema": schema}}


def build_chat_request(
    model: str,
    messages: Sequence[ChatMessage],
    params: SamplingParams,
    *,
    response_schema: dict[str, Any] | None = None,
    response_format_style: ResponseFormatStyle = "json_schema",
) -> dict[str, Any]:
    """The JSON body of a streaming chat completion request."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [m.model_dump() for m in messages],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    if response_schema is not None:
        body["response_format"] = response_format_for(response_schema, response_format_style)
    return body


def error_message(body: str) -> str:
    """The human part of an error body from llama-server, llama-cpp-python, vLLM or OpenAI."""
    try:
        obj = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:_BODY_EXCERPT_CHARS] or "(empty body)"
    if isinstance(obj, dict):
        error = obj.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        detail = obj.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            first = detail[0]
            where = ".".join(str(p) for p in first.get("loc", []))
            return f"{where}: {first.get('msg', '')}".strip(": ")
        if obj.get("message"):
            return str(obj["message"])
    return " ".join(body.split())[:_BODY_EXCERPT_CHARS]


_STATUS_HINTS = {
    401: "check the model's api_key_env in the models file",
    403: "check the model's api_key_env in the models file",
    404: "check base_url (without /v1) and the served model name",
    503: "the server is still loading the model; retry shortly",
}


def http_error(response: httpx.Response, what: str) -> LLMHTTPError:
    """An LLMHTTPError for an error response whose body has been read."""
    body = response.text
    message = error_message(body)
    return LLMHTTPError(
        f"{what} failed: HTTP {response.status_code}: {message}",
        status_code=response.status_code,
        body=body[: _BODY_EXCERPT_CHARS * 4],
        hint=_STATUS_HINTS.get(response.status_code),
    )


def _stream_error(error: dict[str, Any], what: str) -> LLMHTTPError:
    """The error a server reported inside a stream (after it had answered 200)."""
    code = error.get("code")
    return LLMHTTPError(
        f"{what} failed mid-stream: {error.get('message', error)}",
        status_code=code if isinstance(code, int) else 500,
        body=json.dumps(error)[:2000],
    )


def llm_timeout(settings: Settings) -> httpx.Timeout:
    """Per-phase timeouts for model requests: connect, then read (between chunks) while streaming."""
    return httpx.Timeout(settings.llm_timeout_seconds, connect=settings.llm_connect_timeout_seconds)


# --- the reader thread --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    data: str
    at: float


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass(frozen=True)
class _HTTPFailed:
    response: httpx.Response


_END = object()


class _BoundedStream(httpx.SyncByteStream):
    """A response body that fails once more than ``limit`` bytes have arrived."""

    def __init__(self, inner: httpx.SyncByteStream, limit: int, where: str) -> None:
        self._inner = inner
        self._limit = limit
        self._where = where

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        for chunk in self._inner:
            received += len(chunk)
            if received > self._limit:
                raise LLMResponseTooLargeError(
                    f"{self._where} sent more than {self._limit:,} bytes for one answer; stopped reading",
                    hint="the server streams without end: check its max_tokens/stop handling, "
                    "or raise LLM_MAX_RESPONSE_BYTES",
                )
            yield chunk

    def close(self) -> None:
        """Close the underlying stream."""
        self._inner.close()


class _StreamReader(threading.Thread):
    """Runs one streaming request and hands its SSE events over a queue; abort() shuts its socket."""

    def __init__(self, client: httpx.Client, request: httpx.Request, max_bytes: int, where: str) -> None:
        super().__init__(name="llm-stream", daemon=True)
        self.events: queue.Queue[Any] = queue.Queue()
        self._client = client
        self._request = request
        self._max_bytes = max_bytes
        self._where = where
        self._lock = threading.Lock()
        self._aborted = False
        self._network_stream: Any = None
        request.extensions["trace"] = self._trace

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        # A fresh connection is known as soon as it is made, so a cancel while the server is still reading
        # the prompt (before any response header) can shut it too.
        if event == "connection.connect_tcp.complete":
            with self._lock:
                self._network_stream = info.get("return_value")

    def run(self) -> None:
        response: httpx.Response | None = None
        try:
            response = send_with_resend(
                self._client, self._request, stream=True, aborted=lambda: self._aborted
            )
            with self._lock:
                self._network_stream = response.extensions.get("network_stream", self._network_stream)
                if self._aborted:
                    return
            # Every byte read from here on counts against the limit, error bodies included.
            if isinstance(response.stream, httpx.SyncByteStream):
                response.stream = _BoundedStream(response.stream, self._max_bytes, self._where)
            if response.is_error:
                response.read()
                self.events.put(_HTTPFailed(response))
                return
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                # We asked for identity: a compressed body would escape the size limit once decoded.
                raise LLMError(
                    f"{self._where} compressed the event stream ({encoding}) although asked not to"
                )
            for event in EventSource(response).iter_sse():
                self.events.put(_Event(event.data, time.perf_counter()))
                if self._aborted:
                    return
            self.events.put(_END)
        except BaseException as exc:
            self.events.put(_Failed(exc))
        finally:
            # Forget the socket before the connection can go back to the pool and serve someone else.
            with self._lock:
                self._network_stream = None
            if response is not None:
                response.close()

    def abort(self) -> None:
        """Stop reading and shut the connection so the server notices at once."""
        with self._lock:
            self._aborted = True
            stream = self._network_stream
            if stream is None:
                return
            sock = stream.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# --- the client -----------------------------------------------------------------------------------------


class LLMClient:
    """A client for one OpenAI-compatible model endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        client: httpx.Client,
        api_key: str | None = None,
        timeout: httpx.Timeout,
        response_format_style: ResponseFormatStyle = "json_schema",
        limits: StreamLimits | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.response_format_style: ResponseFormatStyle = response_format_style
        self.limits = limits or StreamLimits()
        self._client = client
        self._api_key = api_key
        self._timeout = timeout
        self._tokenize_path: str | None = "/tokenize"
        self._tokenize_probed = False

    @classmethod
    def for_model(cls, model: ModelConfig, *, client: httpx.Client, settings: Settings) -> LLMClient:
        """A client for a configured model, with its key and the settings' timeouts and limits."""
        return cls(
            model.base_url,
            model.served_model_name or model.name,
            client=client,
            api_key=model.api_key(),
            timeout=llm_timeout(settings),
            response_format_style=model.response_format_style,
            limits=StreamLimits.from_settings(settings),
        )

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        # W3C traceparent of the caller's span, so the server's logs/traces join the triage trace.
        propagate.inject(headers)
        return headers

    def _where(self) -> str:
        return f"model server {self.base_url}"

    def _translate(self, exc: BaseException, what: str) -> LLMError:
        """The LLMError for an httpx (or other) exception raised while doing ``what``."""
        where = self._where()
        if isinstance(exc, httpx.ConnectTimeout):
            return LLMConnectError(
                f"could not connect to {where} within {self._timeout.connect}s ({what})",
                hint="is the model server running and reachable?",
            )
        if isinstance(exc, httpx.ConnectError):
            return LLMConnectError(
                f"could not connect to {where} ({what}): {exc}", hint="is the model server running?"
            )
        if isinstance(exc, SSEError):
            return LLMError(
                f"{where} did not answer with an event stream ({what}): {exc}",
                hint="check base_url: it must point at an OpenAI-compatible server",
            )
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(
                f"{where} did not answer within {self._timeout.read}s ({what})",
                hint="raise LLM_TIMEOUT_SECONDS or use a smaller prompt/model",
            )
        if isinstance(exc, httpx.HTTPError):
            return LLMError(f"{what} with {where} failed: {type(exc).__name__}: {exc}")
        if isinstance(exc, LLMError):
            return exc
        return LLMError(f"{what} with {where} failed: {type(exc).__name__}: {exc}")

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams | None = None,
        *,
        response_schema: dict[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> Generator[TokenEvent | DoneEvent, None, None]:
        """Stream a chat completion: TokenEvents as text arrives, then one DoneEvent with the stats."""
        params = params or SamplingParams()
        what = f"chat completion ({self.model})"
        body = build_chat_request(
            self.model,
            messages,
            params,
            response_schema=response_schema,
            response_format_style=self.response_format_style,
        )
        if cancel is not None and cancel.is_set():
            raise InferenceCancelled("cancelled before the request was sent")
        headers = self._headers(accept="text/event-stream")
        headers["Accept-Encoding"] = "identity"  # so the byte limit bounds what is decoded
        request = self._client.build_request(
            "POST",
            f"{self.base_url}/v1/chat/completions",
            json=body,
            headers=headers,
            timeout=self._timeout,
        )
        started = time.perf_counter()
        deadline = started + self.limits.total_timeout_s
        reader = _StreamReader(self._client, request, self.limits.max_response_bytes, self._where())
        reader.start()
        tally = StreamTally()
        last_at = started
        try:
            while not tally.saw_done:
                item = self._next_item(reader, cancel, deadline, what)
                if item is _END:
                    break
                if isinstance(item, _Failed):
                    raise self._translate(item.error, what) from None
                if isinstance(item, _HTTPFailed):
                    raise http_error(item.response, what)
                last_at = item.at
                chunk = parse_chunk(item.data)
                if chunk.error is not None:
                    raise _stream_error(chunk.error, what)
                at_ms = (item.at - started) * 1000
                tally.add(chunk, at_ms)
                if chunk.content:
                    yield TokenEvent(text=chunk.content, elapsed_ms=at_ms, tokens_so_far=len(tally.parts))
            if not tally.finished:
                raise LLMError(
                    f"{what}: the stream from {self._where()} ended before the answer was complete"
                )
            if tally.saw_done:
                # Let the reader see the body's end so the connection goes back to the pool intact.
                reader.join(_AFTER_DONE_WAIT_S)
            yield DoneEvent(text=tally.text, stats=tally.stats((last_at - started) * 1000))
        finally:
            if reader.is_alive():
                reader.abort()

    def _next_item(
        self, reader: _StreamReader, cancel: threading.Event | None, deadline: float, what: str
    ) -> Any:
        """The reader's next item, unless the user cancels or the request runs out of time first."""
        while True:
            if cancel is not None and cancel.is_set():
                reader.abort()
                raise InferenceCancelled("cancelled by the user")
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                reader.abort()
                raise LLMTimeoutError(
                    f"{what}: {self._where()} did not finish within {self.limits.total_timeout_s:g}s",
                    hint="raise LLM_TOTAL_TIMEOUT_SECONDS or lower the prompt's max_tokens",
                )
            wait = remaining if cancel is None else min(remaining, _CANCEL_POLL_S)
            try:
                return reader.events.get(timeout=wait)
            except queue.Empty:
                continue

    def complete_chat(
        self,
        messages: Sequence[ChatMessage],
        params: SamplingParams | None = None,
        *,
        response_schema: dict[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[str, InferenceStats]:
        """The whole answer and its stats (the stream, drained)."""
        for event in self.stream_chat(messages, params, response_schema=response_schema, cancel=cancel):
            if isinstance(event, DoneEvent):
                return event.text, event.stats
        raise LLMError(f"chat completion ({self.model}) ended without a result")  # pragma: no cover

    def _get_json(self, path: str, what: str, *, method: str = "GET", body: Any = None) -> Any | None:
        """JSON of a small request; None when the server has no such endpoint (404/405/501)."""
        try:
            request = self._client.build_request(
                method, f"{self.base_url}{path}", json=body, headers=self._headers(), timeout=self._timeout
            )
            response = send_with_resend(self._client, request)
        except httpx.HTTPError as exc:
            raise self._translate(exc, what) from None
        if response.status_code in (404, 405, 501):
            return None
        if response.is_error:
            raise http_error(response, what)
        try:
            return response.json()
        except ValueError:
            raise LLMError(
                f"{what}: {self._where()} answered with non-JSON: {response.text[:200]!r}"
            ) from None

    def tokenize_count(self, text: str) -> int | None:
        """How many tokens the server's tokenizer makes of ``text``; None when the server cannot say."""
        # llama-server has /tokenize; llama-cpp-python has /extras/tokenize/count. Probe once, remember.
        if self._tokenize_path == "/tokenize":
            data = self._get_json("/tokenize", "tokenize", method="POST", body={"content": text})
            if data is not None and isinstance(data.get("tokens"), list):
                return len(data["tokens"])
            if data is None and not self._tokenize_probed:
                self._tokenize_path = "/extras/tokenize/count"
            self._tokenize_probed = True
        if self._tokenize_path == "/extras/tokenize/count":
            data = self._get_json(
                "/extras/tokenize/count", "tokenize", method="POST", body={"input": text, "model": self.model}
            )
            if data is not None and isinstance(data.get("count"), int):
                return data["count"]
            self._tokenize_path = None
        return None

    def props(self) -> dict[str, Any] | None:
        """llama-server's ``/props`` (context size, slots, build, model path); None elsewhere."""
        data = self._get_json("/props", "props")
        return data if isinstance(data, dict) else None

    def health(self) -> HealthStatus:
        """Whether the server is up and its model loaded (``/health``, else ``/v1/models``)."""
        timeout = httpx.Timeout(_HEALTH_READ_TIMEOUT_S, connect=self._timeout.connect)
        started = time.perf_counter()

        def result(ok: bool, status: HealthState, detail: str) -> HealthStatus:
            return HealthStatus(
                ok=ok, status=status, detail=detail, latency_ms=(time.perf_counter() - started) * 1000
            )

        try:
            response = self._client.get(f"{self.base_url}/health", headers=self._headers(), timeout=timeout)
            if response.status_code == 404:
                # llama-cpp-python has no /health; its model list answers once the model is loaded.
                response = self._client.get(
                    f"{self.base_url}/v1/models", headers=self._headers(), timeout=timeout
                )
        except httpx.TimeoutException:
            return result(
                False, "timeout", f"no answer from {self.base_url} within {_HEALTH_READ_TIMEOUT_S}s"
            )
        except httpx.HTTPError as exc:
            return result(False, "unreachable", f"{self.base_url}: {exc}")
        if response.status_code == 503:
            return result(False, "loading", error_message(response.text))
        if response.is_error:
            return result(False, "error", f"HTTP {response.status_code}: {error_message(response.text)}")
        return result(True, "ok", f"{response.request.url.path} answered {response.status_code}")
