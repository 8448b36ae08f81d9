"""``logtriage eval compare``: runs side by side, one claim per metric and pair, and the regression gate.

The command is registered on the ``eval`` app by ``app.cli.evals``, so ``logtriage eval compare`` is
where it always was.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from app.cli.console import JsonOpt, emit_json, err, out, services
from app.cli.eval_tables import format_ms, format_pct
from app.evals.compare import METRIC_LABELS, Claim, Comparison, compare_runs, regression_gate
from app.evals.runs import load_run_items
from app.evals.significance import Estimate, format_p


class GateMetric(StrEnum):
    """The metrics a regression gate can judge."""

    accuracy = "accuracy"
    macro_f1 = "macro_f1"


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
                f"{format_pct(getattr(run, attr).value)} [{format_pct(getattr(run, attr).low)}, {format_pct(getattr(run, attr).high)}]"
                for run in comparison.runs
            ),
        )
    side.add_row("micro-F1", *(format_pct(run.metrics.micro_f1) for run in comparison.runs))
    side.add_row("invalid output", *(format_pct(run.metrics.invalid_output_rate) for run in comparison.runs))
    side.add_row("timeouts/errors", *(format_pct(run.metrics.error_rate) for run in comparison.runs))
    side.add_row("evidence recall", *(format_pct(run.metrics.evidence_recall) for run in comparison.runs))
    side.add_row(
        "p50 latency", *(format_ms(run.metrics.latency.total_ms.get("0.5")) for run in comparison.runs)
    )
    side.add_row(
        "p95 latency", *(format_ms(run.metrics.latency.total_ms.get("0.95")) for run in comparison.runs)
    )
    if any(run.repeats for run in comparison.runs):
        side.add_row(
            "repeat agreement",
            *(format_pct(run.repeats.mean_agreement) if run.repeats else "—" for run in comparison.runs),
        )
        side.add_row(
            "answers that flip",
            *(format_pct(run.repeats.flip_rate) if run.repeats else "—" for run in comparison.runs),
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
