"""How fast a Loki query_range response becomes a DataFrame: the direct path vs. LogEntry models.

Payloads are built in memory from the demo source's lines (every log format it has), grouped into
streams the way Loki groups them, newest first as a backward query returns them.

    uv run python bench/bench_loki_parse.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.logs.demo import generate_demo_entries
from app.logs.frame import entries_to_frame, parse_streams_to_frame
from app.logs.loki import parse_query_response

SIZES = (5_000, 50_000)
REPEATS = 3


def loki_payload(size: int, *, categorize: bool) -> dict[str, Any]:
    """A query_range body with ``size`` entries, decoded from JSON as httpx would hand it over."""
    day = generate_demo_entries(7, datetime(2025, 6, 12, 10, 32, tzinfo=UTC))
    by_stream: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
    for i in range(size):
        entry = day[-1 - i % len(day)]
        # Past one day of demo lines, repeat them a day earlier each time round.
        ts = entry.ts_ns - (i // len(day)) * 86_400_000_000_000
        value: list[Any] = [str(ts), entry.line]
        if categorize:
            value.append({"structuredMetadata": {"detected_level": entry.level}})
        by_stream.setdefault(tuple(sorted(entry.labels.items())), []).append(value)
    result = [{"stream": dict(labels), "values": values} for labels, values in by_stream.items()]
    body = {"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}}
    return json.loads(json.dumps(body))


def best_seconds(run: Callable[[], object]) -> float:
    """The fastest of a few runs (least disturbed by the rest of the machine)."""
    timings = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        run()
        timings.append(time.perf_counter() - began)
    return min(timings)


def main() -> None:
    """Print entries/s of both paths and their ratio for each payload size and encoding."""
    print(
        f"{'entries':>8} {'encoding':<18} {'direct (entries/s)':>19} {'via LogEntry (entries/s)':>25} {'ratio':>6}"
    )
    for size in SIZES:
        for categorize in (False, True):
            payload = loki_payload(size, categorize=categorize)
            direct = best_seconds(lambda payload=payload: parse_streams_to_frame(payload))
            models = best_seconds(lambda payload=payload: entries_to_frame(parse_query_response(payload)))
            encoding = "categorize-labels" if categorize else "plain"
            print(
                f"{size:>8} {encoding:<18} {size / direct:>19,.0f} {size / models:>25,.0f} {models / direct:>5.1f}x"
            )


if __name__ == "__main__":
    main()
