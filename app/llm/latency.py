"""How long a prompt will take on a model, from the prompt rate its llama-server reported on recent runs.

On a CPU the time to first token is almost all prompt processing. llama-server reports, with every
answer, how many prompt tokens it evaluated (``timings.prompt_n``), how long that took (``prompt_ms``)
and how many it reused from its prompt cache (``cache_n``). Kept per model, these give:

* the model's prompt rate (tokens/s, the median over recent runs, so one run on a busy machine does not
  swing it), the fixed cost before the first token (time to first token minus prompt time), and how
  many tokens its cache usually saves;
* which fixed prompt prefixes (system prompt and worked examples, by hash) it was sent last: llama-server
  keeps the last prompt of each slot, so a prefix among the last ``RECENT_PREFIXES`` is taken as cached;
* an estimate for a new prompt: ``overhead + uncached tokens / rate``;
* the other way round, how many log tokens fit a latency target.

The pure part is first; the two functions at the end read and write the samples in the store.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, select

from app.errors import StoreError
from app.store.db import session_scope
from app.store.tables import ModelPromptRateRow

log = logging.getLogger(__name__)

RECENT_SAMPLES = 20
KEEP_SAMPLES = 200
# A sample of a few tokens (a latency probe, a fully cached prompt) measures overhead, not the rate.
MIN_SAMPLE_TOKENS = 32
# With no target, a run this long is worth a word before it starts.
SLOW_WITHOUT_TARGET_S = 15.0
MIN_PREFERRED_SAMPLES = 3
# The distinct prefixes a server most likely still holds: one per slot of a 2-slot local server.
RECENT_PREFIXES = 2
SampleSource = Literal["triage", "batch"]


class RateSample(BaseModel):
    """One answer's prompt processing as llama-server reported it."""

    prompt_n: int = Field(ge=0, description="Prompt tokens evaluated (not taken from the cache).")
    prompt_ms: float = Field(ge=0)
    cache_n: int = Field(default=0, ge=0, description="Prompt tokens reused from the server's cache.")
    ttft_ms: float | None = Field(default=None, description="Time to first token measured by the client.")
    prefix_sha256: str | None = Field(default=None, description="Hash of the prompt's fixed prefix.")


class PromptRate(BaseModel):
    """A model's prompt processing, summarised from recent samples."""

    model: str
    tokens_per_s: float = Field(gt=0, description="Median prompt tokens evaluated per second.")
    overhead_ms: float = Field(ge=0, description="Median time to first token minus prompt time.")
    cached_tokens: int = Field(ge=0, description="Median prompt tokens the server's cache saved.")
    samples: int
    recent_prefixes: list[str] = Field(
        default_factory=list, description="The prompt prefixes sent last (newest first): likely still cached."
    )


class LatencyEstimate(BaseModel):
    """How long a prompt is expected to take to its first answer token on one model."""

    model: str
    prompt_tokens: int
    uncached_tokens: int
    seconds: float
    tokens_per_s: float
    samples: int

    def describe_prompt(self) -> str:
        """'~6,600 prompt tokens: about 40 s on this model'."""
        return f"~{self.prompt_tokens:,} prompt tokens: about {format_seconds(self.seconds)} on this model"

    def describe_logs(self, log_tokens: int) -> str:
        """'1,150 log tokens, about 6 s on smollm2-135m-q4_1'."""
        return f"{log_tokens:,} log tokens, about {format_seconds(self.seconds)} on {self.model}"

    def is_slow(self, target_s: float | None) -> bool:
        """Whether the run will clearly miss the target (or, with none, take long enough to mention)."""
        if target_s:
            return self.seconds > max(target_s * 1.25, target_s + 2.0)
        return self.seconds > SLOW_WITHOUT_TARGET_S


def format_seconds(seconds: float) -> str:
    """Seconds the way people say them: '0.8 s', '6 s', '1 min 20 s'."""
    if seconds < 1:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def sample_from_timings(
    timings: dict[str, float] | None, ttft_ms: float | None = None, prefix_sha256: str | None = None
) -> RateSample | None:
    """The sample in llama-server's ``timings`` (kept verbatim in InferenceStats); None without one."""
    if not timings:
        return None
    prompt_n, prompt_ms = timings.get("prompt_n"), timings.get("prompt_ms")
    if prompt_n is None or prompt_ms is None or prompt_n < 0 or prompt_ms < 0:
        return None
    return RateSample(
        prompt_n=int(prompt_n),
        prompt_ms=float(prompt_ms),
        cache_n=max(int(timings.get("cache_n") or 0), 0),
        ttft_ms=ttft_ms,
        prefix_sha256=prefix_sha256,
    )


def summarize(model: str, samples: Sequence[RateSample]) -> PromptRate | None:
    """The prompt rate of a model from its recent samples (newest first); None when none measured a rate."""
    rated = [s for s in samples if s.prompt_n >= MIN_SAMPLE_TOKENS and s.prompt_ms > 0]
    if not rated:
        return None
    overheads = [max(s.ttft_ms - s.prompt_ms, 0.0) for s in samples if s.ttft_ms is not None]
    prefixes = list(dict.fromkeys(s.prefix_sha256 for s in samples if s.prefix_sha256))
    return PromptRate(
        model=model,
        tokens_per_s=statistics.median(s.prompt_n / (s.prompt_ms / 1000) for s in rated),
        overhead_ms=statistics.median(overheads) if overheads else 0.0,
        cached_tokens=round(statistics.median(s.cache_n for s in samples)),
        samples=len(samples),
        recent_prefixes=prefixes[:RECENT_PREFIXES],
    )


