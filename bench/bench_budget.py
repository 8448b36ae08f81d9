"""The context budget: how much it shrinks windows, how much labeled evidence it keeps, how fast it is,
and, against a real model server, what it does to a triage's latency.

Prints, all measured in one run:

* the shipped golden set (every ``*.jsonl`` in ``GOLDEN_DIR``): per budget (a tenth of each window's
  raw tokens capped at 2,000, and fixed budgets), tokens after vs raw, labeled evidence lines kept and
  windows with all their evidence; "raw" is ``estimate_tokens`` of the lines' own text;
* the same for large held-out windows (``tests/fixtures/heldout``: 500-3,000 lines, mostly benign);
* with no limit, the largest output/raw ratio;
* throughput in lines per second on one 5,000- and one 50,000-line window;
* with ``--base-url`` (an OpenAI-compatible llama-server, without ``/v1``): the same triages with the
  whole context filled (no budget), at the default budget (``TriageService.prepare``, which takes a
  tenth of raw and the server's tokenizer) and at a tenth of raw by the estimate: time to first token
  and to the whole answer, with the server's prompt cache off for these requests.

Run: ``uv run python bench/bench_budget.py [--heldout 60] [--base-url http://127.0.0.1:8080 --model NAME]``.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from app.budget import make_token_counter
from app.config import Settings
from app.golden.jsonl import load_golden_dir
from app.llm.client import ChatMessage, build_chat_request
from app.llm.models import find_model
from app.logs.compress import estimate_tokens, fit_to_budget
from app.logs.models import LogEntry
from app.prompts.registry import render_prompt
from app.rca import rca_json_schema
from app.services import build_services
from app.triage import prompt_context, sampling_params
from tests.fixtures.heldout import make_window, make_windows

PROMPT = "rca-evidence-first"
FIXED_BUDGETS = (500, 1000, 2000, 4000)
TENTH = "1/10 of raw, at most 2,000"
WHOLE = "the whole context"


@dataclass(frozen=True)
class Window:
    """A labeled window: its entries in time order and the indices of its evidence lines."""

    entries: list[LogEntry]
    evidence: list[int]

    @property
    def raw_tokens(self) -> int:
        """The lines' own tokens by the estimate."""
        return sum(estimate_tokens(entry.line) for entry in self.entries)


