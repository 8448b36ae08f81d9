"""``logtriage golden``: generate, import, export, validate and count the golden set; score the baseline.

Errors are raised as LogTriageErrors; ``app.cli.main`` prints them as one line and exits with 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from app.cli.console import JsonOpt, emit_json, err, out, services
from app.config import get_settings
from app.errors import InputError
from app.evals.baseline import evaluate_baseline, format_report
from app.golden import labels as label_store
from app.golden.agreement import ADJUDICATOR
from app.golden.jsonl import dataset_version, dump_jsonl, read_jsonl, write_jsonl
from app.golden.schema import GoldenExample
from app.golden.stats import DEFAULT_MIN_PER_CLASS, GoldenStats, golden_stats, validate_examples
from app.golden.synthetic import DEFAULT_SEED, PER_CLASS, SET_FILE_NAME, GenerationReport, generate_golden_set

golden_cli = typer.Typer(
    help="Generate, import, export, validate and count the golden set, and score the regex baseline on it.",
    no_args_is_help=True,
)

FilesArg = Annotated[
    list[Path] | None,
    typer.Argument(help="Golden JSONL files (default: every *.jsonl in GOLDEN_DIR).", show_default=False),
]


def golden_files(files: list[Path] | None) -> list[Path]:
    """The files given, or every ``*.jsonl`` of the golden directory; InputError when there are none."""
    if files:
        return list(files)
    directory = get_settings().golden_dir
    found = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if not found:
        raise InputError(f"no golden JSONL files in {directory}", hint="pass files or set GOLDEN_DIR")
    return found


def read_golden_files(files: list[Path]) -> list[GoldenExample]:
    """Every example of every file, all or nothing: the first problem raises InputError (file:line: reason)."""
    examples: list[GoldenExample] = []
    file_of: dict[str, Path] = {}
    for path in files:
        for example in read_jsonl(path):
            if example.id in file_of:
                raise InputError(f"{path}: duplicate id {example.id!r} (also in {file_of[example.id]})")
            file_of[example.id] = path
            examples.append(example)
    return examples


@golden_cli.command("import")
def import_cmd(
    files: Annotated[list[Path], typer.Argument(help="Golden JSONL files to import.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Import golden JSONL files into the store by id (importing the same files again changes nothing)."""
    examples = read_golden_files(files)
    report = label_store.import_examples(services().engine, examples)
    if as_json:
        emit_json({"files": [str(path) for path in files], **report.model_dump()})
        return
    out.print(
        Text(
            f"{len(examples)} examples from {len(files)} file(s): {report.added} added, "
            f"{report.updated} updated, {report.unchanged} unchanged"
        )
    )
    if report.stale_labels:
        err.print(
            Text(
                f"warning: {report.stale_labels} label(s) went stale: their evidence lines changed; "
                "they are back in their labelers' queues",
                style="yellow",
            )
        )


