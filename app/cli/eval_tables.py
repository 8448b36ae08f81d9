"""How ``logtriage eval`` draws one run: its headline and its tables (per class, confusion, latency,
failing items, workers), and the number formats ``eval compare`` shares with them."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from app.evals.metrics import ItemResult, RunMetrics
from app.evals.runs import RunHeader, WorkerInfo
from app.evals.scoring import describe_failures

FAILING_SHOWN = 15


def format_pct(value: float) -> str:
    """A rate as a percentage with one decimal: 0.8125 -> 81.2%."""
    return f"{value * 100:.1f}%"


def format_ms(value: float | None) -> str:
    """A latency in milliseconds, in ms or s as its size asks; a dash when there is none."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.2f} ms"
    return f"{value:,.0f} ms" if value < 1000 else f"{value / 1000:,.2f} s"


def headline(header: RunHeader) -> Text:
    """A run in a few lines: id, status, label, headline metrics, repeats, failures and error."""
    summary, report = header.summary, header.report
    status_style = {"completed": "green", "running": "yellow", "failed": "red", "cancelled": "yellow"}
    text = Text.assemble(
        (header.id, "bold"), "  ", (header.status, status_style.get(header.status, "")), "  ", header.label
    )
    if summary:
        text.append(
            f"\n  {summary.items} items · accuracy {format_pct(summary.accuracy)} · macro-F1 {format_pct(summary.macro_f1)}"
            f" · micro-F1 {format_pct(summary.micro_f1)} · invalid {format_pct(summary.invalid_output_rate)}"
            f" · errors {format_pct(summary.error_rate)} · cached {summary.cached_items}"
        )
    if report:
        text.append(
            f"\n  {report.examples} examples · {report.scenarios} scenarios"
            + (f" · {report.repeats} repeats" if report.repeats > 1 else "")
            + (f" · {report.retried} failed results retried" if report.retried else "")
        )
        if report.agreement:
            text.append(
                f"\n  agreement across repeats {format_pct(report.agreement.mean_agreement)} · answer flips on "
                f"{format_pct(report.agreement.flip_rate)} of {report.agreement.examples} examples"
            )
    if header.failures:
        text.append(f"\n  failed items: {describe_failures(header.failures)}", style="yellow")
    if header.error:
        text.append(f"\n  error: {header.error}", style="red")
    return text


def per_class_table(metrics: RunMetrics) -> Table:
    """Precision, recall, F1, support and predicted count per class."""
    table = Table("class", "precision", "recall", "F1", "support", "predicted", title="Per class")
    for row in metrics.per_class:
        table.add_row(
            Text(row.label),
            format_pct(row.precision),
            format_pct(row.recall),
            format_pct(row.f1),
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
        table.add_row(name, *(format_ms(values.get(q)) for q in ("0.5", "0.95", "0.99")))
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
            Text(item.example_id + (f" #{item.repeat}" if item.repeat else "")),
            Text(item.expected),
            Text(item.predicted_label),
            Text(item.outcome),
            Text((item.error or "")[:120]),
        )
    return table


def workers_table(workers: list[WorkerInfo]) -> Table:
    """The processes that worked on the run: shard, host and pid, status, results stored."""
    table = Table("worker", "shard", "host", "pid", "started", "status", "results", title="Workers")
    for worker in workers:
        table.add_row(
            Text(worker.id[:8]),
            Text(worker.shard or "—"),
            Text(worker.host),
            str(worker.pid),
            Text(worker.started_at.strftime("%Y-%m-%d %H:%M:%S")),
            Text(worker.status),
            str(worker.items),
        )
    return table


def copied_items_table(items: list[ItemResult], limit: int = FAILING_SHOWN) -> Table:
    """The answers that copy a worked example of the prompt, and what they copy."""
    checked = [item for item in items if item.copied_example is not None]
    leaked = [item for item in checked if item.leaked]
    table = Table(
        "example",
        "expected",
        "predicted",
        "copies from a worked example",
        title=f"Answers copying a worked example ({len(leaked)} of {len(checked)} checked)",
    )
    for item in leaked[:limit]:
        table.add_row(
            Text(item.example_id + (f" #{item.repeat}" if item.repeat else "")),
            Text(item.expected),
            Text(item.predicted_label),
            Text(", ".join(item.copied_example or [])[:160]),
        )
    return table
