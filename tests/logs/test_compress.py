from __future__ import annotations

import random
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import InputError, LLMConnectError
from app.logs.compress import (
    BudgetResult,
    estimate_tokens,
    evidence_to_entries,
    fit_to_budget,
    render_line,
)
from app.logs.models import LogEntry

T0 = 1_767_323_045_000_000_000  # 2026-01-02T03:04:05Z
SECOND = 1_000_000_000
API_POD = "api-7d9f8b6c5d-x2k4p"
REFUSED = 'level=error msg="connection refused" addr=postgres:5432'


def entry(seconds: float, line: str, pod: str = API_POD, namespace: str = "payments") -> LogEntry:
    return LogEntry(
        ts_ns=T0 + int(seconds * SECOND),
        labels={"namespace": namespace, "pod": pod, "container": pod.split("-")[0]},
        line=line,
    )


def info_noise(rng: random.Random, count: int, start: float = 0.0) -> list[LogEntry]:
    """Info lines of a few shapes whose ids, durations and numbers vary from line to line."""
    shapes = (
        lambda: (
            f'level=info msg="request completed" path=/api/v1/orders status=200 duration={rng.randint(1, 900)}ms'
            f" trace_id={rng.getrandbits(128):032x}"
        ),
        lambda: (
            f'level=info msg="processed order" order_id={uuid.UUID(int=rng.getrandbits(128))}'
            f" amount={rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
        ),
        lambda: f'level=info msg="health check ok" peer=10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}',
    )
    pods = (API_POD, "api-7d9f8b6c5d-q8w2z", "worker-5c6d7f8g9h-b2c4d")
    return [entry(start + i * 0.01, rng.choice(shapes)(), pod=rng.choice(pods)) for i in range(count)]


def kept_indices(result: BudgetResult) -> set[int]:
    return {index for line in result.lines for index in line.source_indices}


def lines_containing(result: BudgetResult, needle: str) -> list[str]:
    return [render_line(line) for line in result.lines if needle in line.text]


def test_repeated_errors_in_a_sea_of_info_become_a_handful_of_counted_lines() -> None:
    rng = random.Random(1)
    entries = info_noise(rng, 3000)
    entries += [entry(10 + i * 0.1, REFUSED) for i in range(1000)]
    entries += [
        entry(20, 'level=error msg="payment failed" err="context deadline exceeded"'),
        entry(21, "panic: runtime error: invalid memory address or nil pointer dereference"),
        entry(22, 'level=error msg="tls handshake failed" peer=10.1.2.3:443', pod="worker-5c6d7f8g9h-b2c4d"),
    ]

    result = fit_to_budget(entries, max_tokens=4000)

    assert len(result.lines) <= 12
    (refused,) = lines_containing(result, "connection refused")
    assert "(x1000 until +1:49)" in refused  # counts are plain integers, easy for a model to read
    for needle in ("payment failed", "nil pointer dereference", "tls handshake failed"):
        assert len(lines_containing(result, needle)) == 1
    assert result.report.kept_lines == len(entries)
    assert result.report.error_warn_kept == result.report.error_warn_total == 1003
    assert result.report.tokens_after < result.report.tokens_before / 50


@pytest.mark.parametrize(
    ("first", "second", "shown"),
    [
        (
            "request 7f452b69-98a6-1c0d-d075-b6261269e07a done",
            "request 331de6c9-652d-25e0-1f3a-860ec4bf8750 done",
            "request <id> done",
        ),
        (
            "dial tcp 10.96.4.12:5432 failed",
            "dial tcp 10.96.7.200:6543 failed",
            "dial tcp *:5432..6543 failed",
        ),
        ("sync took 120ms", "sync took 35ms", "sync took 35ms..120ms"),
        ("queue depth 17", "queue depth 4096", "queue depth 17..4096"),
        ("object 0x7ffe3a2b freed", "object 0x10 freed", "object * freed"),
    ],
)
def test_repeats_that_differ_only_in_ids_and_numbers_collapse_with_a_value_range(
    first: str, second: str, shown: str
) -> None:
    padding = " while the replica set rebalanced its partitions across the cluster"
    result = fit_to_budget([entry(0, first + padding), entry(5, second + padding)], max_tokens=1000)

    (line,) = result.lines
    assert line.count == line.repeats == 2
    assert line.text == shown + padding
    assert render_line(line).endswith("(x2 until +0:05)")


