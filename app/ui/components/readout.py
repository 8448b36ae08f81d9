"""Durations and speeds for people, the latency readout, and the Cancel button of a running job."""

from __future__ import annotations

import threading

import streamlit as st

# One threshold for every decode rate: below this span of decoding no rate is shown.
from app.llm.stream import MIN_DECODE_MS

NONE = "—"


def format_duration(seconds: float | None) -> str:
    """A duration as people say it: '—', '0.4 ms', '850 ms', '6.2 s', '1 min 12 s' or '2 h 5 min'."""
    if seconds is None or seconds != seconds:  # None or NaN
        return NONE
    seconds = max(seconds, 0.0)
    ms = seconds * 1000
    if round(ms, 1) < 10:
        return f"{ms:.1f} ms"
    if round(ms) < 1000:
        return f"{ms:.0f} ms"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min"


def format_ms(value: float | None) -> str:
    """Milliseconds for people (see ``format_duration``)."""
    return format_duration(None if value is None else value / 1000)


def shown_rate(tokens_per_s: float | None, ttft_ms: float | None, total_ms: float | None) -> float | None:
    """A recorded tokens/s, or None when its decode phase was too short for it to mean anything."""
    if not tokens_per_s or ttft_ms is None or total_ms is None or total_ms - ttft_ms < MIN_DECODE_MS:
        return None
    return tokens_per_s


def format_rate(tokens_per_s: float | None) -> str:
    """Tokens per second, or '—' when there is no meaningful rate."""
    return NONE if not tokens_per_s else f"{tokens_per_s:,.1f}"


def latency_readout(
    elapsed_ms: float | None, ttft_ms: float | None, tokens_per_s: float | None, tokens: int | None
) -> None:
    """Elapsed time, time to first token, tokens/s and tokens, side by side."""
    cols = st.columns(4)
    cols[0].metric("Elapsed", format_ms(elapsed_ms))
    cols[1].metric("Time to first token", format_ms(ttft_ms))
    cols[2].metric(
        "Tokens/s",
        format_rate(tokens_per_s),
        help="Decoding speed: tokens after the first, per second since the first. "
        "Shown once there are two tokens and a quarter of a second of decoding.",
    )
    cols[3].metric("Tokens", NONE if tokens is None else f"{tokens:,}")


def cancel_button(cancel: threading.Event, *, key: str, label: str = "Cancel") -> None:
    """A button that sets ``cancel``; disabled once it is set."""
    st.button(label, key=key, icon=":material/stop_circle:", on_click=cancel.set, disabled=cancel.is_set())
