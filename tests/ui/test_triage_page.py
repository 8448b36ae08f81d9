"""The Triage page on the real pipeline: demo logs, a fake llama-server, a real store and traces."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import cast

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.config import get_settings
from app.golden import labels as golden_store
from app.logs.demo import DemoLogSource
from app.store.db import get_engine, session_scope
from app.store.tables import TriageRunRow
from app.ui import cache, live_run
from tests.golden.test_labels import make_example
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
TAB_KEY = "triage.tab"


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


def logql(at: AppTest) -> str:
    """The LogQL the preview shows."""
    return next(c.value for c in at.code if c.value.startswith("{namespace="))


def table(at: AppTest) -> pd.DataFrame:
    """The preview's table of lines."""
    return at.dataframe[0].value


def test_happy_path_previews_runs_and_queues_for_labeling(world: FakeWorld) -> None:
    at = page("triage").run()
    assert_no_exception(at)
    assert "payments" in at.selectbox(key="triage.namespace").options

    preview(at)
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert logql(at) == '{namespace="payments"}'
    lines = int(metric(at, "Lines").replace(",", ""))
    assert lines > 0
    assert len(table(at)) == lines
    assert {"time", "pod", "container", "level", "line"} <= set(table(at).columns)
    # The budget line is the report's own summary, with the room the model's context leaves.
    budget = next(i.value for i in at.info if i.value.startswith("Budget: "))
    assert " shown" in budget
    assert "log tokens in the model" in budget

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
    assert set(table(at)["evidence"].dropna()) == {1, 2}
    assert re.fullmatch(r"[\d.]+ (ms|s)", metric(at, "Time to first token"))
    assert re.fullmatch(r"[\d.]+ (ms|s)", metric(at, "Elapsed"))
    # The trace was recorded by the real tracer and is drawn.
    assert run.result.trace_id
    assert any(c.value == run.result.trace_id for c in at.code)
    assert cache.trace_spans(run.result.trace_id)
    assert len(world.chat_requests) == 1

    at.button(key="triage.result.queue").click().run()
    assert_no_exception(at)
    with session_scope(cache.get_services().engine) as session:
        row = session.scalars(select(TriageRunRow).where(TriageRunRow.id == run.result.run_id)).one()
        assert row.queued_for_labeling
    assert at.button(key="triage.result.queue").disabled
    # The toast and the page both lead to the Label page.
    assert any("[Open Label](/label)" in toast.value for toast in at.toast)
    assert any("](/label)" in m.value for m in at.markdown)


def test_when_the_source_moved_on_the_table_shows_the_lines_the_model_read(world: FakeWorld) -> None:
    clock = [datetime.now(UTC)]
    cache.get_services().__dict__["log_source"] = DemoLogSource(now=lambda: clock[0])
    at = preview(page("triage").run())
    before = set(table(at)["time"])
    # The demo re-times its day every minute: the run, two minutes later, reads other timestamps.
    clock[0] += timedelta(minutes=2)
    run_to_end(at)
    assert_no_exception(at)
    assert any("the table shows the" in c.value and "lines the model read" in c.value for c in at.caption)
    assert set(table(at)["evidence"].dropna()) == {1, 2}
    assert set(table(at)["time"]) != before


def test_tokens_per_second_is_a_dash_when_the_answer_came_in_one_burst(world: FakeWorld) -> None:
    # The fake sends every chunk at once: a rate over microseconds would read 100,000 tokens/s.
    at = preview(page("triage").run())
    run = run_to_end(at)
    assert run.result is not None
    assert run.result.status == "ok"
    assert metric(at, "Tokens/s") == "—"
    assert metric(at, "Tokens") != "—"


def test_tokens_per_second_is_the_decode_speed_when_tokens_come_one_by_one(world: FakeWorld) -> None:
    # One chunk per 0.2 s at best, so the decode speed cannot be above 5 tokens/s.
    world.model = "slow"
    at = preview(page("triage").run())
    run = run_to_end(at)
    assert run.result is not None
    rate = float(metric(at, "Tokens/s"))
    assert 0 < rate <= 5.5
    assert run.tokens_per_s is not None
    assert 0 < run.tokens_per_s <= 5.5


