"""Eval runner throughput against the raw llama.cpp server, and the speed-up of a cached re-run.

Starts its own llama-server on the tiny Q4_K_M model (4 slots), takes the first N examples of the
golden set, and in one run measures, at the same concurrency and with the server's prompt cache off
(an eval's windows are new to the server):

* raw: the same chat requests (same rendered prompts, params and RCA schema) sent straight to the server
  with httpx from a thread pool, each stream read to its end; no harness;
* runner: ``EvalRunner`` end to end (budget, render, stream, parse, score, one commit per item), no cache;
* cached: the same run again, every answer from the result cache.

And, without a model server, what the run log costs per item: the regex baseline over the whole golden
set, once in a bare loop and once through ``EvalRunner`` (claim, store, progress, metrics; SQLite).

Run: ``uv run python bench/bench_evals.py [N] [CONCURRENCY]``. Prints ratios; asserts nothing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.config import PROJECT_ROOT, Settings
from app.evals.metrics import RunMetrics
from app.evals.runner import EvalRunner
from app.evals.spec import BASELINE_MODEL_NAME, EvalRequest, parse_slice
from app.golden.jsonl import load_golden_dir, write_jsonl
from app.golden.schema import GoldenExample
from app.llm.client import ChatMessage, build_chat_request
from app.llm.server import LocalModelServer, ensure_llama_quantize, ensure_llama_server
from app.llm.tiny_model import CONTEXT_LENGTH, make_tiny_model
from app.rca import rca_json_schema
from app.services import build_services

MODEL = "tiny-q4_k_m"
PROMPT = "rca-evidence-first"
ROUNDS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request_bodies(runner: EvalRunner, examples: list[GoldenExample]) -> list[dict[str, Any]]:
    """The exact chat request bodies the runner sends, built once, outside any timing."""
    model = runner.models[0]
    version = runner.registry.resolve(PROMPT)
    client = runner.triage.llm_client(model)
    bodies = []
    for example in examples:
        prepared = runner.analyzer.prepare(example, version, model, client)
        messages = [ChatMessage.model_validate(m) for m in prepared.rendered.messages()]
        bodies.append(
            build_chat_request(model.name, messages, prepared.params, response_schema=rca_json_schema())
        )
    return bodies


def raw_pass(base_url: str, bodies: list[dict[str, Any]], concurrency: int) -> tuple[float, int]:
    """Seconds to send every body with ``concurrency`` threads, reading each stream to its end; tokens made."""
    with httpx.Client(timeout=httpx.Timeout(600, connect=5), limits=httpx.Limits(max_connections=64)) as http:

        def send(body: dict[str, Any]) -> int:
            # A fresh connection per request: llama-server drops idle keep-alive connections, and a
            # request sent on one it just dropped fails; a loopback handshake costs microseconds.
            headers = {"Connection": "close"}
            tokens = 0
            with http.stream(
                "POST", f"{base_url}/v1/chat/completions", json=body, headers=headers
            ) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if line.startswith("data: {"):
                        usage = json.loads(line.removeprefix("data: ")).get("usage") or {}
                        tokens = usage.get("completion_tokens", tokens)
            return tokens

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            tokens = sum(pool.map(send, bodies))
        return time.perf_counter() - began, tokens


def runner_pass(
    runner: EvalRunner, ids: list[str], concurrency: int, *, use_cache: bool
) -> tuple[float, RunMetrics]:
    """Seconds for one eval run over ``ids``, and its metrics."""
    request = EvalRequest(
        prompt=PROMPT, model=MODEL, slice=parse_slice(ids=ids), concurrency=concurrency, use_cache=use_cache
    )
    began = time.perf_counter()
    header = runner.run(request)
    elapsed = time.perf_counter() - began
    assert header.summary is not None
    return elapsed, header.summary


def store_overhead(tmp: Path, examples: list[GoldenExample]) -> None:
    """The baseline over ``examples`` in a bare loop and through the runner; print the cost per item."""
    golden_dir = tmp / "golden-all"
    write_jsonl(golden_dir / "all.jsonl", examples)
    settings = Settings(data_dir=tmp / "store-data", golden_dir=golden_dir, metrics_port=0)
    services = build_services(settings)
    runner = services.eval_runner
    began = time.perf_counter()
    for example in examples:
        runner.analyzer.baseline(example)
    bare_s = time.perf_counter() - began
    began = time.perf_counter()
    header = runner.run(EvalRequest(model=BASELINE_MODEL_NAME, concurrency=1), examples=examples)
    runner_s = time.perf_counter() - began
    assert header.status == "completed"
    count = len(examples)
    print(f"run log cost, regex baseline over {count} golden examples, one worker, SQLite")
    print(f"  bare analyzer loop                {count / bare_s:8.1f} items/s  ({bare_s:.1f} s)")
    print(f"  EvalRunner (claims, store, score) {count / runner_s:8.1f} items/s  ({runner_s:.1f} s)")
    print(f"  overhead per item                 {(runner_s - bare_s) / count * 1000:8.2f} ms")
    services.http_client.close()


def main() -> None:
    """Measure and print."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    golden = load_golden_dir(PROJECT_ROOT / "golden")
    examples = golden[:count]
    # Every eval item is a window the server has not seen: no prompt cache, so that neither pass
    # is served prompts the other one processed.
    os.environ["LLAMA_ARG_CACHE_PROMPT"] = "false"
    os.environ["LLAMA_ARG_CACHE_RAM"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-evals-") as tmp:
        store_overhead(Path(tmp), golden)
        base = Settings()
        binary = ensure_llama_server(base)
        models = make_tiny_model(base.tiny_models_dir, ensure_llama_quantize(base))
        server = LocalModelServer(
            binary,
            models["Q4_K_M"],
            port=free_port(),
            parallel=concurrency,
            context_length=CONTEXT_LENGTH,
            alias=MODEL,
            log_path=Path(tmp) / "llama-server.log",
        )
        with server:
            models_file = Path(tmp) / "models.yaml"
            entry = {
                "name": MODEL,
                "base_url": server.base_url,
                "quantization": "Q4_K_M",
                "context_length": CONTEXT_LENGTH,
                "gguf_file": server.model_path.name,
            }
            models_file.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
            # A snapshot of the examples, so the golden set can change on disk while the bench runs.
            golden_dir = Path(tmp) / "golden"
            write_jsonl(golden_dir / "bench.jsonl", examples)
            settings = Settings(
                data_dir=Path(tmp) / "data", models_file=models_file, golden_dir=golden_dir, metrics_port=0
            )
            services = build_services(settings)
            runner = services.eval_runner
            bodies = request_bodies(runner, examples)
            ids = [example.id for example in examples]
            raw_pass(server.base_url, bodies[:concurrency], concurrency)  # warm-up
            # Alternate the two and keep each one's best round: other load on the machine comes and goes.
            runner_rounds, raw_rounds = [], []
            for _ in range(ROUNDS):
                runner_rounds.append(runner_pass(runner, ids, concurrency, use_cache=False))
                raw_rounds.append(raw_pass(server.base_url, bodies, concurrency))
            cached_s, cached = runner_pass(runner, ids, concurrency, use_cache=True)
            services.http_client.close()
    runner_s, runner_metrics = min(runner_rounds, key=lambda r: r[0])
    raw_s, raw_tokens = min(raw_rounds)
    runner_tokens = runner_metrics.latency.completion_tokens
    raw_rate, runner_rate, cached_rate = count / raw_s, count / runner_s, count / cached_s
    # Prompt processing (thousands of tokens per window, no prompt cache) dominates an item's time; the
    # generated tokens are shown because batching noise can turn a tiny-model answer of 67 tokens
    # into one of ~470 between passes, which a reader should see when comparing them.
    print(f"eval throughput, {count} golden examples, concurrency {concurrency}, tiny Q4_K_M on llama-server")
    print(
        f"  raw llama-server (httpx threads)  {raw_rate:8.2f} items/s  ({raw_s:.1f} s, {raw_tokens} tokens generated)"
    )
    print(
        f"  EvalRunner, no cache              {runner_rate:8.2f} items/s  ({runner_s:.1f} s, {runner_tokens} tokens generated)"
    )
    print(f"    its outcomes                    {runner_metrics.outcomes}")
    print(f"  runner / raw                      {runner_rate / raw_rate:8.2f}x")
    print(
        f"  EvalRunner, cached re-run         {cached_rate:8.2f} items/s  ({cached_s:.2f} s, {cached.cached_items}/{count} cached)"
    )
    print(f"  cached re-run speed-up            {cached_rate / runner_rate:8.1f}x")
    print(
        f"  rounds (s): runner {[round(r[0], 1) for r in runner_rounds]}, raw {[round(r[0], 1) for r in raw_rounds]}"
    )


if __name__ == "__main__":
    main()
