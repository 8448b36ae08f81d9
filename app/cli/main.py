"""The ``logtriage`` command line: every command has ``--json`` for scripts."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click; its errors live here
from typer.exceptions import TyperException

from app.cli.console import (
    JsonOpt,
    emit_json,
    err,
    install_log_handler,
    out,
    printable,
    reconfigure_streams,
    services,
)
from app.cli.evals import eval_cli
from app.cli.golden import golden_cli
from app.cli.prompts import prompts_cli
from app.cli.servers import register_server_commands
from app.errors import InferenceCancelled, LogTriageError, one_line, user_message
from app.llm.stream import decode_tokens_per_s
from app.logs.logql import LogFilter
from app.logs.models import LEVELS, format_rfc3339_ns
from app.services import Services
from app.telemetry.tracing import flush_tracing
from app.timeparse import resolve_window
from app.triage import (
    DEFAULT_PROMPT,
    PreparedPrompt,
    PromptEvent,
    ResultEvent,
    TokenStreamEvent,
    TriageEvent,
    TriageRequest,
    TriageResult,
)

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C

cli = typer.Typer(
    name="logtriage",
    help="Triage Kubernetes logs with small local language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.add_typer(prompts_cli, name="prompts")
cli.add_typer(golden_cli, name="golden")
cli.add_typer(eval_cli, name="eval")

NamespaceOpt = Annotated[str, typer.Option("--namespace", "-n", help="Kubernetes namespace.")]
SinceOpt = Annotated[
    str | None, typer.Option(help="Relative window ending now (or at --end): 15m, 1h, 6h, 24h.")
]
StartOpt = Annotated[str | None, typer.Option(help="Window start, RFC3339.")]
EndOpt = Annotated[str | None, typer.Option(help="Window end, RFC3339 (default now).")]
PodOpt = Annotated[str | None, typer.Option(help="Only this pod.")]
ContainerOpt = Annotated[str | None, typer.Option(help="Only this container.")]
LevelOpt = Annotated[str | None, typer.Option(help=f"Only lines of this level: {', '.join(LEVELS)}.")]
QueryOpt = Annotated[str | None, typer.Option("--query", "-q", help="Only lines containing this text.")]


def make_filter(
    namespace: str, pod: str | None, container: str | None, level: str | None, query: str | None
) -> LogFilter:
    """A validated log filter from CLI options."""
    from pydantic import ValidationError

    from app.errors import InputError

    try:
        return LogFilter(namespace=namespace, pod=pod, container=container, level=level, contains=query)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"invalid {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@cli.command("models")
def models_cmd(as_json: JsonOpt = False) -> None:
    """List the configured models: health, context, slots and the tensor types their GGUF really holds."""
    from app.llm.gguf_info import summarize_local_gguf
    from app.llm.health import check_health
    from app.llm.server import local_model_dirs

    svc = services()
    dirs = local_model_dirs(svc.settings)
    rows = []
    for model in svc.models:
        health = check_health(model, svc.http_client, svc.settings)
        gguf = summarize_local_gguf(model.gguf_file, dirs, health.model_path)
        rows.append((model, health, gguf))
    if as_json:
        emit_json(
            [
                health.model_dump(mode="json")
                | model.model_dump(mode="json", include={"family", "gguf_file", "derived_from", "note"})
                | {"gguf": gguf.model_dump(mode="json") if gguf else None}
                for model, health, gguf in rows
            ]
        )
        return
    table = Table("name", "quantization", "weights (from the GGUF)", "size", "context", "slots", "health")
    for model, health, gguf in rows:
        table.add_row(
            Text(model.name),
            Text(model.quantization),
            Text(gguf.describe() if gguf else "(file not on this machine)"),
            Text(f"{gguf.size_bytes / 1e6:.1f} MB" if gguf else ""),
            Text(f"{health.n_ctx or model.context_length:,}"),
            Text(str(health.total_slots or "")),
            Text(
                "ok" if health.ok else f"{health.status}: {health.detail}",
                style="green" if health.ok else "red",
            ),
        )
    out.print(table)
    for model, _, _ in rows:
        if model.note:
            err.print(Text(f"{model.name}: {model.note}", style="dim"))


@cli.command("logs")
def logs_cmd(
    namespace: NamespaceOpt,
    since: SinceOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    query: QueryOpt = None,
    pod: PodOpt = None,
    container: ContainerOpt = None,
    level: LevelOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Most lines to fetch.")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Fetch logs of a namespace from the log source (Loki or demo)."""
    log_filter = make_filter(namespace, pod, container, level, query)
    start_at, end_at = resolve_window(since, start, end)
    svc = services()
    result = svc.triage.fetch_logs(log_filter, start_at, end_at, limit)
    if as_json:
        emit_json(
            {
                "query": result.query,
                "source": result.source,
                "start": start_at.isoformat(),
                "end": end_at.isoformat(),
                "truncated": result.truncated,
                "warnings": result.warnings,
                "count": len(result.entries),
                "entries": [
                    {"ts": format_rfc3339_ns(e.ts_ns), "labels": e.labels, "level": e.level, "line": e.line}
                    for e in result.entries
                ],
            }
        )
        return
    err.print(
        Text(f"{result.query}  ({len(result.entries)} lines{', truncated' if result.truncated else ''})")
    )
    _print_warnings(result.warnings)
    for entry in result.entries:
        # One entry, one terminal line: a newline inside a log line must not pass for another entry.
        head = f"{format_rfc3339_ns(entry.ts_ns)[:23]}Z {printable(entry.pod, one_line=True)} {entry.level.upper():5} "
        out.print(Text(head + printable(entry.line, one_line=True)))


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(Text(f"warning: {one_line(warning)}", style="yellow"))


