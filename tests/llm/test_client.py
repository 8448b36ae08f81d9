"""The streaming chat client: requests, the servers' wire formats, bounds, a fake llama-cpp-python server, the real llama-server."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from app.errors import (
    InferenceCancelled,
    InvalidOutputError,
    LLMConnectError,
    LLMError,
    LLMHTTPError,
    LLMResponseTooLargeError,
    LLMTimeoutError,
)
from app.llm.client import (
    ChatMessage,
    DoneEvent,
    LLMClient,
    ResponseFormatStyle,
    SamplingParams,
    StreamLimits,
    TokenEvent,
    build_chat_request,
    error_message,
)
from app.llm.server import LocalModelServer
from app.rca import parse_rca, rca_json_schema
from tests.fixtures.llama import FakeOpenAIServer, free_port
from tests.llm.test_stream import LLAMA_SERVER_FINAL_CHUNK

MESSAGES = [
    ChatMessage(role="system", content="You triage Kubernetes logs. Answer with JSON."),
    ChatMessage(role="user", content="1 | OOMKilled: container api exceeded memory limit (exit code 137)"),
]


def make_client(
    base_url: str,
    llm_http: httpx.Client,
    *,
    read_s: float = 10.0,
    api_key: str | None = None,
    response_format_style: ResponseFormatStyle = "json_schema",
) -> LLMClient:
    return LLMClient(
        base_url,
        "fake-model",
        client=llm_http,
        timeout=httpx.Timeout(read_s, connect=2.0),
        api_key=api_key,
        response_format_style=response_format_style,
    )


def consume(stream: Iterator[TokenEvent | DoneEvent], on_token: Callable[[TokenEvent], None]) -> None:
    """Drain a stream, calling ``on_token`` for each token (as a UI would)."""
    for event in stream:
        if isinstance(event, TokenEvent):
            on_token(event)


# --- pure parts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error":{"code":400,"message":"the request exceeds the available context size","type":"x"}}',
         "the request exceeds the available context size"),
        ('{"error":{"message":"Invalid API key","type":"authentication_error"}}', "Invalid API key"),
        ('{"detail":"Not Found"}', "Not Found"),
        ('{"detail":[{"loc":["body","response_format","type"],"msg":"Input should be \'text\'"}]}',
         "body.response_format.type: Input should be 'text'"),
        ('{"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","code":404}',
         "The model `x` does not exist."),
        ("<html>Bad   Gateway</html>", "<html>Bad Gateway</html>"),
    ],
)  # fmt: skip
def test_error_message_reads_each_servers_error_shape(body: str, message: str) -> None:
    assert error_message(body) == message


def test_request_asks_for_usage_and_sends_schema_in_the_chosen_style() -> None:
    schema = rca_json_schema()
    params = SamplingParams(seed=7, stop=["\n\n"])
    body = build_chat_request("m", MESSAGES, params, response_schema=schema)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "rca", "strict": True, "schema": schema},
    }
    assert body["seed"] == 7
    assert body["stop"] == ["\n\n"]
    assert body["messages"][1] == {"role": "user", "content": MESSAGES[1].content}

    legacy = build_chat_request(
        "m", MESSAGES, SamplingParams(), response_schema=schema, response_format_style="json_object"
    )
    assert legacy["response_format"] == {"type": "json_object", "schema": schema}
    assert "seed" not in legacy
    assert "stop" not in legacy


# --- against the fake llama-cpp-python server -------------------------------------------------------------


def test_tokens_arrive_in_order_with_timing(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.tokens = ["{", '"a"', ":", " 1", "}"]
    fake_openai_server.script.delay_s = 0.02
    events = list(make_client(fake_openai_server.base_url, llm_http).stream_chat(MESSAGES, SamplingParams()))

    tokens = [e for e in events if isinstance(e, TokenEvent)]
    assert [t.text for t in tokens] == ["{", '"a"', ":", " 1", "}"]
    assert [t.tokens_so_far for t in tokens] == [1, 2, 3, 4, 5]
    assert all(b.elapsed_ms >= a.elapsed_ms for a, b in itertools.pairwise(tokens))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert done.text == '{"a": 1}'
    stats = done.stats
    assert stats.ttft_ms >= 20.0  # the fake sleeps 20 ms before the first token
    assert stats.total_ms >= stats.ttft_ms
    # llama-cpp-python reports neither usage nor timings: counts come from the chunks.
    assert (stats.completion_tokens, stats.prompt_tokens, stats.token_counts_from) == (5, None, "chunks")
    assert stats.server_timings is None
    assert stats.finish_reason == "stop"
    assert stats.inter_token_ms_mean is not None
    assert stats.inter_token_ms_mean >= 15.0


def test_request_carries_schema_sampling_key_and_trace_context(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    client = make_client(
        fake_openai_server.base_url, llm_http, api_key="sekrit", response_format_style="json_object"
    )
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("triage") as span:
        client.complete_chat(
            MESSAGES, SamplingParams(temperature=0.0, seed=3), response_schema=rca_json_schema()
        )
        trace_id = format(span.get_span_context().trace_id, "032x")

    (request,) = fake_openai_server.chat_requests()
    assert request.headers["Authorization"] == "Bearer sekrit"
    assert trace_id in request.headers["traceparent"]
    assert request.body["response_format"] == {"type": "json_object", "schema": rca_json_schema()}
    assert request.body["temperature"] == 0.0
    assert request.body["seed"] == 3
    assert request.body["model"] == "fake-model"


def test_usage_from_the_server_is_used(fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client) -> None:
    fake_openai_server.script.send_usage = True
    _, stats = make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (17, 4, "usage")


def test_connection_refused_is_a_connect_error(llm_http: httpx.Client) -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", llm_http)
    with pytest.raises(LLMConnectError, match="could not connect"):
        client.complete_chat(MESSAGES)


def test_slow_server_is_a_timeout(fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client) -> None:
    fake_openai_server.script.first_token_delay_s = 1.0
    with pytest.raises(LLMTimeoutError, match="did not answer"):
        make_client(fake_openai_server.base_url, llm_http, read_s=0.2).complete_chat(MESSAGES)


def test_http_error_keeps_status_and_server_message(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.status = 500
    with pytest.raises(LLMHTTPError) as caught:
        make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES)
    assert caught.value.status_code == 500
    assert "fake failure" in str(caught.value)
    assert "internal_server_error" in caught.value.body


def test_validation_error_of_llama_cpp_python_is_readable(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.status = 422
    fake_openai_server.script.error_body = {
        "detail": [
            {
                "type": "literal_error",
                "loc": ["body", "response_format", "type"],
                "msg": "Input should be 'text' or 'json_object'",
            }
        ]
    }
    with pytest.raises(
        LLMHTTPError, match=r"422: body.response_format.type: Input should be 'text' or 'json_object'"
    ):
        make_client(fake_openai_server.base_url, llm_http).complete_chat(
            MESSAGES, response_schema=rca_json_schema()
        )


def test_cancel_while_the_server_hangs_returns_at_once_and_drops_the_connection(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.hang_after = 2
    cancel = threading.Event()
    received: list[str] = []

    def on_token(event: TokenEvent) -> None:
        received.append(event.text)
        if len(received) == 2:
            threading.Timer(0.1, cancel.set).start()

    # The read timeout is far longer than the test: only a prompt cancel ends it as InferenceCancelled.
    stream = make_client(fake_openai_server.base_url, llm_http, read_s=60.0).stream_chat(
        MESSAGES, cancel=cancel
    )
    with pytest.raises(InferenceCancelled):
        consume(stream, on_token)
    assert received == ["Hello", ","]
    assert fake_openai_server.client_disconnected.wait(10), "the server still holds the connection"


def test_cancel_while_the_server_reads_the_prompt_returns_at_once(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    # No response headers for 30 s, as llama-server does while it processes a long prompt.
    fake_openai_server.script.first_token_delay_s = 30.0
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(InferenceCancelled):
        make_client(fake_openai_server.base_url, llm_http, read_s=60.0).complete_chat(MESSAGES, cancel=cancel)


def test_cancel_before_sending_sends_nothing(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(InferenceCancelled):
        make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES, cancel=cancel)
    assert fake_openai_server.chat_requests() == []


def test_stopping_early_closes_the_stream(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.hang_after = 1
    stream = make_client(fake_openai_server.base_url, llm_http, read_s=60.0).stream_chat(MESSAGES)
    first = next(stream)
    assert isinstance(first, TokenEvent)
    stream.close()
    assert fake_openai_server.client_disconnected.wait(10)


def test_malformed_stream_is_an_llm_error(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.malformed_after = 1
    with pytest.raises(LLMError, match="malformed stream chunk"):
        make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES)


def test_stream_cut_short_is_an_llm_error(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.finish_reason = None
    fake_openai_server.script.send_done = False
    with pytest.raises(LLMError, match="ended before the answer was complete"):
        make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES)


def test_answer_that_is_not_an_rca_fails_parsing(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    fake_openai_server.script.tokens = ["The pod ", "ran out of memory."]
    text, _ = make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES)
    with pytest.raises(InvalidOutputError) as caught:
        parse_rca(text)
    assert caught.value.raw == "The pod ran out of memory."


def test_health_tokenize_and_props_on_a_server_without_llama_endpoints(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    client = make_client(fake_openai_server.base_url, llm_http)
    health = client.health()
    assert health.ok
    assert health.status == "ok"
    assert "/v1/models" in health.detail
    assert client.props() is None
    assert client.tokenize_count("pod api restarted twice") == 4  # llama-cpp-python's /extras/tokenize/count


def test_health_of_a_server_that_is_down(llm_http: httpx.Client) -> None:
    health = make_client(f"http://127.0.0.1:{free_port()}", llm_http).health()
    assert not health.ok
    assert health.status == "unreachable"


# --- against the real llama-server on the tiny model -------------------------------------------------------


@pytest.fixture
def llama_client(llama_server: LocalModelServer, llm_http: httpx.Client) -> LLMClient:
    return LLMClient(
        llama_server.base_url, "tiny-q4_k_m", client=llm_http, timeout=httpx.Timeout(60.0, connect=5.0)
    )


@pytest.mark.llama
def test_tiny_model_streams_a_schema_valid_rca(llama_client: LLMClient) -> None:
    events = list(
        llama_client.stream_chat(MESSAGES, SamplingParams(seed=1), response_schema=rca_json_schema())
    )
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert any(isinstance(e, TokenEvent) for e in events[:-1])
    rca = parse_rca(done.text)
    assert 0.0 <= rca.confidence <= 1.0
    stats = done.stats
    assert stats.token_counts_from == "usage"
    assert stats.server_timings is not None
    assert stats.server_timings["predicted_n"] == stats.completion_tokens
    assert stats.prompt_tokens is not None
    assert stats.prompt_tokens > 10
    assert stats.tokens_per_s is not None
    assert stats.tokens_per_s == pytest.approx(stats.server_timings["predicted_per_second"])
    assert stats.response_model  # what the server answered
    assert stats.response_id is not None
    assert stats.response_id.startswith("chatcmpl-")
    assert stats.cache_tokens is not None
    assert stats.ttft_ms > 0
    assert stats.finish_reason == "stop"


@pytest.mark.llama
def test_tiny_model_accepts_the_json_object_style_too(
    llama_server: LocalModelServer, llm_http: httpx.Client
) -> None:
    client = LLMClient(
        llama_server.base_url,
        "tiny",
        client=llm_http,
        timeout=httpx.Timeout(60.0),
        response_format_style="json_object",
    )
    text, _ = client.complete_chat(MESSAGES, response_schema=rca_json_schema())
    parse_rca(text)


@pytest.mark.llama
def test_four_concurrent_requests_all_succeed(llama_client: LLMClient) -> None:
    def one(i: int) -> str:
        messages = [
            *MESSAGES[:1],
            ChatMessage(role="user", content=f"{i} | probe failed: connection refused"),
        ]
        text, _ = llama_client.complete_chat(
            messages, SamplingParams(seed=i), response_schema=rca_json_schema()
        )
        return parse_rca(text).root_cause

    with ThreadPoolExecutor(4) as pool:
        causes = list(pool.map(one, range(4)))
    assert len(causes) == 4


@pytest.mark.llama
def test_tokenize_count_uses_the_models_tokenizer(llama_client: LLMClient) -> None:
    short = llama_client.tokenize_count("error")
    longer = llama_client.tokenize_count(
        "error: dial tcp 10.0.0.7:5432: connect: connection refused — ünïcode ✓"
    )
    assert short is not None
    assert longer is not None
    assert 1 <= short < longer


@pytest.mark.llama
def test_props_report_context_and_slots(llama_client: LLMClient) -> None:
    props = llama_client.props()
    assert props is not None
    assert props["default_generation_settings"]["n_ctx"] == 8192
    assert props["total_slots"] == 4


@pytest.mark.llama
def test_health_of_the_real_server(llama_client: LLMClient) -> None:
    health = llama_client.health()
    assert health.ok
    assert health.status == "ok"


@pytest.mark.llama
def test_cancel_against_the_real_server_leaves_it_usable(llama_client: LLMClient) -> None:
    cancel = threading.Event()
    stream = llama_client.stream_chat(MESSAGES, SamplingParams(max_tokens=2000), cancel=cancel)
    with pytest.raises(InferenceCancelled):
        consume(stream, lambda _: cancel.set())
    text, _ = llama_client.complete_chat(MESSAGES, response_schema=rca_json_schema())
    parse_rca(text)


def test_a_dropped_keep_alive_connection_is_retried_once() -> None:
    """llama-server closes idle kept-alive sockets; the request then never reached it and is resent."""
    attempts: list[int] = []
    body = (
        'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )

    def handle(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) == 1:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        client = LLMClient("http://model.test", "m", client=http, timeout=httpx.Timeout(5.0))
        text, _stats = client.complete_chat([ChatMessage(role="user", content="hi")], SamplingParams())
    assert text == "ok"
    assert len(attempts) == 2


def test_a_connection_that_keeps_dropping_is_an_error_after_three_resends() -> None:
    attempts: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        client = LLMClient("http://model.test", "m", client=http, timeout=httpx.Timeout(5.0))
        with pytest.raises(LLMError, match="disconnected"):
            client.complete_chat([ChatMessage(role="user", content="hi")], SamplingParams())
    assert len(attempts) == 4


# --- the wire formats of the servers we meet ----------------------------------------------------------------


def sse_body(*events: str, newline: str = "\n") -> bytes:
    """Server-sent events as a server writes them."""
    return "".join(f"{event}{newline}{newline}" for event in events).encode()


def stream_with(body: bytes | list[bytes], content_type: str = "text/event-stream") -> LLMClient:
    """A client whose server answers every chat request with ``body`` (pieces = separate network reads)."""
    pieces = body if isinstance(body, list) else [body]

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, content=iter(pieces))

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return LLMClient("http://model.test:8080", "m", client=http, timeout=httpx.Timeout(5.0))


# llama-server (b-series, /v1/chat/completions with stream_options.include_usage): role and first token in
# one chunk, a content chunk per token, the finish chunk, then usage and timings with no choices.
LLAMA_SERVER_STREAM = [
    'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":"{\\"a\\""}}],'
    '"created":1795715534,"id":"chatcmpl-JNCk","model":"tiny-q4_k_m","system_fingerprint":"b1-0c1e570",'
    '"object":"chat.completion.chunk"}',
    'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":": 1}"}}],"created":1795715534,'
    '"id":"chatcmpl-JNCk","model":"tiny-q4_k_m","system_fingerprint":"b1-0c1e570","object":"chat.completion.chunk"}',
    'data: {"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1795715534,"id":"chatcmpl-JNCk",'
    '"model":"tiny-q4_k_m","system_fingerprint":"b1-0c1e570","object":"chat.completion.chunk"}',
    f"data: {LLAMA_SERVER_FINAL_CHUNK}",
    "data: [DONE]",
]

# vLLM: a role-only first chunk with empty content, "stop_reason", and a usage chunk after the finish.
VLLM_STREAM = [
    'data: {"id":"chatcmpl-9f2c","object":"chat.completion.chunk","created":1795715600,"model":"Qwen/Qwen2.5-3B-Instruct",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}',
    'data: {"id":"chatcmpl-9f2c","object":"chat.completion.chunk","created":1795715600,"model":"Qwen/Qwen2.5-3B-Instruct",'
    '"choices":[{"index":0,"delta":{"content":"{}"},"logprobs":null,"finish_reason":null}]}',
    'data: {"id":"chatcmpl-9f2c","object":"chat.completion.chunk","created":1795715600,"model":"Qwen/Qwen2.5-3B-Instruct",'
    '"choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]}',
    'data: {"id":"chatcmpl-9f2c","object":"chat.completion.chunk","created":1795715600,"model":"Qwen/Qwen2.5-3B-Instruct",'
    '"choices":[],"usage":{"prompt_tokens":812,"total_tokens":814,"completion_tokens":2,'
    '"prompt_tokens_details":{"cached_tokens":768}}}',
    "data: [DONE]",
]


def test_llama_server_stream_with_timings() -> None:
    text, stats = stream_with(sse_body(*LLAMA_SERVER_STREAM)).complete_chat(MESSAGES)
    assert text == '{"a": 1}'
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (43, 45, "usage")
    assert stats.tokens_per_s == pytest.approx(2604.78)  # the server's decode rate, not a burst's
    assert (stats.response_id, stats.response_model) == ("chatcmpl-JNCk", "tiny-q4_k_m")
    assert stats.server_timings is not None
    assert stats.server_timings["prompt_ms"] == pytest.approx(1.914)


def test_vllm_stream_with_a_usage_chunk() -> None:
    text, stats = stream_with(sse_body(*VLLM_STREAM)).complete_chat(MESSAGES)
    assert text == "{}"
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (812, 2, "usage")
    assert stats.cache_tokens == 768
    assert stats.response_model == "Qwen/Qwen2.5-3B-Instruct"
    assert stats.server_timings is None
    assert stats.tokens_per_s is None  # one content chunk: no decode phase to measure


def test_events_split_across_reads_with_crlf_and_pings() -> None:
    body = sse_body(": ping", *LLAMA_SERVER_STREAM, newline="\r\n")
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]  # lines and events cut mid-way
    text, stats = stream_with(pieces).complete_chat(MESSAGES)
    assert text == '{"a": 1}'
    assert stats.completion_tokens == 45


def test_llama_cpp_python_stream_ids(fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client) -> None:
    _, stats = make_client(fake_openai_server.base_url, llm_http).complete_chat(MESSAGES)
    assert (stats.response_id, stats.response_model) == ("chatcmpl-fake0001", "fake-model")
    assert stats.cache_tokens is None


def test_an_answer_that_is_not_an_event_stream_is_one_clear_error() -> None:
    client = stream_with(b'{"choices":[{"message":{"content":"{}"}}]}', content_type="application/json")
    with pytest.raises(LLMError, match="did not answer with an event stream") as caught:
        client.complete_chat(MESSAGES)
    assert "base_url" in caught.value.user_message()


def test_the_stream_is_asked_for_uncompressed_and_a_compressed_one_refused() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            content=gzip.compress(sse_body(*LLAMA_SERVER_STREAM)),
        )

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        client = LLMClient("http://model.test", "m", client=http, timeout=httpx.Timeout(5.0))
        with pytest.raises(LLMError, match=r"compressed the event stream \(gzip\)"):
            client.complete_chat(MESSAGES)
    assert seen[0].headers["accept-encoding"] == "identity"


# --- bounded: a server that never stops -----------------------------------------------------------------------

# The stand-in stops by itself after this long even if nobody hangs up (it must never outlive a test).
ENDLESS_SAFETY_S = 60.0


class EndlessServer:
    """A model server that answers 200 and then streams without end, in one of several ways."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.disconnected = threading.Event()
        self.sent_bytes = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 500 if owner.mode == "error-body" else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/event-stream" if status == 200 else "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                owner.serve(self.wfile)
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def piece(self) -> bytes:
        if self.mode == "tokens":
            return ('data: {"choices":[{"index":0,"delta":{"content":"ha"}}]}\n\n' * 200).encode()
        if self.mode == "pings":
            time.sleep(0.05)
            return b": ping\n\n"
        return b"x" * 65536  # one line that never ends ("line") or an error body that never ends

    def serve(self, out: Any) -> None:
        until = time.monotonic() + ENDLESS_SAFETY_S
        try:
            while time.monotonic() < until:
                data = self.piece()
                out.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                out.flush()
                self.sent_bytes += len(data)
        except (BrokenPipeError, ConnectionResetError):
            self.disconnected.set()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def endless() -> Iterator[Callable[[str], EndlessServer]]:
    servers: list[EndlessServer] = []

    def start(mode: str) -> EndlessServer:
        servers.append(EndlessServer(mode))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def bounded_client(server: EndlessServer, http: httpx.Client, **limits: Any) -> LLMClient:
    return LLMClient(
        server.base_url,
        "m",
        client=http,
        timeout=httpx.Timeout(30.0, connect=2.0),
        limits=StreamLimits(**limits),
    )


