"""The OpenTelemetry GenAI conventions for one streamed chat call: span attributes and client metrics.

``ChatTelemetry`` is told what was asked, each chunk's arrival and how the call ended; it sets the
inference span's ``gen_ai.*`` attributes (names from ``opentelemetry-semantic-conventions``) and records
``gen_ai.client.operation.duration`` (failed calls too, with ``error.type``), ``gen_ai.client.token.usage``
(input and output), time to first chunk and time per output chunk (one observation per chunk, as it
arrives, so a long CPU answer shows up while it streams).
"""

from __future__ import annotations

import time

import httpx
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import Span, Status, StatusCode

from app.llm.client import InferenceStats, SamplingParams
from app.telemetry import metrics

# The package marks the GenAI names deprecated only because the conventions moved to their own
# repository (semantic-conventions-genai), which publishes no Python package yet; the names are unchanged.
OPERATION_CHAT = gen_ai.GenAiOperationNameValues.CHAT.value  # ty: ignore[deprecated]
OUTPUT_JSON = gen_ai.GenAiOutputTypeValues.JSON.value  # ty: ignore[deprecated]
OUTPUT_TEXT = gen_ai.GenAiOutputTypeValues.TEXT.value  # ty: ignore[deprecated]
# Not a well-known provider of the semconv, which allows a custom value; every configured endpoint is
# expected to speak llama.cpp's OpenAI-compatible dialect.
PROVIDER_LLAMA_CPP = "llama.cpp"


class ChatTelemetry:
    """Span attributes and GenAI client metrics of one streamed chat completion."""

    def __init__(
        self,
        span: Span,
        *,
        request_model: str,
        base_url: str,
        params: SamplingParams,
        structured_output: bool,
        quantization: str,
        prompt_version: str,
        provider: str = PROVIDER_LLAMA_CPP,
    ) -> None:
        self.span = span
        self._started = time.perf_counter()
        self._last_chunk_ms: float | None = None
        url = httpx.URL(base_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        self._labels = {
            metrics.ATTR_OPERATION: OPERATION_CHAT,
            metrics.ATTR_PROVIDER: provider,
            metrics.ATTR_REQUEST_MODEL: request_model,
            metrics.ATTR_RESPONSE_MODEL: "",
            metrics.ATTR_SERVER_ADDRESS: url.host,
            metrics.ATTR_SERVER_PORT: str(port),
            metrics.ATTR_QUANTIZATION: quantization,
            metrics.ATTR_PROMPT_VERSION: prompt_version,
        }
        span.set_attributes(
            {
                gen_ai.GEN_AI_OPERATION_NAME: OPERATION_CHAT,
                gen_ai.GEN_AI_PROVIDER_NAME: provider,
                gen_ai.GEN_AI_REQUEST_MODEL: request_model,
                gen_ai.GEN_AI_REQUEST_STREAM: True,
                gen_ai.GEN_AI_OUTPUT_TYPE: OUTPUT_JSON if structured_output else OUTPUT_TEXT,
                gen_ai.GEN_AI_REQUEST_TEMPERATURE: params.temperature,
                gen_ai.GEN_AI_REQUEST_TOP_P: params.top_p,
                gen_ai.GEN_AI_REQUEST_MAX_TOKENS: params.max_tokens,
                server_attributes.SERVER_ADDRESS: url.host,
                server_attributes.SERVER_PORT: port,
                metrics.ATTR_QUANTIZATION: quantization,
                metrics.ATTR_PROMPT_VERSION: prompt_version,
            }
        )
        if params.seed is not None:
            span.set_attribute(gen_ai.GEN_AI_REQUEST_SEED, params.seed)
        if params.stop:
            span.set_attribute(gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES, list(params.stop))

    def chunk(self, elapsed_ms: float) -> None:
        """A content chunk arrived ``elapsed_ms`` after the request was sent: record it now."""
        if self._last_chunk_ms is None:
            metrics.TIME_TO_FIRST_CHUNK.labels(**self._chunk_labels()).observe(elapsed_ms / 1000)
        else:
            gap_ms = elapsed_ms - self._last_chunk_ms
            metrics.TIME_PER_OUTPUT_CHUNK.labels(**self._chunk_labels()).observe(gap_ms / 1000)
        self._last_chunk_ms = elapsed_ms

    def succeeded(self, stats: InferenceStats) -> None:
        """The stream ended with an answer: response attributes on the span, every metric recorded."""
        span = self.span
        if stats.response_model:
            span.set_attribute(gen_ai.GEN_AI_RESPONSE_MODEL, stats.response_model)
        if stats.response_id:
            span.set_attribute(gen_ai.GEN_AI_RESPONSE_ID, stats.response_id)
        if stats.prompt_tokens is not None:
            span.set_attribute(gen_ai.GEN_AI_USAGE_INPUT_TOKENS, stats.prompt_tokens)
        span.set_attribute(gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, stats.completion_tokens)
        if stats.cache_tokens is not None:
            span.set_attribute(gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, stats.cache_tokens)
        span.set_attribute(gen_ai.GEN_AI_RESPONSE_FINISH_REASONS, [stats.finish_reason or "unknown"])
        span.set_attribute(gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, stats.ttft_ms / 1000)
        if stats.tokens_per_s is not None:
            span.set_attribute("logtriage.tokens_per_s", stats.tokens_per_s)
        if self._last_chunk_ms is None:
            # An empty answer: its first chunk (of any kind) is what the client waited for.
            metrics.TIME_TO_FIRST_CHUNK.labels(**self._chunk_labels()).observe(stats.ttft_ms / 1000)
        labels = {**self._labels, metrics.ATTR_RESPONSE_MODEL: stats.response_model or ""}
        if stats.prompt_tokens is not None:
            self._record_tokens(labels, metrics.TOKEN_INPUT, stats.prompt_tokens)
        self._record_tokens(labels, metrics.TOKEN_OUTPUT, stats.completion_tokens)
        self._record_duration(labels, stats.total_ms / 1000, error_type="")

    def failed(self, error_type: str, message: str) -> None:
        """The call ended in an error (or a cancel): error status, duration with ``error.type``."""
        self.span.set_status(Status(StatusCode.ERROR, message))
        self.span.set_attribute(error_attributes.ERROR_TYPE, error_type)
        self._record_duration(dict(self._labels), time.perf_counter() - self._started, error_type=error_type)

    def _chunk_labels(self) -> dict[str, str]:
        chunk_attributes = {k: v for k, v in self._labels.items() if k != metrics.ATTR_RESPONSE_MODEL}
        return _prometheus_labels(chunk_attributes)

    @staticmethod
    def _record_tokens(labels: dict[str, str], token_type: str, count: int) -> None:
        values = _prometheus_labels({**labels, metrics.ATTR_TOKEN_TYPE: token_type})
        metrics.TOKEN_USAGE.labels(**values).observe(count)

    @staticmethod
    def _record_duration(labels: dict[str, str], seconds: float, *, error_type: str) -> None:
        values = _prometheus_labels({**labels, metrics.ATTR_ERROR_TYPE: error_type})
        metrics.OPERATION_DURATION.labels(**values).observe(seconds)


def _prometheus_labels(attributes: dict[str, str]) -> dict[str, str]:
    return {metrics.prometheus_label(key): value for key, value in attributes.items()}
