"""One error tree for LogTriage; every face (CLI, dashboard, eval job) catches ``LogTriageError``.

Exceptions from other libraries (httpx, SQLAlchemy, Jinja2, pydantic) are translated into these at the
boundary where the call is made, so callers never see a third-party exception type.

    LogTriageError
    ├── ConfigError               bad or missing settings, models file problems
    │   ├── UnknownModelError     a model name not in the models file
    │   └── UnknownPromptError    a prompt name or version that does not exist
    ├── InputError                bad user input (end before start, malformed filter or JSONL)
    ├── LogSourceError            the log source failed
    │   ├── LokiConnectError      could not connect to Loki
    │   ├── LokiTimeoutError      Loki did not answer in time
    │   ├── LokiHTTPError         Loki answered with an error status (its text kept verbatim)
    │   └── UnsupportedQueryError the demo source cannot answer this LogQL
    ├── PromptError               a template failed to load or render
    ├── LLMError                  the model server failed
    │   ├── LLMConnectError       could not connect to the model server
    │   ├── LLMTimeoutError       the model server did not answer in time
    │   ├── LLMHTTPError          the model server answered with an error status
    │   ├── LLMResponseTooLargeError  the answer grew past LLM_MAX_RESPONSE_BYTES
    │   ├── InvalidOutputError    the answer is not valid against the RCA schema
    │   └── InferenceCancelled    the user cancelled a running request
    ├── ModelServerError          the local llama-server could not be built or started
    ├── StoreError                the database failed
    └── ExportError               pushing metrics or exporting data failed
"""

from __future__ import annotations


class LogTriageError(Exception):
    """Base of every error LogTriage raises on purpose; its message is meant for the user."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def user_message(self) -> str:
        """One line for the user: what went wrong and, when known, what to do."""
        text = " ".join(str(self).split())
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(LogTriageError):
    """Settings or the models file are wrong."""


class UnknownModelError(ConfigError):
    """A model name that the models file does not list."""


class UnknownPromptError(ConfigError):
    """A prompt name or version that does not exist."""


class InputError(LogTriageError):
    """User input that cannot be used as given."""


class LogSourceError(LogTriageError):
    """The log source (Loki or the demo source) failed."""


class LokiConnectError(LogSourceError):
    """Loki could not be reached."""


class LokiTimeoutError(LogSourceError):
    """Loki did not answer within the timeout."""


class LokiHTTPError(LogSourceError):
    """Loki answered with an error status; ``body`` is Loki's own text."""

    def __init__(self, message: str, *, status_code: int, body: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.body = body


class UnsupportedQueryError(LogSourceError):
    """The demo source cannot answer this query."""


class PromptError(LogTriageError):
    """A prompt template failed to load or render."""


class LLMError(LogTriageError):
    """The model server failed."""


class LLMConnectError(LLMError):
    """The model server could not be reached."""


class LLMTimeoutError(LLMError):
    """The model server did not answer within the timeout."""


class LLMHTTPError(LLMError):
    """The model server answered with an error status."""

    def __init__(self, message: str, *, status_code: int, body: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.body = body


class LLMResponseTooLargeError(LLMError):
    """The model server streamed more than LLM_MAX_RESPONSE_BYTES for one answer."""


class InvalidOutputError(LLMError):
    """The model's answer does not validate against the RCA schema; ``raw`` keeps what it said."""

    def __init__(self, message: str, *, raw: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.raw = raw


class InferenceCancelled(LLMError):
    """The user cancelled a running request."""


class ModelServerError(LogTriageError):
    """The local llama-server could not be built or started."""


class StoreError(LogTriageError):
    """The database failed."""


class ExportError(LogTriageError):
    """Pushing metrics or exporting data failed."""