def _latency_line(elapsed_ms: float, ttft_ms: float | None, tokens: int) -> Text:
    rate = decode_tokens_per_s(tokens, ttft_ms, elapsed_ms)  # None until the decode phase means something
    ttft = f"{ttft_ms:.0f} ms" if ttft_ms is not None else "…"
    speed = "-" if rate is None else f"{rate:.1f}"
    return Text(
        f"elapsed {elapsed_ms / 1000:.1f} s · ttft {ttft} · {tokens} tokens · {speed} tok/s", style="dim"
    )


@cli.command("triage")
def triage_cmd(
    namespace: NamespaceOpt,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name (see `logtriage models`); default DEFAULT_MODEL, else the first model."
        ),
    ] = None,
    since: SinceOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    prompt: Annotated[str, typer.Option(help="Prompt as name, name@latest or name@<hash>.")] = DEFAULT_PROMPT,
    query: QueryOpt = None,
    pod: PodOpt = None,
    container: ContainerOpt = None,
    level: LevelOpt = None,
    limit: Annotated[
        int | None, typer.Option(min=1, max=100_000, help="Most lines to fetch (default LOG_LIMIT).")
    ] = None,
    latency_target: Annotated[
        float | None,
        typer.Option(
            "--latency-target",
            min=0,
            max=3600,
            help="Aim for the first answer token within about this many seconds (0 = no target; "
            "default LATENCY_TARGET_SECONDS).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the root cause of what went wrong in a namespace's logs."""
    from app.errors import ConfigError
    from app.llm.models import default_model_name

    log_filter = make_filter(namespace, pod, container, level, query)
    start_at, end_at = resolve_window(since, start, end)
    svc = services()
    model = model or default_model_name(svc.models, svc.settings)
    if model is None:
        raise ConfigError("no models are configured", hint="check MODELS_FILE")
    request = TriageRequest(
        filter=log_filter,
        start=start_at,
        end=end_at,
        model=model,
        prompt=prompt,
        limit=limit or svc.settings.log_limit,
        latency_target_s=latency_target,
    )
    cancel = threading.Event()
    live_view = not as_json and sys.stdout.isatty()
    try:
        with svc.local_models_for(model, progress=lambda msg: err.print(Text(msg, style="dim"))):
            result = _triage_live(svc, request, cancel) if live_view else _triage_quiet(svc, request, cancel)
    finally:
        flush_tracing()
    if as_json:
        emit_json(_result_json(result))
    else:
        _print_warnings(result.log_warnings)
        if not live_view:
            _print_result(result)
    if result.status == "cancelled":
        raise InferenceCancelled(f"the triage was stopped; {_partial_figures(result)}")
    if result.status != "ok":
        raise LogTriageError(result.error or "triage failed")


def _partial_figures(result: TriageResult) -> str:
    """What a cancelled run kept, for its one line."""
    parts = [f"{result.log_lines} log lines"]
    if result.completion_tokens:
        parts.append(f"{result.completion_tokens} tokens")
    if result.total_ms is not None:
        parts.append(f"{result.total_ms / 1000:.1f} s of inference")
    return f"stored as cancelled run {result.run_id} ({', '.join(parts)})"


def drive_triage(
    events: Iterator[TriageEvent], cancel: threading.Event, on_event: Callable[[TriageEvent], None]
) -> TriageResult:
    """Consume a triage's events to its result; a first Ctrl-C cancels the run, which is then stored.

    The pipeline turns a Ctrl-C that lands inside it into a cancelled result itself; one that lands here
    (while an event is shown) sets ``cancel`` and keeps reading, so the pipeline stops at its next check
    and still stores the run. A second Ctrl-C stops waiting.
    """
    result: TriageResult | None = None
    while True:
        try:
            for event in events:
                on_event(event)
                if isinstance(event, ResultEvent):
                    result = event.result
            break
        except KeyboardInterrupt:
            if cancel.is_set():
                raise
            cancel.set()
    if result is None:
        raise KeyboardInterrupt  # interrupted after the run ended, before its result was handed over
    return result


def _triage_quiet(svc: Services, request: TriageRequest, cancel: threading.Event) -> TriageResult:
    return drive_triage(svc.triage.stream(request, cancel), cancel, lambda event: None)


def _result_json(result: TriageResult) -> dict[str, Any]:
    data = result.model_dump(mode="json", exclude={"raw_output"})
    data["evidence"] = [e["text"] for e in data["evidence"]]
    data["evidence_lines"] = list(result.model_dump(mode="json")["evidence"])
    return data


def _triage_live(svc: Services, request: TriageRequest, cancel: threading.Event) -> TriageResult:
    text = Text()
    status = Text("fetching logs…", style="dim")
    ttft: float | None = None
    with Live(Text.assemble(text, "\n", status), console=out, refresh_per_second=12, transient=False) as live:

        def show(event: TriageEvent) -> None:
            nonlocal status, ttft
            if isinstance(event, TokenStreamEvent):
                if ttft is None:
                    ttft = event.elapsed_ms
                text.append(event.text)
                status = _latency_line(event.elapsed_ms, ttft, event.tokens_so_far)
            elif isinstance(event, ResultEvent):
                return
            elif isinstance(event, PromptEvent):
                status = Text(_prompt_line(event.prepared) + " · waiting for model…", style="dim")
            else:
                status = Text(
                    type(event).__name__.removesuffix("Event").lower() + " ready, waiting for model…"
                )
            live.update(Text.assemble(text, "\n", status))

        result = drive_triage(svc.triage.stream(request, cancel), cancel, show)
    _print_result(result)
    return result


def _prompt_line(prepared: PreparedPrompt) -> str:
    """The budget, and the expected wait when the model has a measured rate."""
    line = prepared.budget_line()
    if prepared.estimate is not None and prepared.estimate.is_slow(prepared.latency_target_s):
        line += f" · slow: {prepared.estimate.describe_prompt()}"
    return line


def _estimate_line(result: TriageResult) -> str:
    """How far the time-to-first-token estimate was off, or '' without one."""
    if result.estimated_ttft_ms is None or result.ttft_ms is None or result.estimate_error_ms is None:
        return ""
    direction = "slower" if result.estimate_error_ms > 0 else "faster"
    return (
        f" · estimated ttft {result.estimated_ttft_ms / 1000:.1f} s, "
        f"{abs(result.estimate_error_ms) / 1000:.1f} s {direction}"
    )


def _print_result(result: TriageResult) -> None:
    if result.status != "ok":
        return
    out.print(Text.assemble(("root cause: ", "bold"), (result.root_cause or "", "bold red")))
    out.print(Text(f"confidence: {result.confidence:.2f}"))
    out.print(Text.assemble(("summary: ", "bold"), result.summary or ""))
    for line in result.evidence:
        out.print(Text("  " + line.text))
    out.print(
        Text(
            f"{result.prompt_version} · {result.model} · ttft {result.ttft_ms} ms · total {result.total_ms} ms · "
            f"{'-' if result.tokens_per_s is None else result.tokens_per_s} tok/s · "
            f"{result.prompt_tokens}+{result.completion_tokens} tokens · "
            f"trace {result.trace_id}{_estimate_line(result)}",
            style="dim",
        )
    )


# The local-server commands (serve-models, build-server, fetch-model, make-tiny-model, demo) live in servers.py.
register_server_commands(cli)


def main() -> None:
    """Entry point: run the CLI; every failure ends in one line on stderr and a non-zero exit."""
    reconfigure_streams()
    install_log_handler()
    code = run_cli(cli, "logtriage")
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _reader_went_away()
    sys.exit(code)


def _reader_went_away() -> int:
    """stdout's reader closed the pipe (``| head``): stop quietly, and keep Python's exit-time flush quiet too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_ERROR


def run_cli(app: typer.Typer, prog_name: str) -> int:
    """Run a typer app and return its exit code, turning every failure into one line on stderr."""
    try:
        code = app(prog_name=prog_name, standalone_mode=False)
    except NoArgsIsHelpError:
        return EXIT_USAGE  # the help is shown already
    except TyperException as exc:  # click's usage errors: bad option values, missing options, typos
        command = getattr(getattr(exc, "ctx", None), "command_path", prog_name)
        _error_line(f"error: {one_line(exc.format_message())} (see `{command} --help`)")
        return getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE
    except InferenceCancelled as exc:
        _error_line(f"cancelled: {exc.user_message()}", style="yellow")
        return EXIT_CANCELLED
    except LogTriageError as exc:
        _error_line(f"error: {exc.user_message()}")
        return EXIT_ERROR
    except (KeyboardInterrupt, typer.Abort):
        _error_line("cancelled", style="yellow")
        return EXIT_CANCELLED
    except typer.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        return _reader_went_away()
    except Exception as exc:  # a bug: still one line, never a traceback
        _error_line(f"error: {user_message(exc)}")
        return EXIT_ERROR
    return code if isinstance(code, int) else 0


def _error_line(message: str, style: str = "red") -> None:
    err.print(Text(message, style=style))
