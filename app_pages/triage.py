"""Triage: pick a namespace and a window, preview the lines, run a model on them, read its root cause.

A link can open the page on a golden example's window (``?example=``), on a window of the log source
(``?namespace=&start=&end=``) or on a past run (``?run=``); see ``app.ui.links``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.errors import InputError, LogTriageError
from app.llm.latency import format_seconds
from app.llm.models import ModelConfig, ModelHealth
from app.logs.frame import entries_to_frame
from app.logs.logql import LogFilter
from app.logs.models import LEVELS, LogQueryResult, parse_rfc3339_ns
from app.prompts.registry import PromptVersion
from app.telemetry import grafana
from app.timeparse import parse_instant
from app.triage import DEFAULT_PROMPT, PreparedPrompt, TriageRequest
from app.ui import cache, components, links, live_run, run_view

PREVIEW_KEY = "triage.preview"
LINKED_KEY = "triage.linked"
TAB_KEY = "triage.tab"
OPENED_RUN_KEY = "triage.opened_run"
NAMESPACE_KEY = "triage.namespace"
POD_KEY = "triage.pod"
CONTAINER_KEY = "triage.container"
RANGE_KEY = "triage.range"
LATENCY_KEY = "triage.latency_target"
ANY_LEVEL = "any level"
NEW_TAB = "New triage"
PAST_TAB = "Past runs"


@dataclass(frozen=True)
class PreviewRequest:
    """The filter and the anchored window the user asked to preview (and then to triage).

    ``example_id`` set: the lines are a stored golden example's window, not the log source's.
    """

    log_filter: LogFilter
    start: datetime
    end: datetime
    limit: int
    window_label: str
    example_id: str | None = None


def _blank_to_none(value: str | None) -> str | None:
    return value if value and value.strip() else None


# --- links ---------------------------------------------------------------------------------------------


def covering_window(stamps_ns: list[int]) -> tuple[datetime, datetime]:
    """The [start, end) in microsecond datetimes that holds every one of these nanosecond stamps."""
    first, last = min(stamps_ns), max(stamps_ns)
    start = datetime.fromtimestamp(first // 1_000_000_000, tz=UTC) + timedelta(
        microseconds=first % 1_000_000_000 // 1000
    )
    # Rounded down to the microsecond and one more: the end is after the last stamp, as [start, end) needs.
    end = datetime.fromtimestamp(last // 1_000_000_000, tz=UTC) + timedelta(
        microseconds=last % 1_000_000_000 // 1000 + 1
    )
    return start, end


def example_preview(example_id: str, limit: int) -> PreviewRequest:
    """A preview of a golden example's whole window."""
    window = cache.golden_window(example_id)
    stamps = [parse_rfc3339_ns(window.window_start), parse_rfc3339_ns(window.window_end)]
    start, end = covering_window(stamps + [log.ts_ns for log in window.logs])
    return PreviewRequest(
        LogFilter(namespace=window.namespace),
        start,
        end,
        max(limit, len(window.logs)),
        f"golden example {example_id}, {components.window_label(start, end)}",
        example_id=example_id,
    )


def window_preview(namespace: str, start_text: str, end_text: str | None, limit: int) -> PreviewRequest:
    """A preview of a window of the log source, from a link's RFC3339 times (end defaults to now)."""
    start = parse_instant(start_text)
    end = parse_instant(end_text) if end_text else datetime.now(UTC)
    if end <= start:
        raise InputError(f"the link's end ({end.isoformat()}) is not after its start ({start.isoformat()})")
    request = PreviewRequest(
        LogFilter(namespace=namespace), start, end, limit, components.window_label(start, end)
    )
    st.session_state[NAMESPACE_KEY] = request.log_filter.namespace
    components.set_custom_range(RANGE_KEY, start, end)
    return request


def apply_link(default_limit: int) -> None:
    """Open what the page's query parameters ask for, once per distinct link in this session."""
    params = {name: st.query_params.get(name) for name in links.TRIAGE_PARAMS}
    signature = tuple(sorted((name, value) for name, value in params.items() if value))
    if not signature or st.session_state.get(LINKED_KEY) == signature:
        return
    st.session_state[LINKED_KEY] = signature
    with components.error_boundary("opening the link"):
        run_id, example_id = params[links.RUN_PARAM], params[links.EXAMPLE_PARAM]
        namespace, start = params[links.NAMESPACE_PARAM], params[links.START_PARAM]
        if run_id:
            st.session_state[TAB_KEY] = PAST_TAB
            st.session_state[OPENED_RUN_KEY] = run_id
        if example_id:
            st.session_state[PREVIEW_KEY] = example_preview(example_id, default_limit)
        elif namespace:
            if not start:
                raise InputError("a link with a namespace needs a start time (start=RFC3339)")
            st.session_state[PREVIEW_KEY] = window_preview(
                namespace, start, params[links.END_PARAM], default_limit
            )


