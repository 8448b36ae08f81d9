from __future__ import annotations

from app.logs.budget.forms import FORM_CHARS, brief, group_forms
from app.logs.budget.groups import build_window
from app.logs.models import LogEntry

SECOND = 1_000_000_000
API = {"namespace": "shop", "pod": "api-7d9f8b6c5d-x2k4p", "container": "api"}


def entry(seconds: float, line: str) -> LogEntry:
    return LogEntry(ts_ns=int(seconds * SECOND), labels=API, line=line)


def only_forms(entries: list[LogEntry]) -> list[str]:
    window = build_window(entries)
    (group,) = window.groups
    return group_forms(window, group, 500)


def test_repeats_show_the_range_of_each_number_that_varies_and_a_star_for_other_values() -> None:
    entries = [
        entry(i, f'{{"level":"info","msg":"request completed","status":200,"took":{t},"peer":"10.0.{i}.9"}}')
        for i, t in enumerate(("0.070", "1.5", "0.900"))
    ]

    assert only_forms(entries)[-1] == "request completed status=200 took=0.070..1.5 peer=*"


def test_a_trace_is_cut_to_its_messages_and_the_frames_next_to_them() -> None:
    trace = [
        "2026-01-02T03:04:05.120Z ERROR 1 --- [main] c.a.Orders : checkout failed",
        'java.lang.NullPointerException: Cannot invoke "Cart.items()" because "cart" is null',
        *[f"\tat com.acme.layer{n}.Handler.run(Handler.java:{n})" for n in range(1, 9)],
        "Caused by: java.lang.IllegalStateException: pool closed",
        "\tat com.acme.pool.Pool.borrow(Pool.java:77)",
        "\t... 42 more",
    ]
    entries = [entry(10 + i * 0.0001, line) for i, line in enumerate(trace)]

    forms = only_forms(entries)

    assert forms[-1].split("\n") == [
        "c.a.Orders: checkout failed",
        'java.lang.NullPointerException: Cannot invoke "Cart.items()" because "cart" is null',
        "at com.acme.layer1.Handler.run(Handler.java:1)",
        "... 6 more lines",
        "at com.acme.layer8.Handler.run(Handler.java:8)",
        "Caused by: java.lang.IllegalStateException: pool closed",
        "at com.acme.pool.Pool.borrow(Pool.java:77)",
        "... 1 more lines",
    ]
    # The briefest form keeps the most telling message line only.
    assert forms[0].split("\n") == [
        "c.a.Orders: checkout failed",
        "java.lang.NullPointerException: Cannot…",
        "... 11 more lines",
    ]


def test_forms_grow_from_a_brief_mention_to_the_full_text() -> None:
    text = "upstream request failed: " + " ".join(f"detail{n}" for n in range(40))

    forms = only_forms([entry(1, text)])

    assert [len(form) for form in forms] == sorted(len(form) for form in forms)
    assert forms[0].endswith("…")
    assert len(forms[0]) <= FORM_CHARS[0] + 1
    assert forms[-1] == text


def test_brief_cuts_at_a_word_boundary() -> None:
    assert brief("short enough", 48) == "short enough"
    assert (
        brief("connection refused by the upstream server at the gateway layer", 30)
        == "connection refused by the…"
    )
