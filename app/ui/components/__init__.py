"""Shared widgets of the dashboard, one module per thing they draw; pages use them as ``components.X``.

``text`` (Markdown escaping), ``alerts`` (error titles and boundaries), ``time_range`` (the picker),
``readout`` (durations, tokens/s, the latency readout, Cancel), ``charts`` (log volume), ``trace``
(the waterfall) and ``log_table`` (the filterable table of lines).
"""

from __future__ import annotations

from app.ui.components.alerts import (
    ERROR_TITLES,
    error_boundary,
    error_box,
    error_title,
    model_down_box,
    show_error,
)
from app.ui.components.charts import (
    LEVEL_COLORS,
    bucket_seconds,
    volume_chart,
    volume_counts,
    volume_figure,
)
from app.ui.components.log_table import (
    evidence_column,
    evidence_keys,
    filter_frame,
    log_table,
    shorten_lines,
)
from app.ui.components.readout import (
    MIN_DECODE_MS,
    cancel_button,
    format_duration,
    format_ms,
    format_rate,
    latency_readout,
    shown_rate,
)
from app.ui.components.text import escape_markdown, literal
from app.ui.components.time_range import (
    CUSTOM,
    PRESETS,
    TimeRangeChoice,
    floor_minute,
    set_custom_range,
    time_range_picker,
    window_label,
)
from app.ui.components.trace import trace_waterfall, waterfall_figure, waterfall_frame

__all__ = [
    "CUSTOM",
    "ERROR_TITLES",
    "LEVEL_COLORS",
    "MIN_DECODE_MS",
    "PRESETS",
    "TimeRangeChoice",
    "bucket_seconds",
    "cancel_button",
    "error_boundary",
    "error_box",
    "error_title",
    "escape_markdown",
    "evidence_column",
    "evidence_keys",
    "filter_frame",
    "floor_minute",
    "format_duration",
    "format_ms",
    "format_rate",
    "latency_readout",
    "literal",
    "log_table",
    "model_down_box",
    "set_custom_range",
    "shorten_lines",
    "show_error",
    "shown_rate",
    "time_range_picker",
    "trace_waterfall",
    "volume_chart",
    "volume_counts",
    "volume_figure",
    "waterfall_figure",
    "waterfall_frame",
    "window_label",
]
