"""README.md stays true: every setting documented, the test command CI runs, a loadable models example."""

from __future__ import annotations

from app.config import PROJECT_ROOT, Settings
from app.llm.models import load_models

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_with_its_default() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line for line in README.splitlines() if line.startswith("| `")
    }
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in rows]
    assert missing == [], f"settings missing from README's configuration table: {missing}"


def test_ci_runs_the_test_command_the_readme_shows() -> None:
    assert "uv run just test" in README
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "uv run just test" in ci


def test_models_example_loads() -> None:
    models = load_models(PROJECT_ROOT / "models.example.yaml")
    assert {m.quantization for m in models} == {"Q4_K_M", "Q8_0"}
