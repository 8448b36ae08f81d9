"""From entries to groups: multi-line records joined, near-duplicates collapsed, templates mined.

1. Records. A line that continues the previous line of the same stream (a stack frame, ``Caused by:``,
   an exception line after a traceback, an indented detail) within a second joins it: one record, as
   a log shipper's multiline stage would have made it.
2. Groups. Records whose masked text (numbers, ids, hex, pod suffixes masked) is the same, of the same
   level and HTTP status class, from the same container of one ReplicaSet (or DaemonSet, or the same
   node-level source), collapse into one group with a count and first/last times.
3. Templates. drain3 mines templates over the distinct masked heads; how many records share a
   template says how rare a line is in this window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from app.logs.budget.names import POD_CHARS, SourceNames, replica_set_of
from app.logs.models import Level, LogEntry, detect_level, level_from_labels

SEVERITY_RANK: dict[Level, int] = {"critical": 4, "error": 3, "warn": 2, "info": 0, "debug": 0, "unknown": 0}

# A record's continuation lines arrive together; a second covers shippers that stamp each line anew.
_CONTINUATION_GAP_NS = 1_000_000_000
_MAX_RECORD_LINES = 200

_CONTINUATION = re.compile(
    r"(?:\s"  # indented: frames, code lines, wrapped detail
    r"|at \S"  # JVM/JS frames without indentation
    r"|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames)"
    r"|Traceback \(most recent call last\)|During handling of|The above exception"
    r"|goroutine \d+ \[|created by |exit status \d"
    r"|[A-Za-z_][\w.$]*(?:Error|Exception|Exit|Interrupt|Failure)\b(?:\s?[:\[]|\s*$)"
    r"|[\w./*()\[\]{}-]+\(.*\)$"  # a Go frame's function line
    r"|[}\])]+[,;]?$"  # the end of a printed object
    r"|$)"  # an empty line inside a trace
)
# Lines that open a record of their own: a timestamp, a level word, a JSON object, a logfmt pair, an
# IPv4 or IPv6 address (access logs).
_HEADER = re.compile(
    r"^(?:[{\[]|\d{4}[-/]\d{2}[-/]\d{2}|[IWEF]\d{4} |\d{1,3}(?:\.\d{1,3}){3}\b|[\da-fA-F]*:[\da-fA-F]*:[\da-fA-F:.]*\s"
    r"|[A-Z]{3,8}[:\s\]]|[\w.-]+=)"
)
# A header-less line this soon after a record of the same stream still belongs to it (a banner, a
# config error's detail lines, a dumped object), as a shipper's multiline stage would join it.
_BURST_GAP_NS = 10_000_000
_LOGFMT_HEAD = re.compile(r"^[\w.-]+=\S*(?:\s+[\w.-]+=)")
_BRACKETED_TOKEN = re.compile(r"\[\s*[\w.$@:/#-]*\s*\]")
_FRAME = re.compile(
    r'^(?:at \S|File "|\.\.\. \d+ (?:more|common)|/\S+\.go:\d+|[\w./*()\[\]{}-]+\(.*\)$|exit status \d)'
)
_MASK_POD = re.compile(
    rf"-[{POD_CHARS}]{{6,10}}-[{POD_CHARS}]{{5}}(?![\w-])|-(?=[{POD_CHARS}]*\d)[{POD_CHARS}]{{5}}(?![\w-])"
)
# One pass over hex-ish runs that contain a digit (and the hex runs hyphenated to them, as in UUIDs)
# masks numbers, ids, hashes, addresses and times alike.
_MASK_NUMBER = re.compile(r"[0-9a-fA-F]*\d[0-9a-fA-F]*(?:-[0-9a-fA-F]+)*")
_HTTP_STATUS = re.compile(r'" ([1-5]\d\d) |\bstatus(?:Code|_code)?["=: ]+([1-5]\d\d)\b')


_DECLARED_JSON = re.compile(r'"(?:level|lvl|severity|levelname|log\.level)"\s*:\s*"?([A-Za-z]+|\d{2})\b')
_EVENT_TYPE = re.compile(r'(?:^|[\s{,])"?type"?\s*[=:]\s*"?(Normal|Warning)\b')
_DECLARED_LOGFMT = re.compile(r"(?:^|\s)(?:level|lvl|severity)=\"?([A-Za-z]+)\b")
_DECLARED_LEADING = re.compile(
    r"^\[?(?:\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?\]?\s+)?"
    r"(?:\[\d+\]\s+)?\[?([A-Za-z]{3,8})\]?:?\s"
)
_LEVEL_WORDS: dict[str, Level] = {
    "trace": "debug", "debug": "debug", "dbg": "debug", "info": "info", "inf": "info", "notice": "info",
    "log": "info", "warn": "warn", "warning": "warn", "wrn": "warn", "error": "error", "err": "error",
    "eror": "error", "fatal": "critical", "critical": "critical", "crit": "critical", "panic": "critical",
    "emerg": "critical", "alert": "critical",
}  # fmt: skip
# pino and bunyan write numeric levels.
_NUMERIC_LEVELS: dict[str, Level] = {
    "10": "debug",
    "20": "debug",
    "30": "info",
    "40": "warn",
    "50": "error",
    "60": "critical",
}


def declared_level(line: str) -> Level | None:
    """The level a line states in its own structure (a JSON or logfmt level field, or a leading level
    word after the timestamp), which outranks words in the message ('INFO [uvicorn.error] Started')."""
    if line.startswith("{"):
        event = _EVENT_TYPE.search(line) if '"reason"' in line else None
        if event is not None:
            return "warn" if event.group(1) == "Warning" else "info"
        match = _DECLARED_JSON.search(line)
        if match:
            word = match.group(1).lower()
            return _NUMERIC_LEVELS.get(word) or _LEVEL_WORDS.get(word)
        return None
    event = _EVENT_TYPE.search(line) if "reason" in line else None
    if event is not None:
        # A Kubernetes event states its level as its type.
        return "warn" if event.group(1) == "Warning" else "info"
    match = _DECLARED_LOGFMT.search(line[:200]) if "=" in line[:200] else None
    if match is None:
        match = _DECLARED_LEADING.match(line)
    return _LEVEL_WORDS.get(match.group(1).lower()) if match else None


def is_frame(line: str) -> bool:
    """Whether a (stripped) line of a multi-line record is a stack frame rather than a message."""
    return bool(_FRAME.match(line))


def frame_flags(lines: Sequence[str]) -> list[bool]:
    """Which lines of a record (as written, indentation kept) are stack frames: frame lines, and the
    source line Python prints under a ``File "..."`` line, indented deeper than it.

    The source line names the call site, not the failure: two requests failing the same way through
    different handlers differ only there, so it must not tell their traces apart.
    """
    flags: list[bool] = []
    previous_file_indent = -1
    for line in lines:
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        flag = is_frame(stripped) or (0 <= previous_file_indent < indent and bool(stripped))
        flags.append(flag)
        previous_file_indent = indent if stripped.startswith('File "') else -1
    return flags


def mask(line: str) -> str:
    """The line with what varies between occurrences of the same message masked."""
    if "-" in line:
        line = _MASK_POD.sub("-<pod>", line)
    return _MASK_NUMBER.sub("#", line)


def message_key(masked: str) -> str:
    """What groups a masked line: bracketed single tokens (thread names, pids, module tags) are
    annotations of who wrote the line, not of what it says, so they do not split a group."""
    return _BRACKETED_TOKEN.sub("[]", masked) if "[" in masked else masked


def http_status_class(line: str) -> str:
    """'5' or '4' for a line reporting an HTTP 5xx or 4xx status, else ''."""
    # Substring tests are far cheaper than the search, and every match needs one of them.
    if '" ' not in line and "tatus" not in line:
        return ""
    match = _HTTP_STATUS.search(line)
    if match is None:
        return ""
    code = match.group(1) or match.group(2)
    return code[0] if code[0] in "45" else ""


@dataclass
class Group:
    """Records that collapse into one output line."""

    namespace: str
    container: str
    level: Level
    status: str
    masked: str
    heads: list[int] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    pods: dict[str, None] = field(default_factory=dict)
    first_ts: int = 0
    last_ts: int = 0
    template_id: int = 0
    record_lines: int = 1
    stated: bool = False
    variant_heads: list[int] = field(default_factory=list)
    shapes: set[str] = field(default_factory=set)

    @property
    def repeats(self) -> int:
        """How many records the group stands for."""
        return len(self.heads)

    @property
    def variants(self) -> int:
        """How many wordings (or stack-frame sets) its records come in."""
        return max(len(self.variant_heads), 1)


@dataclass
class Window:
    """The grouped input and what the rest of the budget needs to know about it."""

    entries: Sequence[LogEntry]
    groups: list[Group]
    records: dict[int, list[int]]
    levels: dict[int, Level]
    names: SourceNames
    streams: dict[int, tuple[str, str, str]]
    template_records: dict[int, int]
    templates: int
    start_ns: int
    end_ns: int
    error_warn_total: int


def _new_miner() -> TemplateMiner:
    """An in-memory drain3 miner over already-masked text, with no config file or persistence."""
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.parametrize_numeric_tokens = True
    # Lines of one format share their header (time, level, thread, logger); at drain's default
    # similarity of 0.4 that alone would make different messages one template.
    config.drain_sim_th = 0.7
    return TemplateMiner(config=config)  # no persistence handler: state lives in memory only


def _stream_key(entry: LogEntry) -> tuple[str, str, str]:
    """What one writer's lines share: the pod and container, or the node-level source."""
    labels = entry.labels
    pod = labels.get("pod", "")
    if pod:
        return (labels.get("namespace", ""), pod, labels.get("container", ""))
    return (labels.get("namespace", ""), labels.get("job", ""), labels.get("node", ""))


