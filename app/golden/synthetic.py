"""Generate the synthetic starter golden set: about 40 labeled log windows per root cause.

    uv run python -m app.golden.synthetic --out golden/starter.jsonl

Every window interleaves 2-6 pods in the formats real components write (kubelet klog, exported
events, containerd, CoreDNS, ingress-nginx, Envoy, PostgreSQL, PgBouncer, Redis, Spring Boot, Go,
Python and Node.js runtimes, cert-manager, Flux, the scheduler, an OpenTelemetry Collector sidecar,
a restart watcher) with benign noise. Output is byte-stable: all
randomness comes from ``random.Random`` instances derived from the seed, and timestamps from a fixed
date, never from now.

Labeling rules, where causes overlap (scenarios follow them so the labels are consistent):
- One window, one root cause: the earliest cause in a chain. CrashLoopBackOff, BackOff, restarts,
  failing probes, 5xx and refused connections are symptoms, never a cause when the window shows
  what produced them; the label follows what the app's last lines (or the kernel) say killed it.
- Probes: when the app's logs show a dependency clearly unreachable (connection refused, timeouts
  to a named service), the label is ``dependency_unavailable`` even though probes fail too. Only when
  probes fail and no underlying cause is visible (the app is slow, misconfigured probe path, port,
  timeout or command) is it ``probe_failure``. A few probe failures of an app that then dies of
  something else (GC thrash before an OOM kill, a process restarting) are symptoms.
- ``dependency_unavailable`` is for a dependency that refuses, drops or times out with no deeper
  cause in the window (it shut down, ran out of connection slots, was scaled to zero). When the
  window shows why it went away, that is the label: its container OOM-killed (``oom_killed``), its
  disk not attachable (``volume_mount_failure``), its pod unschedulable (``scheduling_failure``),
  its name unresolvable (``dns_resolution_failure``), its certificate rejected
  (``tls_certificate_error``). Clients' "connection refused", 502/503/504 and "unavailable" are
  then symptoms.
- A name that cannot be resolved is ``dns_resolution_failure`` even when the app reports it as
  "cannot connect to redis", as PgBouncer's "cannot connect to server", as a client timeout while
  CoreDNS times out forwarding that name, as Kafka's "No resolvable bootstrap urls" or nginx's
  "host not found in upstream"; a hostname that resolves but refuses is ``dependency_unavailable``.
- A failed login to a dependency (wrong password, NOAUTH, ACCESS_REFUSED, 403 AccessDenied) and a
  refused authorization (RBAC forbidden, Kafka ACLs, Vault policies, SQL grants) are
  ``permission_denied``, also when the app panics on it. Kafka's "failed authentication due to: SSL
  handshake failed" is a TLS failure.
- TLS: Envoy's 503 with transport failure reason CERTIFICATE_VERIFY_FAILED, nginx's "upstream SSL
  certificate verify error", gRPC's UNAVAILABLE with "Ssl handshake failed" and a certificate "not
  yet valid" on a node whose clock lags are ``tls_certificate_error``, however the callers word it.
- Any failure to pull an image is ``image_pull_error``, whatever the transport error (DNS, timeout,
  401, 403, an untrusted registry certificate), because the registry is not a workload dependency;
  so is a malformed image reference (InvalidImageName).
- An env var or Secret key that is missing, empty or invalid (including CreateContainerConfigError,
  a Service link variable that clobbers the app's own, and a TLS setting pointing at a file that is
  not there) is ``crash_config_error``, also when it surfaces as a stack trace whose quoted source
  line or message names the setting (``process.env.X`` undefined, ``int(os.getenv("X"))`` of None,
  "X must not be blank"). A Secret, ConfigMap or PVC that a *volume* needs, or a mount the storage
  refuses (NFS "access denied by server", a CSI call timing out), is ``volume_mount_failure``.
- ``application_exception`` needs the app's own code at fault with healthy infrastructure: a bug
  that reuses a pool or client it closed itself is one even when its message names a database.
- Exit code 137 is SIGKILL, not a diagnosis. The kernel killing one container at its cgroup limit
  ("Memory cgroup out of memory", or only the reported reason OOMKilled when no kernel log is
  shipped) is ``oom_killed``. The kubelet killing it after failed liveness probes and the grace
  period is ``probe_failure``. The node running short is ``node_resource_pressure``: "eviction
  manager", "The node was low on resource", a system-wide OOM ("Out of memory" without "Memory
  cgroup", whose victims' status still says OOMKilled because the kernel counts any OOM kill in
  the container's cgroup), apps failing to create threads (Java's "OutOfMemoryError: unable to
  create native thread", Go's "failed to create new OS thread") next to PID pressure, ENOSPC next to
  disk pressure, and pods Pending because every node carries a pressure taint. A JVM
  ``OutOfMemoryError: Java heap space`` appears only next to the kernel's kill of that container, so
  it is ``oom_killed`` too; a heap error on its own would be ambiguous and is not generated.
- Red herrings: lines of another class that recovered (a lookup that timed out once, a connection
  refused and re-established), were expected (readiness refused while a new pod starts), are old
  (an OOMKilled last state from days ago) or were handled (a client's malformed request answered
  with 400) are not the cause and never evidence. A minor problem unrelated to the incident (a
  telemetry sidecar that cannot verify its collector's certificate, an optional cache directory
  that is not writable) does not change the label either; such lines never appear in healthy
  windows, where they would be the only problem.
- Healthy windows may contain alarming but benign lines: retries that then succeed, ``errors_total=0``,
  deprecation warnings, NXDOMAIN for search-domain expansions, start-up probe failures of new pods
  that then become Ready, Normal ``Killing`` events of a rollout or drain, a Job that fails once and
  succeeds on retry, a planned restart whose clients see refused connections for seconds and
  reconnect, 4xx answers to clients (expired tokens, missing scopes, rate limits, scanners), handled
  errors logged at ERROR (an idempotent replay hitting a unique key, a refresh that fell back to its
  cache and recovered), Flux waiting for a dependency that becomes ready, a pod waiting for the
  cluster autoscaler, routine image garbage collection, a certificate renewed weeks before expiry.
  None of them makes a window unhealthy: nothing is failing at its end and nothing needs fixing.
- One line that plainly states a failure (a job gave up, a delivery was abandoned) is enough for a
  label; such windows are usually ``warning``.
- When the cause precedes the symptom by minutes (DNS failures, then probe failures; a certificate
  expiring, then 502s; a Flux apply, then a crash), the label and the evidence are the cause; key
  symptoms may be cited too, red herrings never.

Each example carries extra fields: ``difficulty`` ("easy" or "hard"), ``hard_case`` (what makes a
hard example hard, see ``app.golden.scenarios.registry.HardCase``; null for easy ones), ``scenario``
(the template's name) and ``components`` (formats used).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from app.golden.jsonl import dataset_version, write_jsonl
from app.golden.scenarios import SCENARIOS, Scenario
from app.golden.scenarios.decoys import add_decoys
from app.golden.scenarios.noise import add_red_herrings, background
from app.golden.scenarios.registry import HARD_CASES
from app.golden.scenarios.window import Window
from app.golden.schema import GoldenExample, GoldenLabel, GoldenWindow
from app.logs.models import detect_level
from app.taxonomy import ROOT_CAUSES

DEFAULT_SEED = 20261126
LABELER = "synthetic-generator"
# Share of easy windows that get benign alarming lines and a cross-class decoy, and become hard.
HERRING_RATE = 0.2


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
        # Real windows are messy: benign alarming lines near the evidence, and a blip of another class.
        add_red_herrings(w, rng.randint(2, 3))
        add_decoys(w, chosen.cause, 1)
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
    by_hard_case: Counter[str] = Counter(
        str(hard_case) for example in examples if (hard_case := (example.model_extra or {}).get("hard_case"))
    )
    hard = sum(by_hard_case.values())
    rows = [f"{cause:<24} {by_class[cause]:>4}" for cause in ROOT_CAUSES]
    kinds = [f"  hard: {kind:<20} {by_hard_case[kind]:>4}" for kind in HARD_CASES if by_hard_case[kind]]
    return "\n".join([*rows, f"{'total':<24} {len(examples):>4}  (hard: {hard})", *kinds])


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
