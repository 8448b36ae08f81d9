"""CronJobs on their schedule: the controllers' events, each Job's pods and what a run writes.

A CronJob ticks on whole minutes of the wall clock (``Scene.cron_epoch_ns``); each tick creates a Job
named after its minute, the Job's pod runs the task, and the Job controller reports it complete or,
after its ``backoff_limit`` retries, failed. A scenario can take over an attempt through
``Scene.cron_hooks``; an attempt it leaves alone runs the task, which fails (exit 1) when a dependency
it calls is down.
"""

from __future__ import annotations

import math

from app.logs.synthetic import calls
from app.logs.synthetic.cluster import Workload
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.lifecycle import create_pod
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.scene import Scene


def write_cronjob(scene: Scene, cron: Workload) -> None:
    """Every tick of ``cron`` in the window, with its Job's events and pods."""
    period = cron.schedule_min * 60
    start_s = (scene.timeline.start_ns - scene.cron_epoch_ns) / 1e9
    # CronJob ticks fall on whole minutes of the wall clock; a Job is named after its tick in minutes.
    tick = (math.ceil(start_s / period) * period) - start_s
    controller = Reporter("cronjob-controller")
    history: list[str] = []
    while tick < scene.duration:
        minute = round((scene.timeline.start_ns / 1e9 + tick) / 60)
        job = ObjectRef("Job", f"{cron.name}-{minute}", scene.uuid(), "batch/v1")
        at = tick + scene.rng.uniform(0.01, 0.9)
        scene.event(at, cron.ref, controller, "Normal", "SuccessfulCreate", f"Created job {job.name}")
        outcome, end = _cron_job(scene, cron, job, at + 0.05)
        if outcome == "pending":
            tick += period
            continue
        if outcome == "ok":
            scene.event(end + 0.5, job, Reporter("job-controller"), "Normal", "Completed", "Job completed")
        else:
            cite = cron.config.cite_failure
            scene.event(
                end + 0.5,
                job,
                Reporter("job-controller"),
                "Warning",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                evidence=cite,
            )
        condition = "Complete" if outcome == "ok" else "Failed"
        scene.event(
            end + scene.rng.uniform(1, 9),
            cron.ref,
            controller,
            "Normal",
            "SawCompletedJob",
            f"Saw completed job: {job.name}, condition: {condition}",
        )
        history.append(job.name)
        if len(history) > 3:
            scene.event(
                end + scene.rng.uniform(1, 9),
                cron.ref,
                controller,
                "Normal",
                "SuccessfulDelete",
                f"Deleted job {history.pop(0)}",
            )
        tick += period


def _cron_job(scene: Scene, cron: Workload, job: ObjectRef, at: float) -> tuple[str, float]:
    attempts = cron.config.backoff_limit + 1
    hook = scene.cron_hooks.get(cron.name)
    end = at
    for attempt in range(attempts):
        decided = hook(scene, cron, job, at, attempt) if hook is not None else None
        if decided is not None:
            outcome, end = decided
        else:
            proc = start_job_pod(scene, cron, job, at)
            outcome = _cron_script(scene, proc, proc.last_run())
            end = proc.last_run().end
        if outcome in ("ok", "pending"):
            return outcome, end
        at = end + min(10 * 2**attempt, 360) + scene.rng.uniform(0, 2)
        if at >= scene.duration:
            break
    return "failed", end


def start_job_pod(scene: Scene, cron: Workload, job: ObjectRef, at: float) -> Proc:
    """A Job's pod created, scheduled and started at ``at``; returns its main process."""
    pod = create_pod(scene, cron, at, job=job)
    return scene.procs_of_pod(pod)[0]


def _cron_script(scene: Scene, proc: Proc, run: Run) -> str:
    """A CronJob pod's ordinary run: start, process, finish; a failing dependency fails it (exit 1)."""
    logger: AppLogger = proc.logger
    workload = proc.pod.workload
    task = workload.name.rsplit("-", 1)[-1]
    resource = scene.pick(scene.domain)
    at = run.start + scene.rng.uniform(0.2, 1.5)
    scene.log(at, proc, logger.log("info", f"starting {task}", run_id=scene.hexid(8)))
    for dep in scene.deps_of(workload):
        outage = scene.call_failure(dep, at + 1)
        if outage is not None:
            lines, marks = calls.failed_job(scene, proc, dep, outage, task, resource, at + 1)
            scene.log(at + 1, proc, lines, evidence=marks if scene.cite(outage) else False)
            run.end = at + 1.5
            run.graceful = False
            return "failed"
    took = scene.rng.uniform(2, 45)
    count = scene.rng.randint(0, 5000)
    scene.log(
        at + took * 0.5,
        proc,
        logger.log("info", f"{task}: processed batch", resource=resource, rows=count // 2),
    )
    scene.log(at + took, proc, logger.log("info", f"{task} finished", rows=count, duration_s=round(took, 2)))
    run.end = at + took + 0.1
    run.graceful = False
    return "ok"
