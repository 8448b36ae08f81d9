"""Label: work through the queue of log windows, mark the evidence lines, name the root cause; see agreement."""

from __future__ import annotations

import streamlit as st

from app.golden.queue import QueueItem
from app.ui import cache, components, labeling

BLIND_KEY = "label.blind"
ITEM_KEY = "label.item"
NEXT_KEY = "label.next"
SAVED_KEY = "label.saved"
SETTLE_KEY = "adjudicate.item"
SETTLED_KEY = "adjudicate.saved"
SAVE_SHORTCUT = "Ctrl+Enter"


def choose_item(queue: list[QueueItem]) -> QueueItem:
    """The window to label: the one picked in the queue (after a save, the one after the saved one)."""
    ids = [item.window.example_id for item in queue]
    pending = st.session_state.pop(NEXT_KEY, None)
    if pending in ids:
        st.session_state[ITEM_KEY] = pending
    elif st.session_state.get(ITEM_KEY) not in ids:
        st.session_state.pop(ITEM_KEY, None)
    by_id = {item.window.example_id: item for item in queue}
    position = {example_id: number for number, example_id in enumerate(ids, start=1)}
    chosen = st.selectbox(
        f"Queue ({len(queue)} waiting)",
        ids,
        key=ITEM_KEY,
        # Numbered: two windows can read alike, and the picker must tell every option apart.
        format_func=lambda example_id: f"{position[example_id]}. {labeling.queue_entry(by_id[example_id])}",
    )
    return by_id[chosen or ids[0]]


def progress_section(labeler: str, waiting: int) -> None:
    """What this labeler has done, and what waits."""
    with components.error_boundary("counting your labels"):
        done = labeling.progress(labeler)
        cols = st.columns(4)
        cols[0].metric("Labeled by you", f"{done.labeled:,}")
        cols[1].metric("Today", f"{done.today:,}")
        cols[2].metric("Adjudicated by you", f"{done.adjudicated:,}")
        more = "+" if waiting >= labeling.QUEUE_LIMIT else ""
        cols[3].metric("Waiting for you", f"{waiting:,}{more}")


def suggestion_section(item: QueueItem, keys: dict[str, str]) -> None:
    """The model's answer, the button that copies it, and what is left to do after copying."""
    if item.suggestion is None:
        return
    labeling.suggestion_panel(item.suggestion)
    st.button(
        "Start from the model's answer",
        icon=":material/content_copy:",
        key=f"label.{item.window.example_id}.use",
        on_click=labeling.use_suggestion,
        args=(item.suggestion, keys),
    )
    note = st.session_state.get(labeling.copied_note_key(keys))
    if note:
        st.info(components.literal(note), icon=":material/content_copy:")


def label_form(item: QueueItem, labeler: str, next_id: str | None) -> None:
    """The window's lines with selectable evidence, what others said (unless blind), the pickers, save."""
    window = item.window
    keys = labeling.widget_keys("label", window.example_id)
    st.text(labeling.window_caption(window, labeling.window_state(item)))
    st.text(f"window {window.example_id}")
    suggestion_section(item, keys)
    if item.other_labels:
        st.caption("Other labelers")
        labeling.labels_table(item.other_labels)
    if item.existing_label is not None:
        st.caption("Label it was imported with")
        st.text(
            f"{item.existing_label.root_cause} · {item.existing_label.severity} · "
            f"evidence {', '.join(f'#{i}' for i in item.existing_label.evidence) or 'none'} · "
            f"by {item.existing_label.labeler}"
        )
    st.caption("Select the lines that prove the root cause (the boxes left of each row).")
    marked = item.suggestion.evidence if item.suggestion is not None else []
    chosen = labeling.label_inputs(window.logs, keys, marked=marked)
    save_col, hint_col = st.columns([1, 3], vertical_alignment="center")
    missing = labeling.missing_for_save(chosen)
    hint_col.caption(("To save: " + "; ".join(missing) + ".") if missing else "Ready to save.")
    if save_col.button(
        "Save and next",
        type="primary",
        icon=":material/save:",
        key="label.save",
        shortcut=SAVE_SHORTCUT,
        help=f"Save this label and open the next window ({SAVE_SHORTCUT}, also while typing)",
    ):
        with components.error_boundary("saving the label"):
            record = labeling.save_label(
                window.example_id,
                labeler,
                chosen.root_cause,
                chosen.evidence,
                chosen.severity,
                chosen.summary,
            )
            st.session_state[SAVED_KEY] = record.revision
            if next_id is not None:
                st.session_state[NEXT_KEY] = next_id
            st.rerun()


def saved_notice(revision: int, queue: list[QueueItem]) -> None:
    """Say the label was saved, and whether another window waits below."""
    if queue:
        st.success(f"Saved (revision {revision}). The next window is below.", icon=":material/check_circle:")
    else:
        st.success(
            f"Saved (revision {revision}). That was the last window waiting for you.",
            icon=":material/check_circle:",
        )


