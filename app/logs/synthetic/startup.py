"""What a container writes itself as it starts, becomes ready and stops (each run inside the window).

A run whose start the scenario cites (``Run.cite_start``) marks the start-up lines that show the last
stop was not clean (PostgreSQL's "interrupted", Redis's "not properly shut down") as evidence.
"""

from __future__ import annotations

from app.logs.synthetic.cluster import WorkloadConfig
from app.logs.synthetic.datastores import Postgres, RabbitMQ, Redis
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.proxies import Envoy
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.scene import Scene


def _shared_keys(config: WorkloadConfig, drawn: int) -> int:
    """The keys Redis loads at start: drawn by the first pod, the same for every pod after it."""
    if config.keys is None:
        config.keys = drawn
    return config.keys


def own_lines(scene: Scene, proc: Proc, run: Run) -> None:
    """The start-up, ready and shutdown lines the container writes itself for one run."""
    logger = proc.logger
    previous = proc.runs[proc.runs.index(run) - 1] if proc.runs.index(run) else None
    if not run.quiet_start and 0 <= run.start < scene.duration:
        if isinstance(logger, Postgres):
            crashed = previous is not None and not previous.graceful
            last_up = scene.timeline.ns(previous.end if previous else run.start - 600)
            lines = logger.startup(crashed_before=crashed, last_up_ns=last_up)
        elif isinstance(logger, Redis):
            lines = logger.startup(
                keys=_shared_keys(proc.pod.workload.config, scene.rng.randint(200, 90_000))
            )
        elif isinstance(logger, RabbitMQ):
            lines = logger.startup(f"{proc.pod.name}.rabbitmq-nodes.{scene.namespace}")
        elif isinstance(logger, Envoy):
            lines = logger.startup(proc.pod.name, scene.namespace)
        else:
            lines = logger.startup()
        scene.log(
            run.start + 0.05, proc, lines, evidence=_restart_marks(logger, lines) if run.cite_start else False
        )
    if (
        isinstance(logger, AppLogger)
        and 0 <= run.ready < min(run.end, scene.duration)
        and not run.quiet_start
    ):
        scene.log(run.ready, proc, logger.ready())
    if run.graceful and 0 <= run.end < scene.duration and hasattr(logger, "shutdown"):
        lines = (
            logger.shutdown(int(scene.timeline.ns(run.end) // 1e9))
            if isinstance(logger, Redis)
            else logger.shutdown()
        )
        scene.log(run.end - 0.2, proc, lines)


def _restart_marks(logger: object, lines: list) -> list[int]:
    """Which start-up lines show that the last stop was not clean (or, failing that, the first line)."""
    rendered = [render(0) for render in lines]
    telling = [
        index
        for index, text in enumerate(rendered)
        if "interrupted" in text or "not properly shut down" in text
    ]
    if telling:
        return telling
    return [1] if isinstance(logger, Redis) and len(lines) > 1 else [0]
