"""Ranking: which groups most likely hold the evidence, by signals that hold for logs in general.

A group's score adds up:
- salience (x2): its level, raised by what the text says: an HTTP 5xx, an exception class, a Kubernetes
  ``Warning`` event, failure words (refused, timeout, denied, evicted, ...), an exit code other than 0,
  an OOM kill;
- trend: a repeated informational line whose resource figure (memory, queue, disk) climbs within a
  stream ranks like a warning: exhaustion shows in ordinary lines before anything fails;
- rarity: how few records of the window share its template (a line seen once among thousands is news);
- onset: a repeated line that starts inside the window after a quiet stretch a steady process would
  almost never leave (the first occurrence of a new failure, not background noise);
- change: an ordinary line that says something changed (scaled, restarted, reloaded, shut down);
- context: the line a stream wrote just before a failure began, when its template is uncommon.
Groups of the same template take turns: the second variant of a template ranks below the first.
"""

from __future__ import annotations

import math
import re

from app.logs.budget.groups import SEVERITY_RANK, Group, Window
from app.logs.budget.trend import rises

# Failure words, matched on words split at case changes ('NodeHasInsufficientMemory' -> node, has,
# insufficient, memory) so Kubernetes reasons read like prose. Set lookups keep this fast on long lines.
_FAILURE_WORDS = frozenset(
    [
        "refused",
        "timeout",
        "timedout",
        "denied",
        "forbidden",
        "unauthorized",
        "unauthorised",
        "cannot",
        "unable",
        "exception",
        "panic",
        "fatal",
        "killed",
        "unhealthy",
        "invalid",
        "missing",
        "expired",
        "reset",
        "unreachable",
        "unavailable",
        "exceeded",
        "insufficient",
        "pressure",
        "shutdown",
        "rejected",
        "exhausted",
        "nxdomain",
        "servfail",
        "handshake",
        "required",
        "undefined",
        "unknown",
        "unrecognized",
        "unexpected",
        "illegal",
        "malformed",
        "oom",
        "backoff",
        "crashloopbackoff",
        "notready",
        # TLS and name resolution fail in words of their own.
        "untrusted",
        "revoked",
        "unverified",
        "gaierror",
        "wrongpass",
        "noauth",
    ]
)
_GENERIC_FAILURE_WORDS = frozenset({"error", "errors"})
_FAILURE_STEMS = (
    "fail",
    "evict",
    "crashloop",
    "terminat",
    "abort",
    "corrupt",
    "mismatch",
    "violat",
    "oom",
    "sigkill",
    "sigsegv",
    "sigterm",
    "sigabrt",
)
_FAILURE_PHRASES = (
    "timed out", "time out", "deadline exceeded", "could not", "couldn't", "can't", "out of memory",
    "not found", "no such", "broken pipe", "shut down", "shutting down", "too many", "no space", "read-only",
    "not ready", "no healthy", "not set", "not defined", "low on", "didn't", "did not", "doesn't",
    "does not", "won't", "isn't", "no route", "not allowed", "not permitted", "back-off", "x509",
    "no such host", "name resolution", "not known", "unknown authority", "self-signed", "self signed",
)  # fmt: skip
# C library and Node.js error names (ECONNREFUSED, ENOTFOUND, EAI_AGAIN, EACCES...): a failure whatever
# the line's level.
_ERRNO = r"\be(?:conn(?:refused|reset|aborted)|timedout|notfound|hostunreach|netunreach|addrinuse|acces|perm"
_ERRNO += r"|pipe|nospc|mfile|nfile|rofs|ai_again|ai_noname|ai_fail)\b"
# Stems at a word start and phrases, in one pass over the lowercased text.
_FAILURE_TEXT = re.compile(
    r"\b(?:"
    + "|".join(_FAILURE_STEMS)
    + ")|"
    + _ERRNO
    + "|"
    + "|".join(re.escape(phrase) for phrase in _FAILURE_PHRASES)
)
_SEVERE_WORDS = frozenset(
    [
        "oom",
        "oomkilled",
        "oomkilling",
        "panic",
        "segfault",
        "sigkill",
        "sigsegv",
        "sigabrt",
        "crashloopbackoff",
    ]
)
_SEVERE_TEXT = re.compile(
    r"out of memory|killed process|oom[-_]kill|exit(?:ed)?[ _]?(?:with )?(?:code|status)[\"':= ]*[1-9]"
)
_EXCEPTION = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Fault)\b|^Traceback |^Caused by: ", re.MULTILINE)
_KUBE_WARNING = re.compile(r'\btype"?\s*[=:]\s*"?Warning\b')
_CHANGE_WORDS = frozenset(
    [
        "start",
        "started",
        "starting",
        "stop",
        "stopped",
        "stopping",
        "restart",
        "restarted",
        "restarting",
        "scaled",
        "scaling",
        "reload",
        "reloaded",
        "reloading",
        "deploy",
        "deployed",
        "deploying",
        "deleted",
        "deleting",
        "removed",
        "removing",
        "updated",
        "updating",
        "upgraded",
        "upgrading",
        "change",
        "changed",
        "became",
        "elected",
        "leader",
        "drain",
        "drained",
        "draining",
        "cordon",
        "cordoned",
        "taint",
        "tainted",
        "migrated",
        "migrating",
        "received",
        "applied",
        "promoted",
        "demoted",
        "failover",
        "switched",
        "switching",
        "shutdown",
        "shut",
        "shutting",
        "terminated",
        "terminating",
        "exit",
        "exited",
        "exiting",
        "killed",
        "killing",
        "evicted",
        "evicting",
        "now",
    ]
)
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# Cue detection looks at the start of a record; a long trace says what it is near its top.
_CUE_CHARS = 2000


