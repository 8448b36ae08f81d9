"""One error tree for LogTriage; every face (CLI, dashboard, eval job) catches ``LogTriageError``.

Exceptions from other libraries (httpx, SQLAlchemy, Jinja2, pydantic) are translated into these at the
boundary where the call is made, so callers never see a third-party exception type. Each class carries
its ``kind`` (a short stable name, used as a metric label and stored with a failed run) and a default
``hint`` (what to do); ``error_kind`` and ``user_message`` read them for any exception, and
``user_message`` is where credentials are redacted before text reaches a user, a log or the store.

    LogTriageError                    kind
    ├── ConfigError                   config          bad or missing settings, models file problems
    │   ├── UnknownModelError         config          a model name not in the models file
    │   └── UnknownPromptError        config          a prompt name or version that does not exist
    ├── InputError                    input           bad user input (end before start, malformed filter or JSONL)
    ├── LogSourceError                log_source      the log source failed
    │   ├── LokiConnectError          loki_connect    could not connect to Loki
    │   ├── LokiTimeoutError          loki_timeout    Loki did not answer in time
    │   │   └── LokiDeadlineError     loki_deadline   the whole query ran past LOKI_DEADLINE_SECONDS
    │   ├── LokiHTTPError             loki_http       Loki answered with an error status (its text kept)
    │   ├── LokiProtocolError         loki_protocol   Loki's answer does not follow its API
    │   └── UnsupportedQueryError     log_source      the demo source cannot answer this LogQL
    ├── PromptError                   prompt          a template failed to load or render
    ├── LLMError                      llm             the model server failed
    │   ├── LLMConnectError           llm_connect     could not connect to the model server
    │   ├── LLMTimeoutError           llm_timeout     the model server did not answer in time
    │   ├── LLMHTTPError              llm_http        the model server answered with an error status
    │   ├── LLMResponseTooLargeError  llm_too_large   the answer grew past LLM_MAX_RESPONSE_BYTES
    │   ├── InvalidOutputError        invalid_output  the answer is not valid against the RCA schema
    │   └── InferenceCancelled        cancelled       the user cancelled a running request
    ├── ModelServerError              model_server    the local llama-server could not be built or started
    ├── StoreError                    store           the database failed
    ├── ExportError                   export          pushing metrics or exporting data failed
    └── InternalError                 internal        a bug: an exception nobody translated

Exceptions that are not LogTriageErrors read as kind ``internal`` (``cancelled`` for Ctrl-C).
"""

from __future__ import annotations

import re
import threading
from typing import ClassVar

# --- redaction ------------------------------------------------------------------------------------

REDACTED = "***"
# Shorter strings are too likely to occur in ordinary text to be replaced wherever they appear.
_MIN_KNOWN_SECRET = 4
_known_secrets: set[str] = set()
_known_lock = threading.Lock()

# scheme://user:password@host -> scheme://***@host (the user part can be a token too).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@?#]+@")
# "Bearer eyJ..." and "Basic dXNlcjpw..." as sent in an Authorization header.
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/\-]{8,}=*")
# password=..., "api_key": "...", token: ..., X-Api-Key: ... in query strings, JSON, DSNs and headers.
_SECRET_FIELD = re.compile(
    r"""(?ix)
    (["']?)\b(
        password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token|auth_token|
        api[_-]?key|x-api-key|private[_-]?key|sig|signature|authorization|cookie|set-cookie
    )\b\1
    (\s*[:=]\s*)
    (["']?)
    (?!\*\*\*)(?!bearer\b|basic\b)[^\s"'&,;})\]>]+
    """
)


def register_secret(value: str | None) -> None:
    """Remember a credential of this process (a password, token or key) so every message hides it."""
    if value and len(value) >= _MIN_KNOWN_SECRET:
        with _known_lock:
            _known_secrets.add(value)