def test_lines_with_different_words_stay_apart() -> None:
    result = fit_to_budget(
        [
            entry(0, "2026-01-02T03:04:05.120Z INFO opened connection to postgres:5432 (pool=sessions)"),
            entry(1, "2026-01-02T03:04:06.250Z INFO opened connection to redis:6379 (pool=sessions)"),
        ],
        max_tokens=1000,
    )

    assert [render_line(line) for line in result.lines] == [
        "[1] +0:00 api opened connection to postgres:5432 (pool=sessions)",
        "[2] +0:01 api opened connection to redis:6379 (pool=sessions)",
    ]


def test_one_failure_worded_a_few_ways_is_one_line_that_shows_every_wording() -> None:
    result = fit_to_budget(
        [
            entry(
                0, "2026-01-02T03:04:05.120Z ERROR [main] connection refused to postgres:5432 (pool=sessions)"
            ),
            entry(
                1,
                "2026-01-02T03:04:06.250Z ERROR [worker-3] connection refused to redis:6379 (pool=sessions)",
            ),
            entry(
                2, "2026-01-02T03:04:07.250Z ERROR [main] connection refused to postgres:5432 (pool=sessions)"
            ),
        ],
        max_tokens=1000,
    )

    (line,) = result.lines
    assert line.source_indices == [0, 1, 2]
    assert render_line(line) == (
        "[1] +0:00 api ERR [main]|[worker-3] connection refused to postgres:5432|redis:6379 (pool=sessions)"
        " (x3 in 2 variants until +0:02)"
    )


def test_replicas_collapse_under_short_names_while_statefulset_members_and_rollouts_stay_apart() -> None:
    entries = [
        entry(0, REFUSED, pod="api-7d9f8b6c5d-x2k4p"),
        entry(1, REFUSED, pod="api-7d9f8b6c5d-q8w2z"),
        entry(2, REFUSED, pod="api-6c8b9d7f4-m4n7t"),  # the new ReplicaSet of a rollout
        entry(3, "FATAL: the database system is shutting down", pod="postgres-0"),
        entry(4, "FATAL: the database system is shutting down", pod="postgres-1"),
    ]

    result = fit_to_budget(entries, max_tokens=1000)

    assert [render_line(line) for line in result.lines] == [
        "[1] +0:00 api#1 ERR connection refused addr=postgres:5432 (x2 on 2 pods until +0:01)",
        "[2] +0:02 api#3 ERR connection refused addr=postgres:5432",
        "[3] +0:03 postgres-0 CRIT the database system is shutting down",
        "[4] +0:04 postgres-1 CRIT the database system is shutting down",
    ]
    assert result.report.pods == {
        "api#1": "payments/api-7d9f8b6c5d-x2k4p",
        "api#2": "payments/api-7d9f8b6c5d-q8w2z",
        "api#3": "payments/api-6c8b9d7f4-m4n7t",
    }
    assert result.report.summary().startswith("5 lines -> 4 shown (1 merged into repeats), ")
    assert "times are +m:ss after 03:04:05Z" in result.report.summary()


def test_every_error_and_warn_line_survives_when_the_budget_allows() -> None:
    rng = random.Random(2)
    # Info lines with distinct words do not collapse, so they cannot all fit.
    entries = [
        entry(i * 0.5, f"step {''.join(rng.choices('abcdefghijklmnopqrstuvwxyz', k=12))} ok")
        for i in range(600)
    ]
    problems = {
        37: 'level=error msg="upstream reset" upstream=payments',
        150: 'level=warn msg="retrying" attempt=3',
        151: 'level=warn msg="disk usage high" mount=/var/lib/postgresql',
        420: "CRITICAL: out of memory, killing worker",
        599: "Traceback (most recent call last): KeyError: 'amount'",
    }
    for index, line in problems.items():
        entries[index] = entry(index * 0.5, line)

    result = fit_to_budget(entries, max_tokens=300)

    assert set(problems) <= kept_indices(result)
    assert result.report.error_warn_kept == result.report.error_warn_total == len(problems)
    assert result.report.kept_lines < len(entries)


def test_a_rare_line_is_kept_before_lines_of_a_common_template() -> None:
    entries = [entry(i, f"user {_word(i)} logged in from the mobile app") for i in range(60)]
    entries.append(entry(30.5, "certificate rotation scheduled for the ingress gateway"))

    result = fit_to_budget(entries, max_tokens=30)

    assert [line.text for line in result.lines] == ["certificate rotation scheduled for the ingress gateway"]


