"""The fault matrix: the real ``logtriage`` command against misbehaving Lokis and model servers.

Every case runs the CLI in a subprocess, as a user would, and checks what the user sees: a failure ends
with a non-zero exit and one line on stderr that says what failed and what to do; no traceback, no
secret, no terminal escape, no line lost or doubled without the result saying so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from app.logs.models import LogEntry, datetime_to_ns
from app.store.db import get_engine, session_scope
from app.store.tables import TriageRunRow
from tests.fixtures.fake_loki import FakeLoki, Reply, json_reply, raw_reply
from tests.fixtures.llama import FakeOpenAIServer, free_port
from tests.test_cli import assert_one_line_error, cli_env, run_cli

NOW = datetime.now(UTC)
LABELS = {"namespace": "payments", "pod": "api-7d9f8b6c5d-x2k4p", "container": "api"}


def entries(
    count: int, *, lines: Callable[[int], str] = lambda i: f"line {i}", same_ts: bool = False
) -> list[LogEntry]:
    """``count`` entries in the last half hour (all on one timestamp when ``same_ts``)."""
    base = NOW - timedelta(minutes=30)
    return [
        LogEntry(
            ts_ns=datetime_to_ns(base + timedelta(seconds=0 if same_ts else i)), labels=LABELS, line=lines(i)
        )
        for i in range(count)
    ]


@pytest.fixture
def loki_env(tmp_path: Path, fake_loki: FakeLoki) -> dict[str, str]:
    return {"DATA_DIR": str(tmp_path / "data"), "LOKI_URL": fake_loki.url, "LOKI_MAX_RETRIES": "0"}


# Generous: a run takes a few seconds, but these machines are shared and a start can take a minute.
CLI_TIMEOUT = 600.0


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run logtriage as a user would (see tests/test_cli.py)."""
    return run_cli(*args, env=env, timeout=CLI_TIMEOUT)


def logs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return cli("logs", "-n", "payments", "--since", "1h", *args, env=env)


def assert_clean(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    """Nothing a terminal acts on and no secret, in anything printed."""
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream
        assert "\x9b" not in stream
        for secret in secrets:
            assert secret not in stream


# --- Loki's answers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "needle"),
    [(b'"abc"', "'abc' is not a whole number"), (b"1.75e18", "1.75e+18 is not a whole number"),
     (b'"18446744073709551616"', "outside 1970..2262")],
)  # fmt: skip
def test_timestamps_that_are_not_integers_end_in_one_line(
    loki_env: dict[str, str], fake_loki: FakeLoki, timestamp: bytes, needle: str
) -> None:
    served = entries(3)
    fake_loki.serve(served)
    fake_loki.rewrite_bodies(lambda body: body.replace(f'"{served[1].ts_ns}"'.encode(), timestamp))

    assert_one_line_error(logs(loki_env), needle, "LOKI_URL")


def test_a_huge_since_ends_in_one_line(loki_env: dict[str, str]) -> None:
    result = cli("logs", "-n", "payments", "--since", "99999999999999999999w", env=loki_env)

    assert_one_line_error(result, "longer than any time range")