def label_tab(labeler: str | None) -> None:
    """The queue and the window being labeled."""
    blind = st.toggle(
        "Blind mode",
        value=True,
        key=BLIND_KEY,
        help="Hide the model's answer and other people's labels, so they cannot sway your judgement.",
    )
    saved = st.session_state.pop(SAVED_KEY, None)
    if labeler is None:
        st.info("Enter your name above to see your labeling queue.", icon=":material/badge:")
        return
    with components.error_boundary("loading the labeling queue"):
        queue = labeling.labeling_queue(labeler, blind=blind)
        if saved is not None:
            saved_notice(saved, queue)
        progress_section(labeler, len(queue))
        if not queue:
            st.success(
                "Nothing waits for you: every window is labeled or settled.", icon=":material/done_all:"
            )
            return
        item = choose_item(queue)
        position = queue.index(item)
        next_id = queue[position + 1].window.example_id if position + 1 < len(queue) else None
        with st.container(border=True):
            label_form(item, labeler, next_id)


def agreement_section() -> None:
    """Kappa per labeler pair and per class."""
    with components.error_boundary("computing agreement"):
        tables = labeling.agreement_tables()
        if not tables.pairs:
            st.info("Agreement needs two people who labeled the same windows.", icon=":material/group:")
            return
        st.caption(
            "Cohen's kappa on the windows both labeled: 1 is full agreement, 0 is what chance gives. "
            "n/a: undefined (no shared window, or both put every shared window in one class)."
        )
        st.dataframe(
            [
                {
                    "labeler A": row.labeler_a,
                    "labeler B": row.labeler_b,
                    "shared windows": row.items,
                    "agreement": row.agreement,
                    "kappa": row.kappa if row.defined else None,
                }
                for row in tables.pairs
            ],
            hide_index=True,
            placeholder="n/a",
            column_config={
                "agreement": st.column_config.NumberColumn(format="percent"),
                "kappa": st.column_config.NumberColumn(format="%.3f"),
            },
        )
        st.caption("Per class, one-vs-rest: did both labelers say this class or not, pooled over every pair.")
        st.dataframe(
            [
                {
                    "root cause": row.root_cause,
                    "judgements": row.items,
                    "kappa": row.kappa if row.defined else None,
                }
                for row in tables.classes
            ],
            hide_index=True,
            placeholder="n/a",
            column_config={"kappa": st.column_config.NumberColumn(format="%.3f")},
        )


def adjudication_section(adjudicator: str | None) -> None:
    """The disputed windows and a form to settle one."""
    with components.error_boundary("listing disagreements"):
        open_disputes = labeling.disagreements()
        settled = st.session_state.pop(SETTLED_KEY, None)
        if settled is not None:
            st.success(f"Adjudicated (revision {settled}).", icon=":material/gavel:")
        if not open_disputes:
            st.info("No disagreements to adjudicate.", icon=":material/handshake:")
            return
        heads = labeling.window_heads([d.example_id for d in open_disputes])
        st.dataframe(labeling.dispute_rows(open_disputes, heads), hide_index=True)
        by_id = {d.example_id: d for d in open_disputes}
        position = {example_id: number for number, example_id in enumerate(by_id, start=1)}
        if st.session_state.get(SETTLE_KEY) not in by_id:
            st.session_state.pop(SETTLE_KEY, None)
        example_id = st.selectbox(
            "Window to adjudicate",
            list(by_id),
            key=SETTLE_KEY,
            format_func=lambda chosen: f"{position[chosen]}. {labeling.dispute_entry(by_id[chosen], heads)}",
        )
        if example_id is None:
            return
        labels = labeling.labels_for(example_id)
        window = labeling.label_window(example_id)
        keys = labeling.widget_keys("adjudicate", example_id)
        with st.container(border=True):
            st.text(labeling.window_caption(window, f"disputed by {len(labels)} labelers"))
            st.text(f"window {example_id}")
            labeling.labels_table(labels)
            cited = sorted({index for label in labels for index in label.evidence})
            chosen = labeling.label_inputs(window.logs, keys, default=cited)
            if adjudicator is None:
                st.info("Enter your name above to adjudicate.", icon=":material/badge:")
            elif st.button("Adjudicate", type="primary", icon=":material/gavel:", key="adjudicate.save"):
                with components.error_boundary("saving the adjudication"):
                    record = labeling.adjudicate(
                        example_id,
                        adjudicator,
                        chosen.root_cause,
                        chosen.evidence,
                        chosen.severity,
                        chosen.summary,
                    )
                    st.session_state[SETTLED_KEY] = record.revision
                    st.rerun()


def main() -> None:
    """The Label page."""
    st.title("Label", anchor=False)
    st.caption("Label log windows for the golden set: mark the evidence lines, pick the root cause, save.")
    labeler: str | None = None
    with components.error_boundary("finding out who is labeling"):
        labeler = labeling.labeler_identity(cache.get_app_settings())
    label, agreement = st.tabs(["Label", "Agreement"])
    with label:
        label_tab(labeler)
    with agreement:
        agreement_section()
        st.subheader("Disagreements", anchor=False)
        adjudication_section(labeler)


main()
