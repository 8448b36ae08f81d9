"""The Evals and Compare charts: readable confusion-matrix labels, units that fit the values."""

from __future__ import annotations

from app.evals.metrics import ItemResult, confusion_matrix
from app.taxonomy import ROOT_CAUSES
from app.ui import eval_charts as charts


def answer(n: int, expected: str, predicted: str, total_ms: float | None = None) -> ItemResult:
    return ItemResult(
        example_id=f"ex-{n}",
        expected=expected,
        predicted=predicted,
        outcome="correct" if predicted == expected else "wrong",
        total_ms=total_ms,
    )


def test_the_confusion_matrix_labels_are_words_standing_upright_with_room() -> None:
    items = [answer(i, label, ROOT_CAUSES[(i + 1) % 13]) for i, label in enumerate(ROOT_CAUSES)]
    fig = charts.confusion_figure(confusion_matrix(items))
    heatmap = fig.data[0]
    assert "dns resolution failure" in heatmap.x
    assert "dns resolution failure" in heatmap.y
    assert fig.layout.xaxis.tickangle == -90  # one line high: neighbours never overlap
    assert fig.layout.xaxis.automargin
    assert fig.layout.yaxis.automargin
    # Each of the 13 rows gets its own height, so horizontal row labels do not touch either.
    assert fig.layout.height >= 13 * charts.ROW_PX + charts.LABEL_MARGIN_PX


def test_empty_rows_and_columns_are_dropped() -> None:
    fig = charts.confusion_figure(confusion_matrix([answer(0, "oom_killed", "healthy")]))
    assert list(fig.data[0].x) == ["healthy"]
    assert list(fig.data[0].y) == ["oom killed"]


def test_latency_is_in_seconds_when_items_take_seconds() -> None:
    fast = charts.latency_figure([("A", [answer(0, "healthy", "healthy", 0.4)])])
    assert fast.layout.xaxis.title.text == "ms per item"
    slow = charts.latency_figure([("A", [answer(0, "healthy", "healthy", 4500.0)])])
    assert slow.layout.xaxis.title.text == "seconds per item"
    assert list(slow.data[0].x) == [4.5]
