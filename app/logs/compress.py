"""The context budget: collapse repeated log lines, rank them, and keep what fits the model's context.

Steps, in order:

1. Collapse. Every line is masked (timestamps, UUIDs, IPs, pod hash suffixes, hex ids, durations,
   numbers) with drain3's masker; lines of the same level and container whose masked text is identical
   become one line with a count and first/last timestamps, across the replicas of one ReplicaSet
   (or DaemonSet) but never across workloads. drain3 then mines templates over the distinct masked
   texts; a template's line count says how rare a line is.
2. Rank. Critical and error lines first, then warn lines, then their ``context_lines`` neighbours in the
   same pod (nearest first), then the rest, rarest template first.
3. Fill the budget greedily by rank, then number the kept lines in time order.
4. Report what was kept and what it cost.
"""

from __future__ import annotations

import math
import re
import string
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InputError, LLMError
from app.logs.models import Level, LogEntry, detect_level

MAX_LINE_CHARS = 500
"""Longer lines are cut to this many characters (plus a marker) before they reach the prompt."""

TokenCounterName = Literal["server", "estimate"]

# The k8s name generator's alphabet (no vowels, no 0/1/3) makes pod suffixes recognisable.
_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"
# The random suffix that tells replicas apart; what is left names the ReplicaSet, so lines from an old
# and a new rollout stay apart. StatefulSet pods (name-0) keep their names: they are not alike.
_REPLICA_SUFFIX = re.compile(rf"-[{_POD_CHARS}]{{5}}$")

_DURATION_UNIT = r"(?:ns|us|µs|ms|s|m|h)"