def redact(text: str) -> str:
    """``text`` with credentials replaced by ***: URL user info, bearer/basic tokens, secret fields, known secrets."""
    with _known_lock:
        known = sorted(_known_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    text = _AUTH_SCHEME.sub(rf"\1\2{REDACTED}", text)
    return _SECRET_FIELD.sub(rf"\1\2\1\3\4{REDACTED}", text)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) collapsed into one space."""
    return " ".join(text.split())


# --- the tree -----------------------------------------------------------------------------------------


class LogTriageError(Exception):
    """Base of every error LogTriage raises on purpose; its message is meant for the user."""

    kind: ClassVar[str] = "other"
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def user_message(self) -> str:
        """One line for the user: what went wrong and, when known, what to do; credentials redacted."""
        text = one_line(str(self))
        return redact(f"{text} ({self.hint})" if self.hint else text)


class ConfigError(LogTriageError):
    """Settings or the models file are wrong."""

    kind = "config"


class UnknownModelError(ConfigError):
    """A model name that the models file does not list."""


class UnknownPromptError(ConfigError):
    """A prompt name or version that does not exist."""


class InputError(LogTriageError):
    """User input that cannot be used as given."""

    kind = "input"


class LogSourceError(LogTriageError):
    """The log source (Loki or the demo source) failed."""

    kind = "log_source"


class LokiConnectError(LogSourceError):
    """Loki could not be reached."""

    kind = "loki_connect"
    hint = "check LOKI_URL and that Loki is running"


class LokiTimeoutError(LogSourceError):
    """Loki did not answer within the timeout."""

    kind = "loki_timeout"
    hint = "try a shorter time range, or raise LOKI_TIMEOUT_SECONDS"


class LokiDeadlineError(LokiTimeoutError):
    """A whole Loki query (every page, retry and wait) ran past its overall deadline."""

    kind = "loki_deadline"
    hint = "narrow the time range or the filters, or raise LOKI_DEADLINE_SECONDS"


class LokiHTTPError(LogSourceError):
    """Loki answered with an error status; ``body`` is Loki's own text."""

    kind = "loki_http"

    def __init__(self, message: str, *, status_code: int, body: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.body = body


class LokiProtocolError(LogSourceError):
    """Loki's answer does not follow its HTTP API (not JSON, malformed fields, time range ignored...)."""

    kind = "loki_protocol"
    hint = "check that LOKI_URL points at Loki itself (not Grafana, a login page or a rewriting proxy)"


class UnsupportedQueryError(LogSourceError):
    """The demo source cannot answer this query."""


class PromptError(LogTriageError):
    """A prompt template failed to load or render."""

    kind = "prompt"


class LLMError(LogTriageError):
    """The model server failed."""

    kind = "llm"


class LLMConnectError(LLMError):
    """The model server could not be reached."""

    kind = "llm_connect"
    hint = "is the model server running? `logtriage models` shows each endpoint's health"


class LLMTimeoutError(LLMError):
    """The model server did not answer within the timeout."""

    kind = "llm_timeout"
    hint = "raise LLM_TIMEOUT_SECONDS or use a smaller prompt or model"


class LLMHTTPError(LLMError):
    """The model server answered with an error status."""

    kind = "llm_http"

    def __init__(self, message: str, *, status_code: int, body: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.body = body


class LLMResponseTooLargeError(LLMError):
    """The model server streamed more than LLM_MAX_RESPONSE_BYTES for one answer."""

    kind = "llm_too_large"


class InvalidOutputError(LLMError):
    """The model's answer does not validate against the RCA schema; ``raw`` keeps what it said."""

    kind = "invalid_output"

    def __init__(self, message: str, *, raw: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.raw = raw


class InferenceCancelled(LLMError):
    """The user cancelled a running request."""

    kind = "cancelled"


class ModelServerError(LogTriageError):
    """The local llama-server could not be built or started."""

    kind = "model_server"


class StoreError(LogTriageError):
    """The database failed."""

    kind = "store"


class ExportError(LogTriageError):
    """Pushing metrics or exporting data failed."""

    kind = "export"


class InternalError(LogTriageError):
    """An exception nobody translated: a bug in LogTriage, reported as one line instead of a traceback."""

    kind = "internal"
    hint = "this is a bug in LogTriage; please report it with the command you ran"

    @classmethod
    def wrap(cls, exc: BaseException) -> InternalError:
        """The InternalError describing an unexpected exception by its type and message."""
        detail = one_line(str(exc))
        return cls(f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else ""))


# --- the one reader -------------------------------------------------------------------------------


def error_kind(exc: BaseException) -> str:
    """The short, stable name of any exception's kind: a metric label, stored with a failed run."""
    if isinstance(exc, LogTriageError):
        return exc.kind
    if isinstance(exc, KeyboardInterrupt):
        return InferenceCancelled.kind
    return InternalError.kind


def user_message(exc: BaseException) -> str:
    """One redacted line describing any exception for a user: LogTriageErrors by their own message."""
    error = exc if isinstance(exc, LogTriageError) else InternalError.wrap(exc)
    return error.user_message()
