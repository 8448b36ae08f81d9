"""Errors on screen: a heading per kind of failure, the message as plain text, and per-section boundaries."""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager

import streamlit as st

from app.errors import LogTriageError, error_kind, user_message
from app.llm.models import ModelHealth
from app.ui.components.text import literal

log = logging.getLogger(__name__)

ERROR_TITLES: dict[str, str] = {
    "loki_connect": "Cannot reach Loki",
    "loki_timeout": "Loki did not answer in time",
    "loki_http": "Loki refused the query",
    "log_source": "The log source failed",
    "llm_connect": "Cannot reach the model server",
    "llm_timeout": "The model did not answer in time",
    "llm_http": "The model server answered with an error",
    "invalid_output": "The model's answer is not a valid root-cause analysis",
    "cancelled": "Cancelled",
    "llm": "The model failed",
    "input": "Check the input",
    "config": "Configuration problem",
    "prompt": "The prompt failed",
    "store": "The database failed",
    "internal": "Something went wrong",
    "other": "Something went wrong",
}


def error_title(kind: str) -> str:
    """The heading shown above an error of this kind."""
    return ERROR_TITLES.get(kind, ERROR_TITLES["other"])


def error_box(message: str, kind: str = "other") -> None:
    """An error alert: a heading for the kind of failure and the message as plain text."""
    st.error(literal(message), icon=":material/error:", title=error_title(kind))


def show_error(exc: BaseException) -> None:
    """An error alert for an exception: its redacted one-line message under its kind's heading."""
    error_box(user_message(exc), error_kind(exc))


def model_down_box(health: ModelHealth, *, local: bool) -> None:
    """An error alert for a model endpoint that is not healthy, saying how to start local ones."""
    kind = "llm_connect" if health.status == "unreachable" else "llm"
    hint = " (the local tiny models run with `logtriage serve-models` or `logtriage demo`)" if local else ""
    error_box(f"{health.name}: {health.detail}{hint}", kind)


@contextmanager
def error_boundary(what: str) -> Generator[None]:
    """Show an error in this section instead of a traceback, so the rest of the page keeps working."""
    try:
        yield
    except LogTriageError as exc:
        show_error(exc)
    except Exception as exc:
        # Streamlit's rerun/stop signals are BaseExceptions and pass through untouched.
        log.exception("unexpected error while %s", what)
        show_error(exc)
