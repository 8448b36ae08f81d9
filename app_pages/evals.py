"""Evals: run a prompt and a model (or the regex baseline) over the golden set, list runs, open one."""

from __future__ import annotations

import streamlit as st

from app.evals.metrics import ItemResult, repeat_agreement, scenario_count
from app.evals.runner import BASELINE_MODEL_NAME, MAX_CONCURRENCY, EvalRequest, RunHeader
from app.taxonomy import ROOT_CAUSES
from app.triage_models import DEFAULT_PROMPT
from app.ui import components
from app.ui import eval_charts as charts
from app.ui import eval_frames as frames
from app.ui import evals as ui

SOURCES = ("synthetic", "labeled", "imported")
ANY_SOURCE = "any source"


def start_section() -> None:
    """Prompt, model, slice and concurrency; Start runs it in the background with a progress bar."""
    refs: list[str] = []
    models: list[str] = [BASELINE_MODEL_NAME]
    with components.error_boundary("loading prompts and models"):
        refs = ui.prompt_refs()
        models = ui.model_names()
    prompt_col, model_col = st.columns(2)
    default_prompt = next(
        (i for i, ref in enumerate(refs) if ref.startswith(DEFAULT_PROMPT.split("@")[0])), 0
    )
    prompt = prompt_col.selectbox("Prompt", refs, index=default_prompt if refs else None, key="evals.prompt")
    model = model_col.selectbox(
        "Model",
        models,
        key="evals.model",
        help=f"{BASELINE_MODEL_NAME} is the keyword/regex analyzer: no server, the floor every model must beat.",
    )
    classes_col, source_col, limit_col, concurrency_col = st.columns([3, 1, 1, 1])
    classes = classes_col.multiselect("Classes", ROOT_CAUSES, key="evals.classes", placeholder="all classes")
    source = source_col.selectbox("Source", [ANY_SOURCE, *SOURCES], key="evals.source")
    limit = limit_col.number_input("First N (0 = all)", min_value=0, value=0, step=10, key="evals.limit")
    concurrency = concurrency_col.number_input(
        "Concurrency (0 = auto)",
        min_value=0,
        max_value=MAX_CONCURRENCY,
        value=0,
        key="evals.concurrency",
        help="Requests in flight; auto = the server's slot count, else 4.",
    )
    ids_col, per_class_col, seed_col, cache_col = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    ids = ids_col.text_input("Example ids", key="evals.ids", placeholder="comma-separated; empty = all")
    per_class = per_class_col.number_input(
        "N per class (0 = off)",
        min_value=0,
        value=0,
        step=1,
        key="evals.per_class",
        help="A stratified slice: N examples of every class, picked at random with the seed below. "
        "First N would take the first examples by id, which can all be of one class.",
    )
    seed = seed_col.number_input(
        "Seed", min_value=0, value=0, step=1, key="evals.seed", help="The same seed picks the same examples."
    )
    no_cache = cache_col.toggle(
        "No cache", key="evals.no_cache", help="Run inference even for cached answers."
    )
    live = ui.current_eval()
    running = live is not None and live.active
    clicked = st.button(
        "Start run",
        type="primary",
        icon=":material/play_arrow:",
        key="evals.start",
        disabled=running or prompt is None or model is None,
    )
    # A click that raced a run started meanwhile (the button drawn before it) starts nothing.
    if clicked and not running:
        with components.error_boundary("starting the run"):
            request = EvalRequest(
                prompt=prompt or DEFAULT_PROMPT,
                model=model or BASELINE_MODEL_NAME,
                slice=ui.eval_slice(
                    classes=list(classes),
                    source=None if source == ANY_SOURCE else source,
                    ids=[i.strip() for i in ids.split(",") if i.strip()],
                    limit=int(limit) or None,
                    per_class=int(per_class) or None,
                    seed=int(seed),
                ),
                concurrency=int(concurrency) or None,
                use_cache=not no_cache,
            )
            ui.start_eval(request)
            st.rerun()  # redraw the Start button disabled while the run goes
    ui.progress_panel()


def fingerprint_section(header: RunHeader) -> None:
    """What the run was: prompt, golden set, model file, params, server build, app version."""
    fingerprint = header.fingerprint
    rows = {
        "run": header.id,
        "status": header.status,
        "prompt": f"{header.prompt_ref} (sha256 {header.prompt_sha256})",
        "golden set": f"{header.golden_version}, {len(header.item_ids)} items, slice {header.slice or 'all'}",
        "model": f"{header.model} · {header.quantization} · {header.gguf_file or 'no GGUF'}",
        "endpoint": header.base_url or "none",
        "sampling params": str(header.params),
        "server build": fingerprint.server_build,
        "app": f"{fingerprint.app_version} @ {fingerprint.git_revision}",
        "started / ended": f"{header.started_at} → {header.ended_at}",
        "duration": frames.format_latency(header.duration_s * 1000) if header.duration_s is not None else "—",
        "concurrency": f"{header.concurrency} ({fingerprint.concurrency_source})",
        "resumed": ", ".join(fingerprint.resumes) or "never",
    }
    st.dataframe(
        [{"field": name, "value": value} for name, value in rows.items()],
        hide_index=True,
        column_config={"value": st.column_config.TextColumn("value", width="large")},
    )
    if header.error:
        components.error_box(header.error)


