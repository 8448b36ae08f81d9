"""Compare: two or more eval runs side by side on their shared items, with intervals, paired tests and claims."""

from __future__ import annotations

import streamlit as st

from app.evals.compare import PAIR_CATEGORIES, Comparison
from app.evals.runner import RunHeader
from app.ui import components
from app.ui import eval_charts as charts
from app.ui import eval_frames as frames
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


def coverage_caption(result: Comparison) -> str:
    """What the comparison rests on: items, scenarios, and how the intervals and tests were made."""
    return (
        f"{result.shared_items:,} shared items from {result.shared_scenarios:,} independent scenarios. "
        f"Intervals: {result.confidence:.0%} percentile bootstrap over scenarios ({result.resamples:,} "
        f"resamples, seed {result.seed}), so they reflect {result.shared_scenarios:,} independent draws, not "
        f"{result.shared_items:,}. Accuracy is tested with McNemar's test on the items exactly one run got "
        "right; macro-F1 with a paired permutation test (answers swapped item by item). Deltas are in points."
    )


def headline_section(result: Comparison) -> None:
    """One box per claim, coloured by direction; metrics side by side; the claims as a table."""
    if result.note:
        st.warning(
            "These runs cover different items; only the items they share are compared.",
            icon=":material/join_inner:",
        )
        st.text(result.note)
    else:
        st.caption(f"All runs cover the same {result.shared_items:,} items.")
    if result.multiple_comparisons:
        st.caption(
            components.escape_markdown(
                f"{len(result.pairs)} runs are tested against A: {result.multiple_comparisons}"
            )
        )
    for pair in result.pairs:
        for claim in pair.claims:
            ui.claim_box(f"{pair.b} vs {pair.a}", claim)
    st.caption(components.escape_markdown(coverage_caption(result)))
    if result.repeats_note:
        st.caption(components.escape_markdown(result.repeats_note))
    st.dataframe(frames.headline_frame(result), key="compare.headline")
    st.dataframe(
        frames.claims_frame(result),
        key="compare.claims",
        hide_index=True,
        column_config={"result": st.column_config.TextColumn("result", width="small")},
    )
    st.dataframe(frames.discordance_frame(result), key="compare.discordance", hide_index=True)


def charts_section(result: Comparison, headers: list[RunHeader]) -> None:
    """Per-class F1, confusion matrices, latency distributions and the accuracy/latency trade-off."""
    st.caption("F1 per class")
    ui.chart(charts.per_class_f1_figure(result.runs), key="compare.f1")
    st.caption("Confusion matrices (shared items)")
    columns = st.columns(min(len(result.runs), 3))
    for index, run in enumerate(result.runs):
        with columns[index % len(columns)]:
            st.text(f"{run.letter}: {run.label}")
            ui.chart(charts.confusion_figure(run.metrics.confusion), key=f"compare.confusion.{index}")
    left, right = st.columns(2, gap="large")
    with left:
        st.caption("Time per item (shared items)")
        ui.chart(
            charts.latency_figure(
                [
                    (run.letter, items)
                    for run, items in zip(result.runs, ui.shared_items(headers), strict=True)
                ]
            ),
            key="compare.latency",
        )
    with right:
        st.caption("Accuracy against median latency (the quantization trade-off)")
        ui.chart(charts.tradeoff_figure(result.runs), key="compare.tradeoff")


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
        frames.outcomes_frame(shown),
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
    a_answers, b_answers = ui.answers_for(a, example_id), ui.answers_for(b, example_id)
    outcome = shown[selected[0]]
    a_item = next(i for i in a_answers if i.predicted_label == outcome.a_predicted)
    b_item = next(i for i in b_answers if i.predicted_label == outcome.b_predicted)
    examples: dict = {}
    with components.error_boundary("loading the golden set"):
        examples = ui.golden_examples()
    ui.example_detail(
        examples.get(example_id),
        [("A", a_item), ("B", b_item)],
        key="compare.example",
        example_id=example_id,
        repeats={"A": a_answers, "B": b_answers},
    )


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
