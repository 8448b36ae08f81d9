from __future__ import annotations

import pytest

from app.logs.budget.groups import build_window, declared_level, mask
from app.logs.models import LogEntry

SECOND = 1_000_000_000
API = {"namespace": "shop", "pod": "api-7d9f8b6c5d-x2k4p", "container": "api"}
WORKER = {"namespace": "shop", "pod": "worker-5c6d7f8b9c-b2c4d", "container": "worker"}


def entry(seconds: float, line: str, labels: dict[str, str] = API) -> LogEntry:
    return LogEntry(ts_ns=int(seconds * SECOND), labels=labels, line=line)


def records(entries: list[LogEntry]) -> list[list[int]]:
    return list(build_window(entries).records.values())


JAVA = [
    "2026-01-02T03:04:05.120Z ERROR 1 --- [main] c.a.Orders : checkout failed",
    'java.lang.NullPointerException: Cannot invoke "Cart.items()" because "cart" is null',
    "\tat com.acme.Orders.total(Orders.java:41)",
    "\tat com.acme.Api.post(Api.java:12)",
    "Caused by: java.lang.IllegalStateException: pool closed",
    "\t... 42 more",
]
PYTHON = [
    "Traceback (most recent call last):",
    '  File "/app/settings.py", line 31, in <module>',
    "    settings = Settings()",
    "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings",
    "database_url",
    "  Field required [type=missing]",
]
GO = [
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "",
    "goroutine 1 [running]:",
    "main.(*Server).handle(0xc000123456, {0x1, 0x2})",
    "\t/src/server.go:88 +0x1d",
]
NODE = [
    "/app/dist/config/secrets.js:12",
    "    const key = Buffer.from(process.env.JWT_SIGNING_KEY, 'base64');",
    "                       ^",
    "",
    "TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string",
    "    at Function.from (node:buffer:319:9)",
]


@pytest.mark.parametrize("trace", [JAVA, PYTHON, GO, NODE], ids=["java", "python", "go", "node"])
def test_a_stack_trace_written_line_by_line_is_one_record(trace: list[str]) -> None:
    entries = [entry(10 + i * 0.0001, line) for i, line in enumerate(trace)]
    entries += [entry(11.5, "2026-01-02 03:04:16,500 INFO [app] next request served")]

    assert records(entries) == [list(range(len(trace))), [len(trace)]]


def test_lines_of_another_stream_or_after_a_pause_start_records_of_their_own() -> None:
    entries = [
        entry(10, "2026-01-02 03:04:15,000 ERROR [app] request failed"),
        entry(10.0001, "Traceback (most recent call last):", WORKER),
        entry(12, "KeyError: 'currency'"),
        entry(12.0001, "  indented detail of the key error"),
    ]

    assert records(entries) == [[0], [1], [2, 3]]


def test_repeats_of_a_line_that_differ_in_numbers_ids_and_pods_are_one_group() -> None:
    entries = [
        entry(i, f"order {i * 37} for 10.0.0.{i} took {i}ms trace=4bf92f3577b34da6a3ce929d0e0e{i:04d}")
        for i in range(1, 6)
    ]
    entries.append(entry(7, "order 99 for 10.0.0.9 took 3ms trace=4bf92f3577b34da6a3ce929d0e0e0099", WORKER))

    window = build_window(entries)

    assert sorted(group.repeats for group in window.groups) == [1, 5]  # another workload, another group


def test_thread_names_in_brackets_do_not_split_a_group() -> None:
    entries = [
        entry(1, "2026-01-02T03:04:05.120Z ERROR 1 --- [main] c.a.Db : connection lost"),
        entry(2, "2026-01-02T03:04:06.120Z ERROR 1 --- [scheduling-1] c.a.Db : connection lost"),
        entry(3, "2026-01-02T03:04:07.120Z ERROR 1 --- [http-nio-8080-exec-7] c.a.Db : connection lost"),
    ]

    (group,) = build_window(entries).groups

    assert group.repeats == 3
    assert group.variants == 1


def test_traces_of_one_failure_through_other_call_paths_are_one_group_with_variants() -> None:
    first = [
        "2026-01-02 ERROR checkout failed",
        "java.lang.IllegalStateException: pool closed",
        "\tat a.B.c(B.java:1)",
    ]
    second = [
        "2026-01-02 ERROR checkout failed",
        "java.lang.IllegalStateException: pool closed",
        "\tat x.Y.z(Y.java:9)",
    ]
    entries = [entry(1 + i * 0.0001, line) for i, line in enumerate(first)]
    entries += [entry(5 + i * 0.0001, line) for i, line in enumerate(second)]

    (group,) = build_window(entries).groups

    assert (group.repeats, group.variants) == (2, 2)


