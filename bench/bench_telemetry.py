"""Tracing + metrics overhead per triage call, as a ratio to the same call uninstrumented.

Each variant runs in its own process (the OpenTelemetry global provider is set once per process), and
the variants alternate A B A B so that drift on a shared machine hits both. A triage call here is the
whole pipeline: demo log source, context budget, prompt rendering, streamed inference from an
in-process OpenAI-compatible server answering at once, and the SQLite store.

    uv run python bench/bench_telemetry.py [--calls 40] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class _NoMetric:
    """Stands in for a prometheus-client metric: accepts every call and records nothing."""

    def labels(self, *args: object, **kwargs: object) -> _NoMetric:
        return self

    def observe(self, *args: object) -> None:
        return None

    def inc(self, *args: object) -> None:
        return None


def child(instrumented: bool, calls: int) -> None:
    """Run ``calls`` triage calls and print their durations as JSON."""
    from datetime import UTC, datetime, timedelta

    import httpx

    from app.config import Settings
    from app.llm.models import ModelConfig
    from app.logs.demo import DemoLogSource
    from app.logs.logql import LogFilter
    from app.prompts.registry import PromptRegistry
    from app.store.db import get_engine
    from app.telemetry import metrics
    from app.telemetry.tracing import setup_tracing
    from app.triage import TriageRequest, TriageService
    from tests.fixtures.llama import FakeOpenAIServer

    settings = Settings(otel_sdk_disabled=not instrumented, otel_traces_exporter="none")
    if instrumented:
        setup_tracing(settings)
    else:
        for name in ("OPERATION_DURATION", "TOKEN_USAGE", "TIME_TO_FIRST_CHUNK", "TIME_PER_OUTPUT_CHUNK",
                     "LOKI_QUERY_DURATION", "TRIAGE_REQUESTS", "ERRORS"):  # fmt: skip
            setattr(metrics, name, _NoMetric())
    answer = '{"root_cause": "dependency_unavailable", "confidence": 0.8, "evidence": [1], "summary": "db"}'
    server = FakeOpenAIServer().start()
    server.script.tokens = [answer[i : i + 6] for i in range(0, len(answer), 6)]
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        engine = get_engine(f"sqlite:///{tmp}/bench.db")
        service = TriageService(
            settings=settings,
            log_source=DemoLogSource(now=lambda: now),
            models=[
                ModelConfig(
                    name="fake",
                    base_url=server.base_url,
                    quantization="Q4_K_M",
                    context_length=8192,
                    response_format_style="json_object",
                )
            ],
            registry=PromptRegistry(settings.prompts_dir, engine),
            engine=engine,
            http_client=httpx.Client(),
        )
        request = TriageRequest(
            filter=LogFilter(namespace="payments"), start=now - timedelta(minutes=15), end=now, model="fake"
        )
        service.run(request)  # warm caches (demo data, prompt sync)
        durations = []
        for _ in range(calls):
            began = time.perf_counter()
            result = service.run(request)
            durations.append(time.perf_counter() - began)
            assert result.status == "ok", result.error
        server.stop()
    print(json.dumps(durations))


def main() -> None:
    """Alternate the two variants and print per-call medians and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["plain", "instrumented"])
    args = parser.parse_args()
    if args.child:
        child(args.child == "instrumented", args.calls)
        return
    samples: dict[str, list[float]] = {"plain": [], "instrumented": []}
    for _ in range(args.rounds):
        for variant in ("plain", "instrumented"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--calls", str(args.calls)],
                capture_output=True, text=True, check=True, cwd=ROOT,
                env={**os.environ, "METRICS_PORT": "0"},
            )  # fmt: skip
            samples[variant].extend(json.loads(out.stdout.strip().splitlines()[-1]))
    plain = statistics.median(samples["plain"])
    traced = statistics.median(samples["instrumented"])
    print(f"triage calls per variant: {len(samples['plain'])} (alternating processes, {args.rounds} rounds)")
    print(f"uninstrumented  median {plain * 1000:8.1f} ms per call")
    print(f"traced+metrics  median {traced * 1000:8.1f} ms per call")
    print(f"overhead        {(traced - plain) * 1000:+8.1f} ms per call, ratio {traced / plain:.3f}x")


if __name__ == "__main__":
    main()
