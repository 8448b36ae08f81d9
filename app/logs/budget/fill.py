"""Filling the budget: rank the groups, take short forms first and full forms as room allows, number
the lines in time order, and keep a window that fits from growing past its raw size."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from app.logs.budget.forms import group_forms, shorten
from app.logs.budget.groups import Group, Window
from app.logs.budget.models import LEVEL_TAGS, CompressedLine, render_parts
from app.logs.budget.rank import score_groups
from app.logs.budget.tokens import TokenCounter

UPGRADE_DELAY = 3.0
"""How much lower each more detailed form of a group ranks than the one before: a strong line's detail
comes before a weak line's mention."""
MAX_GROWTH = 1.2
"""With room for everything, the output stays within this multiple of the raw input tokens."""
_PACK_SIZES = (4, 16, 64, 1 << 30)
# Groups rendered and counted per batch (one tokenizer request or a few per batch).
_CHUNK = 64
# No rendered line costs less: '[1] +0:00 x' is nine tokens by the estimate.
_MIN_LINE_TOKENS = 8


@dataclass
class Chosen:
    """A group on its way into the output."""

    group: Group
    text: str
    rank: int
    form: int


@dataclass
class Filled:
    """The numbered lines and what they cost."""

    lines: list[CompressedLine]
    output: str
    tokens: int
    costs_chars: int
    costs_tokens: int


def _cost_text(window: Window, group: Group, text: str, width_number: int) -> str:
    """The line as it would be rendered, with the widest number it could get."""
    return render_parts(
        width_number,
        group.first_ts,
        group.last_ts,
        window.start_ns,
        window.names.source(window.entries[group.heads[0]]),
        group.level,
        text,
        group.repeats,
        len(group.pods),
        group.variants,
    )


