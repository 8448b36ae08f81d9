"""The tables of the Evals and Compare pages, as DataFrames: pure functions of runs, items and comparisons.

Figures are formatted for people here (percent with one decimal, durations in human units, "—" where a
ratio has no denominator), so the pages show them as they are. Untrusted text (example ids, log lines,
error messages) stays plain data: the pages show these frames with ``st.dataframe``, never as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from app.evals.compare import Comparison, ExampleOutcome
from app.evals.metrics import ItemResult, RunMetrics
from app.evals.runner import RunHeader
from app.evals.significance import Estimate, format_p
from app.golden.schema import GoldenExample
from app.logs.models import format_rfc3339_ns
from app.ui import components

NO_VALUE = "—"
CONTEXT_LINES = 3
"""Lines shown before and after each cited or labeled line when the log view focuses on the evidence."""
RUN_COLUMNS = (
    "run",
    "status",
    "model",
    "prompt",
    "accuracy %",
    "macro-F1 %",
    "items",
    "invalid %",
    "p50",
    "p95",
    "created",
    "quantization",
    "golden",
    "slice",
    "server",
    "git",
)
"""The runs table's columns, the ones a reader compares first on the left (visible at 1400 px)."""


def format_latency(ms: float | None) -> str:
    """A duration for people: '0.35 ms' (the baseline's), '850 ms', '6.2 s'."""
    if ms is None:
        return NO_VALUE
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    return components.format_ms(ms)


def format_rate(tokens_per_s: float | None) -> str:
    """Decoding speed, or '—' when there is none to speak of."""
    return f"{tokens_per_s:,.1f} tokens/s" if tokens_per_s else f"{NO_VALUE} tokens/s"


def pct(value: float | None) -> float | None:
    """A fraction as percent with one decimal."""
    return None if value is None else round(value * 100, 1)


def pct_text(value: float, *, defined: bool = True) -> str:
    """A fraction as '87.5', or '—' where its ratio had no denominator."""
    return f"{value * 100:.1f}" if defined else NO_VALUE


def _interval(estimate: Estimate) -> str:
    return f"{estimate.value * 100:.1f} [{estimate.low * 100:.1f}, {estimate.high * 100:.1f}]"


def _delta(estimate: Estimate) -> str:
    return f"{estimate.value * 100:+.1f} [{estimate.low * 100:+.1f}, {estimate.high * 100:+.1f}]"


# --- runs ----------------------------------------------------------------------------------------------------


def runs_frame(headers: Sequence[RunHeader]) -> pd.DataFrame:
    """One row per run, headline metrics first."""
    rows = []
    for header in headers:
        summary = header.summary
        rows.append(
            {
                "run": header.id[:8],
                "status": [header.status],
                "model": header.model,
                "prompt": header.prompt_ref,
                "accuracy %": pct(summary.accuracy) if summary else None,
                "macro-F1 %": pct(summary.macro_f1) if summary else None,
                "items": len(header.item_ids),
                "invalid %": pct(summary.invalid_output_rate) if summary else None,
                "p50": format_latency(summary.latency.total_ms.get("0.5")) if summary else NO_VALUE,
                "p95": format_latency(summary.latency.total_ms.get("0.95")) if summary else NO_VALUE,
                "created": header.created_at,
                "quantization": header.quantization,
                "golden": header.golden_version,
                "slice": ", ".join(f"{k}={v}" for k, v in header.slice.items()) or "all",
                "server": header.fingerprint.server_build,
                "git": header.fingerprint.git_revision[:10],
            }
        )
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def per_class_frame(metrics: RunMetrics) -> pd.DataFrame:
    """Precision, recall, F1 (percent), support and predicted count per class; '—' for 0/0."""
    return pd.DataFrame(
        [
            {
                "class": row.label,
                # Precision of a class nobody predicted, recall of a class with no examples: no denominator.
                "precision %": pct_text(row.precision, defined=row.predicted > 0),
                "recall %": pct_text(row.recall, defined=row.support > 0),
                "F1 %": pct_text(row.f1),
                "support": row.support,
                "predicted": row.predicted,
            }
            for row in metrics.per_class
        ],
        columns=["class", "precision %", "recall %", "F1 %", "support", "predicted"],
    )