def cues(text: str) -> tuple[int, bool, bool]:
    """How ``text`` speaks of a failure (0: not, 1: only the word 'error', as logger and metric names
    use it, 2: in other words), whether of a severe one, and whether of a change of state."""
    text = text[:_CUE_CHARS]
    lowered = text.lower()
    words = {word.lower() for word in _WORDS.findall(text)}
    failure = 2 if not words.isdisjoint(_FAILURE_WORDS) or _FAILURE_TEXT.search(lowered) is not None else 0
    if not failure and not words.isdisjoint(_GENERIC_FAILURE_WORDS):
        failure = 1
    severe = not words.isdisjoint(_SEVERE_WORDS) or _SEVERE_TEXT.search(lowered) is not None
    change = not words.isdisjoint(_CHANGE_WORDS)
    return failure, severe, change


# How far back from a failure's first line its precursors are looked for, and how many are taken.
_CONTEXT_GAP_NS = 120_000_000_000
_PRECURSORS = 3
# How many records back from a failure's first line are searched, at most (busy windows).
_PRECURSOR_SCAN = 2000
# A template is uncommon when it holds at most this many records, or this share of the window's.
_UNCOMMON_RECORDS = 3
_UNCOMMON_SHARE = 0.005
# What starting a cascade of failures adds.
_CASCADE_START = 0.75
# A precursor ranks like a warning line: below lines that say themselves that something failed.
_PRECURSOR_BASE = 3.0
# What a climbing resource figure weighs: a warning's salience.
_TREND = 2.0
# A steady process with n occurrences leaves the first ``x`` of the window empty with chance (1-x)^n.
_ONSET_CHANCE = 0.05


def salience(group: Group, text: str, found: tuple[int, bool, bool]) -> float:
    """0-4: how strongly the group's level and text (whose ``cues`` are ``found``) say something failed.

    A level the line states (a level field, a leading level word) counts in full; an exception or a
    severe failure counts a little less, and the bare word 'error' much less, in a line that says
    itself it is only informational.
    """
    score = float(SEVERITY_RANK[group.level])
    if _KUBE_WARNING.search(text[:_CUE_CHARS]):
        # Kubernetes reports failures (FailedScheduling, BackOff, Evicted, FailedMount) as Warning events.
        return max(score, 3.0)
    informational = group.stated and score < 2
    failure, severe, change = found
    if group.status == "5" or severe or _EXCEPTION.search(text[:_CUE_CHARS]):
        score = max(score, 2.5 if informational else 3.0)
    if failure == 2:
        score = max(score, 2.0)
    elif failure == 1:
        # The word 'error' alone (logger and metric names use it) is a weak sign, weaker still in a line
        # that says itself it is informational.
        score = max(score, 1.0 if informational else 1.5)
    if failure == 2 and informational and change:
        # A state that changed to a bad one: 'status is now: NodeHasInsufficientMemory'.
        score = max(score, 2.5)
    if group.status == "4":
        # Client errors in an access log are the clients' business.
        score = min(score, 1.5)
    return score


def _uncommon(template_records: int, records: int) -> bool:
    """Whether a template is rare enough in the window for its lines to be news."""
    return template_records <= max(_UNCOMMON_RECORDS, _UNCOMMON_SHARE * records)


