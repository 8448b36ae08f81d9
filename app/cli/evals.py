"""``logtriage eval``: run a prompt x model over the golden set, resume, list, show and compare runs."""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from app.cli.console import JsonOpt, emit_json, err, out, services
from app.errors import ExportError, LogTriageError
from app.evals.compare import METRIC_LABELS, Claim, Comparison, compare_runs, regression_gate
from app.evals.metrics import ItemResult, RunMetrics
from app.evals.pushgateway import push_run
from app.evals.runner import (
    BASELINE_MODEL_NAME,
    MAX_CONCURRENCY,
    EvalRequest,
    EvalRunner,
    ProgressFn,
    RunHeader,
    get_run,
    list_runs,
    load_items,
    load_run_items,
    parse_slice,
)
from app.evals.significance import Estimate, format_p
from app.golden.schema import GoldenExample
from app.services import Services
from app.telemetry.tracing import flush_tracing
from app.triage import DEFAULT_PROMPT

eval_cli = typer.Typer(
    help="Evaluate prompts and models on the golden set, and compare runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RunRefArg = Annotated[str, typer.Argument(help="Run id (or a unique prefix of at least 4 characters).")]
PushOpt = Annotated[
    bool, typer.Option("--push", help="Push the results to the Pushgateway (PUSHGATEWAY_URL).")
]
FAILING_SHOWN = 15


class GateMetric(StrEnum):
    """The metrics a regression gate can judge."""

    accuracy = "accuracy"
    macro_f1 = "macro_f1"


# --- shared pieces --------------------------------------------------------------------------------------


@contextmanager
def _progress_bar() -> Generator[ProgressFn]:
    """A rich progress bar on stderr fed by the runner's ``on_progress(done, total)``."""
    columns = (TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("items", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def header_json(header: RunHeader) -> dict[str, Any]:
    """A run header for --json output: everything but the item id list, plus derived fields."""
    data = header.model_dump(mode="json", exclude={"item_ids", "summary"})
    data.update(
        items=len(header.item_ids),
        label=header.label,
        duration_s=header.duration_s,
        succeeded=header.succeeded,
    )
    return data


def run_json(header: RunHeader, pushed: dict[str, str] | None = None) -> dict[str, Any]:
    """A run's summary for --json: header and metrics (and where it was pushed)."""
    data: dict[str, Any] = {
        "run": header_json(header),
        "metrics": header.summary.model_dump(mode="json") if header.summary else None,
    }
    if pushed is not None:
        data["pushed"] = pushed
    return data


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


def _headline(header: RunHeader) -> Text:
    summary = header.summary
    status_style = {"completed": "green", "running": "yellow", "failed": "red", "cancelled": "yellow"}
    text = Text.assemble(
        (header.id, "bold"), "  ", (header.status, status_style.get(header.status, "")), "  ", header.label
    )
    if summary:
        text.append(
            f"\n  {summary.items} items · accuracy {_pct(summary.accuracy)} · macro-F1 {_pct(summary.macro_f1)}"
            f" · micro-F1 {_pct(summary.micro_f1)} · invalid {_pct(summary.invalid_output_rate)}"
            f" · errors {_pct(summary.error_rate)} · cached {summary.cached_items}"
        )
    if header.error:
        text.append(f"\n  error: {header.error}", style="red")
    return text


def _push(svc: Services, header: RunHeader) -> dict[str, str]:
    return push_run(svc.settings.pushgateway_url, header, client=svc.http_client)


def _check_push(svc: Services, push: bool) -> None:
    """Refuse --push without a Pushgateway before any work is done, not after."""
    if push and not svc.settings.pushgateway_url:
        raise ExportError("--push needs PUSHGATEWAY_URL", hint="set it to the Pushgateway's base URL")


def _execute(
    svc: Services,
    runner: EvalRunner,
    header: RunHeader,
    *,
    resuming: bool,
    push: bool,
    examples: list[GoldenExample] | None = None,
) -> tuple[RunHeader, dict[str, str] | None]:
    """Execute a started run with a progress bar; on failure push what there is (if asked) and re-raise."""
    cancel = threading.Event()
    try:
        with _progress_bar() as on_progress:
            finished = runner.execute(
                header.id, on_progress=on_progress, cancel=cancel, resuming=resuming, examples=examples
            )
    except LogTriageError:
        if push:
            failed = get_run(svc.engine, header.id)
            try:
                _push(svc, failed)
            except LogTriageError as exc:
                err.print(Text(f"could not push the failed run either: {exc.user_message()}", style="red"))
        raise
    finally:
        flush_tracing()
    pushed = _push(svc, finished) if push else None
    return finished, pushed


# --- commands --------------------------------------------------------------------------------------------


@eval_cli.command("run")
def run_cmd(
    model: Annotated[str, typer.Option(help=f"Model from the models file, or {BASELINE_MODEL_NAME}.")],
    prompt: Annotated[str, typer.Option(help="Prompt as name, name@latest or name@<hash>.")] = DEFAULT_PROMPT,
    slice_: Annotated[
        str | None,
        typer.Option(
            "--slice", help="Only these examples: class=a,b or source=x or ids=a,b (';' joins them)."
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only examples from this source (synthetic, labeled, imported).")
    ] = None,
    ids: Annotated[str | None, typer.Option(help="Only these example ids, comma-separated.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N examples (by id).")] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_CONCURRENCY, help="Requests in flight (default: the server's slots, else 4)."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run inference even for cached answers.")
    ] = False,
    push: PushOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a prompt and a model over the golden set (or a slice); prints the run id."""
    golden_slice = parse_slice(
        slice_,
        source=source,
        ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
        limit=limit,
    )
    request = EvalRequest(
        prompt=prompt, model=model, slice=golden_slice, concurrency=concurrency, use_cache=not no_cache
    )
    svc = services()
    _check_push(svc, push)
    runner = svc.eval_runner
    with svc.local_models_for(model, progress=lambda message: err.print(Text(message, style="dim"))):
        golden = runner.load_golden()
        header = runner.start(request, golden)
        err.print(
            Text(
                f"run {header.id}: {len(header.item_ids)} items, concurrency {header.concurrency}",
                style="dim",
            )
        )
        finished, pushed = _execute(svc, runner, header, resuming=False, push=push, examples=golden)
    _report(finished, pushed, as_json)


@eval_cli.command("resume")
def resume_cmd(run: RunRefArg, push: PushOpt = False, as_json: JsonOpt = False) -> None:
    """Finish a run that was killed, cancelled or failed: only its missing items are run."""
    svc = services()
    _check_push(svc, push)
    runner = svc.eval_runner
    header = get_run(svc.engine, run)
    with svc.local_models_for(header.model, progress=lambda message: err.print(Text(message, style="dim"))):
        finished, pushed = _execute(svc, runner, header, resuming=True, push=push)
    _report(finished, pushed, as_json)


def _report(header: RunHeader, pushed: dict[str, str] | None, as_json: bool) -> None:
    if as_json:
        emit_json(run_json(header, pushed))
    else:
        err.print(_headline(header))
        if pushed:
            err.print(Text(f"pushed to the Pushgateway as {pushed}", style="dim"))
        out.print(Text(header.id))
    if header.status != "completed":
        raise LogTriageError(
            f"run {header.id} ended {header.status}", hint=f"logtriage eval resume {header.id}"
        )


@eval_cli.command("list")
def list_cmd(
    limit: Annotated[int, typer.Option(min=1, help="Most runs to list, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List runs (headers only): fingerprint, status and headline metrics."""
    headers = list_runs(services().engine, limit)
    if as_json:
        emit_json([run_json(header) for header in headers])
        return
    table = Table(
        "run", "created", "status", "model", "quant", "prompt", "golden", "items", "acc", "macro-F1", "p95"
    )
    for header in headers:
        summary = header.summary
        table.add_row(
            Text(header.id[:8]),
            Text(header.created_at.strftime("%Y-%m-%d %H:%M")),
            Text(header.status),
            Text(header.model),
            Text(header.quantization),
            Text(header.prompt_ref),
            Text(header.golden_version),
            Text(str(len(header.item_ids))),
            Text(_pct(summary.accuracy) if summary else "—"),
            Text(_pct(summary.macro_f1) if summary else "—"),
            Text(_ms(summary.latency.total_ms.get("0.95")) if summary else "—"),
        )
    out.print(table)


def per_class_table(metrics: RunMetrics) -> Table:
    """Precision, recall, F1, support and predicted count per class."""
    table = Table("class", "precision", "recall", "F1", "support", "predicted", title="Per class")
    for row in metrics.per_class:
        table.add_row(
            Text(row.label),
            _pct(row.precision),
            _pct(row.recall),
            _pct(row.f1),
            str(row.support),
            str(row.predicted),
        )
    return table


def confusion_table(metrics: RunMetrics) -> Table:
    """The confusion matrix, rows and columns that have counts only."""
    matrix = metrics.confusion
    rows = [i for i, counts in enumerate(matrix.counts) if any(counts)]
    columns = [j for j in range(len(matrix.columns)) if any(matrix.counts[i][j] for i in rows)]
    table = Table("expected \\ predicted", *(matrix.columns[j] for j in columns), title="Confusion matrix")
    for i in rows:
        table.add_row(
            Text(matrix.rows[i]),
            *(
                Text(
                    str(matrix.counts[i][j]),
                    style="bold green" if matrix.rows[i] == matrix.columns[j] else "",
                )
                for j in columns
            ),
        )
    return table


def latency_table(metrics: RunMetrics) -> Table:
    """Latency quantiles, speed and tokens."""
    latency = metrics.latency
    table = Table("", "p50", "p95", "p99", title=f"Latency ({latency.timed_items} answered items)")
    for name, values in (("total", latency.total_ms), ("time to first token", latency.ttft_ms)):
        table.add_row(name, *(_ms(values.get(q)) for q in ("0.5", "0.95", "0.99")))
    table.caption = (
        f"{latency.tokens_per_s_mean:,.1f} tokens/s mean · {latency.prompt_tokens:,} prompt + "
        f"{latency.completion_tokens:,} completion tokens"
    )
    return table


def failing_items_table(items: list[ItemResult], limit: int = FAILING_SHOWN) -> Table:
    """The first failing items: expected, what came back and why."""
    failing = [item for item in items if item.outcome != "correct"]
    table = Table(
        "example", "expected", "predicted", "outcome", "error", title=f"Failing items ({len(failing)})"
    )
    for item in failing[:limit]:
        table.add_row(
            Text(item.example_id),
            Text(item.expected),
            Text(item.predicted_label),
            Text(item.outcome),
            Text((item.error or "")[:120]),
        )
    return table


@eval_cli.command("show")
def show_cmd(
    run: RunRefArg,
    items: Annotated[bool, typer.Option("--items", help="With --json: include every item result.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a run: fingerprint, per-class table, confusion matrix, latency and failing items."""
    engine = services().engine
    header = get_run(engine, run)
    results = load_items(engine, header.id)
    if as_json:
        data = run_json(header)
        data["stored_items"] = len(results)
        if items:
            data["items"] = [item.model_dump(mode="json") for item in results]
        emit_json(data)
        return
    out.print(_headline(header))
    fingerprint = header.fingerprint
    out.print(
        Text(
            f"  prompt {header.prompt_sha256[:12]} · golden {header.golden_version} {header.slice or '(whole set)'} · "
            f"{header.gguf_file or 'no GGUF'} · server {fingerprint.get('server_build', 'n/a')} · "
            f"params {header.params} · app {fingerprint.get('app_version')} @ {str(fingerprint.get('git_revision'))[:12]}"
            f" · {len(results)}/{len(header.item_ids)} items stored",
            style="dim",
        )
    )
    if header.summary is None:
        return
    out.print(per_class_table(header.summary))
    out.print(confusion_table(header.summary))
    out.print(latency_table(header.summary))
    out.print(failing_items_table(results))


def _delta(estimate: Estimate) -> str:
    return f"{estimate.value * 100:+.1f} [{estimate.low * 100:+.1f}, {estimate.high * 100:+.1f}]"


def comparison_tables(comparison: Comparison) -> list[Table]:
    """Metrics side by side, then each run against A: one row per claim (metric, delta, test, p, verdict)."""
    side = Table("", *(f"{run.letter}: {run.run_id[:8]}" for run in comparison.runs), title="Runs")
    side.add_row("label", *(Text(run.label) for run in comparison.runs))
    for name, attr in (("accuracy", "accuracy"), ("macro-F1", "macro_f1")):
        side.add_row(
            f"{name} [{comparison.confidence:.0%} CI]",
            *(
                f"{_pct(getattr(run, attr).value)} [{_pct(getattr(run, attr).low)}, {_pct(getattr(run, attr).high)}]"
                for run in comparison.runs
            ),
        )
    side.add_row("micro-F1", *(_pct(run.metrics.micro_f1) for run in comparison.runs))
    side.add_row("invalid output", *(_pct(run.metrics.invalid_output_rate) for run in comparison.runs))
    side.add_row("timeouts/errors", *(_pct(run.metrics.error_rate) for run in comparison.runs))
    side.add_row("evidence recall", *(_pct(run.metrics.evidence_recall) for run in comparison.runs))
    side.add_row("p50 latency", *(_ms(run.metrics.latency.total_ms.get("0.5")) for run in comparison.runs))
    side.add_row("p95 latency", *(_ms(run.metrics.latency.total_ms.get("0.95")) for run in comparison.runs))
    if any(run.repeats for run in comparison.runs):
        side.add_row(
            "repeat agreement",
            *(_pct(run.repeats.mean_agreement) if run.repeats else "—" for run in comparison.runs),
        )
        side.add_row(
            "answers that flip",
            *(_pct(run.repeats.flip_rate) if run.repeats else "—" for run in comparison.runs),
        )
    claims = Table(
        "pair",
        "metric",
        f"Δ points [{comparison.confidence:.0%} CI]",
        "test",
        "p",
        "result",
        title="Against A",
    )
    for pair in comparison.pairs:
        for claim in pair.claims:
            p_text = format_p(claim.p_value)
            if comparison.multiple_comparisons:
                p_text += f" (Holm {format_p(claim.p_adjusted)})"
            claims.add_row(
                f"{pair.b} vs {pair.a}",
                METRIC_LABELS[claim.metric],
                _delta(claim.delta),
                claim.test,
                p_text,
                Text(
                    f"{pair.b} {claim.direction}" if claim.significant else "no difference",
                    style=_style(claim),
                ),
            )
    return [side, claims]


def _style(claim: Claim) -> str:
    return {"better": "green", "worse": "red"}.get(claim.direction, "")


def verdict_lines(comparison: Comparison) -> list[Text]:
    """Each claim as one sentence, coloured by its direction (kept out of tables so it never wraps in cells)."""
    return [
        Text(f"{pair.b} vs {pair.a}: {claim.text}", style=_style(claim))
        for pair in comparison.pairs
        for claim in pair.claims
    ]


def coverage_line(comparison: Comparison) -> str:
    """How many items and scenarios the comparison rests on, and how its intervals were made."""
    return (
        f"{comparison.shared_items} shared items from {comparison.shared_scenarios} scenarios; intervals "
        f"resample scenarios ({comparison.resamples:,} resamples, seed {comparison.seed})"
    )


@eval_cli.command("compare")
def compare_cmd(
    runs: Annotated[list[str], typer.Argument(help="Two or more run ids; the first is the reference A.")],
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when a run is significantly worse than A on --metric by more than --margin.",
        ),
    ] = False,
    metric: Annotated[
        GateMetric, typer.Option(help="The metric --fail-on-regression judges.")
    ] = GateMetric.macro_f1,
    margin: Annotated[
        float,
        typer.Option(min=0.0, max=100.0, help="Drops up to this many percentage points are tolerated."),
    ] = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Compare runs on their shared items: metrics with intervals, paired tests and a verdict per metric."""
    engine = services().engine
    comparison = compare_runs([load_run_items(engine, ref) for ref in runs])
    gate = regression_gate(comparison, metric.value, margin) if fail_on_regression else None
    if as_json:
        data = comparison.model_dump(mode="json")
        if gate is not None:
            data["gate"] = gate.model_dump(mode="json")
        emit_json(data)
    else:
        for table in comparison_tables(comparison):
            out.print(table)
        for line in verdict_lines(comparison):
            out.print(line)
        out.print(Text(coverage_line(comparison)))
        for note in (comparison.note, comparison.repeats_note, comparison.multiple_comparisons):
            if note:
                out.print(Text(note, style="yellow"))
    if gate is not None:
        # One line on stderr, so it stands out in a CI log and never mixes into --json output.
        err.print(Text(gate.message, style="red" if gate.failed else "green"))
        if gate.failed:
            raise typer.Exit(code=1)


def main() -> None:
    """Run ``eval`` on its own (``python -m app.cli.evals``), errors as one line and a non-zero exit."""
    try:
        eval_cli(prog_name="logtriage eval")
    except LogTriageError as exc:
        err.print(Text(f"error: {exc.user_message()}", style="red"))
        sys.exit(1)
    except KeyboardInterrupt:
        err.print(Text("cancelled", style="yellow"))
        sys.exit(130)


if __name__ == "__main__":
    main()