def headline_metrics(header: RunHeader, items: list[ItemResult]) -> None:
    """The run's scores in a row of metrics, then its outcome counts (and agreement across repeats)."""
    summary = header.summary
    assert summary is not None
    cols = st.columns(8)
    cols[0].metric("Accuracy", f"{summary.accuracy:.1%}")
    cols[1].metric("Macro-F1", f"{summary.macro_f1:.1%}")
    cols[2].metric("Micro-F1", f"{summary.micro_f1:.1%}")
    cols[3].metric("Invalid output", f"{summary.invalid_output_rate:.1%}")
    cols[4].metric(
        "Copies example",
        f"{summary.leak_rate:.1%}" if summary.leak_checked_items else "—",
        help=f"{summary.leaked_items} of {summary.leak_checked_items} answers copy a name or phrase of the "
        "prompt's worked examples that their own logs lack (— : nothing checked, e.g. the baseline).",
    )
    cols[5].metric("Evidence recall", f"{summary.evidence_recall:.1%}")
    cols[6].metric("Items", f"{summary.items:,}", help=f"{summary.cached_items} from the cache")
    cols[7].metric(
        "Scenarios",
        f"{scenario_count(items):,}",
        help="Distinct golden scenarios the items come from (an example without one counts alone): the "
        "independent evidence behind the scores.",
    )
    outcomes = " · ".join(
        f"{outcome.replace('_', ' ')}: {count}" for outcome, count in summary.outcomes.items()
    )
    repeats = repeat_agreement(items)
    if repeats is not None:
        outcomes += (
            f" · {repeats.repeats} repeats: {repeats.mean_agreement:.1%} agreement across them, "
            f"{repeats.flip_rate:.1%} of {repeats.examples} examples flip"
        )
    st.caption(outcomes)


def run_detail(header: RunHeader) -> None:
    """One run: headline metrics, per-class table, confusion matrix, latency and failing items."""
    st.subheader(f"Run {header.id[:8]}", anchor=False)
    st.text(header.label)
    summary = header.summary
    with st.expander("Fingerprint", expanded=summary is None):
        fingerprint_section(header)
    if summary is None:
        st.info("This run has no results yet.", icon=":material/hourglass_empty:")
        return
    items = ui.run_items(header)
    headline_metrics(header, items)
    table_col, matrix_col = st.columns([2, 3], gap="large")
    with table_col:
        st.caption("Per class (— where a ratio has no denominator: nothing predicted, or no examples)")
        st.dataframe(frames.per_class_frame(summary), hide_index=True, key="evals.per_class_table")
    with matrix_col:
        st.caption("Confusion matrix")
        ui.chart(charts.confusion_figure(summary.confusion), key="evals.confusion")
    latency = summary.latency
    st.caption(
        f"Latency of {latency.timed_items} answered items: p50 {frames.format_latency(latency.total_ms.get('0.5'))}"
        f" · p95 {frames.format_latency(latency.total_ms.get('0.95'))}"
        f" · p99 {frames.format_latency(latency.total_ms.get('0.99'))}"
        f" · time to first token p50 {frames.format_latency(latency.ttft_ms.get('0.5'))}"
        f" · {frames.format_rate(latency.tokens_per_s_mean)} · {latency.total_tokens:,} tokens"
    )
    ui.chart(charts.latency_figure([(header.model, items)]), key="evals.latency")
    # A correct answer that copies a worked example is listed too: it may be right by the example's luck.
    failing = [item for item in items if item.outcome != "correct" or item.leaked]
    leaked = sum(1 for item in failing if item.leaked)
    st.caption(
        f"Failing items ({sum(1 for item in failing if item.outcome != 'correct')})"
        + (f" and answers copying a worked example ({leaked})" if leaked else "")
        + "; click one to see its logs and output"
    )
    event = st.dataframe(
        frames.items_frame(failing),
        key="evals.failing",
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "error": st.column_config.TextColumn("error", width="large"),
            "copies example": st.column_config.TextColumn(
                "copies example", help="Names and phrases of the prompt's worked examples the answer repeats"
            ),
        },
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        item = failing[rows[0]]
        examples: dict = {}
        with components.error_boundary("loading the golden set"):
            examples = ui.golden_examples()
        ui.example_detail(
            examples.get(item.example_id),
            [(header.model, item)],
            key="evals.example",
            example_id=item.example_id,
            repeats={header.model: ui.answers_for(header, item.example_id)},
        )


def runs_section() -> None:
    """The runs, running ones included, newest first; a click opens one."""
    headers: list[RunHeader] = []
    with components.error_boundary("listing runs"):
        headers = ui.eval_runs()
    ui.running_panel(headers)
    if not headers:
        if ui.is_starting():
            st.caption("Your run is starting; it shows here once it is recorded.")
        else:
            st.info(
                "No runs yet. Start one above, or with `logtriage eval run`.", icon=":material/analytics:"
            )
        return
    selected = ui.runs_table(headers, key="evals.runs")
    if selected is None:
        st.caption("Click a run to open it.")
        return
    with components.error_boundary("showing the run"):
        run_detail(ui.run_header(selected.id))


def main() -> None:
    """The Evals page."""
    st.title("Evals", anchor=False)
    st.caption(
        "Run a prompt and a model over the golden set, or the regex baseline every model must beat; "
        "open a run to see where it goes wrong."
    )
    with st.container(border=True):
        st.subheader("Start a run", anchor=False)
        start_section()
    st.subheader("Runs", anchor=False)
    runs_section()


main()
