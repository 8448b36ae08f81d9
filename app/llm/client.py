"""Streaming client for OpenAI-compatible chat completions (llama.cpp's llama-server, llama-cpp-python, vLLM).

One request is one ``POST /v1/chat/completions`` with ``stream: true``; the answer arrives as server-sent
events (``data: {chat.completion.chunk}`` ... ``data: [DONE]``). The HTTP exchange runs on a reader thread
so that a cancel from the user is honoured at once, whatever the server is doing, and the connection is
shut so the server stops generating. httpx exceptions are translated into the LLMError tree here only.

Where the numbers come from:

* TTFT, inter-token gaps and total time are measured here, from sending the request to each chunk's arrival;
* token counts come from the OpenAI ``usage`` object (asked for with ``stream_options.include_usage``),
  else from llama-server's ``timings`` (``prompt_n``/``cache_n``/``predicted_n``), else from counting
  content chunks (llama-cpp-python sends neither);
* llama-server's ``timings`` object is kept verbatim in ``InferenceStats.server_timings``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import queue
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InferenceCancelled, LLMConnectError, LLMError, LLMHTTPError, LLMTimeoutError
from app.llm.models import ModelConfig, ResponseFormatStyle

if TYPE_CHECKING:
    from app.config import Settings

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


class InferenceStats(BaseModel):
    """What one completion cost, measured by the client and, where the server says, by the server."""

    ttft_ms: float = Field(
        description="Request sent to first content chunk (to the first chunk of any kind for an empty answer)."
    )
    total_ms: float = Field(description="Request sent to the end of the stream.")
    tokens_per_s: float = Field(description="Output tokens after the first per second of decoding; 0 if < 2.")
    prompt_tokens: int | None = Field(description="Prompt tokens (cached ones included); None when unknown.")
    completion_tokens: int
    inter_token_ms_mean: float | None = Field(description="Mean gap between content chunks; None if < 2.")
    inter_token_ms_p95: float | None
    finish_reason: str | None
    server_timings: dict[str, float] | None = Field(description="llama-server's ``timings``, verbatim.")
    token_counts_from: Literal["usage", "timings", "chunks"]


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


# --- stream parsing and stats (pure) -------------------------------------------------------------------

DONE_SENTINEL = "[DONE]"


class SSEDecoder:
    """Incremental server-sent-events decoder: feed lines, get each event's ``data`` when it completes."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, raw: str) -> str | None:
        """Take one line; the event's data when this (blank) line ends an event, else None."""
        line = raw.rstrip("\r")
        if not line:
            return self.flush()
        if line.startswith(":"):  # comment; llama-server pings with ":\n\n"
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value.removeprefix(" "))
        return None

    def flush(self) -> str | None:
        """The data of an event the stream ended without terminating; None if there is none."""
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` payloads of a server-sent event stream, one per event (comments and pings skipped)."""
    decoder = SSEDecoder()
    for line in lines:
        data = decoder.feed(line)
        if data is not None:
            yield data
    tail = decoder.flush()
    if tail is not None:
        yield tail


@dataclass(frozen=True)
class StreamChunk:
    """What one ``chat.completion.chunk`` carries for us."""

    content: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    done: bool = False


def parse_chunk(data: str) -> StreamChunk:
    """Parse one SSE data payload; raises LLMError when it is not a JSON object."""
    if data.strip() == DONE_SENTINEL:
        return StreamChunk(done=True)
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as exc:
        raise LLMError(f"model server sent a malformed stream chunk ({exc.msg}): {data[:200]!r}") from None
    if not isinstance(obj, dict):
        raise LLMError(f"model server sent a stream chunk that is not an object: {data[:200]!r}")
    if "error" in obj:
        error = obj["error"]
        return StreamChunk(error=error if isinstance(error, dict) else {"message": str(error)})
    content_parts: list[str] = []
    finish_reason = None
    for choice in obj.get("choices") or []:
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            content_parts.append(delta["content"])
        if choice.get("finish_reason"):
            finish_reason = str(choice["finish_reason"])
    return StreamChunk(
        content="".join(content_parts),
        finish_reason=finish_reason,
        usage=obj.get("usage") if isinstance(obj.get("usage"), dict) else None,
        timings=obj.get("timings") if isinstance(obj.get("timings"), dict) else None,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class StreamTally:
    """Accumulates a stream's chunks and arrival times (ms since the request was sent) into stats."""

    parts: list[str] = field(default_factory=list)
    token_times_ms: list[float] = field(default_factory=list)
    first_chunk_ms: float | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    saw_done: bool = False

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self.parts)

    def add(self, chunk: StreamChunk, at_ms: float) -> None:
        """Record one chunk that arrived ``at_ms`` after the request was sent."""
        if self.first_chunk_ms is None:
            self.first_chunk_ms = at_ms
        if chunk.done:
            self.saw_done = True
        if chunk.content:
            self.parts.append(chunk.content)
            self.token_times_ms.append(at_ms)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.usage:
            self.usage = chunk.usage
        if chunk.timings:
            self.timings = chunk.timings

    @property
    def finished(self) -> bool:
        """Whether the server said the answer is complete."""
        return self.saw_done or self.finish_reason is not None

    def stats(self, total_ms: float) -> InferenceStats:
        """The stats of the stream, ended ``total_ms`` after the request was sent."""
        prompt_tokens, completion_tokens, source = _token_counts(self.usage, self.timings, len(self.parts))
        times = self.token_times_ms
        ttft = times[0] if times else (self.first_chunk_ms if self.first_chunk_ms is not None else total_ms)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        decode_ms = (times[-1] - times[0]) if times else 0.0
        tokens_per_s = (
            (completion_tokens - 1) / (decode_ms / 1000) if completion_tokens > 1 and decode_ms else 0.0
        )
        return InferenceStats(
            ttft_ms=ttft,
            total_ms=total_ms,
            tokens_per_s=tokens_per_s,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            inter_token_ms_mean=sum(gaps) / len(gaps) if gaps else None,
            inter_token_ms_p95=percentile(gaps, 95),
            finish_reason=self.finish_reason,
            server_timings={k: float(v) for k, v in self.timings.items() if isinstance(v, int | float)}
            if self.timings
            else None,
            token_counts_from=source,
        )


def _token_counts(
    usage: dict[str, Any] | None, timings: dict[str, Any] | None, chunks: int
) -> tuple[int | None, int, Literal["usage", "timings", "chunks"]]:
    if usage and isinstance(usage.get("completion_tokens"), int):
        prompt = usage.get("prompt_tokens")
        return (prompt if isinstance(prompt, int) else None), usage["completion_tokens"], "usage"
    if timings and isinstance(timings.get("predicted_n"), int):
        prompt_n, cache_n = timings.get("prompt_n"), timings.get("cache_n", 0)
        prompt = (
            prompt_n + (cache_n if isinstance(cache_n, int) else 0) if isinstance(prompt_n, int) else None
        )
        return prompt, timings["predicted_n"], "timings"
    return None, chunks, "chunks"


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
class _Line:
    text: str
    at: float


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass(frozen=True)
class _HTTPFailed:
    response: httpx.Response


_END = object()


class _StreamReader(threading.Thread):
    """Runs one streaming request and hands its lines over a queue; abort() shuts its socket."""

    def __init__(self, client: httpx.Client, request: httpx.Request) -> None:
        super().__init__(name="llm-stream", daemon=True)
        self.lines: queue.Queue[Any] = queue.Queue()
        self._client = client
        self._request = request
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
            if response.is_error:
                response.read()
                self.lines.put(_HTTPFailed(response))
                return
            for line in response.iter_lines():
                self.lines.put(_Line(line, time.perf_counter()))
                if self._aborted:
                    return
            self.lines.put(_END)
        except BaseException as exc:
            self.lines.put(_Failed(exc))
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.response_format_style: ResponseFormatStyle = response_format_style
        self._client = client
        self._api_key = api_key
        self._timeout = timeout
        self._tokenize_path: str | None = "/tokenize"
        self._tokenize_probed = False

    @classmethod
    def for_model(cls, model: ModelConfig, *, client: httpx.Client, settings: Settings) -> LLMClient:
        """A client for a configured model, with its key and the settings' timeouts."""
        return cls(
            model.base_url,
            model.served_model_name or model.name,
            client=client,
            api_key=model.api_key(),
            timeout=llm_timeout(settings),
            response_format_style=model.response_format_style,
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
        request = self._client.build_request(
            "POST",
            f"{self.base_url}/v1/chat/completions",
            json=body,
            headers=self._headers(accept="text/event-stream"),
            timeout=self._timeout,
        )
        started = time.perf_counter()
        reader = _StreamReader(self._client, request)
        reader.start()
        tally = StreamTally()
        decoder = SSEDecoder()
        last_at = started
        try:
            while not tally.saw_done:
                item = self._next_item(reader, cancel)
                if item is _END:
                    data, at = decoder.flush(), last_at
                elif isinstance(item, _Failed):
                    raise self._translate(item.error, what) from None
                elif isinstance(item, _HTTPFailed):
                    raise http_error(item.response, what)
                else:
                    data, at = decoder.feed(item.text), item.at
                last_at = at
                if data is not None:
                    chunk = parse_chunk(data)
                    if chunk.error is not None:
                        raise _stream_error(chunk.error, what)
                    at_ms = (at - started) * 1000
                    tally.add(chunk, at_ms)
                    if chunk.content:
                        yield TokenEvent(text=chunk.content, elapsed_ms=at_ms, tokens_so_far=len(tally.parts))
                if item is _END:
                    break
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

    @staticmethod
    def _next_item(reader: _StreamReader, cancel: threading.Event | None) -> Any:
        if cancel is None:
            return reader.lines.get()
        while True:
            if cancel.is_set():
                reader.abort()
                raise InferenceCancelled("cancelled by the user")
            try:
                return reader.lines.get(timeout=_CANCEL_POLL_S)
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