# --- the logs form -------------------------------------------------------------------------------------


def _forget_pod_and_container() -> None:
    # Pods and containers belong to a namespace; a new namespace starts without them.
    st.session_state.pop(POD_KEY, None)
    st.session_state.pop(CONTAINER_KEY, None)


def _forget_container() -> None:
    st.session_state.pop(CONTAINER_KEY, None)


def _label_options(label: str, start: datetime, end: datetime, within: LogFilter | None) -> list[str]:
    """The values a pod or container box offers; none when they cannot be listed (the box still takes text)."""
    if within is None:
        return []
    try:
        return cache.label_values(label, start, end, within)
    except LogTriageError:
        # Listing namespaces already said what is wrong with the log source; typing still works.
        return []


def label_picker(
    label: str,
    key: str,
    options: list[str],
    on_change: Callable[[], None] | None,
    column: DeltaGenerator,
) -> tuple[str | None, bool]:
    """A pod or container box offering the values seen; typed text that is none of them is a prefix."""
    current = st.session_state.get(key)
    listed = options if current is None or current in options else [*options, current]
    value = column.selectbox(
        label.capitalize(),
        listed,
        index=None,
        key=key,
        placeholder=f"any {label}" + (f" ({len(options):,} seen)" if options else ""),
        accept_new_options=True,
        on_change=on_change,
        help=f"Pick a {label} seen in this window, or type the start of a name to match every {label} "
        "that begins with it.",
    )
    text = _blank_to_none(value)
    prefix = text is not None and text not in options
    if prefix:
        column.caption(f"every {label} starting with this text")
    return text, prefix


def logs_form(default_limit: int) -> None:
    """Namespace, window and filters; the Preview button anchors them as the preview request."""
    left, right = st.columns([2, 3], gap="large")
    with right:
        choice = components.time_range_picker(RANGE_KEY)
    start, end = choice.resolve(components.floor_minute(datetime.now(UTC)))
    with left:
        names: list[str] = []
        with components.error_boundary("listing namespaces"):
            names = cache.namespaces(start, end)
        linked = st.session_state.get(NAMESPACE_KEY)
        if linked and linked not in names and names:
            names = [*names, linked]
        if names:
            namespace = st.selectbox(
                "Namespace",
                names,
                index=None,
                key=NAMESPACE_KEY,
                placeholder="Pick or type a namespace",
                accept_new_options=True,
                on_change=_forget_pod_and_container,
            )
        else:
            # Listing failed or found nothing in this window: the user can still name one.
            namespace = st.text_input(
                "Namespace", key="triage.namespace_typed", placeholder="Type a namespace"
            )
    pod_col, container_col, level_col, text_col = st.columns(4)
    scope = _blank_to_none(namespace)
    within = LogFilter(namespace=scope) if scope else None
    pod, pod_prefix = label_picker(
        "pod", POD_KEY, _label_options("pod", start, end, within), _forget_container, pod_col
    )
    if within is not None and pod is not None:
        within = within.model_copy(update={"pod": pod, "pod_prefix": pod_prefix})
    container, container_prefix = label_picker(
        "container", CONTAINER_KEY, _label_options("container", start, end, within), None, container_col
    )
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
        match_case = st.checkbox(
            "Match case",
            key="triage.match_case",
            help="Off: 'Line contains' and 'Line does not contain' ignore upper and lower case, "
            "like the filter above the table.",
        )
    if st.button("Preview logs", type="primary", icon=":material/search:", key="triage.preview_button"):
        with components.error_boundary("building the query"):
            log_filter = LogFilter(
                namespace=namespace or "",
                pod=pod,
                container=container,
                pod_prefix=pod_prefix,
                container_prefix=container_prefix,
                level=None if level == ANY_LEVEL else level,
                contains=_blank_to_none(contains),
                excludes=_blank_to_none(excludes),
                regex=_blank_to_none(regex),
                ignore_case=not match_case,
            )
            anchored_start, anchored_end = choice.resolve(datetime.now(UTC))
            st.session_state[PREVIEW_KEY] = PreviewRequest(
                log_filter, anchored_start, anchored_end, int(limit), choice.label()
            )
            # The link that opened the page asked for something else; a reload should not bring it back.
            st.query_params.clear()
            run = live_run.current_run()
            if run is not None and run.done:
                live_run.clear_run()


