"""A log source over a stored window of lines (a golden example), so it can be previewed and triaged.

A golden window holds every line an incident left, whatever namespace it was logged in (the ingress in
front, the node under the pod). The window answers as one place: each line matches the window's own
namespace as well as its labels say, so ``{namespace="auth"}`` selects the whole window and any further
matcher or filter narrows it as Loki would.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Sequence
from datetime import datetime

from app.logs.logql import check_label_name, parse_selector_and_filters, query_window_ns
from app.logs.models import LogEntry, LogQueryResult


class StoredWindowSource:
    """Answers LogQL over a fixed list of entries, as the demo source does over its generated day."""

    def __init__(self, entries: Sequence[LogEntry], *, namespace: str, name: str = "golden") -> None:
        self.name = name
        self.namespace = namespace
        self._entries = sorted(entries, key=lambda e: e.ts_ns)
        self._stamps = [e.ts_ns for e in self._entries]

    def _as_matched(self, entry: LogEntry) -> LogEntry:
        return entry.model_copy(update={"labels": {**entry.labels, "namespace": self.namespace}})

    def _window(self, start: datetime, end: datetime, limit: int | None = None) -> tuple[int, int, list]:
        start_ns, end_ns = query_window_ns(start, end, limit)
        lo, hi = bisect.bisect_left(self._stamps, start_ns), bisect.bisect_left(self._stamps, end_ns)
        return start_ns, end_ns, self._entries[lo:hi]

    def query_range(self, query: str, start: datetime, end: datetime, *, limit: int) -> LogQueryResult:
        """Lines matching ``query`` in [start, end), up to ``limit``, newest kept, returned oldest first."""
        began = time.perf_counter()
        parsed = parse_selector_and_filters(query)
        start_ns, end_ns, window = self._window(start, end, limit)
        matching = [e for e in window if parsed.matches(self._as_matched(e))]
        return LogQueryResult(
            query=query,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            entries=matching[-limit:],
            truncated=len(matching) > limit,
            source=self.name,
            requests=0,
            duration_s=time.perf_counter() - began,
        )

    def label_values(
        self, label: str, start: datetime, end: datetime, *, query: str | None = None
    ) -> list[str]:
        """Values of ``label`` seen in [start, end), sorted; only in streams ``query`` selects, when given."""
        check_label_name(label)
        matchers = parse_selector_and_filters(query).matchers if query is not None else []
        _, _, window = self._window(start, end)
        values = set()
        for entry in window:
            labels = self._as_matched(entry).labels
            if label in labels and all(m.matches(labels) for m in matchers):
                values.add(labels[label])
        return sorted(values)
