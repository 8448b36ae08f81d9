"""What a streamed chat completion says, chunk by chunk, and the stats made of it (pure: no I/O).

``parse_chunk`` reads one ``chat.completion.chunk`` (llama-server, llama-cpp-python, vLLM, OpenAI);
``StreamTally`` adds chunks with their arrival times and turns them into ``InferenceStats``:

* token counts from the OpenAI ``usage`` object, else llama-server's ``timings``
  (``prompt_n``/``cache_n``/``predicted_n``), else the number of content chunks;
* the decode rate: llama-server's own (``timings.predicted_per_second``) when it sends one, else the
  output tokens after the first over the time from the first content chunk to the last; None below two
  tokens or when that phase is too short to mean anything (chunks that arrive in one network read
  carry one arrival time, which made 88,000 tokens/s out of two tokens);
* response id and model as the server answered them, cached prompt tokens from ``cached_tokens`` or
  ``cache_n``, and llama-server's ``timings`` verbatim.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.errors import LLMError

# Below this, a decode phase measured from chunk arrivals says more about network reads than decoding.
MIN_DECODE_MS = 250.0


class InferenceStats(BaseModel):
    """What one completion cost, measured by the client and, where the server says, by the server."""

    ttft_ms: float = Field(
        description="Request sent to first content chunk (to the first chunk of any kind for an empty answer)."
    )
    total_ms: float = Field(description="Request sent to the end of the stream.")
    tokens_per_s: float | None = Field(
        description="Decode rate (llama-server's, else measured); None until it means something."
    )
    prompt_tokens: int | None = Field(description="Prompt tokens (cached ones included); None when unknown.")
    completion_tokens: int
    cache_tokens: int | None = Field(
        default=None, description="Prompt tokens the server read from its cache; None when it does not say."
    )
    inter_token_ms_mean: float | None = Field(description="Mean gap between content chunks; None if < 2.")
    inter_token_ms_p95: float | None
    finish_reason: str | None
    response_id: str | None = Field(default=None, description="The completion id the server answered.")
    response_model: str | None = Field(default=None, description="The model name the server answered.")
    server_timings: dict[str, float] | None = Field(description="llama-server's ``timings``, verbatim.")
    token_counts_from: Literal["usage", "timings", "chunks"]


DONE_SENTINEL = "[DONE]"


@dataclass(frozen=True)
class StreamChunk:
    """What one ``chat.completion.chunk`` carries for us."""

    content: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    response_id: str | None = None
    model: str | None = None
    done: bool = False


def _text_field(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


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
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            content_parts.append(delta["content"])
        if choice.get("finish_reason"):
            finish_reason = str(choice["finish_reason"])
    return StreamChunk(
        content="".join(content_parts),
        finish_reason=finish_reason,
        usage=obj.get("usage") if isinstance(obj.get("usage"), dict) else None,
        timings=obj.get("timings") if isinstance(obj.get("timings"), dict) else None,
        response_id=_text_field(obj, "id"),
        model=_text_field(obj, "model"),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def decode_tokens_per_s(tokens: int, first_ms: float | None, last_ms: float | None) -> float | None:
    """Tokens after the first per second between the first and the last token's arrival.

    None with fewer than two tokens or a decode phase shorter than MIN_DECODE_MS: chunks that arrive in
    one network read share an arrival time, so a short phase measures the network, not the model.
    """
    if tokens < 2 or first_ms is None or last_ms is None or last_ms - first_ms < MIN_DECODE_MS:
        return None
    return (tokens - 1) / ((last_ms - first_ms) / 1000)


def server_tokens_per_s(timings: dict[str, Any] | None) -> float | None:
    """llama-server's own decode rate from its ``timings``; None without at least two decoded tokens."""
    if not timings:
        return None
    predicted_n, predicted_ms = timings.get("predicted_n"), timings.get("predicted_ms")
    if not isinstance(predicted_n, int | float) or predicted_n < 2:
        return None
    rate = timings.get("predicted_per_second")
    if isinstance(rate, int | float) and math.isfinite(rate) and rate > 0:
        return float(rate)
    if isinstance(predicted_ms, int | float) and predicted_ms > 0:
        return predicted_n / (predicted_ms / 1000)
    return None


@dataclass
class StreamTally:
    """Accumulates a stream's chunks and arrival times (ms since the request was sent) into stats."""

    parts: list[str] = field(default_factory=list)
    token_times_ms: list[float] = field(default_factory=list)
    first_chunk_ms: float | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    response_id: str | None = None
    response_model: str | None = None
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
        # The first id and model win: every chunk of one completion repeats them.
        self.response_id = self.response_id or chunk.response_id
        self.response_model = self.response_model or chunk.model

    @property
    def finished(self) -> bool:
        """Whether the server said the answer is complete."""
        return self.saw_done or self.finish_reason is not None

    def live_tokens_per_s(self) -> float | None:
        """The decode rate so far, from chunk arrivals."""
        times = self.token_times_ms
        return decode_tokens_per_s(len(times), times[0] if times else None, times[-1] if times else None)

    def stats(self, total_ms: float) -> InferenceStats:
        """The stats of the stream, ended ``total_ms`` after the request was sent."""
        prompt_tokens, completion_tokens, source = _token_counts(self.usage, self.timings, len(self.parts))
        times = self.token_times_ms
        ttft = times[0] if times else (self.first_chunk_ms if self.first_chunk_ms is not None else total_ms)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        tokens_per_s = server_tokens_per_s(self.timings)
        if tokens_per_s is None:
            tokens_per_s = decode_tokens_per_s(
                completion_tokens, times[0] if times else None, times[-1] if times else None
            )
        return InferenceStats(
            ttft_ms=ttft,
            total_ms=total_ms,
            tokens_per_s=tokens_per_s,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cache_tokens=_cache_tokens(self.usage, self.timings),
            inter_token_ms_mean=sum(gaps) / len(gaps) if gaps else None,
            inter_token_ms_p95=percentile(gaps, 95),
            finish_reason=self.finish_reason,
            response_id=self.response_id,
            response_model=self.response_model,
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


def _cache_tokens(usage: dict[str, Any] | None, timings: dict[str, Any] | None) -> int | None:
    """Prompt tokens served from the server's cache: OpenAI's ``cached_tokens``, else llama-server's ``cache_n``."""
    details = (usage or {}).get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        return details["cached_tokens"]
    cache_n = (timings or {}).get("cache_n")
    return cache_n if isinstance(cache_n, int) else None
