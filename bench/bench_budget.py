"""How much the context budget shrinks a realistic log window, what it keeps, and how fast it runs.

Run: ``uv run python bench/bench_budget.py``. Prints ratios measured in one run; asserts nothing.
"""

from __future__ import annotations

import random
import time
import uuid

from app.logs.compress import fit_to_budget
from app.logs.models import LogEntry

WINDOW_NS = 15 * 60 * 1_000_000_000
START_NS = 1_767_323_045_000_000_000  # 2026-01-02T03:04:05Z

PODS: tuple[tuple[str, str, str], ...] = (
    ("payments", "api-7d9f8b6c5d-x2k4p", "api"),
    ("payments", "api-7d9f8b6c5d-q8w2z", "api"),
    ("payments", "api-7d9f8b6c5d-m4n7t", "api"),
    ("payments", "worker-5c6d7f8g9h-b2c4d", "worker"),
    ("payments", "worker-5c6d7f8g9h-z9x7v", "worker"),
    ("payments", "postgres-0", "postgres"),
    ("ingress-nginx", "ingress-nginx-controller-6b7c8d9f4-h5j6k", "controller"),
    ("checkout", "checkout-84f5d6c7b9-p2q4r", "checkout"),
)
PATHS = ("/api/v1/payments", "/api/v1/refunds", "/api/v1/orders/{id}", "/healthz", "/metrics")


RARE_EVENTS = (
    'Successfully pulled image "registry.local/payments/api:1.42.0" in 2.31s',
    "leader election: acquired lease payments/worker-leader",
    'level=info msg="config reloaded" feature_flags=refunds_v2,fast_checkout',
    "LOG:  database system was interrupted; last known up at 2026-01-02 03:01:44 UTC",
    "Started container api",
)


def _info_line(rng: random.Random, container: str, ts_ns: int) -> str:
    """A noisy info line whose ids, durations and addresses vary from line to line."""
    if rng.random() < 0.002:
        return rng.choice(RARE_EVENTS)
    if container == "controller":
        path = rng.choice(PATHS).format(id=rng.randint(1, 99_999))
        return (
            f'10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)} - - "GET {path} HTTP/1.1" '
            f"{rng.choice((200, 200, 200, 201, 204, 404))} {rng.randint(100, 9000)} "
            f'"-" "Go-http-client/1.1" {rng.random():.3f} [payments-api-8080] {uuid.UUID(int=rng.getrandbits(128))}'
        )
    if container == "postgres":
        return (
            f"LOG:  checkpoint complete: wrote {rng.randint(1, 900)} buffers ({rng.random() * 5:.1f}%); "
            f"write={rng.random() * 30:.3f} s, sync={rng.random():.3f} s"
        )
    kind = rng.randrange(4)
    if kind == 0:
        return (
            f'level=info msg="request completed" method=GET path={rng.choice(PATHS).format(id=rng.randint(1, 99_999))}'
            f" status=200 duration={rng.randint(1, 900)}ms trace_id={rng.getrandbits(128):032x}"
        )
    if kind == 1:
        return f'level=info msg="processed order" order_id={uuid.UUID(int=rng.getrandbits(128))} amount={rng.randint(1, 999)}.{rng.randint(0, 99):02d}'
    if kind == 2:
        return f'level=info msg="cache refresh" keys={rng.randint(100, 5000)} took={rng.random():.2f}s'
    clock = time.strftime("%H:%M:%S", time.gmtime(ts_ns // 1_000_000_000))
    return (
        f"I0102 {clock}.{ts_ns // 1000 % 1_000_000:06d}       1 reflector.go:{rng.randint(100, 400)}]"
        " Listing and watching *v1.ConfigMap"
    )


def _problem_line(rng: random.Random, container: str) -> str:
    """A warn or error line, mostly from a small set of repeating failures."""
    roll = rng.random()
    if container == "postgres":
        return "FATAL:  remaining connection slots are reserved for non-replication superuser connections"
    if roll < 0.55:
        return 'level=error msg="connection refused" addr=postgres.payments.svc:5432 err="dial tcp 10.96.4.12:5432: connect: connection refused"'
    if roll < 0.75:
        return f'level=warn msg="retrying database call" attempt={rng.randint(1, 5)} backoff={rng.choice((100, 200, 400, 800))}ms'
    if roll < 0.85:
        return f'level=warn msg="slow query" duration={rng.randint(1, 9)}.{rng.randint(0, 9)}s query_id={rng.getrandbits(64):016x}'
    if roll < 0.95:
        return f'level=error msg="payment failed" order_id={uuid.UUID(int=rng.getrandbits(128))} err="context deadline exceeded"'
    return "panic: runtime error: invalid memory address or nil pointer dereference [signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6b8f2a]"


def make_window(lines: int, seed: int = 7) -> list[LogEntry]:
    """A realistic window: pods interleaved, mostly noisy info, an incident of repeated errors and warns."""
    rng = random.Random(seed)
    entries: list[LogEntry] = []
    for _ in range(lines):
        ts = START_NS + rng.randrange(WINDOW_NS)
        namespace, pod, container = rng.choice(PODS)
        # The incident: the second half of the window, mostly the api pods and postgres.
        in_incident = ts > START_NS + WINDOW_NS // 2 and container in {"api", "worker", "postgres"}
        problem = rng.random() < (0.15 if in_incident else 0.005)
        text = _problem_line(rng, container) if problem else _info_line(rng, container, ts)
        labels = {"namespace": namespace, "pod": pod, "container": container}
        entries.append(LogEntry(ts_ns=ts, labels=labels, line=text))
    entries.sort(key=lambda entry: entry.ts_ns)
    return entries


def main() -> None:
    """Print reduction, error/warn retention and throughput for two window sizes and three budgets."""
    print(
        f"{'lines':>7} {'budget':>7} {'before':>10} {'after':>7} {'ratio':>7} {'out':>5} {'err/warn kept':>18} {'lines/s':>9}"
    )
    for size in (5_000, 50_000):
        entries = make_window(size)
        for budget in (2_000, 4_000, 8_000):
            started = time.perf_counter()
            result = fit_to_budget(entries, max_tokens=budget)
            elapsed = time.perf_counter() - started
            report = result.report
            ratio = report.tokens_before / max(report.tokens_after, 1)
            share = report.error_warn_kept / max(report.error_warn_total, 1)
            kept = f"{report.error_warn_kept}/{report.error_warn_total} ({share:.0%})"
            print(
                f"{size:>7,} {budget:>7,} {report.tokens_before:>10,} {report.tokens_after:>7,} {ratio:>6.0f}x"
                f" {report.output_lines:>5} {kept:>18} {size / elapsed:>9,.0f}"
            )
        print(f"        {report.summary()}")


if __name__ == "__main__":
    main()
