"""The Models page: health, /props details, configuration and the latency probe of each endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.fakes import MODEL_NAME, FakeWorld, assert_no_exception, error_texts, metric, page


def test_shows_health_and_server_details(world: FakeWorld) -> None:
    at = page("models").run()
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    overview = at.dataframe[0].value
    assert list(overview["model"]) == [MODEL_NAME]
    assert list(overview["health"].iloc[0]) == ["up"]
    assert metric(at, "Health") == "up"
    assert metric(at, "Context per slot") == "8,192"
    assert metric(at, "Slots") == "4"
    details = dict(zip(at.dataframe[1].value["field"], at.dataframe[1].value["value"], strict=True))
    assert details["build"] == "b6000-test"
    assert details["GGUF file"] == "tiny-q4_k_m.gguf"
    assert details["quantization"] == "Q4_K_M"


def test_latency_probe_times_a_tiny_completion(world: FakeWorld) -> None:
    at = page("models").run()
    at.button(key=f"models.probe_button.{MODEL_NAME}").click().run()
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert metric(at, "Time to first token") != "—"
    assert metric(at, "Elapsed") != "—"
    assert world.chat_requests[-1]["max_tokens"] <= 8


def test_a_model_that_is_down_is_a_readable_message(world: FakeWorld) -> None:
    world.model = "down"
    at = page("models").run()
    assert_no_exception(at)
    assert metric(at, "Health") == "unreachable"
    assert any("Cannot reach the model server" in e and "Connection refused" in e for e in error_texts(at))
    at.button(key=f"models.probe_button.{MODEL_NAME}").click().run()
    assert_no_exception(at)
    assert any("could not connect" in e for e in error_texts(at)), error_texts(at)


def test_a_broken_models_file_is_a_readable_message(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: x\n", encoding="utf-8")
    monkeypatch.setenv("MODELS_FILE", str(bad))
    at = page("models").run()
    assert_no_exception(at)
    assert any("Configuration problem" in e and "base_url" in e for e in error_texts(at)), error_texts(at)


def test_weights_are_read_from_the_gguf_and_the_note_is_shown(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import yaml

    from app.llm.tiny_model import write_tiny_gguf

    gguf = write_tiny_gguf(tmp_path / "tiny-F16.gguf")
    models = tmp_path / "local.yaml"
    entry = {
        "name": MODEL_NAME,
        "base_url": "http://model.test:8080",
        "quantization": "F16",
        "context_length": 8192,
        "gguf_file": str(gguf),
        "note": "random weights: its answers are noise",
    }
    models.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    monkeypatch.setenv("MODELS_FILE", str(models))
    at = page("models").run()
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert at.dataframe[0].value["weights (from the GGUF)"].iloc[0].startswith("F16 x30 (")
    details = dict(zip(at.dataframe[1].value["field"], at.dataframe[1].value["value"], strict=True))
    assert details["weights (from the GGUF)"].startswith("F16 x30 (")
    assert details["derived from"] == "—"
    # Captions are Markdown with the note escaped: what shows is the note itself.
    assert "random weights: its answers are noise" in [c.value.replace("\\", "") for c in at.caption]


def test_a_gguf_that_is_not_on_this_machine_says_so(world: FakeWorld) -> None:
    at = page("models").run()
    details = dict(zip(at.dataframe[1].value["field"], at.dataframe[1].value["value"], strict=True))
    assert details["weights (from the GGUF)"] == "— (the file is not on this machine)"