@pytest.mark.parametrize("mode", ["tokens", "line", "error-body"])
def test_an_endless_stream_ends_at_the_size_limit(
    mode: str, endless: Callable[[str], EndlessServer], llm_http: httpx.Client
) -> None:
    server = endless(mode)
    client = bounded_client(server, llm_http, max_response_bytes=2_000_000)
    with pytest.raises(LLMResponseTooLargeError, match="more than 2,000,000 bytes") as caught:
        client.complete_chat(MESSAGES)
    assert "LLM_MAX_RESPONSE_BYTES" in caught.value.user_message()
    assert server.disconnected.wait(10), "the client kept the endless stream open"
    assert server.sent_bytes < 50_000_000  # stopped reading early, not at the stand-in's safety stop


def test_a_stream_that_only_pings_ends_at_the_total_time_limit(
    endless: Callable[[str], EndlessServer], llm_http: httpx.Client
) -> None:
    # Each ping resets the read timeout (30 s here); only the total limit ends this request.
    server = endless("pings")
    client = bounded_client(server, llm_http, total_timeout_s=1.0)
    with pytest.raises(LLMTimeoutError, match="did not finish within 1s") as caught:
        client.complete_chat(MESSAGES)
    assert "LLM_TOTAL_TIMEOUT_SECONDS" in caught.value.user_message()
    assert server.disconnected.wait(10)