@golden_cli.command("export")
def export_cmd(
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the JSONL here (default: standard output).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export the store's golden set as canonical JSONL, each example with its decided label."""
    report = label_store.export_report(services().engine)
    for item in report.left_out:
        err.print(Text(f"warning: left out {item.example_id} ({item.reason}): {item.detail}", style="yellow"))
    if out_file is not None:
        write_jsonl(out_file, report.examples)
    if as_json:
        data: dict[str, Any] = {
            "count": len(report.examples),
            "dataset_version": dataset_version(report.examples),
            "out": str(out_file) if out_file is not None else None,
            "left_out": [item.model_dump() for item in report.left_out],
        }
        if out_file is None:
            data["examples"] = [example.model_dump(mode="json") for example in report.examples]
        emit_json(data)
    elif out_file is None:
        sys.stdout.write(dump_jsonl(report.examples))
    else:
        err.print(Text(f"wrote {len(report.examples)} examples to {out_file}"))


@golden_cli.command("validate")
def validate_cmd(
    files: FilesArg = None,
    min_per_class: Annotated[int, typer.Option(min=0, help="Fewest examples each class needs.")] = (
        DEFAULT_MIN_PER_CLASS
    ),
    as_json: JsonOpt = False,
) -> None:
    """Check golden files: each parses, every evidence index is valid, each class has enough examples."""
    paths = golden_files(files)
    problems: list[str] = []
    examples: list[GoldenExample] = []
    for path in paths:
        try:
            examples.extend(read_jsonl(path))
        except InputError as exc:
            problems.append(exc.user_message())
    problems.extend(validate_examples(examples, min_per_class=min_per_class))
    if as_json:
        emit_json({"files": [str(path) for path in paths], "examples": len(examples), "problems": problems})
    else:
        for problem in problems:
            out.print(Text(problem))
        verdict = f"{len(problems)} problem(s)" if problems else "ok"
        err.print(Text(f"{len(examples)} examples in {len(paths)} file(s): {verdict}"))
    if problems:
        raise typer.Exit(1)


@golden_cli.command("stats")
def stats_cmd(
    files: FilesArg = None,
    from_store: Annotated[
        bool, typer.Option("--store", help="Count the store's export and labeling progress instead of files.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Totals per class, source and severity, window sizes and the dataset version."""
    labeling: dict[str, int] = {}
    if from_store:
        if files:
            raise InputError("pass files or --store, not both")
        engine = services().engine
        report = label_store.export_report(engine)
        examples = report.examples
        labels = label_store.all_labels(engine)
        labeling = {
            "labels": len(labels),
            "labelers": len({label.labeler for label in labels if label.labeler != ADJUDICATOR}),
            "disputed": len(label_store.disagreements(engine)),
            "left_out": len(report.left_out),
        }
    else:
        examples = read_golden_files(golden_files(files))
    stats = golden_stats(examples)
    if as_json:
        emit_json(stats.model_dump() | ({"labeling": labeling} if from_store else {}))
        return
    print_stats(stats, labeling)


def print_stats(stats: GoldenStats, labeling: dict[str, int]) -> None:
    """The stats as a table per class and a few lines of totals."""
    table = Table("root cause", "examples", "scenarios")
    for cause, count in stats.per_class.items():
        table.add_row(cause, str(count), str(stats.scenarios_per_class.get(cause, 0)))
    out.print(table)
    out.print(Text(f"total {stats.total} · version {stats.dataset_version}"))
    out.print(
        Text(
            f"scenarios: {stats.scenarios} distinct, the most used {stats.max_scenario_uses}x"
            + (f" · {stats.without_scenario} example(s) without one" if stats.without_scenario else "")
        )
    )
    out.print(Text("sources: " + ", ".join(f"{k} {v}" for k, v in stats.per_source.items())))
    out.print(Text("severities: " + ", ".join(f"{k} {v}" for k, v in stats.per_severity.items())))
    if stats.per_difficulty:
        out.print(Text("difficulty: " + ", ".join(f"{k} {v}" for k, v in stats.per_difficulty.items())))
    out.print(
        Text(
            f"lines per window: mean {stats.mean_lines:.1f}, min {stats.min_lines}, max {stats.max_lines} · "
            f"evidence per example: mean {stats.mean_evidence:.1f} · invalid evidence: {stats.invalid_evidence}"
        )
    )
    if stats.line_quantiles:
        out.print(
            Text(
                "lines per window by percentile: "
                + ", ".join(f"{k} {v}" for k, v in stats.line_quantiles.items())
            )
        )
    if labeling:
        out.print(Text("labeling: " + ", ".join(f"{k} {v}" for k, v in labeling.items())))


@golden_cli.command("generate")
def generate_cmd(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help=f"The JSONL file to write (default: GOLDEN_DIR/{SET_FILE_NAME})."),
    ] = None,
    seed: Annotated[int, typer.Option(help="The seed; the same seed writes the same bytes.")] = DEFAULT_SEED,
    per_class: Annotated[int, typer.Option(min=1, help="Examples per root cause.")] = PER_CLASS,
    as_json: JsonOpt = False,
) -> None:
    """Generate the synthetic golden set from the scenario catalog (deterministic for a seed)."""
    examples = generate_golden_set(seed=seed, per_class=per_class)
    out_file = out_file or get_settings().golden_dir / SET_FILE_NAME
    write_jsonl(out_file, examples)
    if as_json:
        stats = golden_stats(examples)
        emit_json(
            {
                "out": str(out_file),
                "examples": stats.total,
                "scenarios": stats.scenarios,
                "dataset_version": stats.dataset_version,
            }
        )
        return
    out.print(Text(GenerationReport(examples).summary()))
    err.print(Text(f"wrote {len(examples)} examples to {out_file} (version {dataset_version(examples)})"))


@golden_cli.command("baseline")
def baseline_cmd(files: FilesArg = None, as_json: JsonOpt = False) -> None:
    """Score the regex baseline on golden files: accuracy, macro-F1, evidence recall and a row per class."""
    report = evaluate_baseline(read_golden_files(golden_files(files)))
    if as_json:
        emit_json(report.model_dump(mode="json", exclude={"items"}))
        return
    out.print(Text(format_report(report)))
