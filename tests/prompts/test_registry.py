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


# --- worked examples in the front matter ---------------------------------------------------------------------

FEW_SHOT = """---
name: few
description: With one worked example.
params:
  max_tokens: 64
examples:
  - logs:
      - "[1] 10:00:00Z app-a-1 ERROR boom"
      - "[2] 10:00:01Z app-a-1 WARN Back-off restarting failed container"
    answer:
      root_cause: application_exception
      confidence: 0.7
      evidence: [1, 2]
      summary: "app-a raised an exception and restarted."
---
{% block system %}Examples:{% for e in examples %}
{% for line in e.logs %}{{ line }}
{% endfor %}Answer: {{ e.answer }}{% endfor %}{% endblock %}
{% block user %}{{ namespace }}{% endblock %}
"""


def test_worked_examples_live_in_the_front_matter_and_render(registry: PromptRegistry) -> None:
    (registry.prompts_dir / "few.j2").write_text(FEW_SHOT)
    version = registry.resolve("few")
    (example,) = version.examples
    assert example.logs[0] == "[1] 10:00:00Z app-a-1 ERROR boom"
    assert example.answer.root_cause == "application_exception"
    rendered = render_prompt(version, example_context())
    assert rendered.system.endswith(
        'Answer: {"root_cause": "application_exception", "confidence": 0.7, "evidence": [1, 2], '
        '"summary": "app-a raised an exception and restarted."}'
    )
    assert registry.resolve("demo").examples == []  # no examples: a zero-shot prompt
    # A stored old version still knows its examples after the file changed.
    (registry.prompts_dir / "few.j2").write_text(FEW_SHOT.replace("boom", "bang"))
    assert registry.resolve(version.ref).examples == [example]


def test_an_example_citing_lines_it_does_not_have_is_refused(registry: PromptRegistry) -> None:
    (registry.prompts_dir / "few.j2").write_text(FEW_SHOT.replace("evidence: [1, 2]", "evidence: [1, 7]"))
    with pytest.raises(PromptError, match=r"cites line\(s\) \[7\]"):
        registry.resolve("few")


def test_an_example_answer_outside_the_taxonomy_is_refused(registry: PromptRegistry) -> None:
    (registry.prompts_dir / "few.j2").write_text(FEW_SHOT.replace("application_exception", "cosmic_rays"))
    with pytest.raises(PromptError, match="invalid front matter"):
        registry.resolve("few")


def test_shipped_prompts_leave_room_for_the_longest_answer_the_schema_allows() -> None:
    from app.rca import max_answer_chars

    registry = PromptRegistry(PROJECT_ROOT / "prompts", get_engine("sqlite://"))
    for version in registry.sync():
        # Every character of a constrained answer is ASCII, so it is at most one token; +1 for end-of-turn.
        assert version.params["max_tokens"] >= max_answer_chars() + 1, version.name


def test_shipped_worked_examples_are_sent_as_earlier_chat_turns() -> None:
    registry = PromptRegistry(PROJECT_ROOT / "prompts", get_engine("sqlite://"))
    few_shot = registry.resolve("rca-evidence-first")
    assert len(few_shot.examples) == 3
    rendered = render_prompt(few_shot, example_context())
    roles = [m["role"] for m in rendered.messages()]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]
    for example, turn in zip(few_shot.examples, rendered.example_turns, strict=True):
        assert turn.assistant == example.answer_json
        assert all(line in turn.user for line in example.logs)
        assert example.answer_json not in rendered.system
    # The real logs are the last message, alone.
    assert rendered.messages()[-1]["content"] == rendered.user
    assert "[2] 10:00:05Z" in rendered.user
    assert rendered.prefix_text().startswith(rendered.system)
    assert rendered.example_turns[-1].assistant in rendered.prefix_text()


def test_an_example_block_turns_examples_into_chat_turns(registry: PromptRegistry) -> None:
    turns = FEW_SHOT.replace(
        "{% block user %}",
        "{% block example %}Logs:\n{{ example.logs | join('\\n') }}{% endblock %}\n{% block user %}",
    )
    (registry.prompts_dir / "few.j2").write_text(turns)
    rendered = render_prompt(registry.resolve("few"), example_context())
    (turn,) = rendered.example_turns
    assert (
        turn.user
        == "Logs:\n[1] 10:00:00Z app-a-1 ERROR boom\n[2] 10:00:01Z app-a-1 WARN Back-off restarting failed container"
    )
    assert turn.assistant.startswith('{"root_cause": "application_exception"')
    assert [m["role"] for m in rendered.messages()] == ["system", "user", "assistant", "user"]
