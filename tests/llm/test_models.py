"""The models file: loading, defaults, lookup and health."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.errors import ConfigError, UnknownModelError
from app.llm.client import LLMClient
from app.llm.models import (
    ModelConfig,
    check_health,
    default_local_models,
    find_model,
    get_models,
    load_models,
    props_summary,
)
from app.llm.server import LocalModelServer
from tests.fixtures.llama import FakeOpenAIServer, free_port

EXAMPLE = """\
models:
  - name: llama-3.2-3b-q4_k_m
    base_url: http://llama-q4km.logtriage.svc:8080
    quantization: Q4_K_M
    context_length: 8192
    gguf_file: Llama-3.2-3B-Instruct-Q4_K_M.gguf
    family: llama-3.2-3b
    api_key_env: null
  - name: qwen-vllm
    base_url: http://vllm.logtriage.svc:8000/
    quantization: awq
    context_length: 32768
    served_model_name: Qwen/Qwen2.5-3B-Instruct-AWQ
    api_key_env: VLLM_KEY
  - name: llama-cpp-python
    base_url: http://lcp.logtriage.svc:8000
    quantization: q8_0
    context_length: 4096
    response_format_style: json_object
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_models_file_loads_with_defaults_and_normalisation(tmp_path: Path) -> None:
    llama, vllm, lcp = load_models(write(tmp_path, EXAMPLE))
    assert llama.name == "llama-3.2-3b-q4_k_m"
    assert llama.model_family == "llama-3.2-3b"
    assert llama.response_format_style == "json_schema"
    assert vllm.base_url == "http://vllm.logtriage.svc:8000"  # trailing slash dropped
    assert vllm.quantization == "AWQ"
    assert vllm.model_family == "qwen-vllm"  # a family of one
    assert lcp.response_format_style == "json_object"


def test_client_for_a_model_sends_its_served_name_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, llm_http: httpx.Client
) -> None:
    monkeypatch.setenv("VLLM_KEY", "k-123")
    vllm = load_models(write(tmp_path, EXAMPLE))[1]
    client = LLMClient.for_model(vllm, client=llm_http, settings=Settings())
    assert client.model == "Qwen/Qwen2.5-3B-Instruct-AWQ"
    assert vllm.api_key() == "k-123"
    monkeypatch.delenv("VLLM_KEY")
    assert vllm.api_key() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [\n  - name: x\n    base_url: [", r"not valid YAML at line \d"),
        ("models: []\n", "models: List should have at least 1 item"),
        ("- just a list\n", "file: Input should be a valid dictionary"),
        (
            "models:\n  - name: a\n    base_url: http://h:1\n    quantization: Q4_K_M\n    context_length: 0\n",
            "models.0.context_length: Input should be greater than 0",
        ),
        (
            "models:\n  - name: a\n    base_url: http://h:1\n    quantization: Q4\n    context_length: 1\n"
            "    contxt: 2\n",
            "models.0.contxt: Extra inputs are not permitted",
        ),
        (
            "models:\n  - name: a\n    base_url: http://h:1/v1\n    quantization: Q4\n    context_length: 1\n",
            "models.0.base_url: Value error, leave out /v1",
        ),
        (
            "models:\n  - name: a\n    base_url: h:1\n    quantization: Q4\n    context_length: 1\n",
            "models.0.base_url: Value error, must be an http",
        ),
        (
            "models:\n  - name: a\n    base_url: http://h:1\n    quantization: Q4\n    context_length: 1\n"
            "  - name: a\n    base_url: http://h:2\n    quantization: Q8\n    context_length: 1\n",
            "model name 'a' appears more than once",
        ),
    ],
)
def test_bad_models_file_names_the_file_and_the_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_models(path)
    assert str(path) in str(caught.value)


def test_missing_models_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read models file"):
        load_models(tmp_path / "nope.yaml")


def test_default_models_are_one_local_server_per_quantization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODEL_PORT", "9100")
    q4, q8 = default_local_models(Settings())
    assert (q4.name, q4.quantization, q4.base_url) == ("tiny-q4_k_m", "Q4_K_M", "http://127.0.0.1:9100")
    assert (q8.name, q8.quantization, q8.base_url) == ("tiny-q8_0", "Q8_0", "http://127.0.0.1:9101")
    assert q4.model_family == q8.model_family


def test_get_models_reads_the_file_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [m.name for m in get_models(Settings())] == ["tiny-q4_k_m", "tiny-q8_0"]
    monkeypatch.setenv("MODELS_FILE", str(write(tmp_path, EXAMPLE)))
    assert [m.name for m in get_models(Settings())] == [
        "llama-3.2-3b-q4_k_m",
        "qwen-vllm",
        "llama-cpp-python",
    ]


def test_unknown_model_lists_the_known_names() -> None:
    models = default_local_models(Settings())
    assert find_model(models, "tiny-q8_0").quantization == "Q8_0"
    with pytest.raises(UnknownModelError, match="'llama-70b'; known models: tiny-q4_k_m, tiny-q8_0"):
        find_model(models, "llama-70b")


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
