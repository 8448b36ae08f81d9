"""The inference span and the GenAI client metrics of a real streamed call, as an OTLP receiver and a scrape see them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from app.config import Settings
from app.errors import InferenceCancelled, LLMConnectError
from app.llm.client import DoneEvent, TokenEvent
from app.llm.models import ModelConfig
from app.llm.server import LocalModelServer
from app.logs.demo import DemoLogSource
from app.logs.logql import LogFilter
from app.prompts.registry import PromptRegistry
from app.store.db import get_engine
from app.telemetry import metrics
from app.triage import PreparedPrompt, TriageService
from tests.fixtures.llama import FakeOpenAIServer, free_port
from tests.fixtures.otlp import OTLPReceiver

NOW = datetime.now(UTC)


@pytest.fixture
def traced(otlp_receiver: OTLPReceiver) -> Iterator[TracerProvider]:
    """A tracer provider exporting every span at once over OTLP/HTTP to the receiver."""
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_receiver.endpoint}/v1/traces"))
    )
    yield provider
    provider.shutdown()


def service_for(model: ModelConfig, tmp_path: Path, provider: TracerProvider) -> TriageService:
    settings = Settings(llm_timeout_seconds=60.0)
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    service = TriageService(
        settings=settings,
        log_source=DemoLogSource(now=lambda: NOW),
        models=[model],
        registry=PromptRegistry(settings.prompts_dir, engine),
        engine=engine,
        http_client=httpx.Client(timeout=httpx.Timeout(60.0)),
    )
    service._tracer = provider.get_tracer("test")
    return service


def prepared_for(service: TriageService, model: ModelConfig, **params: object) -> PreparedPrompt:
    logs = service.fetch_logs(LogFilter(namespace="payments"), NOW - timedelta(hours=1), NOW, 500)
    prepared = service.prepare(
        logs.entries,
        namespace="payments",
        start=NOW - timedelta(hours=1),
        end=NOW,
        version=service.registry.resolve("rca-evidence-first@latest"),
        model=model,
    )
    return prepared.model_copy(update={"params": prepared.params.model_copy(update=params)})


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def call_labels(
    model: ModelConfig, prompt_version: str, *, response_model: str | None = None
) -> dict[str, str]:
    """The labels the GenAI metrics of a call to ``model`` carry (no response model: the chunk metrics')."""
    labels = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "llama.cpp",
        "gen_ai_request_model": model.name,
        "server_address": "127.0.0.1",
        "server_port": str(httpx.URL(model.base_url).port),
        "logtriage_model_quantization": model.quantization,
        "logtriage_prompt_version": prompt_version,
    }
    return labels if response_model is None else {**labels, "gen_ai_response_model": response_model}


def fake_model(name: str, server: FakeOpenAIServer) -> ModelConfig:
    """A model served by the llama-cpp-python stand-in."""
    return ModelConfig(
        name=name,
        base_url=server.base_url,
        quantization="Q8_0",
        context_length=8192,
        response_format_style="json_object",
    )


@pytest.mark.llama
def test_the_inference_span_carries_the_genai_attributes(
    llama_server: LocalModelServer, tmp_path: Path, traced: TracerProvider, otlp_receiver: OTLPReceiver
) -> None:
    model = ModelConfig(
        name="tiny-q4_k_m", base_url=llama_server.base_url, quantization="Q4_K_M", context_length=8192
    )
    service = service_for(model, tmp_path, traced)
    prepared = prepared_for(service, model, seed=11, max_tokens=64, temperature=0.0)
    events = list(service.infer(service.llm_client(model), model, prepared, None))
    stats = events[-1].stats if isinstance(events[-1], DoneEvent) else None
    assert stats is not None

    (chat,) = otlp_receiver.by_name("chat tiny-q4_k_m")
    attrs = chat.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "llama.cpp"
    assert attrs["gen_ai.request.model"] == "tiny-q4_k_m"
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.output.type"] == "json"
    assert attrs["gen_ai.request.seed"] == 11
    assert attrs["gen_ai.request.max_tokens"] == 64
    # What the server answered, not our alias: llama-server names the model it loaded.
    assert attrs["gen_ai.response.model"] == stats.response_model
    assert attrs["gen_ai.response.id"] == stats.response_id
    assert str(attrs["gen_ai.response.id"]).startswith("chatcmpl-")
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == stats.cache_tokens
    assert attrs["gen_ai.usage.input_tokens"] == stats.prompt_tokens
    assert attrs["gen_ai.usage.output_tokens"] == stats.completion_tokens
    assert attrs["gen_ai.response.finish_reasons"] in (["stop"], ["length"])
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(stats.ttft_ms / 1000)
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == llama_server.port
    assert attrs["logtriage.model.quantization"] == "Q4_K_M"
    assert "error.type" not in attrs

    # The same request again reads the prompt from llama-server's cache, and the span says so.
    list(service.infer(service.llm_client(model), model, prepared, None))
    second = otlp_receiver.by_name("chat tiny-q4_k_m")[-1].attributes
    assert second["gen_ai.usage.cache_read.input_tokens"] > 0