def score_groups(window: Window) -> dict[int, float]:
    """Score of every group (by position in ``window.groups``); higher ranks first."""
    entries = window.entries
    span = max(window.end_ns - window.start_ns, 1)
    records = max(len(window.streams), 1)
    group_of_head: dict[int, int] = {}
    sal: list[float] = []
    changes: list[bool] = []
    onsets: list[bool] = []
    scores: list[float] = []
    for position, group in enumerate(window.groups):
        for head in group.heads:
            group_of_head[head] = position
        text = "\n".join(entries[i].line for i in window.records[group.heads[0]][:8])
        found = cues(text)
        level = salience(group, text, found)
        if level < 2 and rises(window, group):
            level = _TREND
        template_records = window.template_records[group.template_id]
        rarity = min(max(-math.log10(template_records / records) - 0.3, 0.0), 2.0)
        score = 2.0 * level + rarity
        # A failure that starts inside the window after a quiet stretch a steady process would almost
        # never leave is new; one seen once is new as well.
        quiet = (group.first_ts - window.start_ns) / span
        onset = level >= 2 and (group.repeats == 1 or (1.0 - quiet) ** group.repeats < _ONSET_CHANCE)
        if onset and group.repeats >= 2:
            score += 1.0
        change = found[2] and _uncommon(template_records, records)
        if level < 2 and change:
            score += 1.0
        sal.append(level)
        changes.append(change)
        onsets.append(onset)
        scores.append(score)

    _add_cascade_starts(window, sal, scores)
    _add_precursors(window, sal, changes, onsets, scores, group_of_head)

    # Variants of one template take turns: each further variant ranks one point lower.
    by_template: dict[int, list[int]] = {}
    for position, group in enumerate(window.groups):
        by_template.setdefault(group.template_id, []).append(position)
    for members in by_template.values():
        if len(members) > 1:
            members.sort(key=lambda position: (-scores[position], window.groups[position].first_ts))
            for turn, position in enumerate(members[1:], start=1):
                scores[position] -= min(turn, 4)
    return dict(enumerate(scores))


def _add_cascade_starts(window: Window, sal: list[float], scores: list[float]) -> None:
    """Raise failures that start a cascade: no other failure began in the stretch before them.

    Causes come before their symptoms, so the first new failure of a burst is the likeliest cause.
    """
    firsts = sorted(
        (group.first_ts, position) for position, group in enumerate(window.groups) if sal[position] >= 2
    )
    for n, (first_ts, position) in enumerate(firsts):
        if n == 0 or first_ts - firsts[n - 1][0] > _CONTEXT_GAP_NS:
            scores[position] += _CASCADE_START


def _add_precursors(
    window: Window,
    sal: list[float],
    changes: list[bool],
    onsets: list[bool],
    scores: list[float],
    group_of_head: dict[int, int],
) -> None:
    """Raise the few uncommon records written just before each new failure began, by any stream (a
    scaled-down deployment, a config reload, the line before a crash): causes often sit there, logged
    by someone other than the symptom. They rank like warnings, below the failure they precede."""
    entries = window.entries
    heads = list(window.streams)  # in time order
    times = [entries[head].ts_ns for head in heads]
    position_of = {head: n for n, head in enumerate(heads)}
    records = max(len(heads), 1)
    # Which records could be a precursor at all: not failures themselves, and of an uncommon template.
    template_records = [
        window.template_records[window.groups[group_of_head[head]].template_id] for head in heads
    ]
    candidate = [
        sal[group_of_head[head]] < 2 and _uncommon(template_records[n], records)
        for n, head in enumerate(heads)
    ]
    for position, group in enumerate(window.groups):
        if not onsets[position]:
            continue
        at = position_of[group.heads[0]]
        candidates: list[tuple[bool, int, int, int]] = []
        for n in range(at - 1, max(at - _PRECURSOR_SCAN, 0) - 1, -1):
            if times[at] - times[n] > _CONTEXT_GAP_NS:
                break
            if candidate[n]:
                neighbour = group_of_head[heads[n]]
                candidates.append((not changes[neighbour], template_records[n], -n, neighbour))
        # Changes first, then the rarest, then the nearest.
        for _, count, _, neighbour in sorted(candidates)[:_PRECURSORS]:
            rarity = min(-math.log10(count / records), 2.0)
            lift = _PRECURSOR_BASE + rarity + (0.5 if changes[neighbour] else 0.0)
            scores[neighbour] = max(scores[neighbour], min(lift, scores[position] - 1.0))
