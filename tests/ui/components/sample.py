"""A small log frame the component tests share: four lines a minute apart, ending an hour before NOW."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from app.logs.frame import entries_to_frame
from app.logs.models import LogEntry

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)


def frame() -> pd.DataFrame:
    """Error, info, warn and info lines of one pod, a minute apart."""
    base = int(NOW.timestamp()) * 1_000_000_000
    lines = ["ERROR dial tcp: connection refused", "INFO listening", "WARN retrying", "INFO listening"]
    entries = [
        LogEntry(
            ts_ns=base - (len(lines) - i) * 60_000_000_000, labels={"namespace": "a", "pod": "p"}, line=line
        )
        for i, line in enumerate(lines)
    ]
    return entries_to_frame(entries)
