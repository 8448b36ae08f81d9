"""Prompt-rate estimates: from llama-server's timings to a latency estimate and a token budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.llm import latency
from app.llm.latency import PromptRate, RateSample
from app.store.db import get_engine

# What llama-server sent in the last chunk of a real answer (SmolLM2 Q4_1, 2 cores).
TIMINGS = {
    "cache_n": 623.0,
    "prompt_n": 1506.0,
    "prompt_ms": 6024.0,
    "prompt_per_token_ms": 4.0,
    "prompt_per_second": 250.0,
    "predicted_n": 87.0,
    "predicted_ms": 4578.9,
    "predicted_per_second": 19.0,
}


def rate(tokens_per_s: float = 250.0, overhead_ms: float = 200.0, cached: int = 1000) -> PromptRate:
    return PromptRate(
        model="m", tokens_per_s=tokens_per_s, overhead_ms=overhead_ms, cached_tokens=cached, samples=5
    )


def test_a_sample_is_read_from_llama_server_timings() -> None:
    sample = latency.sample_from_timings(TIMINGS, ttft_ms=6300.0)
    assert sample == RateSample(prompt_n=1506, prompt_ms=6024.0, cache_n=623, ttft_ms=6300.0)
    assert latency.sample_from_timings(None) is None
    assert latency.sample_from_timings({"predicted_n": 3.0}) is None  # a server without prompt timings


def test_the_rate_is_the_median_and_ignores_samples_too_small_to_measure_it() -> None:
    samples = [
        RateSample(prompt_n=1000, prompt_ms=4000, cache_n=900, ttft_ms=4300),  # 250 tok/s
        RateSample(prompt_n=500, prompt_ms=2500, cache_n=900, ttft_ms=2600),  # 200 tok/s
        RateSample(prompt_n=2000, prompt_ms=20000, cache_n=0, ttft_ms=20200),  # 100 tok/s (a busy moment)
        RateSample(prompt_n=3, prompt_ms=1.0, cache_n=1200, ttft_ms=120),  # fully cached: no rate in it
    ]
    summary = latency.summarize("m", samples)
    assert summary is not None
    assert summary.tokens_per_s == pytest.approx(200.0)
    assert summary.overhead_ms == pytest.approx(159.5)  # median of 300, 100, 200, 119
    assert summary.cached_tokens == 900
    assert summary.samples == 4
    assert latency.summarize("m", samples[3:]) is None
    assert latency.summarize("m", []) is None


def test_estimate_counts_only_what_the_cache_cannot_save() -> None:
    estimate = latency.estimate(rate(), prompt_tokens=2250, cacheable_tokens=1200)
    assert estimate.uncached_tokens == 1250  # the 1,000 tokens the cache usually holds are free
    assert estimate.seconds == pytest.approx(0.2 + 1250 / 250)
    # The cache cannot save more than the cacheable prefix (the system prompt).
    assert latency.estimate(rate(), 2250, cacheable_tokens=400).uncached_tokens == 1850
    assert latency.estimate(rate(cached=0), 2250, 1200).seconds == pytest.approx(0.2 + 9.0)


def test_tokens_within_a_target_round_trip_with_the_estimate() -> None:
    fixed, system = 1300, 1200
    logs = latency.tokens_within(rate(), target_s=5.0, fixed_tokens=fixed, cacheable_tokens=system)
    # (5 s - 0.2 s) * 250 tok/s = 1,200 uncached tokens; of the fixed 1,300 the cache saves 1,000.
    assert logs == 900
    estimate = latency.estimate(rate(), fixed + logs, system)
    assert estimate.seconds == pytest.approx(5.0)
    assert latency.tokens_within(rate(tokens_per_s=20), 5.0, fixed, system) == 0  # the fixed part misses


def test_descriptions_and_when_a_run_is_slow() -> None:
    estimate = latency.estimate(rate(tokens_per_s=165, overhead_ms=0, cached=0), 6600, 1200)
    assert estimate.describe_prompt() == "~6,600 prompt tokens: about 40 s on this model"
    assert estimate.describe_logs(1150) == "1,150 log tokens, about 40 s on m"
    assert estimate.is_slow(5.0)
    assert not estimate.is_slow(40.0)
    assert estimate.is_slow(None)  # no target: anything over 15 s is worth a word
    assert not latency.estimate(rate(), 300, 0).is_slow(None)
    assert latency.format_seconds(0.42) == "0.4 s"
    assert latency.format_seconds(80) == "1 min 20 s"
    assert latency.format_seconds(120) == "2 min"


def test_samples_are_kept_per_model_and_triage_ones_are_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    assert latency.recent_rate(engine, "a") is None
    for _ in range(3):
        latency.record_sample(engine, "a", "Q4_1", RateSample(prompt_n=1000, prompt_ms=10_000), "batch")
    latency.record_sample(engine, "b", "Q8_0", RateSample(prompt_n=1000, prompt_ms=1_000), "triage")
    only_batch = latency.recent_rate(engine, "a")
    assert only_batch is not None
    assert only_batch.tokens_per_s == pytest.approx(100.0)
    for _ in range(3):
        latency.record_sample(engine, "a", "Q4_1", RateSample(prompt_n=1000, prompt_ms=4_000), "triage")
    preferred = latency.recent_rate(engine, "a")
    assert preferred is not None
    assert preferred.tokens_per_s == pytest.approx(250.0)  # three triage runs outweigh the eval's
    other = latency.recent_rate(engine, "b")
    assert other is not None
    assert other.tokens_per_s == pytest.approx(1000.0)


def test_only_the_newest_samples_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(latency, "KEEP_SAMPLES", 5)
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    for ms in range(1, 9):
        latency.record_sample(engine, "a", "Q4_1", RateSample(prompt_n=1000, prompt_ms=ms * 1000), "triage")
    summary = latency.recent_rate(engine, "a", limit=100)
    assert summary is not None
    assert summary.samples == 5
    assert summary.tokens_per_s == pytest.approx(1000 / 6)  # the median of the last five: 4..8 s


def test_a_prefix_sent_recently_is_taken_as_cached() -> None:
    samples = [
        RateSample(prompt_n=1300, prompt_ms=5200, cache_n=0, prefix_sha256="few-shot"),  # newest
        RateSample(prompt_n=900, prompt_ms=3600, cache_n=0, prefix_sha256="zero-shot"),
        RateSample(prompt_n=900, prompt_ms=3600, cache_n=0, prefix_sha256="older"),
    ]
    summary = latency.summarize("m", samples)
    assert summary is not None
    assert summary.recent_prefixes == ["few-shot", "zero-shot"]  # a 2-slot server keeps two
    assert summary.cached_tokens == 0
    assert latency.cached_prefix_tokens(summary, 1200, "few-shot") == 1200
    assert latency.cached_prefix_tokens(summary, 1200, "older") == 0  # evicted since
    assert latency.cached_prefix_tokens(summary, 1200, None) == 0
    estimate = latency.estimate(summary, prompt_tokens=2200, cacheable_tokens=1200, prefix_sha256="few-shot")
    assert estimate.uncached_tokens == 1000
    assert latency.tokens_within(summary, 5.0, 1300, 1200, "few-shot") == 1150  # 5 s x 250 tok/s - 100 fixed