def fill(window: Window, max_tokens: int, counter: TokenCounter, max_line_chars: int) -> Filled:
    """The best-ranked groups that fit in ``max_tokens``, numbered in time order."""
    groups = window.groups
    scores = score_groups(window)
    ranked = sorted(range(len(groups)), key=lambda p: (-scores[p], groups[p].first_ts, groups[p].heads[0]))
    # No line costs fewer than about six tokens, so the number of lines (and the width of the widest
    # number) is bounded by the budget as well as by the number of groups.
    most_lines = max(min(len(groups), max_tokens // 6 + 1), 1)
    width_number = 10 ** len(str(most_lines)) - 1
    forms: dict[int, list[str]] = {}
    cost: dict[int, list[int]] = {}
    counted = [0, 0]  # characters and tokens of every text counted, for the raw-size estimate

    def materialize(chunk: list[int]) -> None:
        """Forms and costs of a chunk of groups, counted in one batch."""
        texts: list[str] = []
        for p in chunk:
            forms[p] = group_forms(window, groups[p], max_line_chars)
            texts += [_cost_text(window, groups[p], form, width_number) for form in forms[p]]
        costs = counter.each(texts)
        counted[0] += sum(len(text) + 1 for text in texts)
        counted[1] += sum(costs)
        offset = 0
        for p in chunk:
            cost[p] = costs[offset : offset + len(forms[p])]
            offset += len(forms[p])

    # Each group offers its briefest form at its score and each more detailed form a step lower.
    # Groups are materialized lazily, in rank order, only while their forms could still be taken:
    # under a tight budget most of a large window is never rendered at all.
    actions: list[tuple[float, int, int, int]] = []
    remaining = max_tokens
    chosen: dict[int, Chosen] = {}
    done = 0
    while True:
        while (
            done < len(ranked)
            and remaining >= _MIN_LINE_TOKENS
            and (not actions or -scores[ranked[done]] <= actions[0][0])
        ):
            chunk = ranked[done : done + _CHUNK]
            materialize(chunk)
            for n, p in enumerate(chunk, start=done):
                heapq.heappush(actions, (-scores[p], n, 0, p))
            done += len(chunk)
        if not actions:
            break
        priority, n, level, p = heapq.heappop(actions)
        if level == 0:
            if cost[p][0] > remaining:
                continue
            chosen[p] = Chosen(groups[p], forms[p][0], n, 0)
            remaining -= cost[p][0]
        else:
            extra = cost[p][level] - cost[p][level - 1]
            if extra > remaining:
                continue
            chosen[p].text, chosen[p].form = forms[p][level], level
            remaining -= extra
        if level + 1 < len(forms[p]):
            heapq.heappush(actions, (priority + UPGRADE_DELAY, n, level + 1, p))

    if not chosen and ranked:
        # Not even the most important line fits: it alone goes in, cut to the budget.
        if ranked[0] not in forms:
            materialize(ranked[:1])
        text = _truncate_to_fit(window, groups[ranked[0]], forms[ranked[0]][-1], max_tokens, counter)
        if text:
            chosen[ranked[0]] = Chosen(groups[ranked[0]], text, 0, 0)

    filled = _number(window, list(chosen.values()), counter)
    # The server may tokenize joined text differently from the shared-out chunk counts; drop the
    # lowest-ranked lines until the real count fits.
    while filled.tokens > max_tokens and chosen:
        by_rank = sorted(chosen, key=lambda p: chosen[p].rank)
        if len(by_rank) > 1:
            freed = 0
            while len(by_rank) > 1 and freed < filled.tokens - max_tokens:
                p = by_rank.pop()
                freed += cost[p][chosen[p].form]
                del chosen[p]
        else:
            only = by_rank[0]
            text = _truncate_to_fit(window, groups[only], forms[only][-1], max_tokens, counter)
            if text and text != chosen[only].text:
                chosen[only].text = text
            else:
                chosen.clear()
        filled = _number(window, list(chosen.values()), counter)

    filled.costs_chars, filled.costs_tokens = counted
    return filled


def _number(window: Window, chosen: list[Chosen], counter: TokenCounter) -> Filled:
    """The chosen groups as numbered lines in time order, and their prompt form."""
    chosen = sorted(chosen, key=lambda c: (c.group.first_ts, c.group.heads[0]))
    lines = [_line(window, c.group, c.text, number) for number, c in enumerate(chosen, start=1)]
    output = "\n".join(_render(line) for line in lines)
    return Filled(lines=lines, output=output, tokens=counter.total(output), costs_chars=0, costs_tokens=0)


def _render(line: CompressedLine) -> str:
    return render_parts(
        line.number, line.ts_ns, line.last_ts_ns, line.origin_ns, line.source, line.level, line.text,
        line.repeats, line.pod_count, line.variants,
    )  # fmt: skip


def _line(window: Window, group: Group, text: str, number: int) -> CompressedLine:
    entry = window.entries[group.heads[0]]
    return CompressedLine(
        number=number,
        ts_ns=group.first_ts,
        last_ts_ns=group.last_ts,
        namespace=group.namespace,
        pod=entry.labels.get("pod", ""),
        pod_count=len(group.pods),
        container=group.container,
        level=group.level,
        text=text,
        count=len(group.indices),
        repeats=group.repeats,
        variants=group.variants,
        template_id=group.template_id,
        source_indices=sorted(group.indices),
        source=window.names.source(entry),
        origin_ns=window.start_ns,
    )


def _truncate_to_fit(window: Window, group: Group, text: str, max_tokens: int, counter: TokenCounter) -> str:
    """The longest cut of the first line of ``text`` (the group's fullest form) whose rendering, alone,
    fits ``max_tokens``; '' when not even the line's prefix and the cut marker fit."""
    first = text.partition("\n")[0]
    # Cut the untruncated text, so the marker counts what was really left out.
    full = first.split("…(+", 1)[0] if "…(+" in first else first
    low, high = 0, len(full)
    best = ""
    # Binary search: about ten counts even for the longest line.
    while low <= high:
        middle = (low + high) // 2
        candidate = shorten(full, middle)
        if counter.total(_cost_text(window, group, candidate, 1)) <= max_tokens:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def pack(filled: Filled, raw_tokens: int, counter: TokenCounter) -> Filled:
    """Fold single lines under a shared number until the output is within ``MAX_GROWTH`` of the raw
    tokens: in windows of very short lines the number, time and source would outweigh the text.

    Neighbouring one-line records of one source are folded first, in blocks of growing size; if that
    is not enough, all single one-line records of a source become one block. One prefix per source
    (and per multi-line record) is the least a numbered window can cost, so a window of a few tiny
    lines may still exceed the ratio by that much.
    """
    limit = int(raw_tokens * MAX_GROWTH)
    for size in _PACK_SIZES:
        if filled.tokens <= limit:
            return filled
        filled = _fold(filled, counter, size=size)
    if filled.tokens > limit:
        filled = _fold(filled, counter, size=None)
    return filled


def _fold(filled: Filled, counter: TokenCounter, *, size: int | None) -> Filled:
    """Neighbouring one-line records of a source folded into blocks of up to ``size`` lines; with no
    size, every single record of a source into one block, wherever it stands."""
    blocks: list[list[CompressedLine]] = []
    by_source: dict[str, list[CompressedLine]] = {}
    for line in filled.lines:
        single = line.repeats == 1 and "\n" not in line.text
        if size is None:
            block = by_source.get(line.source) if single else None
        else:
            block = blocks[-1] if blocks else None
            if block is not None and not (
                single
                and "\n" not in block[-1].text
                and block[-1].repeats == 1
                and len(block) < size
                and line.source == block[0].source
            ):
                block = None
        if block is None:
            block = [line]
            blocks.append(block)
            if single and size is None:
                by_source[line.source] = block
        else:
            block.append(line)
    lines: list[CompressedLine] = []
    for number, block in enumerate(blocks, start=1):
        first = block[0]
        parts = [first.text]
        for line in block[1:]:
            # A folded line keeps its level when it differs from the block's first line.
            tag = LEVEL_TAGS[line.level] if line.level != first.level else ""
            parts.append(f"{tag} {line.text}" if tag else line.text)
        lines.append(
            first.model_copy(
                update={
                    "number": number,
                    "text": "\n".join(parts),
                    "count": sum(line.count for line in block),
                    "source_indices": sorted(i for line in block for i in line.source_indices),
                }
            )
        )
    output = "\n".join(_render(line) for line in lines)
    return Filled(lines, output, counter.total(output), filled.costs_chars, filled.costs_tokens)
