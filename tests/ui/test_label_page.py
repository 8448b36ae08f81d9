"""The Label page in AppTest: the queue, blind mode, saving labels, agreement, adjudication and errors.

The page runs on a real SQLite store (the per-test data directory); failures of the store are faked by
replacing the ``app.ui.labeling`` function the page calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app.config import get_settings
from app.errors import StoreError
from app.golden import store
from app.store.db import get_engine
from app.ui import cache, labeling
from tests.golden.test_store import add_triage_run, make_example

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


def select_rows(at: AppTest, key: str, rows: list[int]) -> None:
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}


def fill(at: AppTest, example_id: str, *, cause: str | None, severity: str | None, rows: list[int]) -> None:
    keys = labeling.widget_keys("label", example_id)
    select_rows(at, keys["evidence"], rows)
    if cause is not None:
        at.selectbox(key=keys["class"]).set_value(cause)
    if severity is not None:
        at.radio(key=keys["severity"]).set_value(severity)
    at.text_area(key=keys["summary"]).input("the JVM ran out of memory")


def test_the_page_asks_who_is_labeling_first(engine: Engine) -> None:
    store.import_examples(engine, [make_example("a")])
    at = open_page(name=None)
    assert any("Enter your name" in info.value for info in at.info)
    assert [box.key for box in at.selectbox if box.key == labeling.NAME_KEY] == []
    at.text_input(key=labeling.NAME_KEY).input("  alice  ").run()
    assert not any("Enter your name" in info.value for info in at.info)


def test_label_three_windows_and_move_on_after_each_save(engine: Engine) -> None:
    store.import_examples(engine, [make_example("a"), make_example("b")])
    store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "bob")
    store.save_label(engine, "b", "bob", "oom_killed", [1], "critical", "bob")
    run_id = add_triage_run(engine)
    at = open_page()
    queue = at.selectbox(key="label.item")
    assert queue.options == [
        "a · needs a second opinion",
        "b · needs a second opinion",
        f"run-{run_id} · sent from Triage",
    ]
    assert queue.value == "a"

    for position, example_id in enumerate(["a", "b", f"run-{run_id}"]):
        assert at.selectbox(key="label.item").value == example_id
        fill(at, example_id, cause="oom_killed", severity="critical", rows=[1, 3] if position else [1])
        at.run()
        assert f"Evidence: #1{', #3' if position else ''}" in texts(at)
        at.button(key="label.save").click().run()
        assert not at.exception, at.exception
        assert errors(at) == []
        assert any("Saved (revision 1)" in success.value for success in at.success)

    assert any("Nothing waits for you" in success.value for success in at.success)
    saved = {e.id: e.label for e in store.export_examples(engine)}
    assert saved[f"run-{run_id}"].labeler == "alice"
    assert saved[f"run-{run_id}"].evidence == [1, 3]
    assert [label.labeler for label in store.labels_for(engine, "b")] == ["bob", "alice"]


def test_blind_mode_hides_the_models_answer_and_other_labels(engine: Engine) -> None:
    run_id = add_triage_run(engine)
    store.labeling_queue(engine, "bob", blind=True)
    store.save_label(engine, f"run-{run_id}", "bob", "probe_failure", [2], "warning", "bob thinks probes")
    at = open_page()
    shown = " ".join(texts(at))
    assert "tiny-q4_k_m" not in shown
    assert not at.dataframe[0].value.columns.isin(["model"]).any()
    assert not any("labeler" in frame.value for frame in at.dataframe)

    at.toggle(key="label.blind").set_value(False).run()
    shown = " ".join(texts(at))
    assert "oom_killed, confidence 70% · tiny-q4_k_m · rca-evidence-first" in shown
    assert "the JVM ran out of memory" in shown
    assert any(
        frame.value["labeler"].tolist() == ["bob"] for frame in at.dataframe if "labeler" in frame.value
    )

    at.button(key=f"label.run-{run_id}.use").click().run()
    keys = labeling.widget_keys("label", f"run-{run_id}")
    assert at.selectbox(key=keys["class"]).value == "oom_killed"
    assert at.text_area(key=keys["summary"]).value == "the JVM ran out of memory"
    assert "Evidence: #1" in texts(at)


@pytest.mark.parametrize(
    ("cause", "severity", "rows", "message"),
    [
        (None, "critical", [1], "pick a root cause first"),
        ("oom_killed", None, [1], "pick a severity first"),
        ("oom_killed", "critical", [], "root cause oom_killed needs at least one evidence line"),
    ],
)
def test_an_incomplete_label_is_refused_with_a_readable_error(
    engine: Engine, cause: str | None, severity: str | None, rows: list[int], message: str
) -> None:
    store.import_examples(engine, [make_example("a")])
    store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", "")
    at = open_page()
    fill(at, "a", cause=cause, severity=severity, rows=rows)
    at.button(key="label.save").click().run()
    assert not at.exception
    assert any(message in error for error in errors(at)), errors(at)
    assert [label.labeler for label in store.labels_for(engine, "a")] == ["bob"]


def test_a_failing_store_is_shown_as_text_and_the_rest_of_the_page_works(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(labeler: str, *, blind: bool) -> list[store.QueueItem]:
        raise StoreError("database error: OperationalError: could not connect to server")

    monkeypatch.setattr(labeling, "labeling_queue", broken)
    at = open_page()
    assert not at.exception
    assert any("could not connect to server" in error for error in errors(at))
    assert any("two people" in info.value for info in at.info)  # the Agreement tab still renders


def test_agreement_tables_and_adjudication(engine: Engine) -> None:
    store.import_examples(engine, [make_example(name) for name in ("a", "b", "c")])
    for name, bob, carol in (
        ("a", "oom_killed", "oom_killed"),
        ("b", "oom_killed", "probe_failure"),
        ("c", "healthy", "healthy"),
    ):
        store.save_label(engine, name, "bob", bob, [1], "critical", "")
        store.save_label(engine, name, "carol", carol, [2], "critical", HOSTILE)
    at = open_page("dana")

    pairs = next(frame.value for frame in at.dataframe if "labeler A" in frame.value)
    assert pairs.to_dict("records")[0]["labeler A"] == "bob"
    assert pairs.to_dict("records")[0]["shared windows"] == 3
    classes = next(frame.value for frame in at.dataframe if "judgements" in frame.value)
    assert classes["root cause"].tolist() == ["oom_killed", "probe_failure", "healthy"]
    disputes = next(frame.value for frame in at.dataframe if "votes" in frame.value)
    assert disputes.to_dict("records") == [{"window": "b", "votes": "bob: oom_killed; carol: probe_failure"}]

    keys = labeling.widget_keys("adjudicate", "b")
    assert "Evidence: #1, #2" in texts(at)  # every cited line is preselected
    at.selectbox(key=keys["class"]).set_value("probe_failure")
    at.radio(key=keys["severity"]).set_value("warning")
    at.button(key="adjudicate.save").click().run()
    assert not at.exception
    assert errors(at) == []
    assert any("Adjudicated (revision 1)" in success.value for success in at.success)
    assert any("No disagreements" in info.value for info in at.info)
    label = {e.id: e.label for e in store.export_examples(engine)}["b"]
    assert (label.root_cause, label.labeler, label.evidence) == ("probe_failure", "dana", [1, 2])


def test_untrusted_text_never_reaches_markdown(engine: Engine) -> None:
    example = make_example("a")
    example.logs[1].line = HOSTILE
    store.import_examples(engine, [example])
    store.save_label(engine, "a", "bob", "oom_killed", [1], "critical", HOSTILE)
    at = open_page(HOSTILE[:40])
    at.toggle(key="label.blind").set_value(False).run()
    assert not at.exception
    rendered = [element.value for element in (*at.markdown, *at.caption, *at.success, *at.info, *at.error)]
    assert not any("<script>" in text or "**bold**" in text for text in rendered)
    assert any(HOSTILE in frame.value["line"].tolist() for frame in at.dataframe if "line" in frame.value)
    assert any(
        HOSTILE in frame.value["summary"].tolist() for frame in at.dataframe if "summary" in frame.value
    )
