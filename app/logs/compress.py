"""The context budget: fit a window of log lines into a model's context, keeping the evidence.

The interface other parts use lives here; the steps live in ``app.logs.budget``:

1. Records and groups (``groups``): continuation lines join their record (stack traces), records that
   differ only in numbers, ids and times collapse into one group with a count, per workload.
2. Rank (``rank``): severity raised by what the text says (5xx, exception classes, Kubernetes Warning
   events, failure words, exit codes), rarity of the template in the window, the onset of a new
   failure, state changes, and the line before a failure in the same stream.
3. Forms (``forms``, ``compact``, ``names``): each group has a short and a full text in a cheaper
   form: the namespace once (in the prompt's header), short source names (workload plus replica mark),
   times as +m:ss, JSON and logfmt without their time, level and punctuation, ids as ``<id>``,
   repeats with value ranges, traces cut to the frames around their messages.
4. Fill (``fill``): short forms in rank order, full forms as room allows (a strong line's detail before
   a weak line's mention), numbered in time order; with room for everything, runs of tiny lines are
   folded so the output never grows past 1.2x the raw tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.errors import InputError, LLMError
from app.logs.budget.fill import MAX_GROWTH, fill, pack
from app.logs.budget.forms import shorten
from app.logs.budget.groups import SEVERITY_RANK, Window, build_window
from app.logs.budget.models import BudgetReport, BudgetResult, CompressedLine, render_line
from app.logs.budget.tokens import (
    EstimateCounter,
    ServerCounter,
    TokenCounter,
    TokenCounterName,
    estimate_tokens,
)
from app.logs.models import LogEntry

MAX_LINE_CHARS = 500
"""Longer lines are cut to this many characters (plus a marker) before they reach the prompt."""

__all__ = [
    "MAX_LINE_CHARS",
    "BudgetReport",
    "BudgetResult",
    "CompressedLine",
    "TokenCounterName",
    "estimate_tokens",
    "evidence_to_entries",
    "fit_to_budget",
    "render_line",
    "shorten",
]


def evidence_to_entries(result: BudgetResult, evidence_numbers: list[int]) -> list[int]:
    """Input entry indices behind the line numbers the model cited; unknown numbers are ignored."""
    by_number = {line.number: line for line in result.lines}
    indices: set[int] = set()
    for number in evidence_numbers:
        line = by_number.get(number)
        if line is not None:
            indices.update(line.source_indices)
    return sorted(indices)


def fit_to_budget(
    entries: Sequence[LogEntry],
    *,
    max_tokens: int,
    count_tokens: Callable[[str], int] | None = None,
    max_line_chars: int = MAX_LINE_CHARS,
) -> BudgetResult:
    """The most useful lines of ``entries`` that fit in ``max_tokens``, collapsed, in time order.

    ``count_tokens`` is the model server's tokenizer; it is called on chunks of joined lines, never per
    line. Without it, or when it raises an ``LLMError``, ``estimate_tokens`` is used instead and the
    report says so.
    """
    if max_tokens < 0:
        raise InputError(f"max_tokens must be 0 or more, got {max_tokens}")
    if max_line_chars < 1:
        raise InputError(f"max_line_chars must be 1 or more, got {max_line_chars}")
    window = build_window(entries)
    if count_tokens is not None:
        try:
            return _fit(window, max_tokens, ServerCounter(count_tokens), max_line_chars)
        except LLMError:
            pass  # a tokenizer that is down should not stop triage; the report says "estimate"
    return _fit(window, max_tokens, EstimateCounter(), max_line_chars)


def _fit(window: Window, max_tokens: int, counter: TokenCounter, max_line_chars: int) -> BudgetResult:
    """Fill, fold if the output would outgrow the input, and report."""
    filled = fill(window, max_tokens, counter, max_line_chars)
    tokens_per_char = filled.costs_tokens / max(filled.costs_chars, 1)
    raw = counter.raw([entry.line for entry in window.entries], tokens_per_char)
    unfolded = len(filled.lines)
    if filled.tokens > raw * MAX_GROWTH:
        filled = pack(filled, raw, counter)
    lines = filled.lines
    folded = unfolded - len(lines)
    kept = sum(line.count for line in lines)
    joined = sum(
        len(window.records[head]) - 1
        for line in lines
        for head in line.source_indices
        if head in window.records
    )
    report = BudgetReport(
        total_lines=len(window.entries),
        kept_lines=kept,
        output_lines=len(lines),
        merged_lines=max(kept - len(lines) - joined - folded, 0),
        joined_lines=joined,
        folded_lines=folded,
        tokens_before=raw,
        tokens_after=filled.tokens,
        max_tokens=max_tokens,
        error_warn_total=window.error_warn_total,
        error_warn_kept=sum(
            1 for line in lines for i in line.source_indices if SEVERITY_RANK[window.levels[i]] >= 2
        ),
        templates=window.templates,
        token_counter=counter.name,
        origin_ns=window.start_ns,
        pods=window.names.legend(),
    )
    return BudgetResult(lines=lines, report=report)
