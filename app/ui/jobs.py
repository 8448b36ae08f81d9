"""Work on a background thread for one dashboard session: live triage and live evals both run on it.

A job runs ``work(cancel, report)`` on a daemon thread. The work never calls Streamlit: it reports what
it has (events, progress) through ``report``, and the page drains the job's queue on its reruns. Cancel
sets the job's ``threading.Event``, which the work passes on (the LLM client and the eval runner check
it). However the work ends, the job ends: an exception becomes a ``JobFailure`` with the error's kind
and its redacted one-line message, and the end is marked after it. One job per session key: starting a
new one cancels the one before.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from app.errors import LogTriageError, error_kind, user_message

log = logging.getLogger(__name__)

Report = Callable[[object], None]
Work = Callable[[threading.Event, Report], None]


@dataclass(frozen=True)
class JobFailure:
    """The work raised: the error's kind (the dashboard's heading) and its one-line, redacted message."""

    kind: str
    message: str


_END = object()


class BackgroundJob:
    """One piece of work on its own thread, its cancel switch and the queue of what it reported."""

    def __init__(self, work: Work, *, name: str) -> None:
        self.cancel = threading.Event()
        self.started = time.perf_counter()
        self.finished: float | None = None
        self.failure: JobFailure | None = None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, args=(work, name), name=name, daemon=True)

    def _run(self, work: Work, name: str) -> None:
        try:
            work(self.cancel, self._queue.put)
        except Exception as exc:
            if not isinstance(exc, LogTriageError):
                log.exception("%s failed", name)
            self._queue.put(JobFailure(error_kind(exc), user_message(exc)))
        finally:
            self._queue.put(_END)

    def start(self) -> BackgroundJob:
        """Start the thread; returns the job."""
        self.thread.start()
        return self

    def drain(self) -> list[object]:
        """What the work reported since the last drain, in order (a failure last); marks the end."""
        items: list[object] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is _END:
                self.finished = time.perf_counter()
                continue
            if isinstance(item, JobFailure):
                self.failure = item
            items.append(item)

    @property
    def done(self) -> bool:
        """Whether the work has ended and everything it reported has been drained."""
        return self.finished is not None

    def elapsed_s(self) -> float:
        """Seconds since the job started, until it finished."""
        end = self.finished if self.finished is not None else time.perf_counter()
        return end - self.started


def start_job(key: str, owner: Any) -> None:
    """Keep ``owner`` (which holds a ``job``) in the session under ``key`` and start its job; a job
    still running under that key is cancelled first."""
    previous = st.session_state.get(key)
    if previous is not None and not previous.job.done:
        previous.job.cancel.set()
    st.session_state[key] = owner
    owner.job.start()