def items_frame(items: Sequence[ItemResult]) -> pd.DataFrame:
    """One row per item result: ids, expected, predicted, outcome, time, what it copies and error."""
    repeated = any(item.repeat for item in items)
    rows = [
        {
            "example": item.example_id,
            "repeat": item.repeat,
            "scenario": item.scenario or "",
            "expected": item.expected,
            "predicted": item.predicted_label,
            "outcome": item.outcome,
            "time": format_latency(item.total_ms),
            "cached": item.cached,
            "copies example": ", ".join(item.copied_example or []),
            "error": item.error or "",
        }
        for item in items
    ]
    columns = [
        "example",
        "repeat",
        "scenario",
        "expected",
        "predicted",
        "outcome",
        "time",
        "cached",
        "copies example",
        "error",
    ]
    if not repeated:
        columns.remove("repeat")
    if not any(item.scenario for item in items):
        columns.remove("scenario")  # a run stored before scenarios were recorded, or a set without them
    if not any(item.leaked for item in items):
        columns.remove("copies example")  # nothing copied, or nothing checked (the baseline, older runs)
    return pd.DataFrame(rows, columns=columns)


# --- comparisons -----------------------------------------------------------------------------------------


def headline_frame(result: Comparison) -> pd.DataFrame:
    """Metric rows by run columns, each 'value [low, high]' where an interval exists."""
    rows: dict[str, dict[str, str]] = {}
    repeats = any(run.repeats for run in result.runs)
    for run in result.runs:
        column = f"{run.letter}: {run.run_id[:8]}"
        metrics = run.metrics
        values = {
            "run": run.label,
            f"accuracy % [{result.confidence:.0%} CI]": _interval(run.accuracy),
            f"macro-F1 % [{result.confidence:.0%} CI]": _interval(run.macro_f1),
            "micro-F1 %": f"{metrics.micro_f1 * 100:.1f}",
            "invalid output %": f"{metrics.invalid_output_rate * 100:.1f}",
            "timeouts/errors %": f"{metrics.error_rate * 100:.1f}",
            "evidence recall %": f"{metrics.evidence_recall * 100:.1f}",
            "p50 latency": format_latency(metrics.latency.total_ms.get("0.5")),
            "p95 latency": format_latency(metrics.latency.total_ms.get("0.95")),
            "decoding speed": format_rate(metrics.latency.tokens_per_s_mean),
            "items": f"{metrics.items:,}",
            "scenarios": f"{result.shared_scenarios:,}",
        }
        if repeats:
            agreement = run.repeats
            values["results (repeats included)"] = f"{run.results:,}"
            values["agreement across repeats %"] = (
                f"{agreement.mean_agreement * 100:.1f}" if agreement else "no repeats"
            )
            values["answers that flip %"] = f"{agreement.flip_rate * 100:.1f}" if agreement else "no repeats"
        for name, value in values.items():
            rows.setdefault(name, {})[column] = value
    return pd.DataFrame.from_dict(rows, orient="index")


def claims_frame(result: Comparison) -> pd.DataFrame:
    """One row per run against A and metric: delta (points) with interval, the test, p, and the result."""
    adjusted = result.multiple_comparisons is not None
    rows = []
    for pair in result.pairs:
        for claim in pair.claims:
            rows.append(
                {
                    "pair": f"{pair.b} vs {pair.a}",
                    "metric": claim.metric.replace("_f1", "-F1"),
                    f"Δ points [{result.confidence:.0%} CI]": _delta(claim.delta),
                    "test": claim.test,
                    "p": format_p(claim.p_value),
                    "Holm p": format_p(claim.p_adjusted) if adjusted else NO_VALUE,
                    "result": f"{pair.b} {claim.direction}" if claim.significant else "no difference",
                }
            )
    frame = pd.DataFrame(rows)
    return frame if adjusted else frame.drop(columns=["Holm p"])


