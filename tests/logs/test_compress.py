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
    assert "(×1,000" not in refused  # counts are plain integers, easy for a model to read
    assert "(×1000, " in refused
    for needle in ("payment failed", "nil pointer dereference", "tls handshake failed"):
        assert len(lines_containing(result, needle)) == 1
    assert result.report.kept_lines == len(entries)
    assert result.report.error_warn_kept == result.report.error_warn_total == 1003
    assert result.report.tokens_after < result.report.tokens_before / 50


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            "request 7f452b69-98a6-1c0d-d075-b6261269e07a done",
            "request 331de6c9-652d-25e0-1f3a-860ec4bf8750 done",
        ),
        ("dial tcp 10.96.4.12:5432 failed", "dial tcp 10.96.7.200:6543 failed"),
        ("object 0x7ffe3a2b freed at deadbeef01", "object 0x10 freed at 00c0ffee99"),
        ("took 120ms to sync", "took 3.5s to sync"),
        ("at 2026-01-02T03:04:05.123Z flush", "at 2026-01-02T03:09:59Z flush"),
        ("evicted pod api-7d9f8b6c5d-x2k4p", "evicted pod api-6c8b9d7f4-m4n7t"),
        ("queue depth 17", "queue depth 4096"),
    ],
)
def test_lines_that_differ_only_in_ids_numbers_and_times_collapse(first: str, second: str) -> None:
    result = fit_to_budget([entry(0, first), entry(5, second)], max_tokens=1000)

    assert len(result.lines) == 1
    assert result.lines[0].count == 2
    assert result.lines[0].text == first
    assert render_line(result.lines[0]).endswith("(×2, 03:04:05–03:04:10)")


def test_lines_with_different_words_stay_apart() -> None:
    result = fit_to_budget(
        [entry(0, "connection refused to postgres:5432"), entry(1, "connection refused to redis:5432")],
        max_tokens=1000,
    )

    assert [line.text for line in result.lines] == [
        "connection refused to postgres:5432",
        "connection refused to redis:5432",
    ]


def test_replicas_collapse_but_statefulset_members_and_rollouts_stay_apart() -> None:
    entries = [
        entry(0, REFUSED, pod="api-7d9f8b6c5d-x2k4p"),
        entry(1, REFUSED, pod="api-7d9f8b6c5d-q8w2z"),
        entry(2, REFUSED, pod="api-6c8b9d7f4-m4n7t"),  # the new ReplicaSet of a rollout
        entry(3, "FATAL: the database system is shutting down", pod="postgres-0"),
        entry(4, "FATAL: the database system is shutting down", pod="postgres-1"),
    ]

    result = fit_to_budget(entries, max_tokens=1000)

    rendered = [render_line(line) for line in result.lines]
    assert rendered[0] == (
        f"[1] 03:04:05Z payments/api-7d9f8b6c5d-x2k4p ERROR {REFUSED} (×2 on 2 pods, 03:04:05–03:04:06)"
    )
    assert rendered[1] == f"[2] 03:04:07Z payments/api-6c8b9d7f4-m4n7t ERROR {REFUSED}"
    assert [line.pod for line in result.lines[2:]] == ["postgres-0", "postgres-1"]


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

    result = fit_to_budget(entries, max_tokens=600)

    kept = {index for line in result.lines for index in line.source_indices}
    assert set(problems) <= kept
    assert result.report.error_warn_kept == result.report.error_warn_total == len(problems)
    assert result.report.kept_lines < len(entries)


def test_neighbours_of_an_error_in_the_same_pod_are_kept_before_unrelated_lines() -> None:
    entries = []
    for i in range(200):
        pod = API_POD if i % 2 == 0 else "worker-5c6d7f8g9h-b2c4d"
        entries.append(entry(i, f"{pod.split('-')[0]} finished {_word(i)} batch", pod=pod))
    entries[100] = entry(100, 'level=error msg="schema migration failed"')

    budget = sum(
        estimate_tokens(render_line(line)) for line in fit_to_budget(entries[96:105], max_tokens=10_000).lines
    )
    result = fit_to_budget(entries, max_tokens=budget)

    kept = sorted(index for line in result.lines for index in line.source_indices)
    # The api pod's lines around the error: two before and two after, skipping the worker's lines.
    assert {96, 98, 100, 102, 104} <= set(kept)
    assert 99 not in kept
    assert 101 not in kept


def test_rare_lines_are_kept_before_lines_of_a_common_template() -> None:
    names = [_word(i) for i in range(60)]
    entries = [entry(i, f"user {name} logged in") for i, name in enumerate(names)]
    entries.append(entry(30.5, "certificate rotation scheduled"))
    budget = estimate_tokens("[9] 03:04:35Z payments/api-7d9f8b6c5d-x2k4p certificate rotation scheduled") + 1

    result = fit_to_budget(entries, max_tokens=budget)

    assert [line.text for line in result.lines] == ["certificate rotation scheduled"]


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


