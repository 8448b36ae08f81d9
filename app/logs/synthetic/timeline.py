"""Lines placed at times in a window, some marked as evidence, finished into entries in time order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.logs.synthetic.formats import Render

Labels = dict[str, str]


@dataclass(frozen=True)
class Line:
    """One finished log line: when Loki stores it, its stream labels, its text and the format that wrote it."""

    ts_ns: int
    labels: Labels
    text: str
    component: str
    evidence: bool


@dataclass
class _Pending:
    ts_ns: int
    order: int
    labels: Labels
    render: Render
    component: str
    evidence: bool


class Timeline:
    """The lines of one window ``[start, start + duration)``; times are seconds from the window start.

    Lines placed outside the window are dropped, so a process that started before the window or a
    loop that runs past its end can be written without clipping by hand.
    """

    def __init__(self, start_ns: int, duration_s: float) -> None:
        self.start_ns = start_ns
        self.duration_s = duration_s
        self.end_ns = start_ns + int(duration_s * 1e9)
        self._lines: list[_Pending] = []

    def resize(self, duration_s: float) -> None:
        """Change the window's length before any line is placed."""
        if self._lines:
            raise ValueError("a window cannot be resized once lines are placed")
        self.duration_s = duration_s
        self.end_ns = self.start_ns + int(duration_s * 1e9)

    def ns(self, at_s: float) -> int:
        """Unix nanoseconds of a time in the window."""
        return self.start_ns + int(at_s * 1e9)

    def seconds(self, ts_ns: int) -> float:
        """Seconds from the window start of a Unix-nanosecond timestamp."""
        return (ts_ns - self.start_ns) / 1e9

    def inside(self, at_s: float) -> bool:
        """Whether a time falls in the window."""
        return self.start_ns <= self.ns(at_s) < self.end_ns

    def add(
        self,
        at_s: float,
        labels: Labels,
        render: Render,
        component: str,
        *,
        evidence: bool = False,
        ts_ns: int | None = None,
    ) -> bool:
        """Place one line at ``at_s`` (or at exactly ``ts_ns``); returns whether it fell in the window."""
        stamp = self.ns(at_s) if ts_ns is None else ts_ns
        if not self.start_ns <= stamp < self.end_ns:
            return False
        self._lines.append(_Pending(stamp, len(self._lines), labels, render, component, evidence))
        return True

    def block(
        self,
        at_s: float,
        labels: Labels,
        renders: Sequence[Render],
        component: str,
        *,
        evidence: Sequence[int] = (),
        step_s: float = 0.00004,
    ) -> float:
        """A multi-line burst (a stack trace, a banner) written microseconds apart; returns its end."""
        at = at_s
        for index, render in enumerate(renders):
            self.add(at, labels, render, component, evidence=index in evidence)
            at += step_s
        return at

    def evidence_count(self) -> int:
        """How many lines in the window are marked as evidence so far."""
        return sum(1 for pending in self._lines if pending.evidence)

    def __len__(self) -> int:
        return len(self._lines)

    def finish(self) -> list[Line]:
        """Every line in time order (ties keep the order they were placed in), rendered."""
        ordered = sorted(self._lines, key=lambda pending: (pending.ts_ns, pending.order))
        return [
            Line(
                pending.ts_ns,
                pending.labels,
                pending.render(pending.ts_ns),
                pending.component,
                pending.evidence,
            )
            for pending in ordered
        ]
