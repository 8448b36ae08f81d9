"""Health of model endpoints: /health, /v1/models and llama-server's /props."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.llm.health import check_health, props_summary
from app.llm.models import ModelConfig, load_models
from app.llm.server import LocalModelServer
from tests.fixtures.llama import FakeOpenAIServer, free_port


def test_health_of_a_server_without_props(
    fake_openai_server: FakeOpenAIServer, llm_http: httpx.Client
) -> None:
    model = ModelConfig(
        name="lcp", base_url=fake_openai_server.base_url, quantization="Q8_0", context_length=4096
    )
    health = check_health(model, llm_http)
    assert health.ok
    assert (health.name, health.quantization, health.context_length) == ("lcp", "Q8_0", 4096)
    assert health.n_ctx is None
    assert health.total_slots is None


def test_health_of_a_model_that_is_down(llm_http: httpx.Client) -> None:
    model = ModelConfig(
        name="down", base_url=f"http://127.0.0.1:{free_port()}", quantization="Q4", context_length=1
    )
    health = check_health(model, llm_http)
    assert not health.ok
    assert health.status == "unreachable"


def test_props_summary_reads_llama_server_props() -> None:
    props = {
        "default_generation_settings": {"n_ctx": 8192},
        "total_slots": 4,
        "model_path": "/m/tiny.gguf",
        "build_info": "b1-0c1e570",
    }
    assert props_summary(props) == {
        "n_ctx": 8192, "total_slots": 4, "build_info": "b1-0c1e570", "model_path": "/m/tiny.gguf"
    }  # fmt: skip
    assert props_summary(None) == {}


@pytest.mark.llama
def test_health_of_llama_server_summarises_props(
    llama_models_file: Path, llama_server: LocalModelServer, llm_http: httpx.Client
) -> None:
    (model,) = load_models(llama_models_file)
    health = check_health(model, llm_http)
    assert health.ok
    assert health.n_ctx == model.context_length
    assert health.total_slots == 4
    assert health.model_path is not None
    assert health.model_path.endswith(llama_server.model_path.name)
    assert health.build_info
