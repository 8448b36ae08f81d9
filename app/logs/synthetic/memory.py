"""What an application says about its own memory as it climbs towards its container's limit.

Go services log runtime stats (and a warning near GOMEMLIMIT), Node.js services ``process.memoryUsage()``,
Python workers their RSS, and a JVM its unified GC log: heap occupancy creeping up, young pauses
giving way to full ones. Readings rise over time and GC numbers only go up, run after run.
"""

from __future__ import annotations

from app.logs.synthetic.formats import Render
from app.logs.synthetic.parts import Proc
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.scene import Scene


def memory_report(
    scene: Scene, proc: Proc, at: float, used_mi: int, limit_mi: int, *, warn: bool
) -> list[Render]:
    """What an application logs about its own memory, in its runtime's terms."""
    logger: AppLogger = proc.logger
    share = used_mi / limit_mi
    if logger.family == "go":
        if warn:
            return logger.log(
                "warn",
                "memory usage above soft limit",
                rss_mb=used_mi,
                limit_mb=limit_mi,
                gomemlimit_mb=int(limit_mi * 0.9),
            )
        return logger.log(
            "info",
            "runtime stats",
            heap_alloc_mb=int(used_mi * 0.82),
            sys_mb=used_mi,
            goroutines=scene.rng.randint(40, 900),
            num_gc=next_gc(proc, scene),
        )
    if logger.family == "node":
        return logger.log(
            "warn" if warn else "info",
            "memory usage high" if warn else "process memory",
            rss=used_mi * 1_048_576,
            heapUsed=int(used_mi * 0.7) * 1_048_576,
            heapTotal=int(used_mi * 0.75) * 1_048_576,
            external=scene.rng.randint(2, 40) * 1_048_576,
        )
    if logger.family == "python":
        message = (
            f"worker rss {used_mi} MiB ({share:.0%} of the {limit_mi} MiB limit)"
            if warn
            else f"worker rss {used_mi} MiB"
        )
        return logger.log("warn" if warn else "info", message, logger="app.monitoring")
    assert isinstance(logger, SpringBoot)
    if warn:
        delta = scene.rng.randint(62, 140)
        return logger.log(
            "warn",
            f"HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta={delta // 60}m{delta % 60}s).",
            logger="com.zaxxer.hikari.pool.HikariPool",
            thread="HikariPool-1 housekeeper",
        )
    # -Xmx left at the container limit: the heap may grow to it, so the process outgrows the cgroup.
    heap = limit_mi
    run = proc.run_at(at)
    uptime = at - run.start if run is not None else scene.rng.uniform(600, 90_000)
    full = share > 0.85
    before = min(heap - 1, int(heap * min(0.995, share + 0.06)))
    pause = scene.rng.uniform(300, 1900) if full else scene.rng.uniform(4, 40)
    return logger.gc(
        next_gc(proc, scene),
        max(1.0, uptime),
        "full" if full else "young",
        before,
        int(heap * share * 0.97),
        heap,
        pause,
    )


def next_gc(proc: Proc, scene: Scene) -> int:
    """A per-container GC counter that only goes up."""
    count = getattr(proc.logger, "gc_number", scene.rng.randint(40, 4000)) + scene.rng.randint(3, 40)
    proc.logger.gc_number = count
    return count


def memory_climb(scene: Scene, proc: Proc, start: float, end: float, *, warn: bool, evidence: bool) -> None:
    """Memory readings rising towards the limit between two times; the last ones marked as evidence."""
    limit = proc.container.memory_limit_mi
    steps = scene.rng.randint(4, 8)
    for index in range(steps):
        at = start + (end - start) * (index + scene.rng.uniform(0.1, 0.9)) / steps
        share = 0.45 + 0.5 * (index + 1) / steps
        last = index == steps - 1
        lines = memory_report(scene, proc, at, int(limit * share), limit, warn=warn and last)
        scene.log(at, proc, lines, evidence=evidence and index >= steps - 2)