def _self_contained(head: str, lines: int) -> bool:
    """Whether a one-line record is complete as written: a JSON object or a logfmt line does not run on
    to header-less lines after it (those are other writers' lines, or lines of their own)."""
    if lines > 1:
        return False
    head = head.rstrip()
    return (head.startswith("{") and head.endswith("}")) or bool(_LOGFMT_HEAD.match(head))


def _records(
    entries: Sequence[LogEntry], order: list[int]
) -> tuple[dict[int, list[int]], dict[int, tuple[str, str, str]]]:
    """Head index -> the indices of its record (head first), joining continuation lines; and each
    head's stream. Heads come in time order."""
    records: dict[int, list[int]] = {}
    streams: dict[int, tuple[str, str, str]] = {}
    last: dict[tuple[str, str, str], tuple[int, int]] = {}
    for i in order:
        entry = entries[i]
        key = _stream_key(entry)
        previous = last.get(key)
        if (
            previous is not None
            and entry.ts_ns - previous[1] <= _CONTINUATION_GAP_NS
            and len(records[previous[0]]) < _MAX_RECORD_LINES
            and (
                _CONTINUATION.match(entry.line)
                or (
                    entry.ts_ns - previous[1] <= _BURST_GAP_NS
                    and not _HEADER.match(entry.line)
                    and not _self_contained(entries[previous[0]].line, len(records[previous[0]]))
                )
            )
        ):
            records[previous[0]].append(i)
            last[key] = (previous[0], entry.ts_ns)
            continue
        records[i] = [i]
        streams[i] = key
        last[key] = (i, entry.ts_ns)
    return records, streams