def test_level_and_text_filters_narrow_the_table_without_a_new_query(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    total = len(table(at))
    at.multiselect(key="triage.logs.levels").select("error").run()
    errors = table(at)
    assert 0 < len(errors) < total
    assert set(errors["level"]) == {"error"}
    at.text_input(key="triage.logs.text").input("zzz-not-in-any-line").run()
    assert len(table(at)) == 0
    assert_no_exception(at)


def test_line_contains_ignores_case_like_the_table_filter(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    # The newest such line: a second preview re-anchors the window at a later "now", which can drop
    # lines at its oldest edge (the demo's own clock is frozen, so the newest lines stay).
    newest_first = table(at).sort_values("time", ascending=False)["line"]
    line = next(text for text in newest_first if re.search(r"[a-z]{6,}", text))
    word = re.search(r"[a-z]{6,}", line)
    assert word is not None
    shouting = word.group().upper()
    at.text_input(key="triage.contains").input(shouting)
    at.button(key="triage.preview_button").click().run()
    assert logql(at) == f'{{namespace="payments"}} |~ "(?i){shouting}"'
    found = table(at)["line"]
    assert line in set(found)
    assert all(shouting.lower() in text.lower() for text in found)
    # The table's own filter agrees with the query.
    at.text_input(key="triage.logs.text").input(shouting).run()
    assert len(table(at)) == len(found)

    at.checkbox(key="triage.match_case").check()
    at.button(key="triage.preview_button").click().run()
    assert logql(at) == f'{{namespace="payments"}} |= "{shouting}"'
    assert metric(at, "Lines") == f"{sum(shouting in text for text in found):,}"


def test_pod_and_container_offer_the_values_seen_and_typed_text_is_a_prefix(world: FakeWorld) -> None:
    at = page("triage").run()
    assert at.selectbox(key="triage.pod").options == []  # no namespace, nothing to offer
    at.selectbox(key="triage.namespace").select("payments").run()
    pods = at.selectbox(key="triage.pod").options
    assert len(pods) >= 2

    at.selectbox(key="triage.pod").select(pods[0]).run()
    containers = at.selectbox(key="triage.container").options
    assert containers  # only the chosen pod's containers
    at.button(key="triage.preview_button").click().run()
    assert logql(at) == f'{{namespace="payments", pod="{pods[0]}"}}'
    assert set(table(at)["pod"]) == {pods[0]}
    assert set(table(at)["container"]) <= set(containers)

    # Text typed into the box that is no pod's whole name matches every pod starting with it.
    prefix = pods[0].split("-")[0] + "-"
    typed = page("triage")
    typed.session_state["triage.namespace"] = "payments"
    typed.session_state["triage.pod"] = prefix
    typed.run()
    assert "every pod starting with this text" in [c.value for c in typed.caption]
    typed.button(key="triage.preview_button").click().run()
    assert logql(typed) == f'{{namespace="payments", pod=~"{prefix}(?s:.*)"}}'
    assert all(pod.startswith(prefix) for pod in table(typed)["pod"])
    assert len(set(table(typed)["pod"])) >= 2

    # Another namespace starts without the pod and container of the last one.
    at.selectbox(key="triage.namespace").select("checkout").run()
    assert at.selectbox(key="triage.pod").value is None
    assert at.selectbox(key="triage.container").value is None


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
    assert len(table(at)) > 0


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


def test_cancel_keeps_what_the_run_got_to(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    world.model = "slow"
    at.button(key="triage.run").click().run()
    run = at.session_state[live_run.STATE_KEY]
    # The readout and Cancel are pinned to the foot of the window while the run works.
    assert any(c.value.startswith("Working: ") for c in at.caption)
    while run.tokens < 3 and run.thread.is_alive():
        run.thread.join(0.1)
        run.drain()
    cancel = [b for b in at.button if b.key and b.key.startswith("live_run.cancel.")]
    assert cancel, [b.key for b in at.button]
    cancel[0].click().run()
    run.thread.join(RUN_WAIT_S)
    at.run()
    assert_no_exception(at)
    assert run.result is not None
    assert run.result.status == "cancelled"
    assert any(w.value == "The run was cancelled." for w in at.warning)
    # Its partial figures stay on screen: tokens so far, time to first token, elapsed.
    assert "How far the run got before it stopped" in [c.value for c in at.caption]
    assert int(metric(at, "Tokens")) >= 3
    assert metric(at, "Time to first token") != "—"
    assert metric(at, "Elapsed") != "—"


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


def test_past_runs_open_with_their_result_evidence_and_lines(world: FakeWorld) -> None:
    at = page("triage").run()
    at.session_state[TAB_KEY] = "Past runs"
    at.run()
    assert any("No triage runs yet" in i.value for i in at.info)

    at.session_state[TAB_KEY] = "New triage"
    preview(at.run())
    run = run_to_end(at)
    assert run.result is not None
    at.session_state[TAB_KEY] = "Past runs"
    at.run()
    assert_no_exception(at)
    runs = at.dataframe[0].value
    assert runs["namespace"].tolist() == ["payments"]
    assert runs["status"].tolist() == ["ok"]
    assert runs["root cause"].tolist() == ["dependency_unavailable"]
    assert re.fullmatch(r"[\d.]+ (ms|s)", runs["took"].iloc[0])

    at.session_state["triage.opened_run"] = run.result.run_id
    at.run()
    assert_no_exception(at)
    assert metric(at, "Root cause") == "dependency_unavailable"
    assert GOOD_ANSWER["summary"] in [t.value for t in at.text]
    lines = next(frame.value for frame in at.dataframe if "evidence" in frame.value)
    assert len(lines) == run.result.log_lines
    assert set(lines["evidence"].dropna()) == {1, 2}
    assert any(c.value == run.result.trace_id for c in at.code)


def test_a_link_to_a_past_run_opens_it(world: FakeWorld) -> None:
    at = preview(page("triage").run())
    run = run_to_end(at)
    assert run.result is not None
    opened = page("triage")
    opened.query_params["run"] = run.result.run_id
    opened.run()
    assert_no_exception(opened)
    assert metric(opened, "Root cause") == "dependency_unavailable"
    assert any(t.value.startswith("payments · ") for t in opened.text)


def test_a_golden_example_link_previews_that_window_and_triages_it(world: FakeWorld) -> None:
    engine = get_engine(get_settings().resolved_database_url)
    example = make_example("syn-oom-7")
    golden_store.import_examples(engine, [example])
    at = page("triage")
    at.query_params["example"] = "syn-oom-7"
    at.run()
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert metric(at, "Source") == "golden"
    assert metric(at, "Lines") == str(len(example.logs))
    assert table(at)["line"].tolist() == [log.line for log in example.logs]
    assert any(t.value.startswith("shop · golden example syn-oom-7, 2026-03-01 12:00") for t in at.text)

    run = run_to_end(at)
    assert run.result is not None
    assert run.result.status == "ok"
    prompt = world.chat_requests[-1]["messages"][-1]["content"]
    # The prompt holds this window's lines in the budget's compact form (no timestamps or key names).
    assert "Memory cgroup out of memory" in prompt
    assert "Back-off restarting failed container" in prompt
    with session_scope(engine) as session:
        row = session.get(TriageRunRow, run.result.run_id)
        assert row is not None
        assert (row.source, row.namespace, row.log_lines) == ("golden", "shop", len(example.logs))
    # The window is in the golden set already: nothing to send to labeling.
    assert not [b for b in at.button if b.key == "triage.result.queue"]

    at.button(key="triage.unlink").click().run()
    assert not any(t.value.startswith("shop · golden example") for t in at.text)


def test_a_link_to_a_window_of_the_log_source_previews_it(world: FakeWorld) -> None:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=30)
    at = page("triage")
    at.query_params.update({"namespace": "payments", "start": start.isoformat(), "end": end.isoformat()})
    at.run()
    assert_no_exception(at)
    assert logql(at) == '{namespace="payments"}'
    assert at.selectbox(key="triage.namespace").value == "payments"
    assert at.segmented_control(key="triage.range.preset").value == "Custom"
    assert int(metric(at, "Lines").replace(",", "")) > 0
    stamps = table(at)["time"]
    assert stamps.min() >= start
    assert stamps.max() < end


def test_a_link_to_an_unknown_example_is_one_clear_line(world: FakeWorld) -> None:
    at = page("triage")
    at.query_params["example"] = "no-such-example"
    at.run()
    assert_no_exception(at)
    assert any("no golden example 'no-such-example'" in e for e in error_texts(at)), error_texts(at)
    # The page still works for a new preview.
    preview(at)
    assert int(metric(at, "Lines").replace(",", "")) > 0


def test_the_router_opens_triage_and_lists_the_pages_that_exist(world: FakeWorld) -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30).run()
    assert_no_exception(at)
    assert at.title[0].value == "Triage"
    at.switch_page("app_pages/prompts.py").run()
    assert_no_exception(at)
    assert at.title[0].value == "Prompts"


def test_a_custom_range_that_ends_before_it_starts_is_an_input_error(world: FakeWorld) -> None:
    at = page("triage").run()
    at.segmented_control(key="triage.range.preset").set_value("Custom").run()
    start = at.datetime_input(key="triage.range.start").value
    assert start is not None
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
    assert end is not None
    at.datetime_input(key="triage.range.start").set_value(end - timedelta(minutes=30)).run()
    preview(at)
    assert_no_exception(at)
    assert not at.error, error_texts(at)
    assert any(t.value.startswith("payments · ") and "UTC" in t.value for t in at.text)


def plain(markdown: str) -> str:
    """What a reader sees of escaped Markdown (the page escapes every figure it writes)."""
    return re.sub(r"\\(.)", r"\1", markdown)


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
    budget = next(plain(i.value) for i in at.info if i.value.startswith("Budget: "))
    pattern = r"Budget: [\d,]+ log tokens \(budget [\d,]+, latency target\), about \d+ s on tiny-q4_k_m\. "
    assert re.match(pattern, budget), budget
    assert not at.warning

    # A target the model cannot meet: the floor keeps some logs, and the page says it will be slow (the
    # system prompt counts as cached since the first run sent it; the floor's 300 log tokens alone take 3 s).
    at.number_input(key="triage.latency_target").set_value(0.5).run()
    assert any(
        plain(w.value).startswith("This run will be slow: ~") and "prompt tokens: about" in plain(w.value)
        for w in at.warning
    ), [w.value for w in at.warning]
    assert any("(budget 300, floor)" in plain(i.value) for i in at.info)

    at.number_input(key="triage.latency_target").set_value(20.0).run()
    run = run_to_end(at)
    assert run.result is not None
    assert run.result.latency_target_s == 20.0
    assert run.result.estimated_ttft_ms is not None
    assert any(c.value.startswith("expected the first token after ") for c in at.caption)