# Order matters: the broad NUM pattern would otherwise eat the digits of the more specific shapes.
# Digit patterns start with a plain \d and check the character before it in a lookbehind after it: a
# pattern that starts with a character class lets the regex engine skip ahead to candidates, which
# makes masking about a quarter faster than leading with the lookbehind.
_MASKS: tuple[tuple[str, str], ...] = (
    ("TS", r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
    ("TIME", r"\d(?<![\d:]\d)\d:\d{2}:\d{2}(?:[.,]\d+)?(?![\d:])"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("IP", r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?![\w.])"),
    (
        "POD",
        rf"(?<=-)(?:[{_POD_CHARS}]{{6,10}}-[{_POD_CHARS}]{{5}}|(?=[{_POD_CHARS}]*\d)[{_POD_CHARS}]{{5}})(?![\w-])",
    ),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b|\b(?=[a-fA-F]*\d)(?=\d*[a-fA-F])[0-9a-fA-F]{8,}\b"),
    ("ID", r"\b(?=[A-Za-z_]*\d)(?=[\d_]*[A-Za-z])[A-Za-z0-9_]{16,}\b"),
    ("DUR", rf"\d(?<![\w.]\d)\d*(?:\.\d+)?{_DURATION_UNIT}(?:\d+(?:\.\d+)?{_DURATION_UNIT})*(?!\w)"),
    ("NUM", r"\d(?<!\w\d)\d*(?:\.\d+)*(?!\w)"),
)

_ASCII_LETTERS = string.ascii_letters.encode()
_NOT_COUNTED = _ASCII_LETTERS + string.whitespace.encode()
# Letters become "a" and everything else a space, so letter runs can be counted with bytes methods.
_LETTER_RUNS = bytes(ord("a") if byte in _ASCII_LETTERS else ord(" ") for byte in range(256))

# Lines per counting request when the server's tokenizer is used: few requests, each well under a
# typical request size limit.
_COUNT_CHUNK_CHARS = 32_000

_SEVERITY: dict[Level, int] = {"critical": 0, "error": 1, "warn": 2}
_LEVEL_TAGS: dict[Level, str] = {
    "critical": "CRITICAL",
    "error": "ERROR",
    "warn": "WARN",
    "info": "INFO",
    "debug": "DEBUG",
    "unknown": "",
}


class CompressedLine(BaseModel):
    """One line as the model sees it; it may stand for many input entries."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(description="1-based, as shown to the model and cited back as evidence.")
    ts_ns: int = Field(description="Timestamp of the first entry this line stands for.")
    last_ts_ns: int = Field(description="Timestamp of the last entry this line stands for.")
    namespace: str = ""
    pod: str = Field(description="The first entry's pod.")
    pod_count: int = Field(default=1, description="Replicas of that pod's ReplicaSet the line came from.")
    container: str
    level: Level
    text: str = Field(description="The first entry's text, made single-line and cut to a maximum length.")
    count: int = Field(description="How many input entries this line stands for.")
    template_id: int | None = Field(description="drain3 template (cluster) id of the line.")
    source_indices: list[int] = Field(description="Indices into the input entries, ascending.")


class BudgetReport(BaseModel):
    """What the budget kept and what it cost, in lines and tokens."""

    model_config = ConfigDict(frozen=True)

    total_lines: int
    kept_lines: int = Field(description="Input lines represented by kept output lines.")
    output_lines: int
    tokens_before: int = Field(
        description="Tokens of every input line rendered uncollapsed. With the server's counter this is"
        " scaled from the tokens per character of the lines it counted, to spare a request per chunk."
    )
    tokens_after: int
    max_tokens: int
    error_warn_total: int
    error_warn_kept: int
    templates: int = Field(description="drain3 templates mined from the input.")
    token_counter: TokenCounterName

    def summary(self) -> str:
        """One line for people, e.g. '1,234 of 50,000 lines kept, 612,000 -> 3,990 tokens; ...'."""
        return (
            f"{self.kept_lines:,} of {self.total_lines:,} lines kept, "
            f"{self.tokens_before:,} -> {self.tokens_after:,} tokens; "
            f"{self.output_lines:,} output lines, {self.error_warn_kept:,} of {self.error_warn_total:,}"
            f" error/warn lines, {self.templates:,} templates, tokens counted by {self.token_counter}"
        )


class BudgetResult(BaseModel):
    """The lines that fit, in time order, and the report."""

    lines: list[CompressedLine]
    report: BudgetReport

    def render(self) -> str:
        """The lines in prompt form, one per line."""
        return "\n".join(render_line(line) for line in self.lines)


def estimate_tokens(text: str) -> int:
    """A conservative token count for log text without a tokenizer.

    One token per run of up to four ASCII letters, per digit and per other non-space ASCII character;
    whitespace is free. Words cost a little more than real tokenizers charge, while ids, hex and
    timestamps come close to the one-token-per-digit of Qwen, Gemma, Mistral and Phi tokenizers,
    where a bytes/4 rule would undercount them by half. Other bytes of non-ASCII characters count one
    each. Additive over lines, so the estimate of a joined prompt is the sum of its lines'.
    """
    data = text.encode("utf-8", "surrogatepass")
    # Padding every letter run with three more letters turns "runs of four" counts into ceil(len / 4),
    # all in C: about five times faster than a regex over 50k lines.
    padded = (b" " + data.translate(_LETTER_RUNS)).replace(b" a", b" aaaa")
    return padded.count(b"aaaa") + len(data.translate(None, _NOT_COUNTED))


def render_line(line: CompressedLine) -> str:
    """The prompt form: ``[12] 10:04:05Z ns/pod ERROR text (×37 on 3 pods, 10:04:05–10:09:12)``."""
    return _render(
        line.number,
        line.ts_ns,
        line.last_ts_ns,
        line.namespace,
        line.pod,
        line.level,
        line.text,
        line.count,
        line.pod_count,
    )


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
    context_lines: int = 2,
    max_line_chars: int = MAX_LINE_CHARS,
) -> BudgetResult:
    """The most useful lines of ``entries`` that fit in ``max_tokens``, collapsed, in time order.

    ``count_tokens`` is the model server's tokenizer; it is called on chunks of joined lines, never per
    line. Without it, or when it raises an ``LLMError``, ``estimate_tokens`` is used instead and the
    report says so.
    """
    if max_tokens < 0:
        raise InputError(f"max_tokens must be 0 or more, got {max_tokens}")
    if context_lines < 0:
        raise InputError(f"context_lines must be 0 or more, got {context_lines}")
    if max_line_chars < 1:
        raise InputError(f"max_line_chars must be 1 or more, got {max_line_chars}")
    mined = _collapse(entries, context_lines=context_lines, max_line_chars=max_line_chars)
    if count_tokens is not None:
        try:
            return _fit(mined, max_tokens, _ServerCounter(count_tokens))
        except LLMError:
            pass  # a tokenizer that is down should not stop triage; the report says "estimate"
    return _fit(mined, max_tokens, _EstimateCounter())


# --- collapsing and ranking ---------------------------------------------------------------------


@dataclass
class _Group:
    """Input entries that collapse into one output line."""

    namespace: str
    pods: dict[str, None]
    container: str
    level: Level
    full_text: str
    text: str
    template_id: int
    indices: list[int] = field(default_factory=list)
    first_ts: int = 0
    last_ts: int = 0
    priority: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class _Mined:
    """The collapsed input, ranked best first, with what the report needs of the raw input."""

    ranked: list[_Group]
    total_lines: int
    error_warn_total: int
    templates: int
    before_lines: list[str]


def _new_miner() -> TemplateMiner:
    """An in-memory drain3 miner with our masks and no config file or persistence."""
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for name, pattern in _MASKS]
    config.mask_prefix = "<"
    config.mask_suffix = ">"
    config.profiling_enabled = False
    config.parametrize_numeric_tokens = True
    return TemplateMiner(config=config)  # no persistence handler: state lives in memory only


def _collapse(entries: Sequence[LogEntry], *, context_lines: int, max_line_chars: int) -> _Mined:
    """Group near-duplicate entries, mine their templates, and rank the groups."""
    order = sorted(range(len(entries)), key=lambda i: (entries[i].ts_ns, i))
    miner = _new_miner()
    masked_of_line: dict[str, str] = {}
    level_of: dict[tuple[str, frozenset[tuple[str, str]]], Level] = {}
    template_of_masked: dict[str, int] = {}
    groups: dict[tuple[str, str, str, Level, str], _Group] = {}
    levels: dict[int, Level] = {}
    streams: dict[tuple[str, str], list[int]] = {}
    before_lines: list[str] = []
    for i in order:
        entry = entries[i]
        masked = masked_of_line.get(entry.line)
        if masked is None:
            masked = masked_of_line[entry.line] = miner.masker.mask(entry.line)
        # Masks replace ids and numbers, never level words, so the masked text has the line's level;
        # keying on it runs the level patterns once per line shape instead of once per line.
        labels = {**entry.labels, **entry.structured_metadata}
        level_key = (masked, frozenset(labels.items()))
        level = level_of.get(level_key)
        if level is None:
            level = level_of[level_key] = detect_level(masked, labels)
        levels[i] = level
        namespace, pod, container = entry.namespace, entry.pod, entry.container
        key = (namespace, _REPLICA_SUFFIX.sub("", pod), container, level, masked)
        group = groups.get(key)
        if group is None:
            template_id = template_of_masked.get(masked)
            if template_id is None:
                # Mining once per distinct masked text, not per line, is what keeps 50k lines fast;
                # the miner masks again, which leaves masked text unchanged.
                template_id = miner.add_log_message(masked)["cluster_id"]
                template_of_masked[masked] = template_id
            group = groups[key] = _Group(
                namespace=namespace,
                pods={},
                container=container,
                level=level,
                full_text=(full_text := _single_line(entry.line)),
                text=_shorten(full_text, max_line_chars),
                template_id=template_id,
                first_ts=entry.ts_ns,
            )
        group.indices.append(i)
        group.pods[pod] = None
        group.last_ts = entry.ts_ns
        streams.setdefault((namespace, pod), []).append(i)
        before_lines.append(
            _render(len(before_lines) + 1, entry.ts_ns, entry.ts_ns, namespace, pod, level, entry.line, 1)
        )

    template_lines: dict[int, int] = {}
    for group in groups.values():
        template_lines[group.template_id] = template_lines.get(group.template_id, 0) + len(group.indices)
    context = _context_distances(streams, levels, context_lines)
    for group in groups.values():
        severity = _SEVERITY.get(group.level)
        tie = (group.first_ts, group.indices[0])
        if severity is not None:
            group.priority = (0, severity, *tie)
        else:
            distance = min((context[i] for i in group.indices if i in context), default=None)
            if distance is not None:
                group.priority = (1, distance, *tie)
            else:
                group.priority = (2, template_lines[group.template_id], *tie)
    ranked = sorted(groups.values(), key=lambda g: g.priority)
    return _Mined(
        ranked=ranked,
        total_lines=len(entries),
        error_warn_total=sum(1 for level in levels.values() if level in _SEVERITY),
        templates=len(miner.drain.clusters),
        before_lines=before_lines,
    )


def _context_distances(
    streams: dict[tuple[str, str], list[int]], levels: dict[int, Level], context_lines: int
) -> dict[int, int]:
    """For entries near an error or warn line of the same pod: how near (error neighbours rank first)."""
    distances: dict[int, int] = {}
    for stream in streams.values():
        for position, index in enumerate(stream):
            severity = _SEVERITY.get(levels[index])
            if severity is None:
                continue
            # Neighbours of warn lines queue behind every neighbour of an error line.
            offset = context_lines if severity == _SEVERITY["warn"] else 0
            for distance in range(1, context_lines + 1):
                for neighbour in (position - distance, position + distance):
                    if 0 <= neighbour < len(stream):
                        other = stream[neighbour]
                        rank = distance + offset
                        if rank < distances.get(other, rank + 1):
                            distances[other] = rank
    return distances


# --- rendering ----------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _clock(seconds: int) -> str:
    """HH:MM:SS in UTC of a Unix second; cached because neighbouring lines share seconds."""
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit:,} chars)"


def _single_line(line: str) -> str:
    """A log line made safe for a one-line-per-entry prompt."""
    # Embedded line breaks would shift the line numbers the model cites, so they become visible escapes;
    # other control characters stay as they are. Lone surrogates (undecodable bytes) become \\udcXX text
    # so the prompt can still be encoded for the server.
    text = line.rstrip("\r\n").replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _render(
    number: int,
    ts_ns: int,
    last_ts_ns: int,
    namespace: str,
    pod: str,
    level: Level,
    text: str,
    count: int,
    pod_count: int = 1,
) -> str:
    """The prompt form of one line; shared by output lines and the uncollapsed 'before' count."""
    first = _clock(ts_ns // 1_000_000_000)
    parts = [f"[{number}]", f"{first}Z"]
    where = f"{namespace}/{pod}" if namespace and pod else namespace or pod
    if where:
        parts.append(where)
    if _LEVEL_TAGS[level]:
        parts.append(_LEVEL_TAGS[level])
    parts.append(text)
    if count > 1:
        last = _clock(last_ts_ns // 1_000_000_000)
        times = f"×{count} on {pod_count} pods" if pod_count > 1 else f"×{count}"
        parts.append(f"({times}, {first}–{last})" if last != first else f"({times})")
    return " ".join(parts)


def _render_group(group: _Group, number: int, text: str | None = None) -> str:
    """The prompt form of a group under ``number``."""
    return _render(
        number,
        group.first_ts,
        group.last_ts,
        group.namespace,
        next(iter(group.pods)),
        group.level,
        group.text if text is None else text,
        len(group.indices),
        len(group.pods),
    )


# --- token counting -----------------------------------------------------------------------------


class _EstimateCounter:
    """Counts with ``estimate_tokens``; additive over lines, so per-line costs are exact."""

    name: TokenCounterName = "estimate"

    def total(self, text: str) -> int:
        """Tokens of ``text``."""
        return estimate_tokens(text)

    def each(self, texts: list[str]) -> list[int]:
        """Tokens of each text as one line of a joined prompt."""
        return [estimate_tokens(text) for text in texts]

    def before(self, lines: list[str], _tokens_per_char: float) -> int:
        """Tokens of the uncollapsed input."""
        return sum(estimate_tokens(line) for line in lines)


class _ServerCounter:
    """Counts with the model server's tokenizer, in chunks of joined lines."""

    name: TokenCounterName = "server"

    def __init__(self, count_tokens: Callable[[str], int]) -> None:
        self._count = count_tokens

    def total(self, text: str) -> int:
        """Tokens of ``text``."""
        return self._count(text) if text else 0

    def each(self, texts: list[str]) -> list[int]:
        """Tokens of each text, from one request per chunk, shared within a chunk by length."""
        costs: list[int] = []
        for chunk in _chunks(texts, _COUNT_CHUNK_CHARS):
            joined = "\n".join(chunk)
            tokens = self._count(joined)
            chars = len(joined) or 1
            # Rounding up makes the shares add up to at least the chunk's count.
            costs.extend(math.ceil(tokens * (len(text) + 1) / chars) for text in chunk)
        return costs

    def before(self, lines: list[str], tokens_per_char: float) -> int:
        """Tokens of the uncollapsed input, scaled from a measured tokens-per-character ratio."""
        chars = sum(len(line) + 1 for line in lines)
        return math.ceil(chars * tokens_per_char)


def _chunks(texts: list[str], max_chars: int) -> Iterator[list[str]]:
    """Consecutive runs of ``texts`` of about ``max_chars`` characters each (at least one text)."""
    chunk: list[str] = []
    size = 0
    for text in texts:
        if chunk and size + len(text) + 1 > max_chars:
            yield chunk
            chunk, size = [], 0
        chunk.append(text)
        size += len(text) + 1
    if chunk:
        yield chunk


# --- filling the budget -------------------------------------------------------------------------


def _fit(mined: _Mined, max_tokens: int, counter: _EstimateCounter | _ServerCounter) -> BudgetResult:
    """Keep the best-ranked groups that fit, number them in time order, and report."""
    ranked = mined.ranked
    # Costs are measured with the widest number any line could get, so renumbering never grows a line.
    width_number = 10 ** len(str(max(len(ranked), 1))) - 1
    rendered = [_render_group(group, width_number) for group in ranked]
    costs = counter.each(rendered)
    kept: list[int] = []
    texts: dict[int, str] = {}
    if ranked and costs[0] > max_tokens:
        # Not even the most important line fits: it alone goes in, cut to the budget.
        text = _truncate_to_fit(ranked[0], max_tokens, counter)
        if text:
            kept, texts[0] = [0], text
    else:
        remaining = max_tokens
        for position, cost in enumerate(costs):
            if cost <= remaining:
                kept.append(position)
                remaining -= cost

    lines, output = _number(ranked, kept, texts)
    tokens_after = counter.total(output)
    # The server may tokenize joined text differently from the shared-out chunk counts; drop the
    # lowest-ranked lines until the real count fits.
    while tokens_after > max_tokens and kept:
        if len(kept) > 1:
            # Drop lowest-ranked lines until their shared-out costs cover the overshoot, then recount.
            freed = 0
            while len(kept) > 1 and freed < tokens_after - max_tokens:
                freed += costs[kept.pop()]
        else:
            text = _truncate_to_fit(ranked[kept[0]], max_tokens, counter)
            if text and text != texts.get(kept[0]):
                texts[kept[0]] = text
            else:
                kept = []
        lines, output = _number(ranked, kept, texts)
        tokens_after = counter.total(output)

    chars_counted = sum(len(line) + 1 for line in rendered) or 1
    tokens_per_char = sum(costs) / chars_counted
    kept_indices = {index for line in lines for index in line.source_indices}
    report = BudgetReport(
        total_lines=mined.total_lines,
        kept_lines=len(kept_indices),
        output_lines=len(lines),
        tokens_before=counter.before(mined.before_lines, tokens_per_char),
        tokens_after=tokens_after,
        max_tokens=max_tokens,
        error_warn_total=mined.error_warn_total,
        error_warn_kept=sum(line.count for line in lines if line.level in _SEVERITY),
        templates=mined.templates,
        token_counter=counter.name,
    )
    return BudgetResult(lines=lines, report=report)


def _number(ranked: list[_Group], kept: list[int], texts: dict[int, str]) -> tuple[list[CompressedLine], str]:
    """The kept groups as numbered lines in time order, and their prompt form."""
    in_time = sorted(kept, key=lambda position: (ranked[position].first_ts, ranked[position].indices[0]))
    lines: list[CompressedLine] = []
    for number, position in enumerate(in_time, start=1):
        group = ranked[position]
        lines.append(
            CompressedLine(
                number=number,
                ts_ns=group.first_ts,
                last_ts_ns=group.last_ts,
                namespace=group.namespace,
                pod=next(iter(group.pods)),
                pod_count=len(group.pods),
                container=group.container,
                level=group.level,
                text=texts.get(position, group.text),
                count=len(group.indices),
                template_id=group.template_id,
                source_indices=sorted(group.indices),
            )
        )
    return lines, "\n".join(render_line(line) for line in lines)


def _truncate_to_fit(group: _Group, max_tokens: int, counter: _EstimateCounter | _ServerCounter) -> str:
    """The longest cut of the group's text whose line, as the only line, fits ``max_tokens``.

    '' when not even the line's prefix and the cut marker fit.
    """
    low, high = 0, min(len(group.full_text), len(group.text))
    best = ""
    # Binary search: about ten counts even for the longest line.
    while low <= high:
        middle = (low + high) // 2
        text = _shorten(group.full_text, middle)
        if counter.total(_render_group(group, 1, text)) <= max_tokens:
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best
