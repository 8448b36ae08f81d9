"""The Prompts page: versions with hash and front matter, template, a rendered example, and diffs."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from app.prompts.registry import prompt_sha256
from tests.prompts.test_registry import PROMPT
from tests.ui.fakes import FakeWorld, assert_no_exception, error_texts, page


@pytest.fixture
def prompts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: FakeWorld) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "demo.j2").write_text(PROMPT, encoding="utf-8")
    monkeypatch.setenv("PROMPTS_DIR", str(folder))
    return folder


def test_shows_versions_template_and_a_rendered_example(prompts_dir: Path) -> None:
    at = page("prompts").run()
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    table = at.dataframe[0].value
    assert list(table["prompt"]) == ["demo"]
    assert list(table["sha256"]) == [prompt_sha256(PROMPT.encode())]
    assert bool(table["current"].iloc[0])
    assert at.json[0].value  # the front matter
    codes = [c.value for c in at.code]
    assert any("{% block system %}Classify." in c for c in codes)  # the template
    assert any(c.startswith("Classify. Classes: oom_killed") for c in codes)  # the rendered system block
    assert any(c.startswith("payments:\n[1] ") for c in codes)  # the rendered user block
    assert any("a diff needs two" in i.value for i in at.info)


def test_diffs_two_versions_after_the_file_changes(prompts_dir: Path) -> None:
    page("prompts").run()  # records the first version
    (prompts_dir / "demo.j2").write_text(PROMPT.replace("Classify.", "Classify carefully."), encoding="utf-8")
    st.cache_data.clear()
    at = page("prompts").run()
    assert_no_exception(at)
    assert len(at.dataframe[0].value) == 2
    diffs = [c for c in at.code if c.language == "diff"]
    assert diffs
    assert "-{% block system %}Classify. " in diffs[0].value
    assert "+{% block system %}Classify carefully. " in diffs[0].value


def test_a_missing_prompts_folder_is_a_readable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world: FakeWorld
) -> None:
    monkeypatch.setenv("PROMPTS_DIR", str(tmp_path / "nowhere"))
    at = page("prompts").run()
    assert_no_exception(at)
    assert any("The prompt failed" in e and "does not exist" in e for e in error_texts(at)), error_texts(at)
