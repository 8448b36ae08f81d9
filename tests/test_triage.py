"""The triage pipeline in-process: demo logs, an OpenAI-compatible fake speaking SSE, a real SQLite store."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.errors import InputError, LokiHTTPError
from app.llm.models import ModelConfig
from app.logs.compress import estimate_tokens
from app.logs.demo import DemoLogSource
from app.logs.logql import LogFilter
from app.logs.models import LogQueryResult
from app.prompts.registry import PromptRegistry
from app.store.db import get_engine, session_scope
from app.store.tables import TriageRunRow
from app.telemetry.tracing import RECENT_TRACES, setup_tracing
from app.triage import (
    LogsEvent,
    PreparedPrompt,
    PromptEvent,
    ResultEvent,
    TokenStreamEvent,
    TriageRequest,
    TriageService,
    validate_window,
)
from app.triage_history import queue_for_labeling
from tests.fixtures.llama import FakeOpenAIServer

NOW = datetime.now(UTC)
ANSWER = {
    "root_cause": "dependency_unavailable",
    "confidence": 0.8,
    "evidence": [1, 2],
    "summary": "DB down.",
}


def answer_tokens(answer: Mapping[str, object]) -> list[str]:
    text = json.dumps(answer)
    return [text[i : i + 7] for i in range(0, len(text), 7)]


@pytest.fixture
def service(tmp_path: Path, fake_openai_server: FakeOpenAIServer) -> TriageService:
    settings = Settings(llm_timeout_seconds=2.0)
    setup_tracing(settings)
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    model = ModelConfig(
        name="fake-q4",
        base_url=fake_openai_server.base_url,
        quantization="Q4_K_M",
        context_length=8192,
        response_format_style="json_object",
    )
    return TriageService(
        settings=settings,
        log_source=DemoLogSource(now=lambda: NOW),
        models=[model],
        registry=PromptRegistry(settings.prompts_dir, engine),
        engine=engine,
        http_client=httpx.Client(timeout=httpx.Timeout(5.0)),
    )


def request(**overrides: object) -> TriageRequest:
    fields: dict[str, object] = {
        "filter": LogFilter(namespace="payments"),
        "start": NOW - timedelta(hours=1),
        "end": NOW,
        "model": "fake-q4",
    }
    fields.update(overrides)
    return TriageRequest.model_validate(fields)


def stored(service: TriageService, run_id: str) -> TriageRunRow:
    with session_scope(service.engine) as session:
        return session.scalars(select(TriageRunRow).where(TriageRunRow.id == run_id)).one()


def test_events_arrive_in_order_and_the_result_is_stored(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = answer_tokens(ANSWER)
    events = list(service.stream(request()))
    assert isinstance(events[0], LogsEvent)
    assert isinstance(events[1], PromptEvent)
    tokens = [e for e in events if isinstance(e, TokenStreamEvent)]
    assert "".join(t.text for t in tokens) == json.dumps(ANSWER)
    assert [t.tokens_so_far for t in tokens] == sorted(t.tokens_so_far for t in tokens)
    result = events[-1].result if isinstance(events[-1], ResultEvent) else None
    assert result is not None
    assert result.status == "ok"
    assert result.root_cause == "dependency_unavailable"
    assert [e.number for e in result.evidence] == [1, 2]
    assert result.evidence[0].text.startswith("[1] ")
    assert result.evidence[0].entry_indices
    row = stored(service, result.run_id)
    assert row.root_cause == "dependency_unavailable"
    assert row.prompt_sha256 == events[1].prepared.version.sha256
    assert row.trace_id == result.trace_id
    assert len(row.logs) == result.log_lines
    # the prompt the model got is the rendered one, with the schema asked for
    body = fake_openai_server.requests[-1].body
    assert body["stream"] is True
    assert body["response_format"]["type"] == "json_object"
    assert body["messages"][-1]["content"] == events[1].prepared.rendered.user
    assert body["messages"] == events[1].prepared.rendered.messages()
    spans = {s.name for s in RECENT_TRACES.get(result.trace_id or "")}
    assert {"triage", "logs.query", "context.budget", "prompt.render", "chat fake-q4"} <= spans


def test_invalid_output_is_kept_with_its_kind(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = [
        '{"root_cause": "cosmic_rays", ',
        '"confidence": 1, "evidence": [], "summary": "x"}',
    ]
    result = service.run(request())
    assert result.status == "error"
    assert result.error_kind == "invalid_output"
    assert "root_cause" in (result.error or "")
    assert "cosmic_rays" in result.raw_output
    assert stored(service, result.run_id).error_kind == "invalid_output"


@pytest.mark.parametrize(
    ("script", "kind"),
    [({"status": 500}, "llm_http"), ({"first_token_delay_s": 4.0}, "llm_timeout")],
)
def test_server_failures_become_readable_errors(
    service: TriageService, fake_openai_server: FakeOpenAIServer, script: dict[str, object], kind: str
) -> None:
    for key, value in script.items():
        setattr(fake_openai_server.script, key, value)
    result = service.run(request())
    assert result.status == "error"
    assert result.error_kind == kind
    assert result.error
    assert "\n" not in result.error


def test_cancel_stops_a_running_inference(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = answer_tokens(ANSWER) * 50
    # 0.1 s per token: by the fifth token the decode phase is long enough for a tokens/s figure.
    fake_openai_server.script.delay_s = 0.1
    cancel = threading.Event()
    events = []
    for event in service.stream(request(), cancel):
        events.append(event)
        if isinstance(event, TokenStreamEvent) and event.tokens_so_far >= 5:
            cancel.set()
    final = events[-1]
    assert isinstance(final, ResultEvent)
    assert final.result.status == "cancelled"
    assert sum(isinstance(e, TokenStreamEvent) for e in events) < 10
    # The partial figures are kept, in the result and in the store.
    row = stored(service, final.result.run_id)
    assert row.status == "cancelled"
    assert row.error_kind == "cancelled"
    assert row.completion_tokens is not None
    assert row.completion_tokens >= 5
    assert row.ttft_ms is not None
    assert row.total_ms is not None
    assert row.total_ms >= row.ttft_ms
    assert row.tokens_per_s is not None
    assert row.tokens_per_s > 0
    assert row.raw_output


class _FailingSource:
    """A log source that raises ``error`` the way an interrupted or buggy one would."""

    name = "failing"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def query_range(self, query: str, start: datetime, end: datetime, *, limit: int) -> LogQueryResult:
        raise self.error

    def label_values(
        self, label: str, start: datetime, end: datetime, *, query: str | None = None
    ) -> list[str]:
        return []


@pytest.mark.parametrize(
    ("error", "status", "kind", "message"),
    [
        (KeyboardInterrupt(), "cancelled", "cancelled", "cancelled by Ctrl-C"),
        (ZeroDivisionError("division by zero"), "error", "internal", "unexpected ZeroDivisionError"),
        (
            LokiHTTPError(
                "Loki at http://loki:3100 answered 401: bad credentials for "
                "http://admin:hunter2@loki:3100 (Authorization: Bearer glc_eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk)",
                status_code=401,
            ),
            "error",
            "loki_http",
            "answered 401",
        ),
    ],
)
def test_every_way_a_run_ends_is_stored_with_a_redacted_one_line_error(
    service: TriageService, error: BaseException, status: str, kind: str, message: str
) -> None:
    service.log_source = _FailingSource(error)

    result = service.run(request())

    row = stored(service, result.run_id)
    assert (result.status, result.error_kind) == (status, kind)
    assert (row.status, row.error_kind) == (status, kind)
    assert row.error is not None
    assert message in row.error
    assert "\n" not in row.error
    assert "hunter2" not in row.error
    assert "glc_eyJrIjoi" not in row.error


def test_send_to_labeling_marks_the_run(service: TriageService, fake_openai_server: FakeOpenAIServer) -> None:
    fake_openai_server.script.tokens = answer_tokens(ANSWER)
    result = service.run(request())
    queue_for_labeling(service.engine, result.run_id)
    assert stored(service, result.run_id).queued_for_labeling
    with pytest.raises(InputError, match="no triage run"):
        queue_for_labeling(service.engine, "missing")


def test_windows_are_checked() -> None:
    with pytest.raises(InputError, match="not after start"):
        validate_window(NOW, NOW - timedelta(minutes=1))
    with pytest.raises(InputError, match="7 days"):
        validate_window(NOW - timedelta(days=8), NOW)


# --- the budget policy and the latency target ---------------------------------------------------------------


def prepared_of(events: Sequence[object]) -> PreparedPrompt:
    (prompt,) = [e for e in events if isinstance(e, PromptEvent)]
    return prompt.prepared


def test_the_budget_is_a_tenth_of_the_raw_window_capped_at_2000(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = answer_tokens(ANSWER)
    events = list(service.stream(request(latency_target_s=0)))
    logs = next(e for e in events if isinstance(e, LogsEvent)).result
    prepared = prepared_of(events)
    raw = estimate_tokens("\n".join(entry.line for entry in logs.entries))
    assert prepared.log_budget.raw_tokens == raw
    assert raw // 10 > 2000  # an hour of the demo's payments namespace
    assert (prepared.max_log_tokens, prepared.log_budget.limit) == (2000, "cap")
    assert prepared.budget.report.tokens_after <= 2000
    assert prepared.estimate is None  # no run of this model has reported a rate yet

    # A few lines: a tenth of their raw tokens is under the cap, so the tenth (or the floor) decides.
    small = prepared_of(list(service.stream(request(limit=20, latency_target_s=0))))
    assert small.log_budget.raw_tokens // 10 < 2000
    assert small.log_budget.limit in ("tenth of raw", "floor")
    assert small.max_log_tokens == max(small.log_budget.raw_tokens // 10, 300)


def test_a_latency_target_budgets_by_the_rate_the_server_reported(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = answer_tokens(ANSWER)
    # llama-server's timings: 1,000 prompt tokens evaluated in 1 s.
    fake_openai_server.script.timings = {"prompt_n": 1000.0, "prompt_ms": 1000.0, "cache_n": 0.0}
    first = service.run(request())
    assert first.estimated_ttft_ms is None  # nothing measured before the first run
    assert first.latency_target_s == 5.0  # LATENCY_TARGET_SECONDS

    events = list(service.stream(request(latency_target_s=2.0)))
    prepared = prepared_of(events)
    assert prepared.log_budget.limit == "latency target"
    assert prepared.estimate is not None
    assert prepared.estimate.tokens_per_s == 1000.0
    assert prepared.estimate.seconds <= 2.0
    # The first run sent the same system prompt: only the rest of this prompt is paid for.
    assert prepared.estimate.uncached_tokens == prepared.prompt_tokens - prepared.prefix_tokens > 0
    assert prepared.estimate.prompt_tokens == prepared.prompt_tokens
    tokens, budget = prepared.budget.report.tokens_after, prepared.max_log_tokens
    assert prepared.budget_line().startswith(
        f"{tokens:,} log tokens (budget {budget:,}, latency target), about "
    )
    assert prepared.budget_line().endswith(" on fake-q4")
    result = events[-1].result if isinstance(events[-1], ResultEvent) else None
    assert result is not None
    assert result.latency_target_s == 2.0
    assert result.estimated_ttft_ms == pytest.approx(prepared.estimate.seconds * 1000, abs=0.1)
    assert result.ttft_ms is not None
    assert result.estimated_ttft_ms is not None
    assert result.estimate_error_ms == pytest.approx(result.ttft_ms - result.estimated_ttft_ms, abs=0.2)
    row = stored(service, result.run_id)
    assert (row.latency_target_s, row.estimated_ttft_ms) == (2.0, result.estimated_ttft_ms)


def test_prompts_prepared_without_a_target_never_depend_on_measured_rates(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = answer_tokens(ANSWER)
    fake_openai_server.script.timings = {"prompt_n": 100.0, "prompt_ms": 10_000.0, "cache_n": 0.0}
    service.run(request())  # a very slow rate is now on record
    logs = service.fetch_logs(LogFilter(namespace="payments"), NOW - timedelta(hours=1), NOW, 5000)
    model = service.models[0]
    prepared = service.prepare(
        logs.entries,
        namespace="payments",
        start=NOW - timedelta(hours=1),
        end=NOW,
        version=service.registry.resolve("rca-evidence-first"),
        model=model,
    )
    assert prepared.estimate is None
    assert prepared.log_budget.limit == "cap"  # what an eval gets, whatever the machine's load


def test_warm_up_caches_the_prefix_so_the_first_triage_meets_its_target(
    service: TriageService, fake_openai_server: FakeOpenAIServer
) -> None:
    fake_openai_server.script.tokens = ["ok"]
    fake_openai_server.script.timings = {"prompt_n": 1000.0, "prompt_ms": 4000.0, "cache_n": 0.0}  # 250 tok/s
    service.warm_up("fake-q4")
    warm = fake_openai_server.chat_requests()[-1].body
    assert warm["max_tokens"] == 1
    assert [m["role"] for m in warm["messages"]][:2] == ["system", "user"]

    fake_openai_server.script.tokens = answer_tokens(ANSWER)
    prepared = prepared_of(list(service.stream(request(latency_target_s=5.0))))
    assert prepared.estimate is not None
    # The warm-up sent this prefix: it is counted as cached, and only the rest is paid for.
    assert prepared.estimate.uncached_tokens == prepared.prompt_tokens - prepared.prefix_tokens
    assert prepared.log_budget.limit in ("latency target", "cap")
    assert prepared.estimate.seconds <= 5.0
