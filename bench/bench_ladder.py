"""The SmolLM2 ladder, measured: every rung over a stratified slice of the golden set, with both prompts.

Every rung is derived from the Q4_1 release (``app/llm/smollm2.py``), so none can beat it on accuracy;
what the ladder shows is what each step down in bits costs or saves. For each rung the bench starts that
rung's local llama-server (one at a time, so the rungs do not share the CPU), runs the real
``EvalRunner`` over the same slice for each prompt (no result cache: every answer is inferred) and
stores the runs in the configured store, so the Compare page's accuracy-vs-latency scatter shows them.

The slice takes N examples of every class (seeded), so no class is missing and none dominates. Printed
per rung and prompt: accuracy, macro-F1, invalid rate, p50/p95 latency (whole answer), prompt tokens/s
(llama-server's own prompt_n / prompt_ms over the run), decode tokens/s (client-measured), the GGUF's size,
and how many answers copy a worked example of the prompt (the run's own count, ``leaked_items``, which
the eval flags per item with ``app/prompts/leakage.py``).

Run: ``uv run python bench/bench_ladder.py [--per-class 2] [--seed 7] [--rungs Q4_1,Q8_0,...]
[--prompts rca-zero-shot,...]``. Uses the
embedded default (MODELS_FILE unset); LOCAL_MODEL_PORT and DATABASE_URL apply. Asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app.config import Settings, get_settings
from app.evals.runner import EvalRequest, EvalRunner
from app.golden.schema import GoldenExample
from app.llm import smollm2
from app.llm.server import serve_local_models
from app.services import build_services
from app.store.db import session_scope
from app.store.tables import ModelPromptRateRow

PROMPTS = ("rca-zero-shot", "rca-evidence-first")


@dataclass
class Row:
    """One rung x prompt of the table."""

    rung: str
    prompt: str
    run_id: str
    accuracy: float
    macro_f1: float
    invalid_rate: float
    p50_s: float
    p95_s: float
    prompt_tps: float
    decode_tps: float
    size_mb: float
    leaks: int
    checked: int
    items: int
    wall_s: float


def stratified(examples: Sequence[GoldenExample], per_class: int, seed: int) -> list[GoldenExample]:
    """``per_class`` examples of every class, picked with ``seed`` (all of a class that has fewer)."""
    by_class: dict[str, list[GoldenExample]] = defaultdict(list)
    for example in sorted(examples, key=lambda e: e.id):
        by_class[example.label.root_cause].append(example)
    rng = random.Random(seed)
    chosen: list[GoldenExample] = []
    for cause in sorted(by_class):
        pool = by_class[cause]
        chosen += rng.sample(pool, min(per_class, len(pool)))
    return sorted(chosen, key=lambda e: e.id)


def prompt_rate(runner: EvalRunner, model: str, after_id: int) -> float:
    """Prompt tokens/s over the samples llama-server reported since ``after_id`` (pooled, not averaged)."""
    with session_scope(runner.engine) as session:
        rows = list(
            session.scalars(
                select(ModelPromptRateRow).where(
                    ModelPromptRateRow.model == model, ModelPromptRateRow.id > after_id
                )
            )
        )
    tokens, ms = sum(r.prompt_n for r in rows), sum(r.prompt_ms for r in rows)
    return tokens / (ms / 1000) if ms else 0.0


def last_rate_id(runner: EvalRunner) -> int:
    with session_scope(runner.engine) as session:
        rows = session.scalars(select(ModelPromptRateRow.id).order_by(ModelPromptRateRow.id.desc()).limit(1))
        return next(iter(rows), 0)


def measure(
    runner: EvalRunner,
    settings: Settings,
    rung: str,
    chosen: list[GoldenExample],
    concurrency: int,
    prompts: Sequence[str] = PROMPTS,
) -> list[Row]:
    """Both prompts on one rung, its server started for the purpose and stopped after."""
    model = smollm2.model_name(rung)
    size_mb = smollm2.rung_path(settings, rung).stat().st_size / 1e6
    rows = []
    servers = serve_local_models(settings, only=[model], progress=lambda m: print(f"  {m}", file=sys.stderr))
    try:
        for prompt in prompts:
            few_shot = bool(runner.registry.resolve(prompt).examples)
            mark = last_rate_id(runner)
            began = time.perf_counter()
            header = runner.run(
                EvalRequest(prompt=prompt, model=model, concurrency=concurrency, use_cache=False),
                examples=chosen,
            )
            wall = time.perf_counter() - began
            summary = header.summary
            assert summary is not None
            latency = summary.latency
            rows.append(
                Row(
                    rung=rung,
                    prompt=prompt,
                    run_id=header.id,
                    accuracy=summary.accuracy,
                    macro_f1=summary.macro_f1,
                    invalid_rate=summary.invalid_output_rate,
                    p50_s=latency.total_ms.get("0.5", 0.0) / 1000,
                    p95_s=latency.total_ms.get("0.95", 0.0) / 1000,
                    prompt_tps=prompt_rate(runner, model, mark),
                    decode_tps=latency.tokens_per_s_mean,
                    size_mb=size_mb,
                    leaks=summary.leaked_items,
                    # A prompt without worked examples has nothing to copy: no leak column for it.
                    checked=summary.leak_checked_items if few_shot else 0,
                    items=summary.items,
                    wall_s=wall,
                )
            )
            print(f"  {model} {prompt}: done in {wall:.0f} s", file=sys.stderr)
    finally:
        for server in servers:
            server.stop()
    return rows


def print_table(rows: list[Row], chosen: list[GoldenExample], per_class: int, seed: int) -> None:
    """The table as README shows it."""
    classes = len({e.label.root_cause for e in chosen})
    print(f"SmolLM2-135M-Instruct ladder: {len(chosen)} golden examples ({per_class} per class x {classes} classes, "
          f"seed {seed}), every answer inferred; every rung derived from the Q4_1 release")  # fmt: skip
    print()
    print(
        "| rung | prompt | accuracy | macro-F1 | invalid | p50 | p95 | prompt tok/s | decode tok/s | file | leaks |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        leaks = f"{r.leaks}/{r.checked}" if r.checked else "-"
        print(
            f"| {r.rung} | {r.prompt} | {r.accuracy:.3f} | {r.macro_f1:.3f} | {r.invalid_rate:.1%} | "
            f"{r.p50_s:.1f} s | {r.p95_s:.1f} s | {r.prompt_tps:.0f} | {r.decode_tps:.1f} | {r.size_mb:.1f} MB | {leaks} |"
        )
    reference = {r.prompt: r for r in rows if r.rung == smollm2.RELEASE_QUANTIZATION}
    print()
    for r in rows:
        ref = reference.get(r.prompt)
        if ref is None or r.rung == smollm2.RELEASE_QUANTIZATION or not ref.p50_s:
            continue
        print(
            f"{r.rung} vs Q4_1, {r.prompt}: accuracy {r.accuracy - ref.accuracy:+.3f}, "
            f"p50 latency x{r.p50_s / ref.p50_s:.2f}, prompt rate x{r.prompt_tps / ref.prompt_tps if ref.prompt_tps else 0:.2f}"
        )
    print(
        f"runs stored: {', '.join(r.run_id[:8] for r in rows)}; wall {sum(r.wall_s for r in rows) / 60:.1f} min"
    )
    median_wall = statistics.median(r.wall_s / r.items for r in rows) if rows else 0.0
    print(f"median wall time per item: {median_wall:.1f} s")


def main() -> None:
    """Measure every rung and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=2, help="examples per class (default 2)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the stratified pick (default 7)")
    parser.add_argument("--rungs", default=",".join(smollm2.LADDER), help="comma-separated quantizations")
    parser.add_argument("--concurrency", type=int, default=None, help="default: the server's slots")
    parser.add_argument("--prompts", default=",".join(PROMPTS), help="comma-separated prompts (default both)")
    args = parser.parse_args()
    settings = get_settings()
    if settings.models_file is not None:
        sys.exit("bench_ladder measures the local SmolLM2 ladder; unset MODELS_FILE")
    rungs = [rung.strip().upper() for rung in args.rungs.split(",") if rung.strip()]
    prompts = [prompt.strip() for prompt in args.prompts.split(",") if prompt.strip()]
    services = build_services(settings)
    runner = services.eval_runner
    chosen = stratified(runner.load_golden(), args.per_class, args.seed)
    print(f"{len(chosen)} examples from {runner.golden_dir}; rungs {', '.join(rungs)}", file=sys.stderr)
    rows = []
    for rung in rungs:
        concurrency = args.concurrency or settings.local_model_parallel
        rows += measure(runner, settings, rung, chosen, concurrency, prompts)
    print_table(rows, chosen, args.per_class, args.seed)


if __name__ == "__main__":
    main()
