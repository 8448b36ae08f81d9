"""``logtriage eval``: run a prompt x model over the golden set, resume, list, show and compare runs.

The run's tables live in ``app.cli.eval_tables``; ``compare`` lives in ``app.cli.compare`` and is
registered here.

Exit codes of ``run`` and ``resume``: 0 when the run completed and every result is an answer; 3 when it
completed but some items failed (invalid output, timeout, server error) and ``--allow-failures`` was not
given; 1 with one line on stderr for everything else (the run failed or was cancelled, every item
failed, bad input).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from app.cli.compare import compare_cmd
from app.cli.console import JsonOpt, emit_json, err, out, services
from app.cli.eval_tables import (
    confusion_table,
    copied_items_table,
    failing_items_table,
    format_ms,
    format_pct,
    headline,
    latency_table,
    per_class_table,
    workers_table,
)
from app.errors import ExportError, InputError, LogTriageError
from app.evals.pushgateway import push_run
from app.evals.runner import EvalRunner, ProgressFn
from app.evals.runs import (
    RunHeader,
    get_run,
    list_runs,
    list_workers,
    load_history,
    load_items,
)
from app.evals.scoring import describe_failures
from app.evals.spec import (
    BASELINE_MODEL_NAME,
    MAX_CONCURRENCY,
    MAX_REPEATS,
    EvalRequest,
    Shard,
    check_run_id,
    parse_slice,
)
from app.golden.schema import GoldenExample
from app.services import Services
from app.telemetry.tracing import flush_tracing
from app.triage_models import DEFAULT_PROMPT

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
AllowFailuresOpt = Annotated[
    bool,
    typer.Option(
        "--allow-failures",
        help="Exit 0 although some items failed (invalid output, timeout, server error); not if all did.",
    ),
]
EXIT_ITEMS_FAILED = 3


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
        scenarios=header.report.scenarios if header.report else None,
        label=header.label,
        duration_s=header.duration_s,
        succeeded=header.succeeded,
        failed_items=sum(header.failures.values()),
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
    shard: Shard | None = None,
    retry_failed: bool = False,
) -> tuple[RunHeader, dict[str, str] | None]:
    """Work on a run with a progress bar; on failure push what there is (if asked and over) and re-raise."""
    cancel = threading.Event()
    try:
        with _progress_bar() as on_progress:
            finished = runner.execute(
                header.id,
                on_progress=on_progress,
                cancel=cancel,
                resuming=resuming,
                examples=examples,
                shard=shard,
                retry_failed=retry_failed,
            )
    except LogTriageError:
        failed = get_run(svc.engine, header.id)
        # Another shard may still be on the run: push only a run that is over.
        if push and failed.status != "running":
            try:
                _push(svc, failed)
            except LogTriageError as exc:
                err.print(Text(f"could not push the failed run either: {exc.user_message()}", style="red"))
        raise
    finally:
        flush_tracing()
    pushed = _push(svc, finished) if push and finished.status != "running" else None
    return finished, pushed


def exit_verdict(header: RunHeader, *, allow_failures: bool) -> tuple[int, str | None]:
    """The exit code a finished worker reports for its run, and the line that says why (None for 0)."""
    resume = f"logtriage eval resume {header.id}"
    if header.status != "completed":
        return 1, f"run {header.id} ended {header.status} (resume it: {resume})"
    failures = header.failures
    failed = sum(failures.values())
    items = header.summary.items if header.summary else 0
    if items and failed == items:
        return 1, (
            f"every item of run {header.id} failed ({describe_failures(failures)}); check the model server "
            f"and retry them: {resume} --retry-failed"
        )
    if failed and not allow_failures:
        return EXIT_ITEMS_FAILED, (
            f"run {header.id} completed, but {failed} of {items} items failed ({describe_failures(failures)}); "
            f"retry them with {resume} --retry-failed, or accept with --allow-failures"
        )
    return 0, None


def _report(header: RunHeader, pushed: dict[str, str] | None, as_json: bool, allow_failures: bool) -> None:
    if as_json:
        emit_json(run_json(header, pushed))
    else:
        err.print(headline(header))
        if pushed:
            err.print(Text(f"pushed to the Pushgateway as {pushed}", style="dim"))
        out.print(Text(header.id))
    code, message = exit_verdict(header, allow_failures=allow_failures)
    if code == 1 and message:
        raise LogTriageError(message)
    if code:
        err.print(Text(f"error: {message}", style="red"))
        raise typer.Exit(code)


def _dim(message: str) -> None:
    err.print(Text(message, style="dim"))


# --- commands --------------------------------------------------------------------------------------------


@eval_cli.command("run")
def run_cmd(
    model: Annotated[str, typer.Option(help=f"Model from the models file, or {BASELINE_MODEL_NAME}.")],
    prompt: Annotated[str, typer.Option(help="Prompt as name, name@latest or name@<hash>.")] = DEFAULT_PROMPT,
    slice_: Annotated[
        str | None,
        typer.Option(
            "--slice",
            help="Only these examples: class=a,b or source=x or ids=a,b or per_class=N;seed=S ('; ' joins).",
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only examples from this source (synthetic, labeled, imported).")
    ] = None,
    ids: Annotated[str | None, typer.Option(help="Only these example ids, comma-separated.")] = None,
    per_class: Annotated[
        int | None,
        typer.Option("--per-class", min=1, help="At most N examples per class, drawn with --seed."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the --per-class draw (default 0).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N examples (by id).")] = None,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            min=1,
            max=MAX_REPEATS,
            help="Answers per example, each with the prompt's temperature and its own seed.",
        ),
    ] = 1,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_CONCURRENCY, help="Requests in flight (default: the server's slots, else 4)."
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run inference even for cached answers.")
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Start the run with this id, or join it if it exists (same options)."),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="Work as shard INDEX/COUNT of --run-id, e.g. $JOB_COMPLETION_INDEX/3."),
    ] = None,
    allow_failures: AllowFailuresOpt = False,
    push: PushOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a prompt and a model over the golden set (or a slice); prints the run id."""
    golden_slice = parse_slice(
        slice_,
        source=source,
        ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
        per_class=per_class,
        seed=seed,
        limit=limit,
    )
    worker_shard = Shard.parse(shard) if shard is not None else None
    if worker_shard is not None and run_id is None:
        raise InputError("--shard needs --run-id", hint="give every shard of the job the same --run-id")
    request = EvalRequest(
        prompt=prompt,
        model=model,
        slice=golden_slice,
        repeats=repeat,
        concurrency=concurrency,
        use_cache=not no_cache,
        run_id=check_run_id(run_id) if run_id is not None else None,
    )
    svc = services()
    _check_push(svc, push)
    runner = svc.eval_runner
    with svc.local_models_for(model, progress=_dim):
        golden = runner.load_golden()
        header = runner.start(request, golden)
        _dim(
            f"run {header.id}: {len(header.item_ids)} items"
            + (f" x {header.repeats} repeats" if header.repeats > 1 else "")
            + f", concurrency {header.concurrency}"
            + (f", shard {worker_shard}" if worker_shard else "")
        )
        finished, pushed = _execute(
            svc, runner, header, resuming=False, push=push, examples=golden, shard=worker_shard
        )
    _report(finished, pushed, as_json, allow_failures)


