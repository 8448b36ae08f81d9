from __future__ import annotations

from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.errors import PromptError, UnknownPromptError
from app.prompts.registry import PromptRegistry, example_context, prompt_sha256, render_prompt
from app.store.db import get_engine

PROMPT = """---
name: demo
description: A test prompt.
params:
  temperature: 0.3
---
{% block system %}Classify. Classes: {% for c in taxonomy %}{{ c.id }} {% endfor %}{% endblock %}
{% block user %}{{ namespace }}:
{% for line in log_lines %}{{ line }}
{% endfor %}{% endblock %}
"""


@pytest.fixture
def registry(tmp_path: Path) -> PromptRegistry:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "demo.j2").write_text(PROMPT)
    return PromptRegistry(prompts, get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))


def test_version_is_sha256_of_the_file_bytes(registry: PromptRegistry) -> None:
    version = registry.resolve("demo@latest")
    assert version.sha256 == prompt_sha256(PROMPT.encode())
    assert version.ref == f"demo@{version.sha256[:12]}"
    assert version.params == {"temperature": 0.3}


def test_old_versions_stay_resolvable_and_diffable_after_the_file_changes(registry: PromptRegistry) -> None:
    old = registry.resolve("demo")
    path = registry.prompts_dir / "demo.j2"
    path.write_text(PROMPT.replace("Classify.", "Classify carefully."))
    new = registry.resolve("demo@latest")
    assert new.sha256 != old.sha256
    again = registry.resolve(old.ref)
    assert again.template == PROMPT
    assert not again.is_current
    assert new.is_current
    diff = registry.diff(old.ref, new.ref)
    assert "-{% block system %}Classify. " in diff
    assert "+{% block system %}Classify carefully. " in diff
    assert [v.sha256 for v in registry.all_versions("demo")] == [old.sha256, new.sha256]
    rendered = render_prompt(again, example_context())
    assert rendered.system.startswith("Classify. Classes: oom_killed")


def test_render_fills_the_blocks(registry: PromptRegistry) -> None:
    rendered = render_prompt(registry.resolve("demo"), example_context(["[1] a", "[2] b"]))
    assert rendered.user == "payments:\n[1] a\n[2] b"
    assert rendered.messages()[0]["role"] == "system"


def test_undefined_variable_is_an_error_not_an_empty_string(registry: PromptRegistry) -> None:
    (registry.prompts_dir / "demo.j2").write_text(PROMPT.replace("{{ namespace }}", "{{ namespce }}"))
    with pytest.raises(PromptError, match="namespce"):
        render_prompt(registry.resolve("demo"), example_context())


def test_sandbox_blocks_attribute_escapes(registry: PromptRegistry) -> None:
    (registry.prompts_dir / "demo.j2").write_text(
        PROMPT.replace("{{ namespace }}", "{{ namespace.__class__.__mro__[1].__subclasses__() }}")
    )
    with pytest.raises(PromptError):
        render_prompt(registry.resolve("demo"), example_context())


def test_unknown_names_and_versions_say_what_exists(registry: PromptRegistry) -> None:
    with pytest.raises(UnknownPromptError) as excinfo:
        registry.resolve("nope@latest")
    assert "demo" in excinfo.value.user_message()
    with pytest.raises(UnknownPromptError, match="no version"):
        registry.resolve("demo@abcdef123456")
    with pytest.raises(UnknownPromptError, match="bad prompt version"):
        registry.resolve("demo@v2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter", "no front matter"),
        (
            "---\nname: Bad Name\n---\n{% block system %}{% endblock %}{% block user %}{% endblock %}",
            "lowercase",
        ),
        ("---\nname: x\n---\n{% block system %}{% endblock %}", "lacks block"),
        ("---\nname: x\n---\n{% block system %}{% if %}{% endblock %}", "syntax error"),
    ],
)
def test_broken_templates_are_rejected_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    prompts = tmp_path / "p"
    prompts.mkdir()
    (prompts / "x.j2").write_text(text)
    registry = PromptRegistry(prompts, get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with pytest.raises(PromptError, match=message):
        registry.sync()


def test_shipped_prompts_load_and_render(tmp_path: Path) -> None:
    registry = PromptRegistry(PROJECT_ROOT / "prompts", get_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    names = registry.names()
    assert {"rca-zero-shot", "rca-evidence-first"} <= set(names)
    for name in names:
        rendered = render_prompt(registry.resolve(name), example_context())
        assert "healthy" in rendered.system
        assert "[2] 10:00:05Z" in rendered.user