# --- the preview ---------------------------------------------------------------------------------------


def preview_heading(request: PreviewRequest) -> None:
    """What is being previewed, and for a golden example the way back to the log source."""
    if request.example_id is None:
        st.text(f"{request.log_filter.namespace} · {request.window_label} · up to {request.limit:,} lines")
        return
    text_col, back_col = st.columns([5, 1], vertical_alignment="center")
    text_col.text(f"{request.log_filter.namespace} · {request.window_label}")
    if back_col.button("Back to live logs", icon=":material/undo:", key="triage.unlink", width="stretch"):
        st.session_state.pop(PREVIEW_KEY, None)
        st.query_params.clear()
        live_run.clear_run()
        st.rerun()


def run_lines(run: live_run.LiveRun | None, request: PreviewRequest) -> LogQueryResult | None:
    """The lines a finished run of this very preview read (None for another preview or no run)."""
    if run is None or not run.done or run.logs is None:
        return None
    asked = run.request
    same = (asked.filter, asked.start, asked.end, asked.limit) == (
        request.log_filter,
        request.start,
        request.end,
        request.limit,
    )
    return run.logs if same and run.example_id == request.example_id else None


def preview_section(
    request: PreviewRequest, evidence: dict[tuple[int, str], int], read: LogQueryResult | None = None
) -> int:
    """The LogQL, counts, volume chart and table of the previewed lines; returns the line count.

    ``read``: the lines the finished run read. When the source gave the run other lines than the
    preview (the demo re-times its logs every minute; late lines reach Loki), the table shows the
    run's, so the lines the model cited are the ones marked.
    """
    with components.error_boundary("fetching logs"):
        preview = cache.preview_logs(
            request.log_filter, request.start, request.end, request.limit, request.example_id
        )
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
        if link and request.example_id is None:
            link_col.link_button("Grafana", link, icon=":material/open_in_new:", width="stretch")
        if preview.count == 0:
            st.info("No lines match in this window. Widen the time range or loosen the filters.")
            return 0
        frame = preview.frame
        if read is not None and evidence:
            shown = set(zip(frame["ts_ns"].astype(int), frame["line"], strict=True))
            if not set(evidence) <= shown:
                frame = entries_to_frame(read.entries)
                st.caption(
                    f"The source gave the run other lines than this preview: the table shows the "
                    f"{len(read.entries):,} lines the model read, its cited lines marked ★."
                )
        components.volume_chart(frame, request.start, request.end, key="triage.volume")
        components.log_table(frame, key="triage.logs", evidence=evidence)
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
    # The report says it in its own words (lines kept and merged, tokens before and after).
    st.info(
        "Budget: "
        + components.escape_markdown(
            f"{prepared.budget_line()}. {prepared.budget.report.summary()} "
            f"(room for {prepared.max_log_tokens:,} log tokens in the model's context)"
        ),
        icon=":material/compress:",
    )
    estimate = prepared.estimate
    if estimate is None:
        st.caption("No prompt rate measured for this model yet: its first run measures it.")
    elif estimate.is_slow(prepared.latency_target_s):
        st.warning(
            components.escape_markdown(
                f"This run will be slow: {estimate.describe_prompt()}"
                + (
                    f", over the {format_seconds(prepared.latency_target_s)} target"
                    if prepared.latency_target_s
                    else ""
                )
                + "."
            ),
            icon=":material/hourglass_top:",
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
                request.log_filter,
                request.start,
                request.end,
                request.limit,
                prompt_ref,
                model_name,
                request.example_id,
                target,
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


# --- the result -----------------------------------------------------------------------------------------


def result_section(run: live_run.LiveRun) -> None:
    """The finished run: root cause, evidence, latency, trace and the labeling action."""
    st.subheader("Result", anchor="result")
    if run.failure is not None:
        components.error_box(run.failure.message, run.failure.kind)
        if run.partial:
            live_run.partial_readout(run)
        return
    result = run.result
    if result is None:
        return
    if result.status == "ok":
        run_view.ok_result(result, key="triage.result", labeling=run.example_id is None)
    else:
        if result.status == "cancelled":
            st.warning("The run was cancelled.", icon=":material/stop_circle:")
        else:
            components.error_box(result.error or "the run failed", result.error_kind or "other")
        if run.partial:
            # The run stored no figures of its own; what it measured on the way is shown instead.
            live_run.partial_readout(run)
    if result.raw_output:
        with st.expander(
            "Raw model output" if result.status == "ok" else "What the model wrote before it stopped"
        ):
            st.code(result.raw_output, language="json", wrap_lines=True)
    run_view.trace_section(result, key="triage.trace")


# --- past runs ------------------------------------------------------------------------------------------


def past_runs_tab() -> None:
    """The stored runs, newest first; a selected one opens below with its result, evidence and lines."""
    with components.error_boundary("listing past runs"):
        heads = cache.past_runs()
        if not heads:
            st.info(
                "No triage runs yet. Runs are stored here as soon as they end.", icon=":material/history:"
            )
            return
        event = st.dataframe(
            [
                {
                    "when (UTC)": head.created_at,
                    "namespace": head.namespace,
                    "window": components.window_label(head.window_start, head.window_end),
                    "status": head.status,
                    "root cause": head.root_cause or head.error_kind or "",
                    "took": components.format_ms(head.total_ms),
                    "model": head.model,
                    "prompt": head.prompt,
                    "lines": head.log_lines,
                    "source": head.source,
                }
                for head in heads
            ],
            key="triage.past.table",
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            column_config={
                "when (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                "window": st.column_config.TextColumn(width="medium"),
            },
        )
        rows = event.selection.rows if event is not None else []
        if rows:
            st.session_state[OPENED_RUN_KEY] = heads[rows[0]].run_id
        run_id = st.session_state.get(OPENED_RUN_KEY)
        if run_id is None:
            st.caption("Select a run to open it.")
            return
        with components.error_boundary("opening the run"):
            run_view.past_run_view(cache.past_run(run_id))


# --- the page -------------------------------------------------------------------------------------------


def run_section(
    request: PreviewRequest | None, line_count: int, prompt_ref: str | None, model: str | None
) -> None:
    """The Run button; while a run is active its readout and Cancel sit at the foot of the window."""
    st.subheader("Run", anchor=False)
    active = live_run.is_active()
    can_run = request is not None and line_count > 0 and prompt_ref is not None and model is not None
    clicked = st.button(
        "Run triage",
        type="primary",
        icon=":material/play_arrow:",
        disabled=active or not can_run,
        key="triage.run",
        help=None if can_run else "Preview some lines and pick a prompt and a model first",
    )
    if clicked and request is not None and prompt_ref is not None and model is not None:
        live_run.start_run(
            functools.partial(cache.triage_stream, example_id=request.example_id),
            TriageRequest(
                filter=request.log_filter,
                start=request.start,
                end=request.end,
                model=model,
                prompt=prompt_ref,
                limit=request.limit,
                latency_target_s=st.session_state.get(LATENCY_KEY),
            ),
            example_id=request.example_id,
        )
        st.rerun()  # redraw with the Run button disabled while the run is active
    live_run.live_panel()
    run = live_run.current_run()
    if run is not None and run.done:
        result_section(run)


def new_triage_tab(default_limit: int) -> None:
    """Logs, preview, prompt and model, run and result."""
    with st.container(border=True):
        st.subheader("Logs", anchor=False)
        logs_form(default_limit)

    request: PreviewRequest | None = st.session_state.get(PREVIEW_KEY)
    run = live_run.current_run()
    line_count = 0
    if request is not None:
        evidence = run.evidence_keys() if run is not None and run.done else {}
        st.subheader("Preview", anchor=False)
        preview_heading(request)
        line_count = preview_section(request, evidence, run_lines(run, request))

    with st.container(border=True):
        st.subheader("Prompt and model", anchor=False)
        prompt_ref, model_name = prompt_and_model_section(request, line_count)

    run_section(request, line_count, prompt_ref, model_name)


def main() -> None:
    """The Triage page."""
    st.title("Triage", anchor=False)
    st.caption(
        "Pick a namespace and a window, preview the lines, then let a local model name the root cause."
    )
    default_limit = 5000
    with components.error_boundary("reading settings"):
        default_limit = cache.get_app_settings().log_limit
    apply_link(default_limit)
    new_tab, past_tab = st.tabs([NEW_TAB, PAST_TAB], key=TAB_KEY, on_change="rerun")
    if new_tab.open:
        with new_tab:
            new_triage_tab(default_limit)
    if past_tab.open:
        with past_tab:
            past_runs_tab()


main()