def cached_prefix_tokens(rate: PromptRate, cacheable_tokens: int, prefix_sha256: str | None) -> int:
    """How many of a prompt's ``cacheable_tokens`` the server is expected to have cached.

    All of them when the same prefix was among the last ones sent; else what the cache usually saved.
    """
    if prefix_sha256 is not None and prefix_sha256 in rate.recent_prefixes:
        return max(cacheable_tokens, 0)
    return max(0, min(rate.cached_tokens, cacheable_tokens))


def estimate(
    rate: PromptRate, prompt_tokens: int, cacheable_tokens: int, prefix_sha256: str | None = None
) -> LatencyEstimate:
    """Time to first token for a prompt whose first ``cacheable_tokens`` (its prefix) may be cached."""
    cached = min(cached_prefix_tokens(rate, cacheable_tokens, prefix_sha256), prompt_tokens)
    uncached = max(prompt_tokens - cached, 0)
    seconds = (rate.overhead_ms + uncached / rate.tokens_per_s * 1000) / 1000
    return LatencyEstimate(
        model=rate.model,
        prompt_tokens=prompt_tokens,
        uncached_tokens=uncached,
        seconds=seconds,
        tokens_per_s=rate.tokens_per_s,
        samples=rate.samples,
    )


def tokens_within(
    rate: PromptRate,
    target_s: float,
    fixed_tokens: int,
    cacheable_tokens: int,
    prefix_sha256: str | None = None,
) -> int:
    """How many more prompt tokens (logs) fit so that the estimate stays within ``target_s``.

    ``fixed_tokens`` is the prompt without logs, of which ``cacheable_tokens`` (the prefix) may be
    cached. 0 when even the fixed part misses the target.
    """
    cached = min(cached_prefix_tokens(rate, cacheable_tokens, prefix_sha256), fixed_tokens)
    affordable = (target_s * 1000 - rate.overhead_ms) / 1000 * rate.tokens_per_s
    return max(0, math.floor(affordable - (fixed_tokens - cached)))


# --- the samples in the store ----------------------------------------------------------------------------


def record_sample(
    engine: Engine, model: str, quantization: str, sample: RateSample, source: SampleSource
) -> None:
    """Keep one sample of a model's prompt rate (the newest KEEP_SAMPLES per model stay)."""
    with session_scope(engine) as session:
        session.add(
            ModelPromptRateRow(
                model=model,
                quantization=quantization,
                observed_at=datetime.now(UTC),
                source=source,
                prompt_n=sample.prompt_n,
                prompt_ms=sample.prompt_ms,
                cache_n=sample.cache_n,
                ttft_ms=sample.ttft_ms,
                prefix_sha256=sample.prefix_sha256,
            )
        )
    with session_scope(engine) as session:
        oldest_kept = session.scalar(
            select(ModelPromptRateRow.id)
            .where(ModelPromptRateRow.model == model)
            .order_by(ModelPromptRateRow.id.desc())
            .offset(KEEP_SAMPLES - 1)
            .limit(1)
        )
        if oldest_kept is not None:
            session.execute(
                delete(ModelPromptRateRow).where(
                    ModelPromptRateRow.model == model, ModelPromptRateRow.id < oldest_kept
                )
            )


def recent_rate(engine: Engine, model: str, limit: int = RECENT_SAMPLES) -> PromptRate | None:
    """A model's prompt rate from its most recent samples in the store; None before its first run.

    Triage samples are preferred when there are a few: an eval sends several prompts at once, and each
    then takes longer than a triage that runs alone.
    """

    def newest(source: str | None) -> list[RateSample]:
        query = select(ModelPromptRateRow).where(ModelPromptRateRow.model == model)
        if source is not None:
            query = query.where(ModelPromptRateRow.source == source)
        with session_scope(engine) as session:
            rows = list(session.scalars(query.order_by(ModelPromptRateRow.id.desc()).limit(limit)))
        return [
            RateSample(
                prompt_n=r.prompt_n,
                prompt_ms=r.prompt_ms,
                cache_n=r.cache_n,
                ttft_ms=r.ttft_ms,
                prefix_sha256=r.prefix_sha256,
            )
            for r in rows
        ]

    samples = newest("triage")
    if len(samples) < MIN_PREFERRED_SAMPLES:
        samples = newest(None)
    return summarize(model, samples)


def recent_rate_or_none(engine: Engine, model: str) -> PromptRate | None:
    """``recent_rate``, or None when the store cannot say: an estimate is never worth a failed run."""
    try:
        return recent_rate(engine, model)
    except StoreError as exc:
        log.warning("no prompt rate for %s: %s", model, exc.user_message())
        return None


def keep_sample(
    engine: Engine, model: str, quantization: str, sample: RateSample | None, source: SampleSource
) -> None:
    """``record_sample`` when there is a sample; a store failure is logged, never raised (bookkeeping)."""
    if sample is None:
        return
    try:
        record_sample(engine, model, quantization, sample, source)
    except StoreError as exc:
        log.warning("prompt rate of %s not recorded: %s", model, exc.user_message())
