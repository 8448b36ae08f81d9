"""How many log tokens a prompt gets: the smallest of the limits that apply, never below a floor.

On a CPU every prompt token costs time to first token, so the budget is the smallest of:

* the room left in the model's context (context - answer tokens - the prompt without logs);
* a cap (``LOG_TOKEN_CAP``, 2,000 by default: what a small CPU model reads in seconds);
* one tenth of the window's raw tokens (the lines' own text, ``estimate_tokens``): a compressed window
  keeps its evidence at a tenth of its size, and a small window is not padded out to the cap;
* the tokens that fit the latency target at the prompt rate the model reported on recent runs.

A floor (``LOG_TOKEN_FLOOR``) keeps a tiny window or a slow model from leaving the model next to nothing
to read; only the context's room can push below it. Which limit decided is reported with the number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from app.errors import LLMError
from app.llm.client import LLMClient
from app.logs.compress import estimate_tokens

RAW_FRACTION = 10  # the budget is at most 1/RAW_FRACTION of the window's raw tokens

BudgetLimit = Literal["context", "cap", "tenth of raw", "latency target", "floor"]


class LogBudget(BaseModel):
    """The log-token budget of one prompt and the limit that decided it."""

    tokens: int
    limit: BudgetLimit
    raw_tokens: int
    room: int
    cap: int
    floor: int
    latency_tokens: int | None = None

    def describe(self) -> str:
        """'1,150, latency target': the budget and the limit that decided it."""
        return f"{self.tokens:,}, {self.limit}"


def log_token_budget(
    *, room: int, raw_tokens: int, cap: int, floor: int, latency_tokens: int | None = None
) -> LogBudget:
    """The budget: min(room, cap, raw/10, latency tokens), raised to the floor but never above the room."""
    limits: list[tuple[int, BudgetLimit]] = [(cap, "cap"), (raw_tokens // RAW_FRACTION, "tenth of raw")]
    if latency_tokens is not None:
        limits.append((latency_tokens, "latency target"))
    # On ties the earlier limit is named: the cap before the tenth before the target.
    tokens, limit = min(limits, key=lambda pair: pair[0])
    if tokens < floor:
        tokens, limit = floor, "floor"
    if tokens > room:
        tokens, limit = room, "context"
    return LogBudget(
        tokens=max(tokens, 0),
        limit=limit,
        raw_tokens=raw_tokens,
        room=room,
        cap=cap,
        floor=floor,
        latency_tokens=latency_tokens,
    )


def make_token_counter(client: LLMClient) -> Callable[[str], int] | None:
    """The server's tokenizer when it has one (None = estimate); fit_to_budget falls back on LLMError."""
    try:
        probe = client.tokenize_count("probe")
    except LLMError:
        probe = None
    if probe is None:
        return None

    def count(text: str) -> int:
        value = client.tokenize_count(text)
        if value is None:
            raise LLMError("the model server stopped answering /tokenize")
        return value

    return count


def count_tokens_or_estimate(count_tokens: Callable[[str], int] | None, text: str) -> int:
    """Tokens of ``text`` by the server's tokenizer when it answers, else the estimate."""
    if count_tokens is not None:
        try:
            return count_tokens(text)
        except LLMError:
            pass
    return estimate_tokens(text)
