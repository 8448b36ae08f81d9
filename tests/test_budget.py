"""The log-token budget: the smallest limit wins, a floor keeps something to read, the context is the end."""

from __future__ import annotations

import pytest

from app.budget import log_token_budget


@pytest.mark.parametrize(
    ("room", "raw", "latency", "tokens", "limit"),
    [
        (6000, 100_000, None, 2000, "cap"),  # a big window: the cap
        (6000, 8_000, None, 800, "tenth of raw"),  # a mid window: a tenth of it
        (6000, 100_000, 1150, 1150, "latency target"),  # a measured model and a target
        (6000, 1_200, None, 300, "floor"),  # a tiny window is still shown whole
        (6000, 100_000, 20, 300, "floor"),  # a very slow model still gets something to read
        (1500, 100_000, None, 1500, "context"),  # the context's room is the hard limit
        (250, 1_200, None, 250, "context"),  # even below the floor
        (6000, 20_000, 2000, 2000, "cap"),  # ties name the earlier limit
    ],
)
def test_budget_is_the_smallest_limit(
    room: int, raw: int, latency: int | None, tokens: int, limit: str
) -> None:
    budget = log_token_budget(room=room, raw_tokens=raw, cap=2000, floor=300, latency_tokens=latency)
    assert (budget.tokens, budget.limit) == (tokens, limit)
    assert budget.describe() == f"{tokens:,}, {limit}"