def test_metrics_of_a_streamed_call_one_observation_per_chunk(
    fake_openai_server: FakeOpenAIServer, tmp_path: Path, traced: TracerProvider, otlp_receiver: OTLPReceiver
) -> None:
    fake_openai_server.script.tokens = ['{"a"', ": ", "1", "}"]
    fake_openai_server.script.send_usage = True
    model = fake_model("metrics-probe", fake_openai_server)
    service = service_for(model, tmp_path, traced)
    prepared = prepared_for(service, model)
    call = call_labels(model, prepared.version.ref, response_model="fake-model")
    chunk_call = call_labels(model, prepared.version.ref)
    stream = service.infer(service.llm_client(model), model, prepared, None)
    first = next(stream)
    assert isinstance(first, TokenEvent)
    # Recorded as the chunk arrives, not when the answer is complete.
    assert sample("gen_ai_client_operation_time_to_first_chunk_seconds_count", **chunk_call) == 1
    events = [first, *stream]
    assert sum(isinstance(e, TokenEvent) for e in events) == 4

    assert sample("gen_ai_client_operation_duration_seconds_count", **call, error_type="") == 1
    assert sample("gen_ai_client_operation_time_to_first_chunk_seconds_count", **chunk_call) == 1
    assert sample("gen_ai_client_operation_time_per_output_chunk_seconds_count", **chunk_call) == 3  # 2-4
    assert sample("gen_ai_client_token_usage_sum", **call, gen_ai_token_type="input") == 17
    assert sample("gen_ai_client_token_usage_sum", **call, gen_ai_token_type="output") == 4
    (chat,) = otlp_receiver.by_name("chat metrics-probe")
    assert "gen_ai.request.seed" not in chat.attributes  # none was sent
    assert chat.attributes["gen_ai.response.model"] == "fake-model"
    assert chat.attributes["gen_ai.response.id"] == "chatcmpl-fake0001"


def test_a_failed_call_is_measured_with_its_error_type(
    tmp_path: Path, traced: TracerProvider, otlp_receiver: OTLPReceiver
) -> None:
    model = ModelConfig(
        name="down-model",
        base_url=f"http://127.0.0.1:{free_port()}",
        quantization="Q4_K_M",
        context_length=8192,
    )
    service = service_for(model, tmp_path, traced)
    prepared = prepared_for(service, model)
    with pytest.raises(LLMConnectError):
        list(service.infer(service.llm_client(model), model, prepared, None))
    call = call_labels(model, prepared.version.ref, response_model="")
    assert sample("gen_ai_client_operation_duration_seconds_count", **call, error_type="llm_connect") == 1
    assert sample("gen_ai_client_token_usage_count", **call, gen_ai_token_type="output") == 0
    (chat,) = otlp_receiver.by_name("chat down-model")
    assert chat.attributes["error.type"] == "llm_connect"
    assert "gen_ai.response.id" not in chat.attributes


def test_a_cancelled_call_keeps_its_chunks_and_says_cancelled(
    fake_openai_server: FakeOpenAIServer, tmp_path: Path, traced: TracerProvider, otlp_receiver: OTLPReceiver
) -> None:
    fake_openai_server.script.tokens = ["{", '"a"', ":", "1", "}"]
    fake_openai_server.script.hang_after = 3  # three chunks, then the server stalls
    model = fake_model("cancel-probe", fake_openai_server)
    service = service_for(model, tmp_path, traced)
    prepared = prepared_for(service, model)
    cancel = threading.Event()
    chunk_call = call_labels(model, prepared.version.ref)
    seen: list[TokenEvent | DoneEvent] = []

    def drain() -> None:
        for event in service.infer(service.llm_client(model), model, prepared, cancel):
            seen.append(event)
            if len(seen) == 3:
                cancel.set()  # the user presses Cancel while the server stalls

    with pytest.raises(InferenceCancelled):
        drain()
    assert len(seen) == 3
    assert sample("gen_ai_client_operation_time_to_first_chunk_seconds_count", **chunk_call) == 1
    assert sample("gen_ai_client_operation_time_per_output_chunk_seconds_count", **chunk_call) == 2
    duration = {**chunk_call, "gen_ai_response_model": "", "error_type": "cancelled"}
    assert sample("gen_ai_client_operation_duration_seconds_count", **duration) == 1
    (chat,) = otlp_receiver.by_name("chat cancel-probe")
    assert chat.attributes["error.type"] == "cancelled"
