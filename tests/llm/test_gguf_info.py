"""Reading what a GGUF file really holds, and finding a model's file on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ModelServerError
from app.llm.gguf_info import find_local_gguf, inspect_gguf, summarize_local_gguf
from app.llm.tiny_model import N_EMBD, N_LAYER, write_tiny_gguf


@pytest.fixture(scope="module")
def tiny_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-F16.gguf")


def test_tensor_types_are_read_from_the_file(tiny_f16: Path) -> None:
    summary = inspect_gguf(tiny_f16)
    assert summary.architecture == "llama"
    assert summary.context_length == 8192
    # 9 matrices per layer plus embedding and output, all written as F16; the norms are F32 vectors.
    assert summary.weight_types == {"F16": N_LAYER * 7 + 2}
    assert summary.other_types == {"F32": N_LAYER * 2 + 1}
    assert summary.dominant_type == "F16"
    assert summary.size_bytes == tiny_f16.stat().st_size
    assert summary.parameters > N_EMBD * N_EMBD
    assert summary.describe().startswith(f"F16 x{N_LAYER * 7 + 2} (")
    assert summary.describe().endswith("; vectors F32")


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelServerError, match=f"cannot read GGUF file {bogus}"):
        inspect_gguf(bogus)
    assert summarize_local_gguf(str(bogus), []) is None


def test_a_models_gguf_is_found_by_name_in_the_local_folders_or_by_the_servers_path(
    tiny_f16: Path, tmp_path: Path
) -> None:
    folder = tiny_f16.parent
    assert find_local_gguf(tiny_f16.name, [tmp_path, folder]) == tiny_f16
    assert find_local_gguf(str(tiny_f16), []) == tiny_f16
    assert find_local_gguf("elsewhere.gguf", [tmp_path], server_model_path=str(tiny_f16)) == tiny_f16
    assert find_local_gguf("elsewhere.gguf", [tmp_path]) is None
    assert find_local_gguf(None, [folder]) is None
    summary = summarize_local_gguf(tiny_f16.name, [folder])
    assert summary is not None
    assert summary.path == str(tiny_f16)
