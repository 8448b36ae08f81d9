"""The error tree: each class carries its kind and hint, and every user message has credentials redacted."""

from __future__ import annotations

import pytest

from app.errors import (
    ConfigError,
    InferenceCancelled,
    InternalError,
    LLMConnectError,
    LogTriageError,
    LokiDeadlineError,
    LokiHTTPError,
    LokiTimeoutError,
    StoreError,
    UnknownModelError,
    error_kind,
    redact,
    register_secret,
    user_message,
)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LokiDeadlineError("x"), "loki_deadline"),
        (LokiTimeoutError("x"), "loki_timeout"),
        (LokiHTTPError("x", status_code=500), "loki_http"),
        (LLMConnectError("x"), "llm_connect"),
        (InferenceCancelled("x"), "cancelled"),
        (UnknownModelError("x"), "config"),
        (StoreError("x"), "store"),
        (LogTriageError("x"), "other"),
        (KeyboardInterrupt(), "cancelled"),
        (ValueError("x"), "internal"),
    ],
)
def test_the_kind_is_read_from_the_class(error: BaseException, kind: str) -> None:
    assert error_kind(error) == kind


def test_a_class_hint_is_the_default_and_a_given_hint_wins() -> None:
    assert LokiTimeoutError("slow").user_message() == f"slow ({LokiTimeoutError.hint})"
    assert LokiTimeoutError("slow", hint="wait").user_message() == "slow (wait)"
    assert ConfigError("bad").user_message() == "bad"


def test_any_exception_becomes_one_line_naming_it_as_a_bug() -> None:
    message = user_message(ZeroDivisionError("division by zero\nat line 3"))

    assert message.startswith("unexpected ZeroDivisionError: division by zero at line 3 (this is a bug")
    assert error_kind(InternalError.wrap(ZeroDivisionError())) == "internal"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("could not connect to http://admin:hunter2@loki:3100/ready", "hunter2"),
        ("could not connect to https://glpat-abcdef123456@gitlab.example/x", "glpat-abcdef123456"),
        ("sent Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("header authorization=Basic dXNlcjpzM2NyZXQ=", "dXNlcjpzM2NyZXQ="),
        ("GET /query?api_key=AKIA1234567890&limit=5", "AKIA1234567890"),
        ('{"password": "p@ss w0rd", "user": "bob"}', "p@ss"),
        ("dsn host=db password=s3cr3t dbname=logs", "s3cr3t"),
        ("X-Api-Key: 0123456789abcdef", "0123456789abcdef"),
        ("redirected to https://sso.example/cb?access_token=ya29.a0AfH6&state=1", "ya29.a0AfH6"),
    ],
)
def test_credentials_are_redacted(text: str, secret: str) -> None:
    cleaned = redact(text)

    assert secret not in cleaned
    assert "***" in cleaned


def test_ordinary_text_is_left_alone() -> None:
    for text in (
        "max_tokens=512 exceeded; 1,204 tokens in the prompt",
        "Basic auth failed for user bob",
        "the token budget is 4096",
        "Loki at http://loki:3100 answered 400 (see /loki/api/v1/query_range)",
    ):
        assert redact(text) == text


def test_a_registered_secret_is_hidden_wherever_it_appears() -> None:
    register_secret("correct-horse-battery")
    register_secret("abc")  # too short to hide everywhere

    message = LokiHTTPError(
        "Loki echoed the header: token was correct-horse-battery (abc)", status_code=400
    ).user_message()

    assert "correct-horse-battery" not in message
    assert "(abc)" in message
