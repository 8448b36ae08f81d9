"""Stream chunks and stats (pure): what each server's chunks say, token counts, decode rate, ids."""

from __future__ import annotations

import pytest

from app.errors import LLMError
from app.llm.stream import StreamTally, decode_tokens_per_s, parse_chunk, percentile

# The last chunk llama-server sent in a real run (usage requested), copied verbatim.
LLAMA_SERVER_FINAL_CHUNK = (
    '{"choices":[],"created":1795715534,"id":"chatcmpl-JNCk","model":"tiny-q4_k_m",'
    '"system_fingerprint":"b1-0c1e570","object":"chat.completion.chunk","usage":{"completion_tokens":45,'
    '"prompt_tokens":43,"total_tokens":88,"prompt_tokens_details":{"cached_tokens":0}},"timings":{"cache_n":0,'
    '"prompt_n":43,"prompt_ms":1.914,"prompt_per_token_ms":0.0445,"prompt_per_second":22466.0,'
    '"predicted_n":45,"predicted_ms":16.892,"predicted_per_token_ms":0.3839,"predicted_per_second":2604.78}}'
)


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
    # llama-server measured its decode itself; the arrival times (three chunks in 30 ms) are not used.
    assert stats.tokens_per_s == pytest.approx(2604.78)
    assert stats.finish_reason == "stop"
    assert stats.server_timings is not None
    assert stats.server_timings["predicted_n"] == 45
    assert (stats.response_id, stats.response_model, stats.cache_tokens) == (
        "chatcmpl-JNCk",
        "tiny-q4_k_m",
        0,
    )


def test_stats_fall_back_to_timings_then_to_chunks() -> None:
    timings_only = StreamTally()
    feed(
        timings_only,
        [(content("x"), 5.0), ('{"choices":[],"timings":{"prompt_n":7,"cache_n":30,"predicted_n":9}}', 6.0)],
    )
    stats = timings_only.stats(7.0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (37, 9, "timings")
    assert stats.cache_tokens == 30

    chunks_only = StreamTally()
    feed(chunks_only, [(content("x"), 5.0), (content("y"), 505.0), (STOP, 506.0)])
    stats = chunks_only.stats(507.0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.token_counts_from) == (None, 2, "chunks")
    assert stats.tokens_per_s == pytest.approx(1 / 0.5)  # one token after the first, in half a second
    assert stats.cache_tokens is None


def test_tokens_per_s_is_none_until_the_decode_phase_means_something() -> None:
    # The dashboard once showed 88,000 tokens/s: two chunks read in one network read, 11 µs apart.
    burst = StreamTally()
    feed(burst, [(content("{"), 900.0), (content("a"), 900.0113), (STOP, 900.02), ("[DONE]", 900.02)])
    assert burst.stats(901.0).tokens_per_s is None
    assert burst.live_tokens_per_s() is None

    single = StreamTally()
    feed(single, [(content("{}"), 40.0), (STOP, 41.0)])
    assert single.stats(41.0).tokens_per_s is None

    assert decode_tokens_per_s(1, 0.0, 10_000.0) is None  # one token: no decode phase at all
    assert decode_tokens_per_s(11, 1000.0, 1000.0) is None  # elapsed == TTFT
    assert decode_tokens_per_s(11, 1000.0, 3000.0) == pytest.approx(5.0)


def test_openai_cached_tokens_win_over_cache_n() -> None:
    tally = StreamTally()
    usage = '{"choices":[],"usage":{"prompt_tokens":90,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":64}}}'
    feed(tally, [(content("x"), 5.0), (STOP, 6.0), (usage, 6.0)])
    assert tally.stats(7.0).cache_tokens == 64


def test_empty_answer_has_ttft_of_its_first_chunk_and_no_gaps() -> None:
    tally = StreamTally()
    feed(tally, [(STOP, 42.0), ("[DONE]", 43.0)])
    stats = tally.stats(44.0)
    assert stats.ttft_ms == 42.0
    assert stats.completion_tokens == 0
    assert stats.inter_token_ms_mean is None
    assert stats.inter_token_ms_p95 is None
    assert stats.tokens_per_s is None


def test_percentile_interpolates() -> None:
    assert percentile([], 95) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)