def test_the_change_before_a_new_failure_is_kept_though_another_stream_logged_it() -> None:
    rng = random.Random(6)
    entries = info_noise(rng, 2000)
    events = {"namespace": "payments", "job": "integrations/kubernetes/eventhandler"}
    scale_down = LogEntry(
        ts_ns=T0 + 12 * SECOND,
        labels=events,
        line='type=Normal reason=ScalingReplicaSet object=deployment/ledger message="Scaled down replica set '
        'ledger-6c8b9d7f4 to 0 from 3"',
    )
    entries.append(scale_down)
    gateway = "envoy-6c8b9d7f4-h5j6k"
    entries += [
        entry(
            14 + i * 0.05,
            f'[2026-01-02T03:04:{19 + i // 20:02d}.000Z] "GET /api/ledger HTTP/1.1" 503 UH',
            pod=gateway,
        )
        for i in range(100)
    ]
    # Errors that have nothing to do with it, spread over the whole window.
    entries += [entry(i * 0.2, f'level=error msg="validation failed" field={_word(i)}') for i in range(100)]

    result = fit_to_budget(entries, max_tokens=400)

    assert len(entries) - 101 in kept_indices(result)
    (line,) = lines_containing(result, "Scaled down")
    assert line.startswith("[")
    assert " events ScalingReplicaSet deployment/ledger: Scaled down" in line


def test_kept_lines_are_numbered_in_time_order_whatever_the_input_order() -> None:
    rng = random.Random(3)
    entries = [*info_noise(rng, 300), entry(1.5, REFUSED), entry(2.5, 'level=warn msg="slow"')]
    rng.shuffle(entries)

    result = fit_to_budget(entries, max_tokens=300)

    assert [line.number for line in result.lines] == list(range(1, len(result.lines) + 1))
    assert [line.ts_ns for line in result.lines] == sorted(line.ts_ns for line in result.lines)
    for line in result.lines:
        times = [entries[index].ts_ns for index in line.source_indices]
        assert (min(times), max(times)) == (line.ts_ns, line.last_ts_ns)


def test_cited_line_numbers_map_back_to_the_entries_they_stand_for() -> None:
    rng = random.Random(4)
    entries = info_noise(rng, 200) + [entry(0.5 + i, REFUSED) for i in range(5)]
    entries.append(entry(3.3, 'level=error msg="disk full"'))
    rng.shuffle(entries)
    result = fit_to_budget(entries, max_tokens=2000)
    refused = next(line.number for line in result.lines if "connection refused" in line.text)
    disk = next(line.number for line in result.lines if "disk full" in line.text)

    cited = evidence_to_entries(result, [refused, 0, 9999, disk, refused, -3])

    expected = [i for i, e in enumerate(entries) if "connection refused" in e.line or "disk full" in e.line]
    assert cited == expected
    assert evidence_to_entries(result, []) == []


_SUMMARY = re.compile(r"^([\d,]+) lines -> ([\d,]+) shown(?: \((.*?)\))?, ([\d,]+) -> ([\d,]+) tokens; ")


def test_summary_says_how_many_lines_were_shown_merged_and_left_out() -> None:
    rng = random.Random(5)
    entries = info_noise(rng, 11_000)
    entries += [
        entry(100 + i * 0.1, f'level=warn msg="slow query" table=orders_{i % 7} took={i}ms')
        for i in range(1000)
    ]
    # Lines that do not repeat and cannot all fit.
    entries += [
        entry(200 + i, f"user {_word(i)} updated the billing address of account {_word(i + 7)}")
        for i in range(1000)
    ]

    report = fit_to_budget(entries, max_tokens=2000).report

    match = _SUMMARY.match(report.summary())
    assert match is not None, report.summary()
    total, shown, folded, before, after = match.groups()
    parts = dict(reversed(part.split(" ", 1)) for part in folded.split(", "))
    assert int(total.replace(",", "")) == len(entries) == 13_000
    assert int(shown.replace(",", "")) == report.output_lines
    assert int(parts["merged into repeats"].replace(",", "")) == report.merged_lines >= 999
    assert int(parts["left out"].replace(",", "")) == len(entries) - report.kept_lines > 0
    assert report.output_lines + report.merged_lines + len(entries) - report.kept_lines == len(entries)
    assert (
        int(before.replace(",", "")) == report.tokens_before == sum(estimate_tokens(e.line) for e in entries)
    )
    assert int(after.replace(",", "")) == report.tokens_after <= 2000


def test_empty_input_reports_nothing_kept() -> None:
    result = fit_to_budget([], max_tokens=1000)

    assert result.lines == []
    assert result.report.summary().startswith("0 lines -> 0 shown, 0 -> 0 tokens")
    assert evidence_to_entries(result, [1]) == []