def test_a_namespace_too_long_for_a_url_is_posted_and_one_too_long_for_loki_is_refused(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    long_ns = "n" * 20_000
    fake_loki.serve(
        [LogEntry(ts_ns=e.ts_ns, labels={**LABELS, "namespace": long_ns}, line=e.line) for e in entries(2)]
    )

    posted = cli("logs", "-n", long_ns, "--since", "1h", "--json", env=loki_env)

    assert posted.returncode == 0, posted.stderr
    assert json.loads(posted.stdout)["count"] == 2
    assert [r.method for r in fake_loki.query_requests()] == ["POST"]
    refused = cli("logs", "-n", "n" * 70_000, "--since", "1h", env=loki_env)
    assert_one_line_error(refused, "shorten the namespace")
    assert len(fake_loki.query_requests()) == 1


def test_undecodable_bytes_in_a_namespace_argument_end_in_one_line(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    result = cli("logs", "-n", os.fsdecode(b"pay\xffments"), "--since", "1h", env=loki_env)

    assert_one_line_error(result, "lone surrogate")
    assert fake_loki.requests == []


def test_a_lone_surrogate_prints_as_json(loki_env: dict[str, str], fake_loki: FakeLoki) -> None:
    fake_loki.serve(entries(2, lines=lambda i: f"half MARK {i}"))
    fake_loki.rewrite_bodies(lambda body: body.replace(b"MARK", b"\\udc80"))

    result = logs(loki_env, "--json")

    assert result.returncode == 0, result.stderr
    assert [e["line"] for e in json.loads(result.stdout)["entries"]] == ["half \ufffd 0", "half \ufffd 1"]


def test_a_non_utf8_byte_keeps_its_line_and_says_so(loki_env: dict[str, str], fake_loki: FakeLoki) -> None:
    fake_loki.serve(entries(3, lines=lambda i: f"caf MARK {i}"))
    fake_loki.rewrite_bodies(lambda body: body.replace(b"MARK", b"\xe9"))

    result = logs(loki_env, "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [e["line"] for e in data["entries"]] == [f"caf \ufffd {i}" for i in range(3)]
    assert any("not UTF-8" in warning for warning in data["warnings"])


def test_300_lines_with_250_on_one_timestamp_and_pages_of_100_all_arrive(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    burst = entries(250, lines=lambda i: f"burst {i}", same_ts=True)
    rest = [
        LogEntry(ts_ns=e.ts_ns + 10**9 * 60, labels=LABELS, line=f"later {i}")
        for i, e in enumerate(entries(50))
    ]
    fake_loki.serve(burst + rest)

    result = logs({**loki_env, "LOKI_PAGE_SIZE": "100"}, "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["count"] == 300
    assert sorted(e["line"] for e in data["entries"]) == sorted(e.line for e in burst + rest)
    assert data["truncated"] is False


def test_a_loki_that_cannot_serve_a_whole_timestamp_says_truncated(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    fake_loki.max_entries_limit = 100
    fake_loki.serve(entries(250, lines=lambda i: f"burst {i}", same_ts=True))

    result = logs({**loki_env, "LOKI_PAGE_SIZE": "100"}, "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["truncated"] is True
    assert len({e["line"] for e in data["entries"]}) == data["count"] == 100
    assert "share the timestamp" in data["warnings"][0]
    plain = logs({**loki_env, "LOKI_PAGE_SIZE": "100"})
    assert "truncated" in plain.stderr
    assert "warning: more than 100 lines share the timestamp" in plain.stderr


def test_a_loki_that_ignores_end_ends_in_one_line_not_duplicates(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    fake_loki.serve(entries(30))
    fake_loki.ignore_end = True

    assert_one_line_error(logs({**loki_env, "LOKI_PAGE_SIZE": "10"}), "ignores the requested time range")


def test_a_trickled_answer_ends_at_the_deadline(loki_env: dict[str, str], fake_loki: FakeLoki) -> None:
    fake_loki.serve(entries(100, lines=lambda i: "x" * 100))
    fake_loki.trickle(chunk_bytes=8, interval_s=0.05)

    result = logs({**loki_env, "LOKI_DEADLINE_SECONDS": "1"})

    assert_one_line_error(result, "ran past LOKI_DEADLINE_SECONDS=1 while reading its answer")


def test_retry_after_an_hour_ends_at_once_naming_the_deadline(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    fake_loki.fail_next(1, 429, headers={"Retry-After": "3600"})

    result = logs({**loki_env, "LOKI_MAX_RETRIES": "4"})

    # It stopped at once: one request, no waiting for the hour or for the 120 s deadline.
    assert_one_line_error(result, "Retry-After", "LOKI_DEADLINE_SECONDS=120")
    assert len(fake_loki.requests) == 1


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (json_reply({"status": "error", "errorType": "bad_data", "error": "parse error: unexpected }"}),
         "status error: parse error"),
        (raw_reply(502, b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                   {"Content-Type": "text/html"}), "an HTML page titled '502 Bad Gateway'"),
        (raw_reply(200, b'{"status": "success", "data": {"resultType": "str', {"Content-Type": "application/json"}),
         "the answer was cut off"),
        (raw_reply(200, b"<html><title>Grafana</title>Sign in</html>", {"Content-Type": "text/html"}),
         "an HTML page titled 'Grafana'"),
        (raw_reply(200, b'{"status": "success", "data": {"resultType": "streams", "result": []}}',
                   {"Content-Type": "application/json", "Content-Encoding": "gzip"}), "not valid gzip"),
        (raw_reply(302, b"", {"Location": "http://elsewhere.example/login"}), "does not follow redirects"),
        (raw_reply(400, b"parse error \x1b[2J\x1b]0;owned\x07 at line 1\n", {"Content-Type": "text/plain"}),
         "parse error ␛[2J␛]0;owned"),
    ],
    ids=["200-status-error", "html-502", "cut-off-json", "login-page", "gzip-lie", "redirect", "escapes-in-error"],
)  # fmt: skip
def test_misbehaving_answers_end_in_one_line(
    loki_env: dict[str, str], fake_loki: FakeLoki, reply: Reply, needle: str
) -> None:
    fake_loki.answer_next(5, reply)

    result = logs(loki_env)

    assert_one_line_error(result, needle)
    assert_clean(result)


def test_json_with_the_wrong_content_type_is_read(loki_env: dict[str, str], fake_loki: FakeLoki) -> None:
    fake_loki.serve(entries(2))
    body = fake_loki.respond(
        "GET", "/loki/api/v1/query_range?query=%7Bnamespace%3D%22payments%22%7D", {}
    ).body
    fake_loki.requests.clear()
    fake_loki.answer_next(1, raw_reply(200, body, {"Content-Type": "text/plain; charset=utf-8"}))

    result = logs(loki_env, "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["count"] == 2


# --- secrets and the terminal ---------------------------------------------------------------------------


def test_a_password_in_loki_url_is_used_but_never_printed(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    with_password = fake_loki.url.replace("http://", "http://grafana:Sup3r-s3cret@")
    fake_loki.fail_next(1, 400, body="bad query from grafana:Sup3r-s3cret\n")

    failed = logs({**loki_env, "LOKI_URL": with_password})
    refused = logs({**loki_env, "LOKI_URL": f"http://grafana:Sup3r-s3cret@127.0.0.1:{free_port()}"})

    assert fake_loki.requests[0].header("Authorization") is not None
    assert_one_line_error(failed, "answered 400")
    assert_one_line_error(refused, "could not connect to Loki")
    assert_clean(failed, "Sup3r-s3cret")
    assert_clean(refused, "Sup3r-s3cret")


def test_escape_sequences_and_markup_in_log_lines_print_literally(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    hostile = ["\x1b[2Jcleared", "\x1b]0;title\x07set", "[bold red]not bold[/]", "two\nlines", "\x9b31mred"]
    fake_loki.serve(entries(len(hostile), lines=lambda i: hostile[i]))

    result = logs(loki_env)

    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert "␛[2Jcleared" in result.stdout
    assert "[bold red]not bold[/]" in result.stdout
    assert "two␊lines" in result.stdout
    assert len(result.stdout.splitlines()) == len(hostile)  # a newline inside a line is not a new entry
    as_json = logs(loki_env, "--json")
    assert {e["line"] for e in json.loads(as_json.stdout)["entries"]} == set(hostile)
    assert_clean(as_json)


# --- usage errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("logs", "-n", "payments", "--limit", "0"), "'--limit'"),
        (("logs", "-n", "payments", "--limit", "\x1b[2Jabc"), "'--limit'"),
        (("triage", "-n", "payments", "--model", "m", "--limit", "0"), "'--limit'"),
        (("logs",), "Missing option '--namespace'"),
        (("logs", "-n", "x", "--bogus"), "No such option: --bogus"),
        (("tirage",), "No such command 'tirage'"),
    ],
)
def test_usage_errors_are_one_line_not_a_box(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    result = cli(*args, env={"DATA_DIR": str(tmp_path)})

    assert result.returncode == 2
    assert_one_line_error(result, needle, "--help`)")
    assert "╭" not in result.stderr
    assert_clean(result)


# --- Ctrl-C during a triage -------------------------------------------------------------------------------


def test_ctrl_c_during_a_triage_stores_it_as_cancelled_with_its_partial_figures(
    tmp_path: Path, fake_openai_server: FakeOpenAIServer
) -> None:
    tokens = ['{"root_cause": ', '"oom_killed", ', '"confidence": ', "0.9"] * 20
    fake_openai_server.script.tokens = tokens
    fake_openai_server.script.hang_after = 4  # then the server stalls mid-answer
    models = tmp_path / "models.yaml"
    models.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "fake",
                        "base_url": fake_openai_server.base_url,
                        "quantization": "Q4_K_M",
                        "context_length": 8192,
                        "response_format_style": "json_object",
                    }
                ]
            }
        )
    )
    data_dir = tmp_path / "data"
    env = cli_env({"DATA_DIR": str(data_dir), "MODELS_FILE": str(models)})
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "triage", "-n", "payments", "--since", "1h", "--model", "fake"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + CLI_TIMEOUT

        def answering() -> bool:  # past the one-token measurement of the prompt rate, if any
            return any(r.body.get("max_tokens", 0) > 1 for r in fake_openai_server.chat_requests())

        while not answering() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answering(), "the CLI never asked the model"
        time.sleep(3.0)  # the four tokens reach the client; then the user presses Ctrl-C
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=CLI_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cancelled: the triage was stopped; stored as cancelled run ")
    assert "Traceback" not in stderr
    engine = get_engine(f"sqlite:///{data_dir / 'logtriage.db'}")
    with session_scope(engine) as session:
        [row] = session.scalars(select(TriageRunRow)).all()
    assert row.id in lines[0]
    assert (row.status, row.error_kind) == ("cancelled", "cancelled")
    assert row.completion_tokens is not None
    assert 1 <= row.completion_tokens <= 4  # what streamed before the stall (all 4 unless very busy)
    assert f"{row.completion_tokens} tokens" in lines[0]
    assert row.ttft_ms is not None
    assert row.total_ms is not None
    assert row.total_ms > row.ttft_ms
    assert row.raw_output == "".join(tokens[: row.completion_tokens])
    assert row.log_lines > 0


def test_a_reader_that_stops_early_ends_the_command_quietly(
    loki_env: dict[str, str], fake_loki: FakeLoki
) -> None:
    fake_loki.serve(entries(3000, lines=lambda i: f"line {i} " + "x" * 100))  # far more than a pipe buffers
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "logs", "-n", "payments", "--since", "1h", "--limit", "3000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(loki_env),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=CLI_TIMEOUT)

    assert "line 0 " in first
    assert process.returncode == 1
    assert "Traceback" not in stderr
    assert "BrokenPipe" not in stderr
    assert "Exception ignored" not in stderr


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ({"LOKI_PAGE_SIZE": "0"}, "LOKI_PAGE_SIZE is not valid"),
        ({"LOKI_DEADLINE_SECONDS": "soon"}, "LOKI_DEADLINE_SECONDS is not valid"),
        ({"DATABASE_URL": "postgresql+nosuchdriver://app:Pw-9f8e7d@db/logs"}, "DATABASE_URL"),
        ({"LOKI_TENANT": "team\r\nX-Injected: 1"}, "LOKI_TENANT holds characters"),
        ({"LOKI_URL": "ftp://loki:3100"}, "not an http(s) URL"),
    ],
)
def test_bad_settings_end_in_one_line_naming_the_variable(
    loki_env: dict[str, str], setting: dict[str, str], needle: str
) -> None:
    result = cli("triage", "-n", "payments", "--model", "m", env={**loki_env, **setting})

    assert_one_line_error(result, needle)
    assert_clean(result, "Pw-9f8e7d")
