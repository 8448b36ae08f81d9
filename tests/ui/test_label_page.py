"""The Label page in AppTest: the queue, blind mode, saving labels, agreement, adjudication and errors.

The page runs on a real SQLite store (the per-test data directory); failures of the store are faked by
replacing the ``app.ui.labeling`` function the page calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app.config import get_settings
from app.errors import StoreError
from app.golden import labels as label_store
from app.golden import queue as label_queue
from app.store.db import get_engine, session_scope
from app.store.tables import TriageRunRow
from app.ui import cache, labeling
from tests.golden.test_labels import add_triage_run, make_example

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "label.py")
HOSTILE = "**bold** <script>alert(1)</script> [link](http://evil.example) :red[x]"


@pytest.fixture
def engine() -> Iterator[Engine]:
    """The store the page uses (fresh per test), with the dashboard's caches cleared."""
    cache.clear_caches()
    yield get_engine(get_settings().resolved_database_url)
    cache.clear_caches()


def open_page(name: str | None = "alice") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    if name is not None:
        at.text_input(key=labeling.NAME_KEY).input(name).run()
        assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> list[str]:
    return [element.value for element in at.text]


def errors(at: AppTest) -> list[str]:
    return [element.value for element in at.error]


def captions(at: AppTest) -> list[str]:
    return [element.value for element in at.caption]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def select_rows(at: AppTest, key: str, rows: list[int]) -> None:
    """Tick these lines as evidence (what ticking them in the table does; the table is redrawn)."""
    at.session_state[key] = rows
    generation = f"{key}.generation"
    try:
        current = at.session_state[generation]
    except KeyError:
        current = 0
    at.session_state[generation] = current + 1


def fill(at: AppTest, example_id: str, *, cause: str | None, severity: str | None, rows: list[int]) -> None:
    keys = labeling.widget_keys("label", example_id)
    select_rows(at, keys["evidence"], rows)
    if cause is not None:
        at.selectbox(key=keys["class"]).set_value(cause)
    if severity is not None:
        at.radio(key=keys["severity"]).set_value(severity)
    at.text_area(key=keys["summary"]).input("the JVM ran out of memory")


def change_suggestion(engine: Engine, run_id: str, **result: Any) -> None:
    """Rewrite what the model answered for a stored triage run."""
    with session_scope(engine) as session:
        row = session.get(TriageRunRow, run_id)
        assert row is not None
        row.result = {**(row.result or {}), **result}
        row.root_cause = result.get("root_cause", row.root_cause)