def test_summary_reads_kept_of_total_lines_and_tokens_with_thousands_separators() -> None:
    rng = random.Random(5)
    entries = info_noise(rng, 12_000)

    summary = fit_to_budget(entries, max_tokens=2000).report.summary()

    match = re.match(r"^([\d,]+) of 12,000 lines kept, ([\d,]+) -> ([\d,]+) tokens", summary)
    assert match is not None, summary
    before, after = (int(group.replace(",", "")) for group in match.groups()[1:])
    assert before > 100_000
    assert after <= 2000


def test_empty_input_reports_nothing_kept() -> None:
    result = fit_to_budget([], max_tokens=1000)

    assert result.lines == []
    assert result.report.summary().startswith("0 of 0 lines kept, 0 -> 0 tokens")
    assert evidence_to_entries(result, [1]) == []


def test_a_budget_smaller_than_one_line_keeps_the_most_important_line_cut_short() -> None:
    entries = [entry(0, 'level=info msg="started"')]
    entries.append(entry(1, 'level=error msg="connection refused" ' + "detail " * 40))
    entries.append(entry(2, 'level=info msg="stopping"'))

    result = fit_to_budget(entries, max_tokens=60)

    (line,) = result.lines
    assert line.level == "error"
    assert "…(+" in line.text
    assert estimate_tokens(render_line(line)) <= 60
    assert result.report.tokens_after <= 60


@pytest.mark.parametrize("budget", [0, 3])
def test_a_budget_too_small_for_any_line_keeps_nothing(budget: int) -> None:
    result = fit_to_budget([entry(0, REFUSED)], max_tokens=budget)

    assert result.lines == []
    assert result.report.kept_lines == 0
    assert result.report.summary().startswith(
        f"0 of 1 lines kept, {result.report.tokens_before:,} -> 0 tokens"
    )


def test_a_negative_budget_is_refused() -> None:
    with pytest.raises(InputError):
        fit_to_budget([entry(0, REFUSED)], max_tokens=-1)


def test_long_multiline_and_odd_lines_become_one_readable_prompt_line_each() -> None:
    entries = [
        entry(0, 'level=error msg="bad payload" body=' + "x" * 5000),
        entry(1, "Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'id'"),
        entry(2, "level=warn \x1b[31mred\x1b[0m tab\there nul\x00 end"),
        entry(3, "level=warn undecodable \udcff byte"),
    ]

    result = fit_to_budget(entries, max_tokens=10_000, max_line_chars=200)

    rendered = result.render()
    assert rendered.count("\n") == len(result.lines) - 1 == 3
    assert result.lines[0].text == 'level=error msg="bad payload" body=' + "x" * 165 + "…(+4,835 chars)"
    assert (
        result.lines[1].text
        == "Traceback (most recent call last):\\n  File \"app.py\", line 3\\nKeyError: 'id'"
    )
    assert result.lines[2].text == "level=warn \x1b[31mred\x1b[0m tab\there nul\x00 end"
    assert result.lines[3].text == "level=warn undecodable \\udcff byte"
    rendered.encode("utf-8")  # the prompt can be sent to the model server


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
    assert len(calls) < 30
    assert "tokens counted by server" in result.report.summary()


def test_a_failing_tokenizer_falls_back_to_the_estimate() -> None:
    def count_tokens(text: str) -> int:
        raise LLMConnectError("tokenizer unreachable")

    result = fit_to_budget(
        [entry(0, REFUSED), entry(1, "level=info ok")], max_tokens=200, count_tokens=count_tokens
    )

    assert result.report.token_counter == "estimate"
    assert len(result.lines) == 2
    assert result.report.tokens_after == estimate_tokens(result.render()) <= 200


def test_the_estimate_charges_ids_more_than_words() -> None:
    words = "connection refused by the upstream server"
    ids = "4bf92f3577b34da6a3ce929d0e0e4736a3ce9"

    assert len(words) > len(ids)
    assert estimate_tokens(ids) > estimate_tokens(words)
    assert estimate_tokens("") == 0


_LINE_PARTS = st.one_of(
    st.sampled_from(
        [REFUSED, 'level=warn msg="retrying"', 'level=info msg="ok"', "panic: boom", "GET /healthz 200"]
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
@given(
    entries=_ENTRIES,
    max_tokens=st.integers(0, 3000),
    context_lines=st.integers(0, 3),
    server=st.booleans(),
)
def test_the_result_never_exceeds_the_budget(
    entries: list[LogEntry], max_tokens: int, context_lines: int, server: bool
) -> None:
    counter = _digit_heavy_tokenizer if server else estimate_tokens

    result = fit_to_budget(
        entries,
        max_tokens=max_tokens,
        count_tokens=_digit_heavy_tokenizer if server else None,
        context_lines=context_lines,
    )

    assert counter(result.render()) == result.report.tokens_after <= max_tokens
    assert [line.ts_ns for line in result.lines] == sorted(line.ts_ns for line in result.lines)
    sources = [index for line in result.lines for index in line.source_indices]
    assert len(sources) == len(set(sources)) == result.report.kept_lines
    assert all(0 <= index < len(entries) for index in sources)
    if entries and max_tokens >= 3000:
        assert result.lines  # a generous budget always keeps something


def _word(i: int) -> str:
    """A distinct letters-only word per integer, so masking cannot make lines alike."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[i % 26] + letters[(i // 26) % 26] + letters[(i // 676) % 26] + "x"