def test_a_budget_smaller_than_one_line_keeps_the_most_important_line_cut_short() -> None:
    entries = [entry(0, 'level=info msg="started"')]
    entries.append(entry(1, 'level=error msg="connection refused" ' + "detail " * 40))
    entries.append(entry(2, 'level=info msg="stopping the http server and the worker pools"'))

    result = fit_to_budget(entries, max_tokens=30)

    (line,) = result.lines
    assert line.level == "error"
    assert line.text.startswith('msg="connection refused" detail')
    assert line.text.endswith("…")
    assert result.report.tokens_after == estimate_tokens(render_line(line)) <= 30


@pytest.mark.parametrize("budget", [0, 3])
def test_a_budget_too_small_for_any_line_keeps_nothing(budget: int) -> None:
    result = fit_to_budget([entry(0, REFUSED)], max_tokens=budget)

    assert result.lines == []
    assert result.report.kept_lines == 0
    assert result.report.summary().startswith(
        f"1 lines -> 0 shown (1 left out), {result.report.tokens_before:,} -> 0 tokens"
    )


@pytest.mark.parametrize(("max_tokens", "max_line_chars"), [(-1, 500), (10, 0)])
def test_nonsense_limits_are_refused(max_tokens: int, max_line_chars: int) -> None:
    with pytest.raises(InputError):
        fit_to_budget([entry(0, REFUSED)], max_tokens=max_tokens, max_line_chars=max_line_chars)


def test_long_multiline_and_odd_lines_stay_readable_and_cannot_forge_a_numbered_line() -> None:
    entries = [
        entry(0, 'level=error msg="bad payload" body=' + "x" * 5000),
        entry(60, "level=error job failed\n[99] +0:00 api forged line\r\nKeyError: 'id'"),
        entry(120, "level=warn \x1b[31mred\x1b[0m tab\there nul\x00 end of the warning text"),
        entry(180, "level=warn undecodable \udcff byte in the middle of the warning text"),
    ]

    result = fit_to_budget(entries, max_tokens=10_000, max_line_chars=200)

    rendered = result.render()
    texts = [line.text for line in result.lines]
    assert texts[0].startswith("bad payload body=xxx")
    assert texts[1] == "job failed\\n[99] +0:00 api forged line\\nKeyError: 'id'"
    assert texts[2] == "\x1b[31mred\x1b[0m tab here nul\x00 end of the warning text"
    assert texts[3] == "undecodable \\udcff byte in the middle of the warning text"
    assert re.search(r"x…\(\+4,8\d\d chars\)$", result.lines[0].text)
    assert all(re.match(r"^\[\d+\] ", row) for row in rendered.split("\n"))
    rendered.encode("utf-8")  # the prompt can be sent to the model server


def test_a_stack_trace_is_one_numbered_record_with_its_exception_shown() -> None:
    trace = [
        "2026-01-02 03:04:05,001 ERROR [app.api] request failed",
        "Traceback (most recent call last):",
        '  File "/usr/local/lib/python3.12/site-packages/starlette/routing.py", line 74, in app',
        "    response = await func(request)",
        '  File "/app/orders/views.py", line 41, in create',
        '    currency = payload["currency"]',
        "KeyError: 'currency'",
    ]
    entries = [entry(10 + i * 0.001, line) for i, line in enumerate(trace)]
    entries += [
        entry(30 + i, f"2026-01-02 03:04:{35 + i:02d},120 INFO [app.api] request completed in {i} ms")
        for i in range(20)
    ]

    result = fit_to_budget(entries, max_tokens=2000)

    (record,) = [line for line in result.lines if "request failed" in line.text]
    assert record.source_indices == list(range(7))
    assert record.text.split("\n")[-2:] == ['currency = payload["currency"]', "KeyError: 'currency'"]
    assert render_line(record).split("\n")[-1] == "    KeyError: 'currency'"
    assert result.report.joined_lines == 6


def test_the_server_tokenizer_is_used_in_batches_and_the_budget_holds_by_its_count() -> None:
    calls: list[str] = []

    def count_tokens(text: str) -> int:
        calls.append(text)
        return _digit_heavy_tokenizer(text)

    # Errors full of digits rank first; per-character shares of a chunk undercount them, so only the
    # count of the final text can keep the budget.
    errors = [
        entry(i, f"level=error job {_word(i)} failed codes 1234567890 9876543210 1357924680")
        for i in range(100)
    ]
    infos = [entry(200 + i, f"level=info {_word(i)} {_word(i + 1)} {_word(i + 2)} done") for i in range(2000)]

    result = fit_to_budget(errors + infos, max_tokens=3000, count_tokens=count_tokens)

    assert result.report.token_counter == "server"
    assert _digit_heavy_tokenizer(result.render()) == result.report.tokens_after <= 3000
    assert result.report.tokens_after > 2500  # the budget is used, not given away
    assert len(calls) < 60
    assert "tokens counted by server" in result.report.summary()