def _judge_level(line: str, masked: str, labels: dict[str, str], klog: bool) -> tuple[Level, bool]:
    """The line's level, and whether the line (or its labels) stated it rather than it being guessed."""
    if klog:
        return detect_level(line, labels), True
    from_labels = level_from_labels(labels)
    if from_labels is not None:
        return from_labels, True
    # Level words are never masked, so one line of a masked shape speaks for all of them.
    stated = declared_level(line)
    if stated is not None:
        return stated, True
    return detect_level(masked, labels), False


def _merge_variants(groups: list[Group], streams: dict[int, tuple[str, str, str]]) -> list[Group]:
    """Merge warn-or-worse groups of one template and source into their earliest group; multi-line
    records merge only when their messages below the first line (frames aside) are the same.

    The same failure logged from different threads, call sites or requests differs in a token or two
    of its first line; shown once with the number of variants, it costs one line instead of many.
    """
    merged: list[Group] = []
    first_of: dict[tuple[str, str, str, Level, str, int, bool, str], Group] = {}
    for group in sorted(groups, key=lambda g: (g.first_ts, g.heads[0])):
        if SEVERITY_RANK[group.level] < 2:
            merged.append(group)
            continue
        namespace, stream, container = streams[group.heads[0]]
        # A trace's masked record is its first line and its non-frame lines (the exception messages).
        below = group.masked.partition("\n")[2]
        key = (
            namespace,
            replica_set_of(stream),
            container,
            group.level,
            group.status,
            group.template_id,
            group.record_lines > 1,
            below,
        )
        first = first_of.get(key)
        if first is None:
            first_of[key] = group
            merged.append(group)
            continue
        first.heads = sorted(first.heads + group.heads)
        first.indices.extend(group.indices)
        first.pods.update(group.pods)
        first.first_ts = min(first.first_ts, group.first_ts)
        first.last_ts = max(first.last_ts, group.last_ts)
        first.variant_heads += group.variant_heads
        first.shapes |= group.shapes
    return merged