def test_limits_come_from_the_settings() -> None:
    from app.config import Settings

    limits = StreamLimits.from_settings(Settings(llm_max_response_bytes=1234, llm_total_timeout_seconds=5.5))
    assert (limits.max_response_bytes, limits.total_timeout_s) == (1234, 5.5)
    assert StreamLimits() == StreamLimits.from_settings(Settings())


@pytest.mark.parametrize(
    "dropped",
    [
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.WriteError("[Errno 32] Broken pipe"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_stale_pooled_connections_are_resent_for_chats_and_token_counts(dropped: httpx.HTTPError) -> None:
    """On a busy machine several kept-alive sockets go stale at once: resets and broken pipes included."""
    failures = {"/v1/chat/completions": 2, "/tokenize": 2}
    body = (
        'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )

    def handle(request: httpx.Request) -> httpx.Response:
        if failures[request.url.path] > 0:
            failures[request.url.path] -= 1
            raise dropped
        if request.url.path == "/tokenize":
            return httpx.Response(200, json={"tokens": [1, 2, 3]})
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())

    with httpx.Client(transport=httpx.MockTransport(handle)) as http:
        client = LLMClient("http://model.test", "m", client=http, timeout=httpx.Timeout(5.0))
        assert client.tokenize_count("three tokens here") == 3
        text, _stats = client.complete_chat([ChatMessage(role="user", content="hi")], SamplingParams())
    assert text == "ok"
    assert failures == {"/v1/chat/completions": 0, "/tokenize": 0}