@eval_cli.command("resume")
def resume_cmd(
    run: RunRefArg,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Also run again the items that failed (invalid output, timeout, server error); "
            "their first results are kept as history.",
        ),
    ] = False,
    allow_failures: AllowFailuresOpt = False,
    push: PushOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Finish a run that was killed, cancelled or failed: only its missing (or failed) items are run."""
    svc = services()
    _check_push(svc, push)
    runner = svc.eval_runner
    header = get_run(svc.engine, run)
    with svc.local_models_for(header.model, progress=_dim):
        finished, pushed = _execute(svc, runner, header, resuming=True, push=push, retry_failed=retry_failed)
    _report(finished, pushed, as_json, allow_failures)


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
        "run",
        "created",
        "status",
        "model",
        "quant",
        "prompt",
        "golden",
        "items",
        "scen.",
        "acc",
        "macro-F1",
        "p95",
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
            Text(f"{len(header.item_ids)}" + (f"x{header.repeats}" if header.repeats > 1 else "")),
            Text(str(header.report.scenarios) if header.report else "—"),
            Text(format_pct(summary.accuracy) if summary else "—"),
            Text(format_pct(summary.macro_f1) if summary else "—"),
            Text(format_ms(summary.latency.total_ms.get("0.95")) if summary else "—"),
        )
    out.print(table)


@eval_cli.command("show")
def show_cmd(
    run: RunRefArg,
    items: Annotated[
        bool, typer.Option("--items", help="With --json: include every item result and retried ones.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a run: fingerprint, per-class table, confusion matrix, latency, failing items and workers."""
    engine = services().engine
    header = get_run(engine, run)
    results = load_items(engine, header.id)
    workers = list_workers(engine, header.id)
    if as_json:
        data = run_json(header)
        data["stored_items"] = len(results)
        data["workers"] = [worker.model_dump(mode="json") for worker in workers]
        if items:
            data["items"] = [item.model_dump(mode="json") for item in results]
            data["history"] = [
                {"attempt": attempt, **item.model_dump(mode="json")}
                for attempt, item in load_history(engine, header.id)
            ]
        emit_json(data)
        return
    out.print(headline(header))
    fingerprint = header.fingerprint
    out.print(
        Text(
            f"  prompt {header.prompt_sha256[:12]} · golden {header.golden_version} {header.slice or '(whole set)'} · "
            f"{header.gguf_file or 'no GGUF'} · server {fingerprint.server_build} · "
            f"params {header.params} · app {fingerprint.app_version} @ {fingerprint.git_revision[:12]}"
            f" · {len(results)}/{header.units} results stored",
            style="dim",
        )
    )
    if header.summary is not None:
        out.print(per_class_table(header.summary))
        out.print(confusion_table(header.summary))
        out.print(latency_table(header.summary))
        out.print(failing_items_table(results))
        if header.summary.leak_checked_items:  # the baseline, and runs stored before the check, have none
            out.print(copied_items_table(results))
    if workers:
        out.print(workers_table(workers))


# Registered after ``show`` so ``logtriage eval --help`` lists the commands in their usual order.
eval_cli.command("compare")(compare_cmd)


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
