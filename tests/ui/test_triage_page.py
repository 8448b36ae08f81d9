"""The Triage page on the real pipeline: demo logs, a fake llama-server, a real store and traces."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.store.db import session_scope
from app.store.tables import TriageRunRow
from app.ui import cache, live_run
from tests.ui.fakes import (
    GOOD_ANSWER,
    ROOT,
    FakeWorld,
    LokiMode,
    ModelMode,
    assert_no_exception,
    error_texts,
    metric,
    page,
)

RUN_WAIT_S = 30


def preview(at: AppTest, namespace: str = "payments") -> AppTest:
    """Pick a namespace and press Preview."""
    at.selectbox(key="triage.namespace").select(namespace).run()
    at.button(key="triage.preview_button").click().run()
    return at


def run_to_end(at: AppTest) -> live_run.LiveRun:
    """Press Run, wait for the background thread, and rerun until the result is drawn."""
    at.button(key="triage.run").click().run()
    run = at.session_state[live_run.STATE_KEY]
    run.thread.join(RUN_WAIT_S)
    assert not run.thread.is_alive(), "the triage run did not finish"
    at.run()
    return run


def test_happy_path_previews_runs_and_queues_for_labeling(world: FakeWorld) -> None:
    at = page("triage").run()
    assert_no_exception(at)
    assert "payments" in at.selectbox(key="triage.namespace").options

    preview(at)
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert any(c.value == '{namespace="payments"}' for c in at.code)
    lines = int(metric(at, "Lines").replace(",", ""))
    assert lines > 0
    table = at.dataframe[0].value
    assert len(table) == lines
    assert {"time", "pod", "container", "level", "line"} <= set(table.columns)
    assert any("lines kept" in i.value and "tokens" in i.value for i in at.info)

    run = run_to_end(at)
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert run.result is not None
    assert run.result.status == "ok"
    assert metric(at, "Root cause") == "dependency_unavailable"
    assert metric(at, "Confidence") == "82%"
    # The summary is shown as text: its Markdown and HTML stay literal.
    assert GOOD_ANSWER["summary"] in [t.value for t in at.text]
    # The cited lines are marked in the preview table.
    marked = at.dataframe[0].value
    assert set(marked["evidence"].dropna()) == {1, 2}
    assert metric(at, "Time to first token") != "—"
    assert metric(at, "Elapsed") != "—"
    # The trace was recorded by the real tracer and is drawn.
    assert run.result.trace_id
    assert any(c.value == run.result.trace_id for c in at.code)
    assert cache.trace_spans(run.result.trace_id)
    assert len(world.chat_requests) == 1

    at.button(key="triage.queue").click().run()
    assert_no_exception(at)
    with session_scope(cache.get_services().engine) as session:
        row = session.scalars(select(TriageRunRow).where(TriageRunRow.id == run.result.run_id)).one()
        assert row.queued_for_labeling
    assert at.button(key="triage.queue").disabled


def test_level_and_text_filters_narrow_the_table_without_a_new_query(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    total = len(at.dataframe[0].value)
    at.multiselect(key="triage.logs.levels").select("error").run()
    errors = at.dataframe[0].value
    assert 0 < len(errors) < total
    assert set(errors["level"]) == {"error"}
    at.text_input(key="triage.logs.text").input("zzz-not-in-any-line").run()
    assert len(at.dataframe[0].value) == 0
    assert_no_exception(at)


@pytest.mark.parametrize(
    ("mode", "title", "phrase"),
    [
        ("down", "Cannot reach the model server", "could not connect"),
        ("timeout", "The model did not answer in time", "did not answer within"),
        ("invalid", "The model's answer is not a valid root-cause analysis", "not JSON"),
    ],
)
def test_model_failures_are_readable_messages(world: FakeWorld, mode: str, title: str, phrase: str) -> None:
    at = preview(page("triage").run())
    world.model = cast(ModelMode, mode)
    run = run_to_end(at)
    assert_no_exception(at)
    assert run.result is not None
    assert run.result.status == "error"
    errors = error_texts(at)
    assert any(title in e and phrase in e for e in errors), errors
    # The rest of the page still works: the preview table is there.
    assert len(at.dataframe[0].value) > 0


def test_model_down_shows_in_the_model_picker(world: FakeWorld) -> None:
    world.model = "down"
    at = page("triage").run()
    assert_no_exception(at)
    assert any("Cannot reach the model server" in e for e in error_texts(at))
    assert "unreachable" in at.selectbox(key="triage.model").format_func(
        at.selectbox(key="triage.model").value
    )


@pytest.mark.parametrize(
    ("mode", "title"), [("down", "Cannot reach Loki"), ("timeout", "Loki did not answer in time")]
)
def test_loki_failures_are_readable_messages(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch, mode: str, title: str
) -> None:
    monkeypatch.setenv("LOKI_URL", "http://loki.test:3100")
    world.loki = cast(LokiMode, mode)
    at = page("triage").run()
    assert_no_exception(at)
    assert any(title in e for e in error_texts(at)), error_texts(at)
    # A typed namespace can still be previewed, and gives the same readable error.
    at.text_input(key="triage.namespace_typed").input("payments").run()
    at.button(key="triage.preview_button").click().run()
    assert_no_exception(at)
    assert sum(title in e for e in error_texts(at)) == 2, error_texts(at)
    # The rest of the page keeps working.
    assert at.selectbox(key="triage.prompt").value is not None
    assert at.button(key="triage.run").disabled


def test_cancel_stops_a_running_triage(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    world.model = "slow"
    at.button(key="triage.run").click().run()
    run = at.session_state[live_run.STATE_KEY]
    cancel = [b for b in at.button if b.key and b.key.startswith("live_run.cancel.")]
    assert cancel, [b.key for b in at.button]
    cancel[0].click().run()
    run.thread.join(RUN_WAIT_S)
    at.run()
    assert_no_exception(at)
    assert run.result is not None
    assert run.result.status == "cancelled"
    assert any(w.value == "The run was cancelled." for w in at.warning)


def test_an_empty_namespace_is_an_input_error(world: FakeWorld) -> None:
    at = page("triage").run()
    at.button(key="triage.preview_button").click().run()
    assert_no_exception(at)
    assert any("Check the input" in e and "choose a namespace" in e for e in error_texts(at))


def test_grafana_links_for_the_query_window_and_the_trace(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRAFANA_URL", "https://grafana.example.com")
    at = preview(page("triage").run())
    run = run_to_end(at)
    assert_no_exception(at)
    links = {b.proto.label: b.proto.url for b in at.get("link_button")}
    assert links["Grafana"].startswith("https://grafana.example.com/explore?")
    assert "payments" in links["Grafana"]
    assert run.result is not None
    assert run.result.trace_id
    assert run.result.trace_id in links["Tempo"]


def test_no_grafana_links_without_grafana_url(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    run_to_end(at)
    assert not at.get("link_button")


def test_the_router_opens_triage_and_lists_the_pages_that_exist(world: FakeWorld) -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30).run()
    assert_no_exception(at)
    assert at.title[0].value == "Triage"
    at.switch_page("pages/prompts.py").run()
    assert_no_exception(at)
    assert at.title[0].value == "Prompts"


def test_a_custom_range_that_ends_before_it_starts_is_an_input_error(world: FakeWorld) -> None:
    at = page("triage").run()
    at.segmented_control(key="triage.range.preset").set_value("Custom").run()
    start = at.datetime_input(key="triage.range.start").value
    at.datetime_input(key="triage.range.end").set_value(start - timedelta(hours=2)).run()
    # Listing namespaces for such a window fails the same way, so the namespace is typed.
    at.text_input(key="triage.namespace_typed").input("payments").run()
    at.button(key="triage.preview_button").click().run()
    assert_no_exception(at)
    assert any("Check the input" in e and "is not after start" in e for e in error_texts(at)), error_texts(at)


def test_a_custom_range_previews_that_window(world: FakeWorld) -> None:
    at = page("triage").run()
    at.segmented_control(key="triage.range.preset").set_value("Custom").run()
    end = at.datetime_input(key="triage.range.end").value
    at.datetime_input(key="triage.range.start").set_value(end - timedelta(minutes=30)).run()
    preview(at)
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert any(t.value.startswith("payments · ") and "UTC" in t.value for t in at.text)


def test_latency_target_budget_estimate_and_how_far_it_was_off(world: FakeWorld) -> None:
    # The fake llama-server reports 1,000 prompt tokens evaluated in 10 s, as llama-server does.
    world.timings = {"prompt_n": 1000.0, "prompt_ms": 10_000.0, "cache_n": 0.0}
    at = page("triage").run()
    assert at.number_input(key="triage.latency_target").value == 5.0  # LATENCY_TARGET_SECONDS
    preview(at)
    assert any("No prompt rate measured for this model yet" in c.value for c in at.caption)
    run_to_end(at)  # the first run measures the rate
    assert_no_exception(at)

    at.number_input(key="triage.latency_target").set_value(20.0).run()
    budget = next(i.value for i in at.info if i.value.startswith("Budget: "))
    pattern = r"Budget: [\d,]+ log tokens \(budget [\d,]+, latency target\), about \d+ s on tiny-q4_k_m\. "
    assert re.match(pattern, budget), budget
    assert not at.warning

    # A target the model cannot meet: the floor keeps some logs, and the page says it will be slow (the
    # system prompt counts as cached since the first run sent it; the floor's 300 log tokens alone take 3 s).
    at.number_input(key="triage.latency_target").set_value(0.5).run()
    assert any(
        w.value.startswith("This run will be slow: ~") and "prompt tokens: about" in w.value
        for w in at.warning
    ), [w.value for w in at.warning]
    assert any("(budget 300, floor)" in i.value for i in at.info)

    at.number_input(key="triage.latency_target").set_value(20.0).run()
    run = run_to_end(at)
    assert run.result is not None
    assert run.result.latency_target_s == 20.0
    assert run.result.estimated_ttft_ms is not None
    assert any(c.value.startswith("expected the first token after ") for c in at.caption)