def test_traces_of_one_failure_on_other_requests_are_one_group_but_other_failures_are_not() -> None:
    def trace(path: str, cause: str) -> list[str]:
        return [
            f"2026-01-02 03:04:05,100 ERROR [django.request] Internal Server Error: {path}",
            "Traceback (most recent call last):",
            '  File "/app/views.py", line 12, in get',
            f"httpx.ConnectError: {cause}",
        ]

    dns = "[Errno -2] Name or service not known"
    entries: list[LogEntry] = []
    for start, path, cause in [
        (1, "/v1/balances/bal_1", dns),
        (5, "/v1/labels", dns),
        (9, "/v1/labels", "[Errno 111] Connection refused"),
    ]:
        entries += [entry(start + i * 0.0001, line) for i, line in enumerate(trace(path, cause))]

    groups = build_window(entries).groups

    assert sorted((group.repeats, group.variants) for group in groups) == [(1, 1), (2, 2)]
    (both,) = [group for group in groups if group.repeats == 2]
    assert sorted(both.indices) == list(range(8))


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2026-11-27 09:31:23,606 INFO [uvicorn.error] Started server process [2]", "info"),
        ('{"level":30,"msg":"request failed, will retry"}', "info"),
        ('{"level":"warning","msg":"slow"}', "warn"),
        ('time=2026-01-02T03:04:05Z level=info msg="upstream failed health check, recovered"', "info"),
        ("2026-12-18 13:19:06.843 UTC [1] FATAL:  password authentication failed", "critical"),
        ('type=Warning reason=BackOff object=pod/x message="Back-off"', "warn"),
        ('name=x.17f3a kind=Pod reason=Started type=Normal msg="Started container api"', "info"),
        ("connection refused while dialing", None),
    ],
)
def test_a_level_the_line_states_outranks_alarming_words(line: str, level: str | None) -> None:
    assert declared_level(line) == level


def test_masking_keeps_words_and_hides_what_varies() -> None:
    assert mask(
        "pod api-7d9f8b6c5d-x2k4p id 7f452b69-98a6-1c0d-dbee-b6261269e07a at 10.0.0.12:8080 took 1.5s"
    ) == ("pod api-<pod> id # at #.#.#.#:# took #.#s")


def test_python_traces_through_other_handlers_are_one_group_but_the_message_lines_still_count() -> None:
    def trace(path: str, handler: str, cause: str) -> list[str]:
        return [
            f"2026-01-02 03:04:05,100 ERROR [django.request] Internal Server Error: {path}",
            "Traceback (most recent call last):",
            f'  File "/app/api/balances.py", line 12, in {handler}',
            f"    return await service.{handler}(balance_id)",
            f"httpx.ConnectError: {cause}",
        ]

    tls = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"
    entries: list[LogEntry] = []
    for start, path, handler, cause in [
        (1, "/v1/balances/bal_1", "get", tls),
        (5, "/v1/balances", "create", tls),
        (9, "/v1/balances", "update", "[Errno 111] Connection refused"),
    ]:
        entries += [entry(start + i * 0.0001, line) for i, line in enumerate(trace(path, handler, cause))]

    groups = build_window(entries).groups

    # The source line under 'File' names the call site: it does not split one failure; the
    # exception line below it does.
    assert sorted((group.repeats, group.variants) for group in groups) == [(1, 1), (2, 2)]


def test_an_exception_line_right_after_a_file_line_is_a_message_not_source() -> None:
    lines = [
        "2026-01-02 03:04:05,100 ERROR [app] failed",
        "Traceback (most recent call last):",
        '  File "/app/a.py", line 1, in f',
        "ValueError: bad port",
    ]
    other = [*lines[:3], "KeyError: 'port'"]
    entries = [entry(1 + i * 0.0001, line) for i, line in enumerate(lines)]
    entries += [entry(5 + i * 0.0001, line) for i, line in enumerate(other)]

    assert len(build_window(entries).groups) == 2


def test_header_less_detail_lines_written_with_a_line_join_its_record() -> None:
    banner = [
        "*** FATAL CONFIG FILE ERROR (Redis 7.2.5) ***",
        "Reading the configuration file, at line 4",
        ">>> 'maxmemory-policy allkeys-lfru'",
        "argument(s) must be one of the following: volatile-lru, allkeys-lru",
    ]
    entries = [entry(1, line) for line in banner]
    # A JSON line is complete as written; an access line from an IPv6 client opens a record.
    entries += [
        entry(3, '{"level":"error","msg":"call failed"}'),
        entry(3.001, "plain detail written right after"),
        entry(3.002, '::ffff:10.42.9.13 - - [04/Nov/2026:22:37:01 +0000] "POST /v1/accounts HTTP/1.1" 502 0'),
    ]

    assert records(entries) == [[0, 1, 2, 3], [4], [5], [6]]
