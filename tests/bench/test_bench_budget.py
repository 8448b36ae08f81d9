from __future__ import annotations

import pytest

from app.llm.server import LocalModelServer
from app.llm.tiny_model import CONTEXT_LENGTH
from bench.bench_budget import (
    TENTH,
    WHOLE,
    Window,
    real_model_timings,
    retention,
    server_context,
    tenth_of_raw,
)
from tests.fixtures.heldout import make_window


@pytest.fixture(scope="module")
def window() -> Window:
    held = make_window(seed=5, lines=900)
    return Window(held.entries, held.evidence)


def test_the_retention_row_counts_kept_evidence_and_the_reduction(window: Window) -> None:
    row = retention([window], None)

    assert row.budget == TENTH
    assert row.raw_tokens == window.raw_tokens
    assert 0 < row.tokens_after <= tenth_of_raw(window)
    assert row.reduction >= 10
    assert row.evidence == len(window.evidence)
    assert 0 <= row.evidence_kept <= row.evidence
    # A budget of nothing keeps nothing.
    empty = retention([window], 0)
    assert (empty.tokens_after, empty.evidence_kept, empty.windows_complete) == (0, 0, 0)


@pytest.mark.llama
def test_the_real_model_row_times_the_same_triage_with_the_whole_context_and_at_a_tenth(
    llama_server: LocalModelServer, window: Window
) -> None:
    assert server_context(llama_server.base_url) == CONTEXT_LENGTH

    timings = real_model_timings(llama_server.base_url, "tiny-q4_k_m", CONTEXT_LENGTH, [window], repeats=1)

    by_budget = {timing.budget: timing for timing in timings}
    assert set(by_budget) == {WHOLE, "default", TENTH}
    whole, default, tenth = by_budget[WHOLE], by_budget["default"], by_budget[TENTH]
    for timing in timings:
        assert 0 < timing.ttft_ms <= timing.total_ms
        assert timing.prompt_tokens is not None
    # The tenth-of-raw prompt carries a fraction of what fills the context, and the server saw that;
    # the default budget is a tenth of raw as well.
    assert tenth.log_tokens <= tenth_of_raw(window) < whole.log_tokens
    assert default.log_tokens <= tenth_of_raw(window)
    assert tenth.prompt_tokens is not None
    assert whole.prompt_tokens is not None
    assert tenth.prompt_tokens < whole.prompt_tokens
    assert whole.prompt_tokens <= CONTEXT_LENGTH
