from __future__ import annotations

from app.logs.budget.groups import build_window
from app.logs.budget.rank import cues, score_groups
from app.logs.models import LogEntry

SECOND = 1_000_000_000
API = {"namespace": "shop", "pod": "api-7d9f8b6c5d-x2k4p", "container": "api"}
EVENTS = {"namespace": "shop", "job": "integrations/kubernetes/eventhandler"}


def entry(seconds: float, line: str, labels: dict[str, str] = API) -> LogEntry:
    return LogEntry(ts_ns=int(seconds * SECOND), labels=labels, line=line)


def ranked_texts(entries: list[LogEntry]) -> list[str]:
    """The first line of each group, best ranked first."""
    window = build_window(entries)
    scores = score_groups(window)
    order = sorted(scores, key=lambda p: -scores[p])
    return [entries[window.groups[p].heads[0]].line for p in order]


WEB = {"namespace": "shop", "pod": "web-5c6d7f8b9c-b2c4d", "container": "web"}


def background(count: int, seconds: float = 600) -> list[LogEntry]:
    """Routine lines of another workload, steadily over the window."""
    return [entry(i * seconds / count, f"request {i} served in {i % 90}ms", WEB) for i in range(count)]


def test_what_the_words_say_raises_lines_above_the_routine() -> None:
    lines = {
        "warning event": 'type=Warning reason=FailedScheduling object=pod/x message="0/3 nodes are available"',
        "server error": '10.0.0.1 "GET /api/orders" 503 0 "-" "curl/8.0"',
        "exception": "java.lang.IllegalStateException: pool closed",
        "oom": "Memory cgroup out of memory: Killed process 4121 (java)",
        "exit code": "container exited reason=Error exitCode=2",
    }
    entries = background(300)
    entries += [
        entry(100 + 5 * n, line, EVENTS if "type=" in line else API) for n, line in enumerate(lines.values())
    ]

    top = ranked_texts(entries)[: len(lines)]

    assert set(top) == set(lines.values())


def test_client_errors_and_the_word_error_in_an_info_line_stay_low() -> None:
    entries = background(300)
    failure = "2026-01-02 03:04:05,000 WARNING [app] retrying call to billing: connection refused"
    entries += [
        entry(100, '10.0.0.1 "GET /favicon.ico" 404 0 "-" "curl/8.0"'),
        entry(101, "2026-01-02 03:04:05,000 INFO [uvicorn.error] Started server process [7]"),
        entry(102, "2026-01-02 03:04:05,000 INFO [app] error budget report errors_total=0"),
        entry(103, failure),
    ]

    assert ranked_texts(entries)[0] == failure


def test_a_failure_that_begins_mid_window_outranks_one_that_was_there_all_along() -> None:
    entries = background(300)
    entries += [
        entry(5 + i * 20, f"2026-01-02 03:04:05,000 ERROR validation failed for order {i}") for i in range(30)
    ]
    entries += [
        entry(400 + i * 5, f"2026-01-02 03:04:05,000 ERROR payment gateway failed for order {i}")
        for i in range(30)
    ]

    top = ranked_texts(entries)[0]

    assert "payment gateway failed" in top


def test_the_first_failure_of_a_cascade_outranks_those_that_follow_it() -> None:
    entries = background(300)
    entries += [
        entry(300, "2026-01-02 03:09:05,000 WARN disk usage above 95% on /var/lib/data"),
        entry(302, "2026-01-02 03:09:07,000 WARN write to segment failed, retrying"),
        entry(304, "2026-01-02 03:09:09,000 WARN flush queue backing up"),
    ]

    assert ranked_texts(entries)[0] == "2026-01-02 03:09:05,000 WARN disk usage above 95% on /var/lib/data"


def test_a_rare_change_just_before_a_new_failure_outranks_routine_lines() -> None:
    entries = background(600)
    change = 'type=Normal reason=ScalingReplicaSet object=deployment/db message="Scaled down replica set db-7d9f8b6c5d to 0"'
    entries.append(entry(300, change, EVENTS))
    entries += [
        entry(302 + i, f"2026-01-02 03:04:05,000 ERROR query failed: connection refused (attempt {i})")
        for i in range(20)
    ]

    ranked = ranked_texts(entries)

    # Below the failure itself, above every routine line.
    assert ranked.index(change) == 1


def test_cues_read_kubernetes_reasons_as_words() -> None:
    assert cues("Node node-3 status is now: NodeHasInsufficientMemory") == (2, False, True)
    assert cues("reason=OOMKilled exitCode=137")[1]
    assert cues("metrics flushed errors_total=0") == (1, False, False)
    assert cues("request served in 12ms") == (0, False, False)
    assert cues("[uvicorn.error] Started server process")[0] == 1
