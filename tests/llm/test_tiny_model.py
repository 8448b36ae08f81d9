"""The tiny GGUF model: deterministic, a real tokenizer and chat template, genuinely K-quantized."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gguf
import pytest

from app.llm.tiny_model import N_EMBD, N_FF, make_tiny_model, write_tiny_gguf
from tests.fixtures.llama import LlamaBinaries


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def field_value(reader: gguf.GGUFReader, key: str) -> object:
    return reader.fields[key].contents()


def test_same_seed_same_file_other_seed_other_weights(tmp_path: Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=0)
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=0)
    c = write_tiny_gguf(tmp_path / "c.gguf", seed=1)
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)


def test_gguf_is_a_llama_with_byte_fallback_vocab_and_chat_template(tmp_path: Path) -> None:
    reader = gguf.GGUFReader(write_tiny_gguf(tmp_path / "tiny.gguf"))
    assert field_value(reader, "general.architecture") == "llama"
    assert field_value(reader, "tokenizer.ggml.model") == "llama"
    tokens = field_value(reader, "tokenizer.ggml.tokens")
    assert isinstance(tokens, list)
    assert {f"<0x{b:02X}>" for b in range(256)} <= set(tokens)
    assert len(tokens) == len(set(tokens))
    assert "<|im_start|>" in str(field_value(reader, "tokenizer.chat_template"))
    eos = field_value(reader, "tokenizer.ggml.eos_token_id")
    assert isinstance(eos, int)
    assert tokens[eos] == "<|im_end|>"
    assert field_value(reader, "llama.embedding_length") == N_EMBD
    assert N_EMBD % 256 == 0
    assert N_FF % 256 == 0


def test_without_llama_quantize_only_f16_is_made(tmp_path: Path) -> None:
    paths = make_tiny_model(tmp_path, None)
    assert set(paths) == {"F16"}
    assert paths["F16"].exists()


@pytest.mark.llama
def test_quantized_files_use_the_quantization_they_are_named_after(tiny_models: dict[str, Path]) -> None:
    def weight_types(path: Path) -> set[str]:
        reader = gguf.GGUFReader(path)
        return {t.tensor_type.name for t in reader.tensors if len(t.shape) == 2}

    assert set(tiny_models) == {"F16", "Q8_0", "Q4_K_M"}
    assert weight_types(tiny_models["Q8_0"]) == {"Q8_0"}
    # Q4_K_M keeps a few tensors (output, some attn_v/ffn_down) at Q6_K; nothing falls back to non-K types.
    assert weight_types(tiny_models["Q4_K_M"]) == {"Q4_K", "Q6_K"}
    assert tiny_models["Q4_K_M"].stat().st_size < tiny_models["Q8_0"].stat().st_size


@pytest.mark.llama
def test_existing_models_are_reused(tiny_models: dict[str, Path], llama_binaries: LlamaBinaries) -> None:
    before = {name: path.stat().st_mtime_ns for name, path in tiny_models.items()}
    again = make_tiny_model(tiny_models["F16"].parent, llama_binaries.quantize)
    assert again == tiny_models
    assert {name: path.stat().st_mtime_ns for name, path in again.items()} == before
