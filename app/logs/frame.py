"""Log entries as a pandas DataFrame, for the dashboard's tables and charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from app.logs.models import LogEntry, detect_level, level_from_labels

FRAME_COLUMNS = ("time", "ts_ns", "namespace", "pod", "container", "level", "line")


def _frame(
    ts_ns: Sequence[int],
    namespace: Sequence[str],
    pod: Sequence[str],
    container: Sequence[str],
    level: Sequence[str],
    line: Sequence[str],
) -> pd.DataFrame:
    stamps = np.asarray(ts_ns, dtype=np.int64)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(stamps, unit="ns", utc=True).as_unit("ns"),
            "ts_ns": stamps,
            "namespace": namespace,
            "pod": pod,
            "container": container,
            "level": level,
            "line": line,
        },
        columns=list(FRAME_COLUMNS),
    )


def entries_to_frame(entries: Sequence[LogEntry]) -> pd.DataFrame:
    """One row per entry, in the given order, with columns ``FRAME_COLUMNS``."""
    return _frame(
        [e.ts_ns for e in entries],
        [e.namespace for e in entries],
        [e.pod for e in entries],
        [e.container for e in entries],
        [detect_level(e.line, {**e.labels, **e.structured_metadata}) for e in entries],
        [e.line for e in entries],
    )


def parse_streams_to_frame(payload: Mapping[str, Any]) -> pd.DataFrame:
    """Rows straight from a Loki query_range response (plain or categorize-labels), oldest first.

    Gives the same rows as parsing into LogEntry and calling ``entries_to_frame``, without building a
    model per line.
    """
    ts_ns: list[int] = []
    namespace: list[str] = []
    pod: list[str] = []
    container: list[str] = []
    level: list[str] = []
    line: list[str] = []
    for stream in payload["data"]["result"]:
        labels: dict[str, str] = stream["stream"]
        values = stream["values"]
        count = len(values)
        namespace.extend([labels.get("namespace", "")] * count)
        pod.extend([labels.get("pod", "")] * count)
        container.extend([labels.get("container", "")] * count)
        # A level label on the stream decides every line of it; only otherwise is each line read.
        stream_level = level_from_labels(labels)
        for value in values:
            ts_ns.append(int(value[0]))
            text = value[1]
            line.append(text)
            extra = value[2] if len(value) > 2 else None
            if extra:
                metadata = {**labels, **extra.get("parsed", {}), **extra.get("structuredMetadata", {})}
                level.append(detect_level(text, metadata))
            else:
                level.append(stream_level or detect_level(text))
    frame = _frame(ts_ns, namespace, pod, container, level, line)
    return frame.sort_values("ts_ns", kind="stable", ignore_index=True)