def discordance_frame(result: Comparison) -> pd.DataFrame:
    """Per pair: the items exactly one run got right (McNemar's counts) and the answers that differ."""
    return pd.DataFrame(
        [
            {
                "pair": f"{pair.b} vs {pair.a}",
                "A right, B wrong": pair.mcnemar.a_only,
                "A wrong, B right": pair.mcnemar.b_only,
                "answers differ": pair.permutation.differing,
            }
            for pair in result.pairs
        ]
    )


def outcomes_frame(rows: Sequence[ExampleOutcome]) -> pd.DataFrame:
    """One row per shared example: scenario, expected, both predictions (with repeat agreement) and its case."""
    columns = [
        "example_id",
        "scenario",
        "expected",
        "a_predicted",
        "b_predicted",
        "a_agreement",
        "b_agreement",
        "a_outcome",
        "b_outcome",
        "category",
    ]
    frame = pd.DataFrame([row.model_dump() for row in rows], columns=columns)
    unused = [
        name for name in ("scenario", "a_agreement", "b_agreement") if not frame[name].astype(bool).any()
    ]
    return frame.drop(columns=unused)


# --- an example's logs --------------------------------------------------------------------------------------


def model_numbers(item: ItemResult) -> list[int]:
    """The line numbers the model's answer cited, as it wrote them (its prompt's numbering)."""
    evidence = (item.parsed or {}).get("evidence") or []
    return [number for number in evidence if isinstance(number, int) and not isinstance(number, bool)]


def focus_rows(count: int, marked: set[int], context: int = CONTEXT_LINES) -> list[int]:
    """Row positions within ``context`` lines of a marked one (all rows when nothing is marked)."""
    if not marked:
        return list(range(count))
    keep = {
        row for index in marked for row in range(index - context, index + context + 1) if 0 <= row < count
    }
    return sorted(keep)


def logs_frame(
    example: GoldenExample, outputs: Sequence[tuple[str, ItemResult]], *, focus: bool
) -> pd.DataFrame:
    """An example's lines: entry index (as labels cite it), labeled evidence, each run's cited lines, time, pod, line.

    A run's cited lines are the log entries behind the prompt lines its answer named. With ``focus`` only
    the lines near labeled or cited evidence are kept (the rest is one toggle away on the page).
    """
    labeled = set(example.label.evidence)
    cited = {name: set(item.cited_evidence) for name, item in outputs}
    marked = labeled.union(*cited.values()) if cited else set(labeled)
    rows = focus_rows(len(example.logs), marked) if focus else list(range(len(example.logs)))
    records = []
    for index in rows:
        log = example.logs[index]
        record: dict[str, object] = {"#": index, "labeled": index in labeled}
        for name, lines in cited.items():
            record[f"cited by {name}"] = "★" if index in lines else ""
        record.update(
            time=format_rfc3339_ns(log.ts_ns)[:23] + "Z",
            pod=log.labels.get("pod", ""),
            line=log.line,
        )
        records.append(record)
    columns = ["#", "labeled", *(f"cited by {name}" for name in cited), "time", "pod", "line"]
    return pd.DataFrame(records, columns=columns)


def highlight_cited(frame: pd.DataFrame) -> pd.DataFrame:
    """CSS per cell: cited rows amber, labeled-only rows green (a Styler ``apply(axis=None)`` function)."""
    cited_columns = [name for name in frame.columns if str(name).startswith("cited by ")]
    cited = (
        frame[cited_columns].astype(bool).any(axis=1)
        if cited_columns
        else pd.Series(False, index=frame.index)
    )
    labeled = frame["labeled"].astype(bool) if "labeled" in frame else pd.Series(False, index=frame.index)
    colours = pd.Series("", index=frame.index)
    colours[labeled] = "background-color: #dcfce7"
    colours[cited] = "background-color: #fef3c7"
    return pd.DataFrame(dict.fromkeys(frame.columns, colours), index=frame.index)
