"""How a triage run's outcome is drawn, live or stored: root cause, evidence, latency, labeling, trace."""

from __future__ import annotations

import streamlit as st

from app.logs.frame import entries_to_frame
from app.telemetry import grafana
from app.triage_history import StoredRun
from app.triage_models import TriageResult
from app.ui import cache, components, links

QUEUED_KEY = "triage.queued"
GOLDEN_SOURCE = "golden"


def stopped_result(result: TriageResult) -> None:
    """A stored run that did not finish: why, and the figures it has."""
    if result.status == "cancelled":
        st.warning("The run was cancelled.", icon=":material/stop_circle:")
    else:
        components.error_box(result.error or "the run failed", result.error_kind or "other")
    if result.total_ms is not None or result.completion_tokens:
        components.latency_readout(
            result.total_ms,
            result.ttft_ms,
            components.shown_rate(result.tokens_per_s, result.ttft_ms, result.total_ms),
            result.completion_tokens,
        )


def estimate_note(result: TriageResult) -> str:
    """How far the time-to-first-token estimate was off ('' without an estimate)."""
    if result.estimated_ttft_ms is None or result.estimate_error_ms is None:
        return ""
    error = result.estimate_error_ms
    direction = "slower" if error > 0 else "faster"
    return (
        f"expected the first token after {components.format_ms(result.estimated_ttft_ms)}; "
        f"it came {components.format_ms(abs(error))} {direction}"
    )


def ok_result(result: TriageResult, *, key: str, labeling: bool) -> None:
    """Root cause, confidence, summary, evidence and latency of a successful run."""
    with st.container(border=True):
        cols = st.columns([3, 1, 1])
        cols[0].metric("Root cause", result.root_cause or "—")
        cols[1].metric("Confidence", f"{result.confidence:.0%}" if result.confidence is not None else "—")
        cols[2].metric("Lines cited", len(result.evidence))
        st.caption("Summary")
        st.text(result.summary or "")
        if result.evidence:
            st.caption("Evidence (also marked ★ in the table of lines)")
            st.dataframe(
                [{"line": e.number, "text": e.text} for e in result.evidence],
                hide_index=True,
                column_config={
                    "line": st.column_config.NumberColumn("line", format="★ %d", width="small"),
                    "text": st.column_config.TextColumn("text", width="large"),
                },
            )
    components.latency_readout(
        result.total_ms,
        result.ttft_ms,
        components.shown_rate(result.tokens_per_s, result.ttft_ms, result.total_ms),
        result.completion_tokens,
    )
    if note := estimate_note(result):
        st.caption(note)
    st.caption(
        components.escape_markdown(
            f"{result.prompt_version} · {result.model} ({result.quantization}) · "
            f"{result.prompt_tokens or 0:,} prompt tokens · run {result.run_id}"
        )
    )
    if result.budget:
        st.caption("Budget: " + components.escape_markdown(result.budget))
    if labeling:
        labeling_action(result.run_id, key=f"{key}.queue")
    else:
        st.caption("These lines are a golden example already; label it on the Label page.")


def labeling_action(run_id: str, *, key: str, queued: bool = False) -> None:
    """Send a run's window to the labeling queue, and the way to the Label page once it is there."""
    queued = queued or st.session_state.get(QUEUED_KEY) == run_id
    button_col, link_col = st.columns([1, 3], vertical_alignment="center")
    if button_col.button(
        "Queued for labeling" if queued else "Send to labeling",
        icon=":material/label:",
        disabled=queued,
        key=key,
    ):
        with components.error_boundary("queueing for labeling"):
            cache.queue_for_labeling(run_id)
            st.session_state[QUEUED_KEY] = run_id
            st.toast(
                f"Sent to the labeling queue. [Open Label]({links.label_url()})",
                icon=":material/label:",
                duration="long",
            )
            st.rerun()
    if queued:
        link_col.markdown(f"[Label it now on the Label page]({links.label_url()})")


def trace_section(result: TriageResult, *, key: str) -> None:
    """The run's trace as a waterfall, its id and a link to Tempo in Grafana."""
    if not result.trace_id:
        return
    with st.expander("Trace", expanded=True):
        id_col, link_col = st.columns([5, 1], vertical_alignment="center")
        id_col.code(result.trace_id, language=None)
        with components.error_boundary("linking the trace"):
            link = grafana.trace_link(cache.get_app_settings(), result.trace_id)
            if link:
                link_col.link_button("Tempo", link, icon=":material/open_in_new:", width="stretch")
        components.trace_waterfall(cache.trace_spans(result.trace_id), key=key)


def past_run_view(stored: StoredRun) -> None:
    """One stored run: what was asked, the answer, the lines it read with the cited ones marked."""
    result = stored.result
    with st.container(border=True):
        st.subheader(f"Run of {stored.created_at:%Y-%m-%d %H:%M:%S} UTC", anchor=False)
        st.text(
            f"{result.namespace} · {components.window_label(result.window_start, result.window_end)} · "
            f"{result.log_lines:,} lines from {stored.source}"
        )
        st.code(result.query, language="text", wrap_lines=True)
        if result.status == "ok":
            ok_result(result, key=f"triage.past.{result.run_id}", labeling=False)
            if stored.source != GOLDEN_SOURCE:
                labeling_action(
                    result.run_id, key=f"triage.past.{result.run_id}.queue", queued=stored.queued_for_labeling
                )
        else:
            stopped_result(result)
        if result.raw_output:
            with st.expander("Raw model output"):
                st.code(result.raw_output, language="json", wrap_lines=True)
        if stored.entries:
            st.caption("The lines the run read")
            components.log_table(
                entries_to_frame(stored.entries),
                key=f"triage.past.{result.run_id}.logs",
                evidence=components.evidence_keys(result.evidence, stored.entries),
            )
        trace_section(result, key=f"triage.past.{result.run_id}.trace")