def test_the_page_asks_who_is_labeling_first(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a")])
    at = open_page(name=None)
    assert any("Enter your name" in info.value for info in at.info)
    assert [box.key for box in at.selectbox if box.key == labeling.NAME_KEY] == []
    at.text_input(key=labeling.NAME_KEY).input("  alice  ").run()
    assert not any("Enter your name" in info.value for info in at.info)


def test_label_three_windows_and_move_on_after_each_save(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a"), make_example("b")])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "bob")
    label_store.save_label(engine, "b", "bob", "oom_killed", [1], "critical", "bob")
    run_id = add_triage_run(engine)
    at = open_page()
    queue = at.selectbox(key="label.item")
    # Rows say where a window is from and where it stands, numbered so that alike windows differ.
    assert queue.options == [
        "1. shop · 2026-03-01 12:00 → 12:05 UTC · synthetic · labeled once, needs a second opinion",
        "2. shop · 2026-03-01 12:00 → 12:05 UTC · synthetic · labeled once, needs a second opinion",
        "3. shop · 2026-03-01 12:00 → 12:05 UTC · from Triage · not labeled yet",
    ]
    assert queue.value == "a"
    assert metric(at, "Labeled by you") == "0"
    assert metric(at, "Waiting for you") == "3"

    for position, example_id in enumerate(["a", "b", f"run-{run_id}"]):
        assert at.selectbox(key="label.item").value == example_id
        fill(at, example_id, cause="oom_killed", severity="critical", rows=[1, 3] if position else [1])
        at.run()
        assert f"Evidence: #1{', #3' if position else ''}" in texts(at)
        at.button(key="label.save").click().run()
        assert not at.exception, at.exception
        assert errors(at) == []
        notices = [success.value for success in at.success]
        if position < 2:
            assert "Saved (revision 1). The next window is below." in notices
        else:
            # Nothing is below any more, and the page does not say there is.
            assert "Saved (revision 1). That was the last window waiting for you." in notices
            assert not any("next window is below" in notice for notice in notices)
        assert metric(at, "Labeled by you") == str(position + 1)
        assert metric(at, "Today") == str(position + 1)

    assert any("Nothing waits for you" in success.value for success in at.success)
    saved = {e.id: e.label for e in label_store.export_examples(engine)}
    assert saved[f"run-{run_id}"].labeler == "alice"
    assert saved[f"run-{run_id}"].evidence == [1, 3]
    assert [label.labeler for label in label_store.labels_for(engine, "b")] == ["bob", "alice"]


def test_each_window_header_says_where_it_stands(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a"), make_example("b")])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "")
    label_store.save_label(engine, "a", "carol", "probe_failure", [2], "warning", "")
    label_store.save_label(engine, "b", "bob", "oom_killed", [1], "critical", "")
    at = open_page("dana")
    assert "shop · 2026-03-01 12:00 → 12:05 UTC · 4 lines · synthetic · disputed: labelers disagree" in texts(
        at
    )

    at.toggle(key="label.blind").set_value(False).run()
    # Outside blind mode the header names who said what.
    assert (
        "shop · 2026-03-01 12:00 → 12:05 UTC · 4 lines · synthetic · "
        "disputed (bob: oom_killed; carol: probe_failure)"
    ) in texts(at)
    at.selectbox(key="label.item").set_value("b").run()
    assert (
        "shop · 2026-03-01 12:00 → 12:05 UTC · 4 lines · synthetic · "
        "labeled once (by bob: oom_killed), needs a second opinion"
    ) in texts(at)
    assert not any(text.endswith("· labeled") for text in texts(at))


def test_blind_mode_hides_the_models_answer_and_other_labels(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    label_queue.labeling_queue(engine, "bob", blind=True)
    label_store.save_label(
        engine, f"run-{run_id}", "bob", "probe_failure", [2], "warning", "bob thinks probes"
    )
    at = open_page()
    shown = " ".join(texts(at))
    assert "tiny-q4_k_m" not in shown
    assert "probe_failure" not in shown
    assert not at.dataframe[0].value.columns.isin(["model"]).any()
    assert not any("labeler" in frame.value for frame in at.dataframe)

    at.toggle(key="label.blind").set_value(False).run()
    shown = " ".join(texts(at))
    assert "oom_killed, confidence 70% · tiny-q4_k_m · rca-evidence-first" in shown
    assert "the JVM ran out of memory" in shown
    assert any(
        frame.value["labeler"].tolist() == ["bob"] for frame in at.dataframe if "labeler" in frame.value
    )


def test_the_models_answer_is_copied_and_becomes_saveable_once_a_severity_is_picked(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    example_id = f"run-{run_id}"
    at = open_page()
    at.toggle(key="label.blind").set_value(False).run()
    at.button(key=f"label.{example_id}.use").click().run()
    keys = labeling.widget_keys("label", example_id)
    assert at.selectbox(key=keys["class"]).value == "oom_killed"
    assert at.text_area(key=keys["summary"]).value == "the JVM ran out of memory"
    assert "Evidence: #1" in texts(at)
    # The model gives no severity: the page says so rather than failing on save.
    notes = [info.value for info in at.info]
    assert any("Copied root cause oom_killed, 1 cited line, the summary" in n for n in notes), notes
    assert any("To save: pick a severity (the model does not give one)" in n for n in notes), notes
    assert "To save: pick a severity." in captions(at)

    at.radio(key=keys["severity"]).set_value("critical").run()
    assert "Ready to save." in captions(at)
    at.button(key="label.save").click().run()
    assert errors(at) == []
    label = label_store.labels_for(engine, example_id)[0]
    assert (label.root_cause, label.evidence, label.severity, label.summary) == (
        "oom_killed",
        [1],
        "critical",
        "the JVM ran out of memory",
    )


def test_a_model_answer_outside_the_taxonomy_says_what_is_left_to_do(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    long_summary = "the heap grew " * 60
    change_suggestion(engine, run_id, root_cause="cosmic_rays", summary=long_summary, evidence=[])
    example_id = f"run-{run_id}"
    at = open_page()
    at.toggle(key="label.blind").set_value(False).run()
    at.button(key=f"label.{example_id}.use").click().run()
    assert not at.exception
    keys = labeling.widget_keys("label", example_id)
    assert at.selectbox(key=keys["class"]).value is None
    summary = at.text_area(key=keys["summary"]).value
    assert summary is not None
    assert len(summary) == labeling.SUMMARY_CHARS
    assert summary.endswith("…")
    note = next(info.value for info in at.info if "Copied" in info.value)
    assert "the summary, cut to 400 characters" in note
    assert "pick a root cause (the model's 'cosmic_rays' is not in the taxonomy)" in note
    assert "select the lines that prove it (the model cited none in this window)" in note


@pytest.mark.parametrize(
    ("cause", "severity", "rows", "message", "hint"),
    [
        (None, "critical", [1], "pick a root cause first", "To save: pick a root cause."),
        ("oom_killed", None, [1], "pick a severity first", "To save: pick a severity."),
        (
            "oom_killed",
            "critical",
            [],
            "root cause oom_killed needs at least one evidence line",
            "To save: select the lines that prove it.",
        ),
    ],
)
def test_an_incomplete_label_is_refused_with_a_readable_error(
    engine: Engine, cause: str | None, severity: str | None, rows: list[int], message: str, hint: str
) -> None:
    label_store.import_examples(engine, [make_example("a")])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "")
    at = open_page()
    fill(at, "a", cause=cause, severity=severity, rows=rows)
    at.run()
    assert hint in captions(at)
    at.button(key="label.save").click().run()
    assert not at.exception
    assert any(message in error for error in errors(at)), errors(at)
    assert [label.labeler for label in label_store.labels_for(engine, "a")] == ["bob"]


def test_the_log_window_is_searched_and_filtered_without_losing_the_evidence(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a")])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "")
    at = open_page()
    keys = labeling.widget_keys("label", "a")
    table = at.dataframe[0].value
    assert table["index"].tolist() == [0, 1, 2, 3]
    # Times are times (shown as clock times in the window's day), not nanosecond text.
    assert str(table["time"].dtype) == "datetime64[ns, UTC]"
    assert table["time"].iloc[0].strftime("%Y-%m-%d %H:%M:%S") == "2026-03-01 12:00:01"
    assert set(table["level"]) >= {"info"}

    select_rows(at, keys["evidence"], [1])
    at.run()
    at.text_input(key=f"{keys['evidence']}.search").input("READY").run()
    assert at.dataframe[0].value["index"].tolist() == [3]
    assert "1 of 4 lines" in captions(at)
    assert "Evidence: #1" in texts(at)  # the hidden line keeps its tick

    at.text_input(key=f"{keys['evidence']}.search").input("").run()
    at.multiselect(key=f"{keys['evidence']}.levels").select("info").run()
    assert set(at.dataframe[0].value["level"]) == {"info"}
    assert "Evidence: #1" in texts(at)


def test_save_and_next_has_a_keyboard_shortcut(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example("a")])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "")
    at = open_page()
    assert at.button(key="label.save").proto.shortcut.lower() == "ctrl+enter"


def test_a_failing_store_is_shown_as_text_and_the_rest_of_the_page_works(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(labeler: str, *, blind: bool) -> list[label_queue.QueueItem]:
        raise StoreError("database error: OperationalError: could not connect to server")

    monkeypatch.setattr(labeling, "labeling_queue", broken)
    at = open_page()
    assert not at.exception
    assert any("could not connect to server" in error for error in errors(at))
    assert any("two people" in info.value for info in at.info)  # the Agreement tab still renders


def test_agreement_tables_and_adjudication(engine: Engine) -> None:
    label_store.import_examples(engine, [make_example(name) for name in ("a", "b", "c")])
    for name, bob, carol in (
        ("a", "oom_killed", "oom_killed"),
        ("b", "oom_killed", "probe_failure"),
        ("c", "healthy", "healthy"),
    ):
        label_store.save_label(engine, name, "bob", bob, [1], "critical", "")
        label_store.save_label(engine, name, "carol", carol, [2], "critical", HOSTILE)
    at = open_page("dana")

    pairs = next(frame.value for frame in at.dataframe if "labeler A" in frame.value)
    assert pairs.to_dict("records")[0]["labeler A"] == "bob"
    assert pairs.to_dict("records")[0]["shared windows"] == 3
    classes = next(frame.value for frame in at.dataframe if "judgements" in frame.value)
    assert classes["root cause"].tolist() == ["oom_killed", "probe_failure", "healthy"]
    disputes = next(frame.value for frame in at.dataframe if "votes" in frame.value)
    assert disputes.to_dict("records") == [
        {
            "namespace": "shop",
            "window": "2026-03-01 12:00 → 12:05 UTC",
            "votes": "bob: oom_killed; carol: probe_failure",
            "id": "b",
        }
    ]
    picker = at.selectbox(key="adjudicate.item")
    assert (
        picker.format_func("b")
        == "1. shop · 2026-03-01 12:00 → 12:05 UTC · bob: oom_killed; carol: probe_failure"
    )

    keys = labeling.widget_keys("adjudicate", "b")
    assert "Evidence: #1, #2" in texts(at)  # every cited line is preselected
    at.selectbox(key=keys["class"]).set_value("probe_failure")
    at.radio(key=keys["severity"]).set_value("warning")
    at.button(key="adjudicate.save").click().run()
    assert not at.exception
    assert errors(at) == []
    assert any("Adjudicated (revision 1)" in success.value for success in at.success)
    assert any("No disagreements" in info.value for info in at.info)
    assert metric(at, "Adjudicated by you") == "1"
    label = {e.id: e.label for e in label_store.export_examples(engine)}["b"]
    assert (label.root_cause, label.labeler, label.evidence) == ("probe_failure", "dana", [1, 2])


def test_untrusted_text_never_reaches_markdown(engine: Engine) -> None:
    example = make_example("a")
    example.logs[1].line = HOSTILE
    label_store.import_examples(engine, [example])
    label_store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", HOSTILE)
    at = open_page(HOSTILE[:40])
    at.toggle(key="label.blind").set_value(False).run()
    assert not at.exception
    rendered = [element.value for element in (*at.markdown, *at.caption, *at.success, *at.info, *at.error)]
    assert not any("<script>" in text or "**bold**" in text for text in rendered)
    assert any(HOSTILE in frame.value["line"].tolist() for frame in at.dataframe if "line" in frame.value)
    assert any(
        HOSTILE in frame.value["summary"].tolist() for frame in at.dataframe if "summary" in frame.value
    )
