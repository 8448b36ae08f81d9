"""``logtriage golden``: import all or nothing, deterministic export, validate and stats, all with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from app.cli.golden import golden_cli
from app.config import get_settings
from app.errors import InputError
from app.golden import labels as label_store
from app.golden import queue as label_queue
from app.golden.jsonl import dump_jsonl
from app.store.db import get_engine
from app.taxonomy import ROOT_CAUSES
from tests.golden import example_data
from tests.golden.test_labels import add_triage_run

runner = CliRunner()


def golden(*args: str) -> Result:
    """Run ``logtriage golden ARGS`` (mounted the way app.cli mounts it)."""
    root = typer.Typer()
    root.add_typer(golden_cli, name="golden")
    return runner.invoke(root, ["golden", *args])


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def example_line(example_id: str, root_cause: str = "oom_killed") -> str:
    evidence = () if root_cause == "healthy" else (1,)
    return json.dumps(example_data(example_id, root_cause, evidence=evidence))


def engine() -> Engine:
    """The store the CLI writes to (the per-test settings' SQLite file)."""
    return get_engine(get_settings().resolved_database_url)


def test_import_is_idempotent_and_reports_counts(tmp_path: Path) -> None:
    first = write_lines(tmp_path / "a.jsonl", example_line("a"), example_line("b"))
    second = write_lines(tmp_path / "b.jsonl", example_line("c"))

    result = golden("import", str(first), str(second), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "files": [str(first), str(second)],
        "added": 3,
        "updated": 0,
        "unchanged": 0,
        "stale_labels": 0,
    }
    again = golden("import", str(first), str(second))
    assert again.exit_code == 0
    assert "0 added, 0 updated, 3 unchanged" in again.stdout

    write_lines(first, example_line("a", "healthy"), example_line("b"))
    assert json.loads(golden("import", str(first), "--json").stdout)["updated"] == 1


def test_a_malformed_file_is_rejected_with_file_line_and_reason_and_nothing_is_imported(
    tmp_path: Path,
) -> None:
    good = write_lines(tmp_path / "good.jsonl", example_line("a"))
    bad = write_lines(
        tmp_path / "bad.jsonl",
        example_line("b"),
        "",
        json.dumps(example_data("c", evidence=(7,))),
    )

    result = golden("import", str(good), str(bad))
    assert result.exit_code == 1
    assert isinstance(result.exception, InputError)
    message = result.exception.user_message()
    assert message.startswith(f"{bad}:3: ")
    assert "out of range" in message
    assert "\n" not in message
    assert label_store.export_report(engine()).examples == []


def test_an_id_in_two_files_is_refused(tmp_path: Path) -> None:
    first = write_lines(tmp_path / "a.jsonl", example_line("a"))
    second = write_lines(tmp_path / "b.jsonl", example_line("a"))
    result = golden("import", str(first), str(second))
    assert isinstance(result.exception, InputError)
    assert "duplicate id 'a'" in str(result.exception)
    assert label_store.export_report(engine()).examples == []


def test_export_is_deterministic_and_round_trips_byte_identically(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "in.jsonl", example_line("b"), example_line("a", "healthy"))
    golden("import", str(source))
    label_store.save_label(engine(), "b", "alice", "probe_failure", [0], "warning", "probes")

    stdout = golden("export").stdout
    assert stdout == dump_jsonl(label_store.export_examples(engine()))
    assert [json.loads(line)["id"] for line in stdout.splitlines()] == ["a", "b"]
    assert json.loads(stdout.splitlines()[1])["label"]["root_cause"] == "probe_failure"

    out = tmp_path / "out.jsonl"
    assert golden("export", "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == stdout
    # Importing the export makes alice's label the stored label of b; after that nothing changes.
    assert json.loads(golden("import", str(out), "--json").stdout) | {"files": []} == {
        "files": [],
        "added": 0,
        "updated": 1,
        "unchanged": 1,
        "stale_labels": 0,
    }
    assert json.loads(golden("import", str(out), "--json").stdout)["unchanged"] == 2
    assert golden("export").stdout == stdout


def test_export_warns_about_what_it_leaves_out() -> None:
    run_id = add_triage_run(engine())
    label_queue.labeling_queue(engine(), "alice", blind=True)
    result = golden("export", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["count"], data["examples"]) == (0, [])
    assert data["left_out"] == [
        {"example_id": f"run-{run_id}", "reason": "unlabeled", "detail": "nobody has labeled it yet"}
    ]
    assert f"warning: left out run-{run_id} (unlabeled)" in result.stderr


def full_set(directory: Path) -> Path:
    directory.mkdir()
    return write_lines(
        directory / "set.jsonl", *(example_line(f"ex-{cause}", cause) for cause in ROOT_CAUSES)
    )


def use_golden_dir(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    monkeypatch.setenv("GOLDEN_DIR", str(directory))
    get_settings.cache_clear()


def test_validate_reads_the_golden_dir_and_lists_every_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_set(tmp_path / "golden")
    use_golden_dir(monkeypatch, tmp_path / "golden")

    ok = golden("validate", "--min-per-class", "1", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["problems"] == []

    short = golden("validate")
    assert short.exit_code == 1
    assert "class oom_killed: 1 examples, below the minimum of 25" in short.stdout

    bad = write_lines(tmp_path / "golden" / "zz.jsonl", '{"id": "x"')
    broken = golden("validate", "--min-per-class", "1", "--json")
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["problems"] == [
        f"{bad}:1: not valid JSON: Expecting ',' delimiter at column 11"
    ]


def test_validate_without_files_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_golden_dir(monkeypatch, tmp_path / "empty")
    result = golden("validate")
    assert isinstance(result.exception, InputError)
    assert "no golden JSONL files in" in str(result.exception)


def test_stats_of_files_and_of_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = full_set(tmp_path / "golden")
    use_golden_dir(monkeypatch, tmp_path / "golden")

    from_files = json.loads(golden("stats", "--json").stdout)
    assert from_files["total"] == len(ROOT_CAUSES)
    assert set(from_files["per_class"].values()) == {1}
    assert "labeling" not in from_files

    golden("import", str(path))
    label_store.save_label(engine(), "ex-oom_killed", "alice", "oom_killed", [1], "critical", "")
    label_store.save_label(engine(), "ex-oom_killed", "bob", "probe_failure", [1], "critical", "")
    from_store = json.loads(golden("stats", "--store", "--json").stdout)
    assert from_store["total"] == len(ROOT_CAUSES)
    assert from_store["dataset_version"] == from_files["dataset_version"]  # disputed: the earlier label stays
    assert from_store["labeling"] == {"labels": 2, "labelers": 2, "disputed": 1, "left_out": 0}

    text = golden("stats", str(path))
    assert text.exit_code == 0
    assert f"total {len(ROOT_CAUSES)}" in text.stdout


def test_generate_writes_a_deterministic_set_and_reports_it(tmp_path: Path) -> None:
    out = tmp_path / "set.jsonl"

    result = golden("generate", "--out", str(out), "--per-class", "2", "--seed", "7", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["examples"] == 2 * len(ROOT_CAUSES)
    assert report["out"] == str(out)
    assert report["scenarios"] >= len(ROOT_CAUSES)
    first = out.read_bytes()
    assert golden("generate", "--out", str(out), "--per-class", "2", "--seed", "7").exit_code == 0
    assert out.read_bytes() == first


def test_validate_and_stats_pass_on_the_shipped_set() -> None:
    from tests.golden import SHIPPED

    validated = golden("validate", str(SHIPPED), "--json")
    stats = json.loads(golden("stats", str(SHIPPED), "--json").stdout)

    assert validated.exit_code == 0, validated.output
    assert json.loads(validated.stdout)["problems"] == []
    assert stats["scenarios"] >= 250
    assert stats["max_scenario_uses"] <= 3
    assert set(stats["scenarios_per_class"]) == set(ROOT_CAUSES)
    assert stats["line_quantiles"]["p50"] <= stats["line_quantiles"]["p90"] <= stats["max_lines"]
