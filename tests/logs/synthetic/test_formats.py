"""Quoting and timestamps shared by many formats."""

from __future__ import annotations

from app.logs.synthetic.formats import go_quote, go_rfc3339nano, klog, logfmt

TS = 1_795_000_000_123_456_789  # 2026-11-18T11:06:40.123456789Z


def test_go_quote_escapes_like_strconv_quote() -> None:
    assert go_quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert go_quote("a\tb\nc\x1b") == '"a\\tb\\nc\\x1b"'
    assert go_quote("zoë ✓") == '"zoë ✓"'
    assert go_quote("line\u2028sep") == '"line\\u2028sep"'


def test_logfmt_quotes_only_what_needs_it() -> None:
    assert (
        logfmt({"level": "info", "msg": "request completed", "ok": True, "path": "/v1/x"})
        == 'level=info msg="request completed" ok=true path=/v1/x'
    )
    assert logfmt({"empty": ""}) == 'empty=""'


def test_klog_structured_and_plain() -> None:
    structured = klog("E", 1, "reflector.go:158", "Unhandled Error", err="boom", retries=3)(TS)
    plain = klog("W", 7, "controller.go:1214", "Service has no endpoints")(TS)

    assert (
        structured == 'E1118 11:06:40.123456       1 reflector.go:158] "Unhandled Error" err="boom" retries=3'
    )
    assert plain == "W1118 11:06:40.123456       7 controller.go:1214] Service has no endpoints"


def test_rfc3339nano_drops_trailing_zeros() -> None:
    assert go_rfc3339nano(TS) == "2026-11-18T11:06:40.123456789Z"
    assert go_rfc3339nano(TS - TS % 1_000_000_000) == "2026-11-18T11:06:40Z"
