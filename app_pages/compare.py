"""Compare: two or more eval runs side by side on their shared items, with intervals, a paired test and a verdict."""

from __future__ import annotations

import streamlit as st

from app.evals.compare import PAIR_CATEGORIES, Comparison
from app.evals.runner import RunHeader
from app.ui import components
from app.ui import evals as ui

SELECTED_KEY = "compare.runs"


def pick_runs(headers: list[RunHeader]) -> list[RunHeader]:
    """The runs to compare, the first being the reference A."""
    by_id = {header.id: header for header in headers}
    chosen = st.multiselect(
        "Runs (the first is the reference A)",
        list(by_id),
        key=SELECTED_KEY,
        format_func=lambda run_id: f"{run_id[:8]} · {by_id[run_id].label} · {by_id[run_id].status}",
        placeholder="Pick two or more runs",
    )
    return [by_id[run_id] for run_id in chosen]


def headline_section(result: Comparison) -> None:
    """Metrics side by side, deltas with intervals, the paired test and the verdicts."""
    if result.note:
        st.warning(
            "These runs cover different items; only the items they share are compared.",
            icon=":material/join_inner:",
        )
        st.text(result.note)
    else:
        st.caption(f"All runs cover the same {result.shared_items:,} items.")
    for pair in result.pairs:
        better = "better" in pair.verdict
        box = st.success if better else st.info
        box(
            components.escape_markdown(f"{pair.b} vs {pair.a}: {pair.verdict}"),
            icon=":material/balance:" if not better else ":material/trending_up:",
        )
    st.dataframe(ui.headline_frame(result), key="compare.headline")
    st.caption(
        f"Intervals: {result.confidence:.0%} percentile bootstrap ({result.resamples:,} resamples, seed {result.seed}); "
        "deltas are B - A in points with a paired bootstrap interval; McNemar's test on the items exactly "
        "one run got right (exact binomial below 25 such items, else chi-square with continuity correction)."
    )
    st.dataframe(
        ui.pairs_frame(result),
        key="compare.pairs",
        hide_index=True,
        column_config={
            "p-value": st.column_config.NumberColumn("p-value", format="%.4f"),
            "verdict": st.column_config.TextColumn("verdict", width="large"),
        },
    )


def charts_section(result: Comparison, headers: list[RunHeader]) -> None:
    """Per-class F1, confusion matrices, latency distributions and the accuracy/latency trade-off."""
    st.caption("F1 per class")
    ui.chart(ui.per_class_f1_figure(result), key="compare.f1")
    st.caption("Confusion matrices (shared items)")
    columns = st.columns(min(len(result.runs), 3))
    for index, run in enumerate(result.runs):
        with columns[index % len(columns)]:
            st.text(f"{run.letter}: {run.label}")
            ui.chart(ui.confusion_figure(run.metrics.confusion, height=360), key=f"compare.confusion.{index}")
    left, right = st.columns(2, gap="large")
    with left:
        st.caption("Time per item (shared items)")
        ui.chart(
            ui.latency_figure(
                [
                    (run.letter, items)
                    for run, items in zip(result.runs, ui.shared_items(headers), strict=True)
                ]
            ),
            key="compare.latency",
        )
    with right:
        st.caption("Accuracy against median latency (the quantization trade-off)")
        ui.chart(ui.tradeoff_figure(result.runs), key="compare.tradeoff")


def examples_section(headers: list[RunHeader]) -> None:
    """Shared examples of A and one other run, filtered by who got them right; a click opens one."""
    a = headers[0]
    others = {h.id: h for h in headers[1:]}
    b_id = st.selectbox(
        "Run B",
        list(others),
        key="compare.b",
        format_func=lambda run_id: f"{run_id[:8]} · {others[run_id].label}",
    )
    if b_id is None:
        return
    b = others[b_id]
    rows = ui.pair_outcomes(a, b)
    counts = {category: sum(1 for row in rows if row.category == category) for category in PAIR_CATEGORIES}
    category = st.segmented_control(
        "Show",
        PAIR_CATEGORIES,
        default=PAIR_CATEGORIES[0],
        key="compare.category",
        format_func=lambda c: f"{c} ({counts[c]})",
    )
    shown = [row for row in rows if category is None or row.category == category]
    event = st.dataframe(
        ui.outcomes_frame(shown),
        key="compare.examples",
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
    )
    selected = event.selection.rows if event is not None else []
    if not selected:
        st.caption("Click an example to see its logs and both outputs.")
        return
    example_id = shown[selected[0]].example_id
    a_item = next(item for item in ui.run_items(a) if item.example_id == example_id)
    b_item = next(item for item in ui.run_items(b) if item.example_id == example_id)
    examples: dict = {}
    with components.error_boundary("loading the golden set"):
        examples = ui.golden_examples()
    ui.example_detail(examples.get(example_id), [("A", a_item), ("B", b_item)], key="compare.example")


def main() -> None:
    """The Compare page."""
    st.title("Compare runs", anchor=False)
    st.caption(
        "Which prompt, model or quantization is better, and is the difference real? Runs are compared on "
        "the examples they share."
    )
    headers: list[RunHeader] = []
    with components.error_boundary("listing runs"):
        headers = [h for h in ui.eval_runs() if h.summary is not None]
    if len(headers) < 2:
        st.info(
            "Compare needs at least two runs with results. Start some on the Evals page.",
            icon=":material/analytics:",
        )
        return
    chosen = pick_runs(headers)
    if len(chosen) < 2:
        st.caption("Pick at least two runs.")
        return
    with components.error_boundary("comparing the runs"):
        result = ui.comparison(chosen)
        headline_section(result)
        st.subheader("Charts", anchor=False)
        charts_section(result, chosen)
        st.subheader("Examples", anchor=False)
        examples_section(chosen)


main()