def test_a_failing_tokenizer_falls_back_to_the_estimate() -> None:
    def count_tokens(text: str) -> int:
        raise LLMConnectError("tokenizer unreachable")

    entries = [entry(0, REFUSED), entry(1, 'level=info msg="request served from the read replica"')]

    result = fit_to_budget(entries, max_tokens=200, count_tokens=count_tokens)

    assert result.report.token_counter == "estimate"
    assert kept_indices(result) == {0, 1}
    assert result.report.tokens_after == estimate_tokens(result.render()) <= 200


def test_the_estimate_charges_ids_more_than_words() -> None:
    words = "connection refused by the upstream server"
    ids = "4bf92f3577b34da6a3ce929d0e0e4736a3ce9"

    assert len(words) > len(ids)
    assert estimate_tokens(ids) > estimate_tokens(words)
    assert estimate_tokens("") == 0


_LINE_PARTS = st.one_of(
    st.sampled_from(
        [
            REFUSED,
            'level=warn msg="retrying"',
            'level=info msg="ok"',
            "panic: boom",
            "GET /healthz 200",
            "  at x",
        ]
    ),
    st.builds(lambda n: f"request {n} took {n % 997}ms", st.integers(0, 10**9)),
    st.text(min_size=0, max_size=300),
)
_ENTRIES = st.lists(
    st.builds(
        lambda seconds, line, pod: entry(seconds, line, pod=pod),
        st.floats(0, 3600, allow_nan=False),
        _LINE_PARTS,
        st.sampled_from([API_POD, "api-7d9f8b6c5d-q8w2z", "postgres-0", ""]),
    ),
    max_size=80,
)


def _digit_heavy_tokenizer(text: str) -> int:
    return sum(3 if char.isdigit() else 1 for char in text if not char.isspace()) // 2


@settings(max_examples=150, deadline=None)
@given(entries=_ENTRIES, max_tokens=st.integers(0, 3000), server=st.booleans())
def test_the_result_never_exceeds_the_budget(entries: list[LogEntry], max_tokens: int, server: bool) -> None:
    counter = _digit_heavy_tokenizer if server else estimate_tokens

    result = fit_to_budget(
        entries, max_tokens=max_tokens, count_tokens=_digit_heavy_tokenizer if server else None
    )

    assert counter(result.render()) == result.report.tokens_after <= max_tokens
    assert [line.ts_ns for line in result.lines] == sorted(line.ts_ns for line in result.lines)
    sources = [index for line in result.lines for index in line.source_indices]
    assert len(sources) == len(set(sources)) == result.report.kept_lines
    assert all(0 <= index < len(entries) for index in sources)
    if entries and max_tokens >= 3000:
        assert result.lines  # a generous budget always keeps something


@settings(max_examples=150, deadline=None)
@given(entries=_ENTRIES)
def test_with_no_limit_everything_is_kept_within_a_fifth_more_than_the_raw_tokens(
    entries: list[LogEntry],
) -> None:
    result = fit_to_budget(entries, max_tokens=10**9)

    report = result.report
    assert report.kept_lines == len(entries)
    assert report.tokens_before == sum(estimate_tokens(e.line) for e in entries)
    # Beyond the ratio, a numbered window pays at most one prefix per source and per multi-line record.
    allowance = sum(
        1 + line.text.count("\n") for line in result.lines if line.repeats > 1 or "\n" in line.text
    )
    sources = {line.source for line in result.lines}
    assert report.tokens_after <= 1.2 * report.tokens_before + 16 * (len(sources) + allowance)


def test_with_no_limit_a_window_of_tiny_lines_is_folded_rather_than_outgrowing_its_raw_size() -> None:
    entries = [
        entry(i * 0.5, f"step {_word(i)} ok", pod=("api-7d9f8b6c5d-x2k4p", "postgres-0")[i % 2])
        for i in range(600)
    ]

    result = fit_to_budget(entries, max_tokens=10**9)

    report = result.report
    assert report.kept_lines == 600
    assert report.tokens_after <= 1.2 * report.tokens_before
    assert report.folded_lines > 0
    assert "folded under shared numbers" in report.summary()


def _word(i: int) -> str:
    """A distinct letters-only word per integer, so masking cannot make lines alike."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[i % 26] + letters[(i // 26) % 26] + letters[(i // 676) % 26] + "x"
