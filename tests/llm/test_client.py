"""The streaming chat client: pure SSE/stat logic, a fake llama-cpp-python server, and the real llama-server."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from app.errors import (
    InferenceCancelled,
    InvalidOutputError,
    LLMConnectError,
    LLMError,
    LLMHTTPError,
    LLMTimeoutError,
)
from app.llm.client import (
    ChatMessage,
    DoneEvent,
    LLMClient,
    ResponseFormatStyle,
    SamplingParams,
    StreamTally,
    TokenEvent,
    build_chat_request,
    error_message,
    iter_sse_data,
    parse_chunk,
    percentile,
)
from app.llm.server import LocalModelServer
from app.rca import parse_rca, rca_json_schema
from tests.fixtures.llama import FakeOpenAIServer, free_port

MESSAGES = [
    ChatMessage(role="system", content="You triage Kubernetes logs. Answer with JSON."),
    ChatMessage(role="user", content="1 | OOMKilled: container api exceeded memory limit (exit code 137)"),
]

# The last chunk llama-server sent in a real run (usage requested), copied verbatim.
LLAMA_SERVER_FINAL_CHUNK = (
    '{"choices":[],"created":1795715534,"id":"chatcmpl-JNCk","model":"tiny-q4_k_m",'
    '"system_fingerprint":"b1-0c1e570","object":"chat.completion.chunk","usage":{"completion_tokens":45,'
    '"prompt_tokens":43,"total_tokens":88,"prompt_tokens_details":{"cached_tokens":0}},"timings":{"cache_n":0,'
    '"prompt_n":43,"prompt_ms":1.914,"prompt_per_token_ms":0.0445,"prompt_per_second":22466.0,'
    '"predicted_n":45,"predicted_ms":16.892,"predicted_per_token_ms":0.3839,"predicted_per_second":2604.78}}'
)


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


def test_sse_events_are_split_on_blank_lines_and_pings_are_skipped() -> None:
    lines = [
        ": ping - 2025",
        "",
        'data: {"a": 1}',
        "",
        "event: x",
        "data: line1",
        "data: line2",
        "",
        "data: [DONE]",
    ]
    assert list(iter_sse_data(lines)) == ['{"a": 1}', "line1\nline2", "[DONE]"]


def test_sse_tolerates_crlf_and_data_without_space() -> None:
    assert list(iter_sse_data(["data:{}\r", "\r", "data: x\r"])) == ["{}", "x"]


def test_chunk_content_finish_and_done() -> None:
    chunk = parse_chunk('{"choices":[{"index":0,"delta":{"content":"oom"},"finish_reason":null}]}')
    assert chunk.content == "oom"
    assert chunk.finish_reason is None
    assert (
        parse_chunk('{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}').finish_reason == "length"
    )
    assert parse_chunk("[DONE]").done
    role_only = parse_chunk('{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}')
    assert role_only.content == ""


def test_llama_server_final_chunk_gives_usage_and_timings() -> None:
    chunk = parse_chunk(LLAMA_SERVER_FINAL_CHUNK)
    assert chunk.usage is not None
    assert chunk.usage["completion_tokens"] == 45
    assert chunk.timings is not None
    assert chunk.timings["predicted_per_second"] == pytest.approx(2604.78)


def test_error_inside_a_stream_is_reported() -> None:
    chunk = parse_chunk('{"error":{"code":500,"message":"context shift failed","type":"server_error"}}')
    assert chunk.error == {"code": 500, "message": "context shift failed", "type": "server_error"}


def test_malformed_chunk_raises_llm_error() -> None:
    with pytest.raises(LLMError, match="malformed"):
        parse_chunk('{"choices": [')


def feed(tally: StreamTally, payloads: list[tuple[str, float]]) -> None:
    for data, at in payloads:
        tally.add(parse_chunk(data), at)


def content(text: str) -> str:
    return f'{{"choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}'


STOP = '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'


def test_stats_prefer_usage_and_keep_server_timings() -> None:
    tally = StreamTally()
    feed(tally, [(content("a"), 100.0), (content("b"), 110.0), (content("c"), 130.0), (STOP, 131.0)])
    feed(tally, [(LLAMA_SERVER_FINAL_CHUNK, 132.0), ("[DONE]", 132.0)])
    stats = tally.stats(total_ms=133.0)
    assert tally.text == "abc"
    assert stats.ttft_ms == 100.0
    assert stats.total_ms == 133.0
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (43, 45, "usage")
    assert stats.inter_token_ms_mean == pytest.approx(15.0)
    assert stats.inter_token_ms_p95 == pytest.approx(19.5)
    # 44 tokens after the first, decoded over 30 ms.
    assert stats.tokens_per_s == pytest.approx(44 / 0.030)
    assert stats.finish_reason == "stop"
    assert stats.server_timings is not None
    assert stats.server_timings["predicted_n"] == 45


def test_stats_fall_back_to_timings_then_to_chunks() -> None:
    timings_only = StreamTally()
    feed(
        timings_only,
        [(content("x"), 5.0), ('{"choices":[],"timings":{"prompt_n":7,"cache_n":30,"predicted_n":9}}', 6.0)],
    )
    stats = timings_only.stats(7.0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (37, 9, "timings")

    chunks_only = StreamTally()
    feed(chunks_only, [(content("x"), 5.0), (content("y"), 7.0), (STOP, 8.0)])
    stats = chunks_only.stats(9.0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (None, 2, "chunks")
    assert stats.tokens_per_s == pytest.approx(1 / 0.002)


def test_empty_answer_has_ttft_of_its_first_chunk_and_no_gaps() -> None:
    tally = StreamTally()
    feed(tally, [(STOP, 42.0), ("[DONE]", 43.0)])
    stats = tally.stats(44.0)
    assert stats.ttft_ms == 42.0
    assert stats.completion_tokens == 0
    assert stats.inter_token_ms_mean is None
    assert stats.inter_token_ms_p95 is None
    assert stats.tokens_per_s == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([], 95) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)


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
    assert stats.tokens_per_s > 0
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
