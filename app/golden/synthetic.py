"""Generate the synthetic starter golden set: about 40 labeled log windows per root cause.

    uv run python -m app.golden.synthetic --out golden/starter.jsonl

Every window interleaves 2-5 pods in the formats real components write (kubelet klog, exported
events, containerd, CoreDNS, ingress-nginx, Envoy, PostgreSQL, Redis, Spring Boot, Go, Python and
Node.js runtimes, cert-manager, Flux, the scheduler) with benign noise. Output is byte-stable: all
randomness comes from ``random.Random`` instances derived from the seed, and timestamps from a fixed
date, never from now.

Labeling rules, where causes overlap (scenarios follow them so the labels are consistent):
- CrashLoopBackOff, BackOff and restarts are symptoms, never a cause: the label follows what the
  app's last lines (or the kernel) say killed it.
- Probes: when the app's logs show a dependency clearly unreachable (connection refused, timeouts
  to a named service), the label is ``dependency_unavailable`` even though probes fail too. Only when
  probes fail and no underlying cause is visible (the app is slow, misconfigured probe path, port or
  timeout) is it ``probe_failure``.
- A name that cannot be resolved is ``dns_resolution_failure`` even when the app reports it as
  "cannot connect to redis"; a hostname that resolves but refuses is ``dependency_unavailable``.
- A failed login to a dependency (wrong password, NOAUTH, 403 AccessDenied) is ``permission_denied``,
  not ``dependency_unavailable``.
- Any failure to pull an image is ``image_pull_error``, whatever the transport error (DNS, timeout,
  401), because the registry is not a workload dependency.
- An env var or Secret key that is missing (including CreateContainerConfigError) is
  ``crash_config_error``; a Secret, ConfigMap or PVC that a *volume* needs is ``volume_mount_failure``.
- The kernel killing one container at its cgroup limit ("Memory cgroup out of memory") is
  ``oom_killed``; the kubelet evicting pods because the node runs short ("eviction manager",
  "The node was low on resource", a system-wide OOM) is ``node_resource_pressure``. A JVM
  ``OutOfMemoryError: Java heap space`` appears only next to the kernel's kill of that container, so
  it is ``oom_killed`` too; a heap error on its own would be ambiguous and is not generated.
- Healthy windows may contain alarming but benign lines: retries that then succeed, ``errors_total=0``,
  deprecation warnings, NXDOMAIN for search-domain expansions, one refused readiness probe while a
  new pod starts, Normal ``Killing`` events of a rollout or drain. None of them makes a window
  unhealthy.
- When the cause precedes the symptom by minutes (DNS failures, then probe failures; a certificate
  expiring, then 502s), the label and the evidence are the cause.

Each example carries extra fields: ``difficulty`` ("easy" or "hard": shared symptoms, red herrings,
cause long before symptom), ``scenario`` (the template's name) and ``components`` (formats used).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from app.golden.jsonl import dataset_version, write_jsonl
from app.golden.scenarios import SCENARIOS, Scenario
from app.golden.scenarios.noise import add_red_herrings, background
from app.golden.scenarios.window import Window
from app.golden.schema import GoldenExample, GoldenLabel, GoldenWindow
from app.golden.taxonomy import ROOT_CAUSES
from app.logs.models import detect_level

DEFAULT_SEED = 20261126
LABELER = "synthetic-generator"
# Share of easy windows that get benign alarming lines next to their evidence, and become hard.
HERRING_RATE = 0.12


def generate_starter_set(seed: int = DEFAULT_SEED, per_class: int = 40) -> list[GoldenExample]:
    """``per_class`` synthetic examples for every root cause, the same for the same seed."""
    examples: list[GoldenExample] = []
    for cause in ROOT_CAUSES:
        variants = SCENARIOS.get(cause, [])
        if not variants:
            raise ValueError(f"no scenario is registered for {cause!r}")
        # Every variant appears about equally often, in a seeded order.
        plan = [variants[index % len(variants)] for index in range(per_class)]
        random.Random(f"{seed}/{cause}/plan").shuffle(plan)
        for number, chosen in enumerate(plan, start=1):
            rng = random.Random(f"{seed}/{cause}/{number}")
            examples.append(build_example(chosen, rng, f"syn-{cause}-{number:03d}"))
    return examples


def build_example(chosen: Scenario, rng: random.Random, example_id: str) -> GoldenExample:
    """One example of a scenario, drawn with ``rng``."""
    w = Window(rng)
    verdict = chosen.build(w)
    hard_case = chosen.hard_case
    if hard_case is None and rng.random() < HERRING_RATE:
        add_red_herrings(w, rng.randint(2, 3))
        hard_case = "added_herrings"
    built = w.finish(background)
    example = GoldenExample(
        id=example_id,
        source="synthetic",
        namespace=w.namespace,
        window=GoldenWindow(start=built.start, end=built.end),
        logs=built.logs,
        label=GoldenLabel(
            root_cause=chosen.cause,
            evidence=built.evidence,
            severity=verdict.severity,
            summary=verdict.summary,
            labeler=LABELER,
            labeled_at=built.end,
        ),
        difficulty="easy" if hard_case is None else "hard",
        hard_case=hard_case,
        scenario=chosen.name,
        components=built.components,
    )
    _check(example)
    return example


def _check(example: GoldenExample) -> None:
    # A scenario bug should stop generation, not ship a mislabeled example.
    evidence = example.label.evidence
    if example.label.root_cause == "healthy":
        if evidence or example.label.severity != "info":
            raise ValueError(f"{example.id}: a healthy window has no evidence and severity info")
        return
    if not evidence:
        raise ValueError(f"{example.id}: no evidence lines")
    levels = {detect_level(example.logs[i].line, example.logs[i].labels) for i in evidence}
    if levels <= {"info", "debug"}:
        raise ValueError(f"{example.id}: every evidence line reads as plain info: {levels}")


def _summary(examples: list[GoldenExample]) -> str:
    by_class: Counter[str] = Counter(example.label.root_cause for example in examples)
    hard = sum(1 for example in examples if (example.model_extra or {}).get("difficulty") == "hard")
    rows = [f"{cause:<24} {by_class[cause]:>4}" for cause in ROOT_CAUSES]
    return "\n".join([*rows, f"{'total':<24} {len(examples):>4}  (hard: {hard})"])


def main(argv: list[str] | None = None) -> int:
    """Write the starter set as canonical JSONL and print its counts and version."""
    parser = argparse.ArgumentParser(
        prog="python -m app.golden.synthetic", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("golden/starter.jsonl"), help="JSONL file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args(argv)
    examples = generate_starter_set(seed=args.seed, per_class=args.per_class)
    write_jsonl(args.out, examples)
    print(_summary(examples))
    print(f"wrote {len(examples)} examples to {args.out} (version {dataset_version(examples)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
