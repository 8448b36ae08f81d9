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
