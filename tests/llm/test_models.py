"""The models file: loading, the embedded default (the SmolLM2 ladder) and lookup."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.errors import ConfigError, UnknownModelError
from app.llm import smollm2
from app.llm.client import LLMClient
from app.llm.models import (
    default_local_models,
    default_model_name,
    find_model,
    get_models,
    load_models,
)

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


LADDER_NAMES = ["smollm2-135m-q4_1", "smollm2-135m-q8_0", "smollm2-135m-q5_0", "smollm2-135m-q4_0"]


def test_default_models_are_the_smollm2_ladder_one_local_server_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODEL_PORT", "9100")
    monkeypatch.setenv("LOCAL_MODEL_CONTEXT", "4096")
    models = default_local_models(Settings())
    assert [m.name for m in models] == LADDER_NAMES
    assert [m.base_url for m in models] == [f"http://127.0.0.1:{9100 + i}" for i in range(4)]
    assert [m.quantization for m in models] == ["Q4_1", "Q8_0", "Q5_0", "Q4_0"]
    assert {m.model_family for m in models} == {"smollm2-135m-instruct"}
    assert all(m.context_length == 4096 for m in models)
    release, *derived = models
    assert release.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert release.derived_from is None
    # Every other rung says where it comes from, and that it cannot beat the release.
    for model in derived:
        assert model.derived_from == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert model.gguf_file == smollm2.gguf_file_name(model.quantization)
        assert model.note is not None
        assert "cannot be more accurate than Q4_1" in model.note


def test_slot_context_never_exceeds_what_smollm2_was_trained_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_MODEL_CONTEXT", "8192")
    assert {m.context_length for m in default_local_models(Settings())} == {smollm2.CONTEXT_LENGTH}


def test_get_models_reads_the_file_when_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert [m.name for m in get_models(Settings())] == LADDER_NAMES
    monkeypatch.setenv("MODELS_FILE", str(write(tmp_path, EXAMPLE)))
    assert [m.name for m in get_models(Settings())] == [
        "llama-3.2-3b-q4_k_m",
        "qwen-vllm",
        "llama-cpp-python",
    ]


def test_the_default_model_is_the_q4_1_release_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    models = default_local_models(Settings())
    assert default_model_name(models, Settings()) == "smollm2-135m-q4_1"
    monkeypatch.setenv("DEFAULT_MODEL", "smollm2-135m-q8_0")
    assert default_model_name(models, Settings()) == "smollm2-135m-q8_0"
    monkeypatch.setenv("DEFAULT_MODEL", "gpt-9")
    with pytest.raises(UnknownModelError, match="DEFAULT_MODEL='gpt-9' is not a known model"):
        default_model_name(models, Settings())
    assert default_model_name([], Settings(default_model=None)) is None


def test_unknown_model_lists_the_known_names() -> None:
    models = default_local_models(Settings())
    assert find_model(models, "smollm2-135m-q8_0").quantization == "Q8_0"
    with pytest.raises(
        UnknownModelError, match="'llama-70b'; known models: smollm2-135m-q4_1, smollm2-135m-q8_0"
    ):
        find_model(models, "llama-70b")


def test_derived_from_and_note_come_from_the_models_file(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        "    api_key_env: null\n",
        "    api_key_env: null\n    derived_from: Llama-3.2-3B-Instruct-F16.gguf\n    note: quantized here\n",
        1,
    )
    llama = load_models(write(tmp_path, text))[0]
    assert (llama.derived_from, llama.note) == ("Llama-3.2-3B-Instruct-F16.gguf", "quantized here")
