"""Label: work through the queue of log windows, mark the evidence lines, name the root cause; see agreement."""

from __future__ import annotations

import streamlit as st

from app.golden.store import QueueItem
from app.ui import cache, components, labeling

BLIND_KEY = "label.blind"
ITEM_KEY = "label.item"
NEXT_KEY = "label.next"
SAVED_KEY = "label.saved"
SETTLE_KEY = "adjudicate.item"
SETTLED_KEY = "adjudicate.saved"


def choose_item(queue: list[QueueItem]) -> QueueItem:
    """The window to label: the one picked in the queue (after a save, the one after the saved one)."""
    ids = [item.window.example_id for item in queue]
    pending = st.session_state.pop(NEXT_KEY, None)
    if pending in ids:
        st.session_state[ITEM_KEY] = pending
    elif st.session_state.get(ITEM_KEY) not in ids:
        st.session_state.pop(ITEM_KEY, None)
    by_id = {item.window.example_id: item for item in queue}
    chosen = st.selectbox(
        f"Queue ({len(queue)} waiting)",
        ids,
        key=ITEM_KEY,
        format_func=lambda example_id: f"{example_id} · {labeling.REASONS[by_id[example_id].reason]}",
    )
    return by_id[chosen or ids[0]]


def label_form(item: QueueItem, labeler: str, next_id: str | None) -> None:
    """The window's lines with selectable evidence, what others said (unless blind), the pickers, save."""
    window = item.window
    keys = labeling.widget_keys("label", window.example_id)
    st.text(labeling.window_caption(window))
    if item.suggestion is not None:
        labeling.suggestion_panel(item.suggestion)
        st.button(
            "Start from the model's answer",
            icon=":material/content_copy:",
            key=f"label.{window.example_id}.use",
            on_click=labeling.use_suggestion,
            args=(item.suggestion, keys),
        )
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
    if st.button("Save and next", type="primary", icon=":material/save:", key="label.save"):
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


def label_tab(labeler: str | None) -> None:
    """The queue and the window being labeled."""
    blind = st.toggle(
        "Blind mode",
        value=True,
        key=BLIND_KEY,
        help="Hide the model's answer and other people's labels, so they cannot sway your judgement.",
    )
    saved = st.session_state.pop(SAVED_KEY, None)
    if saved is not None:
        st.success(f"Saved (revision {saved}). The next window is below.", icon=":material/check_circle:")
    if labeler is None:
        st.info("Enter your name above to see your labeling queue.", icon=":material/badge:")
        return
    with components.error_boundary("loading the labeling queue"):
        queue = labeling.labeling_queue(labeler, blind=blind)
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
        st.dataframe(
            [
                {
                    "window": d.example_id,
                    "votes": "; ".join(f"{who}: {cause}" for who, cause in d.votes.items()),
                }
                for d in open_disputes
            ],
            hide_index=True,
        )
        ids = [d.example_id for d in open_disputes]
        if st.session_state.get(SETTLE_KEY) not in ids:
            st.session_state.pop(SETTLE_KEY, None)
        example_id = st.selectbox("Window to adjudicate", ids, key=SETTLE_KEY)
        if example_id is None:
            return
        labels = labeling.labels_for(example_id)
        window = labeling.label_window(example_id)
        keys = labeling.widget_keys("adjudicate", example_id)
        with st.container(border=True):
            st.text(labeling.window_caption(window))
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
