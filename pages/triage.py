"""Triage: pick a namespace and a window, preview the lines, run a model on them, read its root cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from app.llm.latency import format_seconds
from app.llm.models import ModelConfig, ModelHealth
from app.logs.logql import LogFilter
from app.logs.models import LEVELS
from app.prompts.registry import PromptVersion
from app.telemetry import grafana
from app.triage import DEFAULT_PROMPT, PreparedPrompt, TriageRequest, TriageResult
from app.ui import cache, components, live_run

PREVIEW_KEY = "triage.preview"
QUEUED_KEY = "triage.queued"
LATENCY_KEY = "triage.latency_target"
ANY_LEVEL = "any level"


@dataclass(frozen=True)
class PreviewRequest:
    """The filter and the anchored window the user asked to preview (and then to triage)."""

    log_filter: LogFilter
    start: datetime
    end: datetime
    limit: int
    window_label: str


def _blank_to_none(value: str | None) -> str | None:
    return value if value and value.strip() else None


def logs_form(default_limit: int) -> None:
    """Namespace, window and filters; the Preview button anchors them as the preview request."""
    left, right = st.columns([2, 3], gap="large")
    with right:
        choice = components.time_range_picker("triage.range")
    start, end = choice.resolve(components.floor_minute(datetime.now(UTC)))
    with left:
        names: list[str] = []
        with components.error_boundary("listing namespaces"):
            names = cache.namespaces(start, end)
        if names:
            namespace = st.selectbox(
                "Namespace",
                names,
                index=None,
                key="triage.namespace",
                placeholder="Pick or type a namespace",
                accept_new_options=True,
            )
        else:
            # Listing failed or found nothing in this window: the user can still name one.
            namespace = st.text_input(
                "Namespace", key="triage.namespace_typed", placeholder="Type a namespace"
            )
    pod_col, container_col, level_col, text_col = st.columns(4)
    pod = pod_col.text_input("Pod", key="triage.pod", placeholder="any pod")
    container = container_col.text_input("Container", key="triage.container", placeholder="any container")
    level = level_col.selectbox("Level", [ANY_LEVEL, *LEVELS], key="triage.level")
    contains = text_col.text_input("Line contains", key="triage.contains", placeholder="e.g. timeout")
    with st.expander("More filters"):
        ex_col, re_col, limit_col = st.columns([2, 2, 1])
        excludes = ex_col.text_input(
            "Line does not contain", key="triage.excludes", placeholder="e.g. healthz"
        )
        regex = re_col.text_input("Line matches regex", key="triage.regex", placeholder=r"e.g. 5\d\d")
        limit = limit_col.number_input(
            "Most lines", min_value=1, max_value=100_000, value=default_limit, step=500, key="triage.limit"
        )
    if st.button("Preview logs", type="primary", icon=":material/search:", key="triage.preview_button"):
        with components.error_boundary("building the query"):
            log_filter = LogFilter(
                namespace=namespace or "",
                pod=_blank_to_none(pod),
                container=_blank_to_none(container),
                level=None if level == ANY_LEVEL else level,
                contains=_blank_to_none(contains),
                excludes=_blank_to_none(excludes),
                regex=_blank_to_none(regex),
            )
            anchored_start, anchored_end = choice.resolve(datetime.now(UTC))
            st.session_state[PREVIEW_KEY] = PreviewRequest(
                log_filter, anchored_start, anchored_end, int(limit), choice.label()
            )
            run = live_run.current_run()
            if run is not None and run.done:
                live_run.clear_run()


def preview_section(request: PreviewRequest, evidence: dict[tuple[int, str], int]) -> int:
    """The LogQL, counts, volume chart and table of the previewed lines; returns the line count."""
    with components.error_boundary("fetching logs"):
        preview = cache.preview_logs(request.log_filter, request.start, request.end, request.limit)
        cols = st.columns(4)
        cols[0].metric("Lines", f"{preview.count:,}")
        cols[1].metric("Truncated by the limit", "yes" if preview.truncated else "no")
        cols[2].metric("Source", preview.source)
        cols[3].metric("Query time", components.format_ms(preview.duration_s * 1000))
        if preview.truncated:
            st.warning(
                f"The limit of {preview.limit:,} lines cut this window short: the newest {preview.limit:,} "
                "lines are shown. Narrow the window or the filters, or raise the limit under More filters.",
                icon=":material/content_cut:",
            )
        query_col, link_col = st.columns([5, 1], vertical_alignment="center")
        query_col.code(preview.query, language="text", wrap_lines=True)
        settings = cache.get_app_settings()
        link = grafana.logs_link(settings, preview.query, request.start, request.end)
        if link:
            link_col.link_button("Grafana", link, icon=":material/open_in_new:", width="stretch")
        if preview.count == 0:
            st.info("No lines match in this window. Widen the time range or loosen the filters.")
            return 0
        components.volume_chart(preview.frame, request.start, request.end, key="triage.volume")
        components.log_table(preview.frame, key="triage.logs", evidence=evidence)
        return preview.count
    return 0


def _health_label(model: ModelConfig, health: ModelHealth | None) -> str:
    if health is None:
        state = "health unknown"
    elif health.ok:
        state = f"● up, {components.format_ms(health.latency_ms)}"
    else:
        state = f"○ {health.status}"
    return f"{model.name} · {model.quantization} · {state}"


def _default_prompt_index(versions: list[PromptVersion]) -> int:
    wanted = DEFAULT_PROMPT.split("@")[0]
    for i in range(len(versions) - 1, -1, -1):
        if versions[i].name == wanted and versions[i].is_current:
            return i
    return max(len(versions) - 1, 0)


def _default_model_index(names: list[str]) -> int:
    with components.error_boundary("picking the default model"):
        default = cache.default_model()
        if default in names:
            return names.index(default)
    return 0


def latency_target_control() -> float:
    """'Answer within about N seconds': the latency target the log budget is fitted to (0 = none)."""
    default = 5.0
    with components.error_boundary("reading settings"):
        default = cache.get_app_settings().latency_target_seconds
    return float(
        st.number_input(
            "Answer within about (seconds)",
            min_value=0.0,
            max_value=600.0,
            value=default,
            step=1.0,
            key=LATENCY_KEY,
            help="Time to the first answer token. The log budget shrinks to fit it, at the prompt rate this "
            "model's server reported on recent runs; 0 = no latency target.",
        )
    )


def budget_section(prepared: PreparedPrompt) -> None:
    """The budget line with its expected wait, and a word before a run that will be slow."""
    report = prepared.budget.report
    st.info(
        f"Budget: {prepared.budget_line()}. "
        f"{report.kept_lines:,} of {report.total_lines:,} lines kept, "
        f"{report.tokens_before:,} → {report.tokens_after:,} tokens "
        f"({report.error_warn_kept:,} of {report.error_warn_total:,} error/warn lines kept, "
        f"tokens counted by {report.token_counter})",
        icon=":material/compress:",
    )
    estimate = prepared.estimate
    if estimate is None:
        st.caption("No prompt rate measured for this model yet: its first run measures it.")
    elif estimate.is_slow(prepared.latency_target_s):
        st.warning(
            f"This run will be slow: {estimate.describe_prompt()}"
            + (
                f", over the {format_seconds(prepared.latency_target_s)} target"
                if prepared.latency_target_s
                else ""
            )
            + ".",
            icon=":material/hourglass_top:",
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


def prompt_and_model_section(
    request: PreviewRequest | None, line_count: int
) -> tuple[str | None, str | None]:
    """Prompt and model pickers, the budget report and the rendered prompt; returns (prompt ref, model)."""
    prompt_ref: str | None = None
    model_name: str | None = None
    prompt_col, model_col = st.columns(2, gap="large")
    with prompt_col, components.error_boundary("loading prompts"):
        versions = cache.prompt_versions()
        version = st.selectbox(
            "Prompt",
            versions,
            index=_default_prompt_index(versions) if versions else None,
            format_func=lambda v: f"{v.name} @ {v.short_hash}" + ("" if v.is_current else " (older)"),
            key="triage.prompt",
        )
        if version is not None:
            prompt_ref = version.ref
            st.caption(components.escape_markdown(version.description))
    with model_col, components.error_boundary("loading models"):
        by_name = {m.name: m for m in cache.models()}
        health = cache.models_health()
        names = list(by_name)
        model_name = st.selectbox(
            "Model",
            names,
            index=_default_model_index(names) if names else None,
            format_func=lambda name: _health_label(by_name[name], health.get(name)),
            key="triage.model",
        )
        chosen = health.get(model_name) if model_name else None
        if chosen is not None and not chosen.ok:
            components.model_down_box(chosen, local=cache.uses_local_models())
        elif model_name:
            st.caption(f"context {by_name[model_name].context_length:,} tokens")
        target = latency_target_control()
    if request is not None and line_count and prompt_ref and model_name:
        with components.error_boundary("fitting the prompt"):
            prepared = cache.prepare_prompt(
                request.log_filter, request.start, request.end, request.limit, prompt_ref, model_name, target
            )
            budget_section(prepared)
            with st.expander("Rendered prompt"):
                st.caption("System")
                st.code(prepared.rendered.system, language=None, wrap_lines=True, height=240)
                for number, turn in enumerate(prepared.rendered.example_turns, start=1):
                    st.caption(f"Worked example {number} (an earlier turn of the chat)")
                    st.code(f"{turn.user}\n{turn.assistant}", language=None, wrap_lines=True)
                st.caption("User")
                st.code(prepared.rendered.user, language=None, wrap_lines=True, height=320)
    return prompt_ref, model_name


def result_section(run: live_run.LiveRun) -> None:
    """The finished run: root cause, evidence, latency, trace and the labeling action."""
    if run.failure is not None:
        components.error_box(run.failure.message, run.failure.kind)
        return
    result = run.result
    if result is None:
        return
    if result.status == "cancelled":
        st.warning("The run was cancelled.", icon=":material/stop_circle:")
    elif result.status == "error":
        components.error_box(result.error or "the run failed", result.error_kind or "other")
    else:
        ok_result(result)
    if result.raw_output:
        with st.expander("Raw model output"):
            st.code(result.raw_output, language="json", wrap_lines=True)
    trace_section(result)


def ok_result(result: TriageResult) -> None:
    """Root cause, confidence, summary, evidence and latency of a successful run."""
    with st.container(border=True):
        cols = st.columns([3, 1, 1])
        cols[0].metric("Root cause", result.root_cause or "—")
        cols[1].metric("Confidence", f"{result.confidence:.0%}" if result.confidence is not None else "—")
        cols[2].metric("Lines cited", len(result.evidence))
        st.caption("Summary")
        st.text(result.summary or "")
        if result.evidence:
            st.caption("Evidence (also marked ★ in the table above)")
            st.dataframe(
                [{"line": e.number, "text": e.text} for e in result.evidence],
                hide_index=True,
                column_config={
                    "line": st.column_config.NumberColumn("line", format="★ %d", width="small"),
                    "text": st.column_config.TextColumn("text", width="large"),
                },
            )
    components.latency_readout(result.total_ms, result.ttft_ms, result.tokens_per_s, result.completion_tokens)
    if note := estimate_note(result):
        st.caption(note)
    st.caption(
        components.escape_markdown(
            f"{result.prompt_version} · {result.model} ({result.quantization}) · "
            f"{result.prompt_tokens or 0:,} prompt tokens · run {result.run_id}"
        )
    )
    queued = st.session_state.get(QUEUED_KEY) == result.run_id
    if st.button(
        "Queued for labeling" if queued else "Send to labeling",
        icon=":material/label:",
        disabled=queued,
        key="triage.queue",
    ):
        with components.error_boundary("queueing for labeling"):
            cache.queue_for_labeling(result.run_id)
            st.session_state[QUEUED_KEY] = result.run_id
            st.toast("Sent to the labeling queue", icon=":material/label:")
            st.rerun()


def trace_section(result: TriageResult) -> None:
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
        components.trace_waterfall(cache.trace_spans(result.trace_id), key="triage.trace")


def main() -> None:
    """The Triage page."""
    st.title("Triage", anchor=False)
    st.caption(
        "Pick a namespace and a window, preview the lines, then let a local model name the root cause."
    )
    default_limit = 5000
    with components.error_boundary("reading settings"):
        default_limit = cache.get_app_settings().log_limit

    with st.container(border=True):
        st.subheader("Logs", anchor=False)
        logs_form(default_limit)

    request: PreviewRequest | None = st.session_state.get(PREVIEW_KEY)
    run = live_run.current_run()
    line_count = 0
    if request is not None:
        evidence = run.evidence_keys() if run is not None and run.done else {}
        st.subheader("Preview", anchor=False)
        st.text(f"{request.log_filter.namespace} · {request.window_label} · up to {request.limit:,} lines")
        line_count = preview_section(request, evidence)

    with st.container(border=True):
        st.subheader("Prompt and model", anchor=False)
        prompt_ref, model_name = prompt_and_model_section(request, line_count)

    st.subheader("Run", anchor=False)
    active = live_run.is_active()
    can_run = request is not None and line_count > 0 and prompt_ref is not None and model_name is not None
    clicked = st.button(
        "Run triage",
        type="primary",
        icon=":material/play_arrow:",
        disabled=active or not can_run,
        key="triage.run",
        help=None if can_run else "Preview some lines and pick a prompt and a model first",
    )
    if clicked and request is not None and prompt_ref is not None and model_name is not None:
        live_run.start_run(
            cache.triage_stream,
            TriageRequest(
                filter=request.log_filter,
                start=request.start,
                end=request.end,
                model=model_name,
                prompt=prompt_ref,
                limit=request.limit,
                latency_target_s=st.session_state.get(LATENCY_KEY),
            ),
        )
        st.rerun()  # redraw with the Run button disabled while the run is active
    live_run.live_panel()
    run = live_run.current_run()
    if run is not None and run.done:
        result_section(run)


main()