def tenth_of_raw(window: Window) -> int:
    """The issue's budget: a tenth of the raw tokens, capped at 2,000."""
    return min(2000, window.raw_tokens // 10)


@dataclass(frozen=True)
class RetentionRow:
    """What one budget kept over a set of windows."""

    budget: str
    raw_tokens: int
    tokens_after: int
    evidence: int
    evidence_kept: int
    windows: int
    windows_complete: int

    @property
    def reduction(self) -> float:
        """Raw tokens per token after."""
        return self.raw_tokens / max(self.tokens_after, 1)

    @property
    def kept_share(self) -> float:
        """Share of labeled evidence lines kept."""
        return self.evidence_kept / max(self.evidence, 1)


def retention(windows: Sequence[Window], budget: int | None) -> RetentionRow:
    """Fit every window at ``budget`` (None: a tenth of its raw tokens) and count what was kept."""
    raw = after = labeled = kept = complete = with_evidence = 0
    for window in windows:
        result = fit_to_budget(window.entries, max_tokens=tenth_of_raw(window) if budget is None else budget)
        shown = {index for line in result.lines for index in line.source_indices}
        found = sum(1 for index in window.evidence if index in shown)
        raw += result.report.tokens_before
        after += result.report.tokens_after
        labeled += len(window.evidence)
        kept += found
        if window.evidence:
            with_evidence += 1
            complete += found == len(window.evidence)
    return RetentionRow(
        TENTH if budget is None else f"{budget:,}", raw, after, labeled, kept, with_evidence, complete
    )


def growth(windows: Sequence[Window]) -> tuple[float, int]:
    """With no limit: the largest output/raw token ratio, and how many windows exceed 1.2x."""
    ratios = []
    for window in windows:
        report = fit_to_budget(window.entries, max_tokens=10**9).report
        ratios.append(report.tokens_after / max(report.tokens_before, 1))
    return max(ratios, default=0.0), sum(1 for ratio in ratios if ratio > 1.2)


def throughput(lines: int, budget: int) -> tuple[float, float, str]:
    """Lines per second (wall clock, and per second of this process's CPU time) fitting one held-out
    window of ``lines`` lines, and the report's summary. On a shared machine the two differ."""
    entries = make_window(seed=lines, lines=lines).entries
    started, cpu_started = time.perf_counter(), time.process_time()
    result = fit_to_budget(entries, max_tokens=budget)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return len(entries) / wall, len(entries) / max(cpu, 1e-9), result.report.summary()


def print_retention(title: str, windows: Sequence[Window]) -> None:
    """The issue's table for one set of windows."""
    print(f"\n{title}: {len(windows)} windows, {sum(len(w.entries) for w in windows):,} lines")
    print("| budget per window | tokens vs raw | labeled evidence lines kept | windows with all evidence |")
    print("| --- | --- | --- | --- |")
    for budget in (None, *FIXED_BUDGETS):
        row = retention(windows, budget)
        print(
            f"| {row.budget} | {row.reduction:.1f}x fewer | {row.kept_share:.1%} ({row.evidence_kept}/{row.evidence})"
            f" | {row.windows_complete}/{row.windows} |"
        )
    worst, over = growth(windows)
    print(f"with no limit: largest output/raw ratio {worst:.3f}, {over} windows over 1.2x")


# --- the real-model row ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One streamed answer."""

    budget: str
    log_tokens: int
    prompt_tokens: int | None
    ttft_ms: float
    total_ms: float


def stream_once(base_url: str, body: dict[str, object], budget: str, log_tokens: int) -> Timing:
    """Send one chat request with the server's prompt cache off; time the first content and the end."""
    body = {**body, "cache_prompt": False}  # llama-server: process the whole prompt every time
    prompt_tokens = None
    first = None
    with httpx.Client(timeout=httpx.Timeout(900, connect=5)) as http:
        started = time.perf_counter()
        with http.stream("POST", f"{base_url}/v1/chat/completions", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line.removeprefix("data: "))
                choices = chunk.get("choices") or [{}]
                if first is None and (choices[0].get("delta") or {}).get("content"):
                    first = time.perf_counter()
                usage = chunk.get("usage") or {}
                prompt_tokens = usage.get("prompt_tokens", prompt_tokens)
        ended = time.perf_counter()
    first = first or ended
    return Timing(budget, log_tokens, prompt_tokens, (first - started) * 1000, (ended - started) * 1000)


def real_model_timings(
    base_url: str, model_name: str, context_length: int, windows: Sequence[Window], repeats: int = 1
) -> list[Timing]:
    """Each window triaged with the whole context, at the default budget and at a tenth of raw, in turn,
    ``repeats`` times."""
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        models_file = Path(tmp) / "models.yaml"
        entry = {
            "name": model_name,
            "base_url": base_url,
            "quantization": "unknown",
            "context_length": context_length,
        }
        models_file.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
        settings = Settings(data_dir=Path(tmp) / "data", models_file=models_file, metrics_port=0)
        services = build_services(settings)
        try:
            model = find_model(services.models, model_name)
            version = services.prompts.resolve(PROMPT)
            params = sampling_params(version)
            count = make_token_counter(services.triage.llm_client(model)) or estimate_tokens
            timings: list[Timing] = []
            for window in windows:
                start = datetime.fromtimestamp(window.entries[0].ts_ns / 1e9, UTC)
                end = datetime.fromtimestamp(window.entries[-1].ts_ns / 1e9 + 1, UTC)
                namespace = window.entries[0].labels.get("namespace", "")
                default = services.triage.prepare(
                    window.entries, namespace=namespace, start=start, end=end, version=version, model=model
                )
                tenth = fit_to_budget(window.entries, max_tokens=tenth_of_raw(window))
                rendered_tenth = render_prompt(version, prompt_context(namespace, start, end, tenth))
                # Without a budget a triage would fill the context: all of it but the prompt's own
                # tokens and the answer's.
                skeleton = render_prompt(
                    version, prompt_context(namespace, start, end, fit_to_budget([], max_tokens=1))
                )
                overhead = sum(count(m["content"]) + 8 for m in skeleton.messages()) + 64
                room = max(context_length - int(params.max_tokens or 0) - overhead, 1)
                whole = fit_to_budget(window.entries, max_tokens=room, count_tokens=count)
                rendered_whole = render_prompt(version, prompt_context(namespace, start, end, whole))
                bodies = {
                    WHOLE: (rendered_whole, whole.report.tokens_after),
                    "default": (default.rendered, default.budget.report.tokens_after),
                    TENTH: (rendered_tenth, tenth.report.tokens_after),
                }
                for round_ in range(repeats):
                    # Alternate the order, so neither budget always runs on a warmer server.
                    for label in sorted(bodies, reverse=bool(round_ % 2)):
                        rendered, log_tokens = bodies[label]
                        messages = [ChatMessage.model_validate(m) for m in rendered.messages()]
                        body = build_chat_request(
                            model_name, messages, params, response_schema=rca_json_schema()
                        )
                        timings.append(stream_once(base_url, body, label, log_tokens))
            return timings
        finally:
            services.http_client.close()


def server_context(base_url: str) -> int | None:
    """The per-slot context llama-server reports in /props, if it does."""
    try:
        props = httpx.get(f"{base_url}/props", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
    return int(n_ctx) if isinstance(n_ctx, int) and n_ctx > 0 else None


def print_real_model(timings: Sequence[Timing], model_name: str) -> None:
    """Median time to first token and to the answer per budget, and their ratio."""
    print(f"\nreal model {model_name}, {len(timings) // 3} triages per budget, prompt cache off")
    print("| budget | log tokens | prompt tokens | time to first token | answer |")
    print("| --- | ---: | ---: | ---: | ---: |")
    medians: dict[str, tuple[float, float]] = {}
    for label in (WHOLE, "default", TENTH):
        rows = [t for t in timings if t.budget == label]
        ttft = statistics.median(t.ttft_ms for t in rows) / 1000
        total = statistics.median(t.total_ms for t in rows) / 1000
        medians[label] = (ttft, total)
        log_tokens = statistics.median(t.log_tokens for t in rows)
        prompt = [t.prompt_tokens for t in rows if t.prompt_tokens is not None]
        prompt_text = f"{statistics.median(prompt):,.0f}" if prompt else "-"
        print(f"| {label} | {log_tokens:,.0f} | {prompt_text} | {ttft:.1f} s | {total:.1f} s |")
    (w_ttft, w_total), (t_ttft, t_total) = medians[WHOLE], medians[TENTH]
    print(
        f"a tenth of raw vs the whole context: time to first token {w_ttft / max(t_ttft, 1e-9):.1f}x shorter,"
        f" answer {w_total / max(t_total, 1e-9):.1f}x"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heldout", type=int, default=60, help="held-out windows to measure (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the held-out windows")
    parser.add_argument("--base-url", help="an OpenAI-compatible llama-server base URL, without /v1")
    parser.add_argument("--model", default="bench", help="the model name the server answers to")
    parser.add_argument("--context", type=int, help="per-request context (default: the server's n_ctx)")
    parser.add_argument("--real-windows", type=int, default=3, help="windows triaged against the server")
    parser.add_argument("--repeats", type=int, default=2, help="triages per window and budget")
    args = parser.parse_args(argv)

    golden = [
        Window(example.to_log_entries(), list(example.label.evidence))
        for example in load_golden_dir(Settings().golden_dir)
    ]
    heldout = [Window(w.entries, w.evidence) for w in make_windows(args.heldout, seed=args.seed)]
    print_retention("shipped golden set", golden)
    print_retention("held-out large windows", heldout)

    print("\nthroughput (estimate counter)")
    for lines, budget in ((5_000, 2_000), (50_000, 2_000), (50_000, 10**9)):
        rate, cpu_rate, summary = throughput(lines, budget)
        shown = "no limit" if budget == 10**9 else f"{budget:,} tokens"
        print(
            f"  {lines:>6,} lines, {shown:>12}: {rate:9,.0f} lines/s wall, {cpu_rate:9,.0f} per CPU-second"
            f"  ({summary.split(';')[0]})"
        )

    if args.base_url:
        base_url = args.base_url.rstrip("/")
        context = args.context or server_context(base_url)
        if context is None:
            parser.error("the server does not report its context in /props; pass --context")
        # The largest held-out windows: where a budget matters most.
        biggest = sorted(heldout, key=lambda w: -w.raw_tokens)[: args.real_windows]
        print_real_model(real_model_timings(base_url, args.model, context, biggest, args.repeats), args.model)


if __name__ == "__main__":
    main()
