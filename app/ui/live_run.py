"""A triage run in a background thread, and the live panel that follows it without rerunning the page.

The run is a ``BackgroundJob`` (app/ui/jobs.py, shared with live evals) that iterates
``TriageService.stream`` and reports every event; the panel is an
``st.fragment`` that reruns every ``POLL_S`` while the run is active, drains the queue into the run's
state and redraws the tokens and the latency readout. The panel sits in ``st.bottom``, pinned to the
foot of the window, so the readout and Cancel are in view wherever the page is scrolled. Cancel sets
the run's ``threading.Event``, which the LLM client checks while it waits for the server. The run lives
in ``st.session_state`` under ``STATE_KEY``, which only this module reads or writes.

What the run measured on its way (tokens so far, time to first token, elapsed) stays on the run, so a
cancelled or failed run still shows how far it got.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import streamlit as st

from app.llm.stream import decode_tokens_per_s
from app.logs.models import LogQueryResult
from app.triage import (
    LogsEvent,
    PreparedPrompt,
    PromptEvent,
    ResultEvent,
    TokenStreamEvent,
    TriageEvent,
    TriageRequest,
    TriageResult,
)
from app.ui import components
from app.ui.jobs import BackgroundJob, JobFailure, Report, start_job

log = logging.getLogger(__name__)

STATE_KEY = "live_run.triage"
POLL_S = 0.25
# The end of the streamed answer shown in the panel: enough to watch it grow, small enough to stay one
# short box at the foot of the window.
TAIL_CHARS = 600

StreamFn = Callable[[TriageRequest, threading.Event], Iterator[TriageEvent]]


@dataclass
class LiveRun:
    """One triage run: its background job and what has arrived so far."""

    request: TriageRequest
    job: BackgroundJob
    example_id: str | None = None
    run_key: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    text: str = ""
    tokens: int = 0
    ttft_ms: float | None = None
    last_token_ms: float | None = None
    phase: str = "fetching logs"
    logs: LogQueryResult | None = None
    prepared: PreparedPrompt | None = None
    result: TriageResult | None = None
    announced: bool = False

    @property
    def cancel(self) -> threading.Event:
        """The run's cancel switch."""
        return self.job.cancel

    @property
    def thread(self) -> threading.Thread:
        """The thread the run works on."""
        return self.job.thread

    @property
    def failure(self) -> JobFailure | None:
        """How the run failed, when it ended without a TriageResult."""
        return self.job.failure

    @property
    def done(self) -> bool:
        """Whether the run has ended (result, failure or crash) and its queue is drained."""
        return self.job.done

    def drain(self) -> None:
        """Fold every reported event into the run's state."""
        for item in self.job.drain():
            self._apply(item)
        if self.job.failure is not None:
            self.phase = "error"

    def _apply(self, item: object) -> None:
        if isinstance(item, TokenStreamEvent):
            if self.ttft_ms is None:
                self.ttft_ms = item.elapsed_ms
            self.text += item.text
            self.tokens = item.tokens_so_far
            self.last_token_ms = item.elapsed_ms
            self.phase = "streaming"
        elif isinstance(item, LogsEvent):
            self.logs = item.result
            self.phase = "fitting the prompt"
        elif isinstance(item, PromptEvent):
            self.prepared = item.prepared
            self.phase = "waiting for the first token"
        elif isinstance(item, ResultEvent):
            self.result = item.result
            self.phase = item.result.status

    @property
    def elapsed_ms(self) -> float:
        """Wall time since the run started (until it finished)."""
        return self.job.elapsed_s() * 1000

    @property
    def tokens_per_s(self) -> float | None:
        """Decoding speed so far (tokens after the first per second since the first); None until it means something."""
        if self.result is not None:
            return self.result.tokens_per_s
        return decode_tokens_per_s(self.tokens, self.ttft_ms, self.last_token_ms)

    @property
    def partial(self) -> bool:
        """Whether the run stopped (cancelled or failed) after the prompt went to the model."""
        stopped = self.failure is not None or (self.result is not None and self.result.status != "ok")
        return self.done and stopped and self.prepared is not None

    def evidence_keys(self) -> dict[tuple[int, str], int]:
        """(timestamp, line) of every log entry the model cited, with the cited line number."""
        if self.result is None or self.logs is None:
            return {}
        return components.evidence_keys(self.result.evidence, self.logs.entries)


def start_run(stream: StreamFn, request: TriageRequest, *, example_id: str | None = None) -> LiveRun:
    """Start a run in a background job and remember it in the session (cancelling the one before)."""

    def work(cancel: threading.Event, report: Report) -> None:
        for event in stream(request, cancel):
            report(event)

    run = LiveRun(request=request, job=BackgroundJob(work, name="triage-run"), example_id=example_id)
    start_job(STATE_KEY, run)
    return run


def current_run() -> LiveRun | None:
    """The session's latest run, its queue drained."""
    run = st.session_state.get(STATE_KEY)
    if run is not None:
        run.drain()
    return run


def is_active() -> bool:
    """Whether a run is in progress in this session."""
    run = current_run()
    return run is not None and not run.done


def clear_run() -> None:
    """Forget the session's run (cancelling it if it still runs)."""
    run = st.session_state.pop(STATE_KEY, None)
    if run is not None and not run.done:
        run.cancel.set()


def live_panel() -> None:
    """The running run's tokens, readout and Cancel button at the foot of the window, refreshed on their own."""
    run = current_run()
    if run is None:
        return
    if run.done:
        # This full rerun draws the result; the panel has nothing more to say.
        run.announced = True
        return
    with st.bottom:
        st.fragment(_panel, run_every=POLL_S)()


def partial_readout(run: LiveRun) -> None:
    """How far a run that stopped early got: its tokens, time to first token and elapsed time."""
    st.caption("How far the run got before it stopped")
    components.latency_readout(run.elapsed_ms, run.ttft_ms, run.tokens_per_s, run.tokens)


def _panel() -> None:
    run = current_run()
    if run is None:
        return
    if run.done:
        if not run.announced:
            # Finished during a fragment rerun: the result, the evidence in the table and the trace
            # are drawn by a full rerun.
            run.announced = True
            st.rerun()
        return
    with st.container(border=True):
        phase, cancel = st.columns([5, 1], vertical_alignment="center")
        phase.caption(f"Working: {run.phase} …")
        with cancel:
            components.cancel_button(run.cancel, key=f"live_run.cancel.{run.run_key}")
        components.latency_readout(run.elapsed_ms, run.ttft_ms, run.tokens_per_s, run.tokens)
        tail = run.text[-TAIL_CHARS:]
        st.code(("…" if len(run.text) > TAIL_CHARS else "") + tail or " ", language="json", height=96)
