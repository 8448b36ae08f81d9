"""The charts of the Evals and Compare pages: plotly figures built from metrics and items (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from app.evals.compare import RunColumn
from app.evals.metrics import ConfusionMatrix, ItemResult
from app.taxonomy import ROOT_CAUSES

TICK_FONT = {"size": 11}
ROW_PX = 30
"""Height of a confusion-matrix row: a horizontal label is about 14 px, so neighbours never touch."""
LABEL_MARGIN_PX = 170
"""Room under the matrix for its vertical column labels (the longest class name is 22 characters)."""


def class_label(label: str) -> str:
    """A class name as an axis shows it: words, not an identifier ('dns resolution failure')."""
    return label.replace("_", " ")


def trimmed_confusion(matrix: ConfusionMatrix) -> tuple[list[str], list[str], list[list[int]]]:
    """The matrix without rows and columns that are all zero."""
    rows = [i for i, counts in enumerate(matrix.counts) if any(counts)]
    columns = [j for j in range(len(matrix.columns)) if any(matrix.counts[i][j] for i in rows)]
    return (
        [matrix.rows[i] for i in rows],
        [matrix.columns[j] for j in columns],
        [[matrix.counts[i][j] for j in columns] for i in rows],
    )


def confusion_figure(matrix: ConfusionMatrix) -> go.Figure:
    """The confusion matrix as a heatmap: expected down, predicted across, counts in the cells.

    Column labels stand vertically under the matrix: a vertical label is one line high, so columns as
    narrow as 16 px keep their labels apart, which slanted or horizontal labels of 20-odd characters do not.
    """
    rows, columns, counts = trimmed_confusion(matrix)
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=[class_label(label) for label in columns],
            y=[class_label(label) for label in rows],
            colorscale="Blues",
            text=counts,
            texttemplate="%{text}",
            hovertemplate="expected %{y}<br>predicted %{x}<br>%{z} items<extra></extra>",
            showscale=False,
            xgap=1,
            ygap=1,
        )
    )
    fig.update_layout(
        height=ROW_PX * max(len(rows), 1) + LABEL_MARGIN_PX + 40,
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        xaxis={
            "title": {"text": "predicted"},
            "side": "bottom",
            "tickangle": -90,
            "tickfont": TICK_FONT,
            "automargin": True,
            "type": "category",
        },
        yaxis={
            "title": {"text": "expected"},
            "autorange": "reversed",
            "tickfont": TICK_FONT,
            "automargin": True,
            "type": "category",
        },
    )
    return fig


def latency_figure(runs: Sequence[tuple[str, Sequence[ItemResult]]]) -> go.Figure:
    """Distribution of time per answered item, one box per run, in ms or seconds as the values call for."""
    answered = [
        (
            name,
            [
                i.total_ms
                for i in items
                if i.total_ms is not None and i.outcome not in ("timeout", "server_error")
            ],
        )
        for name, items in runs
    ]
    largest = max((max(values) for _, values in answered if values), default=0.0)
    seconds = largest >= 2000
    fig = go.Figure()
    for name, values in answered:
        fig.add_box(
            x=[v / 1000 for v in values] if seconds else values,
            name=name,
            boxpoints="outliers",
            orientation="h",
        )
    fig.update_layout(
        height=120 + 60 * len(runs),
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        xaxis={"title": {"text": "seconds per item" if seconds else "ms per item"}, "rangemode": "tozero"},
        showlegend=False,
    )
    return fig


def per_class_f1_figure(runs: Sequence[RunColumn]) -> go.Figure:
    """F1 per class, one bar per run."""
    present = {row.label for run in runs for row in run.metrics.per_class}
    labels = [label for label in ROOT_CAUSES if label in present]
    fig = go.Figure()
    for run in runs:
        f1 = {row.label: row.f1 for row in run.metrics.per_class}
        fig.add_bar(
            x=[class_label(label) for label in labels],
            y=[f1.get(label, 0.0) for label in labels],
            name=f"{run.letter}: {run.label}",
        )
    fig.update_layout(
        barmode="group",
        height=420,
        margin={"l": 0, "r": 0, "t": 8, "b": 0},
        yaxis={"title": {"text": "F1"}, "range": [0, 1]},
        xaxis={"tickangle": -90, "tickfont": TICK_FONT, "automargin": True},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    return fig


def tradeoff_figure(columns: Sequence[RunColumn]) -> go.Figure:
    """Accuracy (with its interval) against median latency, one point per run: the quantization trade-off."""
    xs = [run.metrics.latency.total_ms.get("0.5", 0.0) / 1000 for run in columns]
    ys = [run.accuracy.value for run in columns]
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers+text",
            text=[run.letter for run in columns],
            customdata=[run.label for run in columns],
            textposition="middle right",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [run.accuracy.high - run.accuracy.value for run in columns],
                "arrayminus": [run.accuracy.value - run.accuracy.low for run in columns],
            },
            marker={"size": 12},
            hovertemplate="%{text}: %{customdata}<br>median %{x:,.2f} s per item<br>accuracy %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=380,
        margin={"l": 0, "r": 0, "t": 24, "b": 0},
        xaxis={"title": {"text": "median seconds per item"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "accuracy"}, "range": [0, 1.05], "tickformat": ".0%"},
    )
    return fig