def build_window(entries: Sequence[LogEntry]) -> Window:
    """Join records, collapse them into groups and mine templates."""
    times = [entry.ts_ns for entry in entries]
    order = sorted(range(len(entries)), key=times.__getitem__)  # stable: ties keep input order
    names = SourceNames(entries, order)
    records, streams = _records(entries, order)
    miner = _new_miner()
    masked_of: dict[str, str] = {}
    level_of: dict[tuple[str, str | None, str | None, str | None], tuple[Level, bool]] = {}
    levels: dict[int, Level] = {}
    template_of: dict[str, int] = {}
    groups: dict[tuple[str, str, str, Level, str, str], Group] = {}
    for head, indices in records.items():
        parts: list[str] = []
        level: Level = "unknown"
        for i in indices:
            entry = entries[i]
            masked = masked_of.get(entry.line)
            if masked is None:
                masked = masked_of[entry.line] = mask(entry.line)
            # Masks replace ids and numbers, never level words, so the masked text has the line's level;
            # keying on it runs the level patterns once per line shape instead of once per line.
            labels = (
                {**entry.labels, **entry.structured_metadata} if entry.structured_metadata else entry.labels
            )
            # klog's level letter sits on digits the mask eats, so klog lines are judged unmasked.
            klog = entry.line[:1] in "IWEF" and entry.line[1:2].isdigit()
            # Only these labels can decide a level (level_from_labels), so they are all the key needs.
            level_key = (
                entry.line[0] + masked if klog else masked,
                labels.get("detected_level"),
                labels.get("level"),
                labels.get("severity"),
            )
            judged = level_of.get(level_key)
            if judged is None:
                judged = level_of[level_key] = _judge_level(entry.line, masked, labels, klog)
            line_level = judged[0]
            if i == head:
                stated = judged[1]
            levels[i] = line_level
            if SEVERITY_RANK[line_level] > SEVERITY_RANK[level] or (
                level == "unknown" and line_level != "unknown"
            ):
                level = line_level
            parts.append(message_key(masked))
        entry = entries[head]
        # Records of one failure whose stack frames differ (other call paths) are one group; their
        # distinct frame sets are counted as variants.
        if len(parts) == 1:
            masked_record = parts[0]
        else:
            framed = frame_flags(parts)
            masked_record = "\n".join(
                [parts[0], *(part for part, flag in zip(parts[1:], framed[1:], strict=True) if not flag)]
            )
        full_record = "\n".join(parts)
        status = http_status_class(entry.line)
        namespace, stream, container = streams[head]
        key = (namespace, replica_set_of(stream), container, level, status, masked_record)
        group = groups.get(key)
        if group is None:
            template_id = template_of.get(parts[0])
            if template_id is None:
                # Mining once per distinct masked head, not per line, is what keeps 50k lines fast.
                template_id = template_of[parts[0]] = miner.add_log_message(parts[0])["cluster_id"]
            group = groups[key] = Group(
                namespace=namespace,
                container=entry.labels.get("container", ""),
                level=level,
                status=status,
                masked=masked_record,
                first_ts=entry.ts_ns,
                template_id=template_id,
                record_lines=len(indices),
                stated=stated,
            )
        if full_record not in group.shapes:
            group.shapes.add(full_record)
            group.variant_heads.append(head)
        group.heads.append(head)
        group.indices.extend(indices)
        group.pods[entry.labels.get("pod", "")] = None
        group.last_ts = entry.ts_ns
    template_records: dict[int, int] = {}
    for group in groups.values():
        template_records[group.template_id] = template_records.get(group.template_id, 0) + group.repeats
    merged = _merge_variants(list(groups.values()), streams)
    times = [entries[i].ts_ns for i in order[:1] + order[-1:]]
    return Window(
        entries=entries,
        groups=merged,
        records=records,
        levels=levels,
        names=names,
        streams=streams,
        template_records=template_records,
        templates=len(miner.drain.clusters),
        start_ns=times[0] if times else 0,
        end_ns=times[-1] if times else 0,
        error_warn_total=sum(1 for level in levels.values() if SEVERITY_RANK[level] >= 2),
    )
