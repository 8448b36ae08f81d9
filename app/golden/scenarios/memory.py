"""``oom_killed``: a container's cgroup runs out of memory and the kernel kills a process with SIGKILL.

From the namespace's logs and events an OOM kill rarely names itself: the kernel's line stays in the
node journal, and ``OOMKilled`` lives in the pod status, not in an event. What shows is a process
that stops mid-work with no shutdown lines, a restart (Pulled, Created, Started), ``BackOff`` once it
repeats, memory that climbed before (GC logs, runtime stats) and, where a parent process survives
its child, the parent's own words (gunicorn's "was sent SIGKILL! Perhaps out of memory?", Celery's
"exited with 'signal 9 (SIGKILL)'", PostgreSQL's "terminated by signal 9: Killed", nginx's "exited on
signal 9"), or a Job's pod failure policy quoting exit code 137.
"""

from __future__ import annotations

import random

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    api,
    failing_jobs,
    incident_start,
    main_procs,
    prepare_worker,
    split_victims,
    want_api,
    want_cron,
    want_postgres,
    want_rabbitmq,
    want_redis,
    want_worker,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.events import ObjectRef
from app.logs.synthetic.formats import Render, fixed
from app.logs.synthetic.jobs import start_job_pod
from app.logs.synthetic.lifecycle import begin_rollout, crash_loop
from app.logs.synthetic.memory import memory_climb
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.runtimes.python import Celery, Gunicorn
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("oom_killed")


def _leak(
    scene: Scene,
    proc: Proc,
    first: float,
    interval: float,
    *,
    warn: bool,
    warn_again: bool,
    late: float = 0.0,
) -> None:
    """Memory climbs to the limit by ``first`` (up to ``late`` s more) and after each restart, killed every ``interval`` s or so."""
    memory_climb(scene, proc, max(0.0, first - interval), first, warn=warn, evidence=True)

    def climb_again(death: Proc, run: Run, at: float) -> None:
        if run.start > 0:
            memory_climb(scene, death, run.start + 20, at, warn=warn_again, evidence=False)

    crash_loop(
        scene,
        proc,
        first + scene.rng.uniform(0, late) if late else first,
        run_length=lambda _n: interval * scene.rng.uniform(0.7, 1.2),
        on_death=climb_again,
        evidence_backoff=True,
    )


@scenario("oom.leak_under_load", FAMILY_VARIANTS, hard_case="subtle", prepare=want_api)
def leak_under_load(scene: Scene, family: str) -> Verdict:
    """An API whose memory grows with traffic is OOM-killed again and again, a few minutes apart."""
    target = api(scene, family)
    victims, severity = split_victims(scene, main_procs(scene, target), all_share=0.35)
    first = incident_start(scene, 0.15, 0.4)
    interval = scene.rng.uniform(150, 420)
    warn = scene.chance(0.6)
    for proc in victims:
        _leak(scene, proc, first, interval, warn=warn, warn_again=warn, late=30)
    limit = victims[0].container.memory_limit_mi
    who = victims[0].pod.name if len(victims) == 1 else f"all {len(victims)} pods of {target.name}"
    return Verdict(
        f"{who} keep getting OOM-killed at the {limit}Mi memory limit as memory climbs under load, restarting every few minutes.",
        severity,
    )


def _prepare_batch(spec: StackSpec, rng: random.Random, family: str) -> None:
    if family in ("go", "jvm"):
        want_worker(spec, family)
    else:
        want_cron(spec, family)


def _batch_lines(scene: Scene, proc: Proc, start: float, end: float, job: str) -> None:
    logger: AppLogger = proc.logger
    rows = 0
    steps = scene.rng.randint(3, 7)
    for index in range(steps):
        rows += scene.rng.randint(80_000, 400_000)
        at = start + (end - start) * (index + 0.5) / steps
        scene.log(at, proc, logger.log("info", f"{job}: buffered {rows} rows", partition=index))


@scenario("oom.batch_mid_work", FAMILY_VARIANTS, hard_case="subtle", prepare=_prepare_batch)
def batch_mid_work(scene: Scene, family: str) -> Verdict:
    """A batch (worker or CronJob) buffers rows until the kernel kills it mid-batch; the retry dies too."""
    job = scene.pick(("export", "reindex", "rollup", "reconcile"))
    worker = scene.workload("worker") if family in ("go", "jvm") else None
    if worker is not None:
        proc = main_procs(scene, worker)[0]
        first = incident_start(scene, 0.2, 0.45)

        def die(death: Proc, run: Run, at: float) -> None:
            begin = max(run.ready, 0.0) + 5
            if at - begin > 30:
                _batch_lines(scene, death, begin, at - 2, job)

        _batch_lines(scene, proc, max(0.0, first - 240), first - 3, job)
        crash_loop(
            scene,
            proc,
            first,
            run_length=lambda _n: scene.rng.uniform(90, 240),
            on_death=die,
            evidence_backoff=True,
        )
        return Verdict(
            f"{proc.pod.name} is OOM-killed while buffering its {job} batch (memory limit {proc.container.memory_limit_mi}Mi) and crash-loops.",
            "critical" if len(worker.pods) == 1 else "warning",
        )
    cron = wanted(scene, "cron")
    policy = scene.chance(0.5)
    cron.config.backoff_limit = 0 if policy else scene.rng.randint(1, 3)
    cron.config.cite_failure = True
    failing_from = incident_start(scene, 0.1, 0.5)

    def attempt(job_ref: ObjectRef, at: float) -> tuple[str, float]:
        proc = start_job_pod(scene, cron, job_ref, at)
        run = proc.last_run()
        begin = run.start + scene.rng.uniform(0.5, 2)
        scene.log(begin, proc, proc.logger.log("info", f"starting {job}", run_id=scene.hexid(8)))
        death = begin + scene.rng.uniform(25, 120)
        _batch_lines(scene, proc, begin + 2, death - 1, job)
        run.end, run.graceful = death, False
        if policy:
            message = f"Container {proc.container.name} for pod {scene.namespace}/{proc.pod.name} failed with exit code 137 matching FailJob rule at index 0"
            scene.event(
                death + 0.8,
                job_ref,
                proc.pod.workload.controller,
                "Warning",
                "PodFailurePolicy",
                message,
                evidence=True,
            )
        return "failed", death

    failing_jobs(scene, cron, failing_from, attempt)
    return Verdict(
        f"Since mid-window the {cron.name} CronJob's {job} run is OOM-killed mid-batch at its {cron.main.memory_limit_mi}Mi limit and the Job fails.",
        "warning",
    )


def _prepare_child(spec: StackSpec, rng: random.Random, variant: str) -> None:
    if variant == "gunicorn":
        want_api(spec, rng, "python")
        spec.prefer["api"] = "python-gunicorn"
    elif variant == "celery":
        want_rabbitmq(spec, rng, "python")
    elif variant == "postgres":
        want_postgres(spec, "namespace", bouncer=False)
    else:
        spec.web = True


@scenario("oom.child_killed", ("gunicorn", "celery", "postgres", "nginx"), prepare=_prepare_child)
def child_killed(scene: Scene, variant: str) -> Verdict:
    """The kernel kills the biggest process in the cgroup, a worker child; the parent says so and carries on."""
    start = incident_start(scene, 0.15, 0.6)
    kills = scene.rng.randint(1, 4)
    times = sorted(scene.rng.uniform(start, scene.duration * 0.95) for _ in range(kills))
    if variant == "gunicorn":
        target = api(scene, "python")
        proc = scene.pick(main_procs(scene, target))
        logger: Gunicorn = proc.logger
        for at in times:
            pid = scene.rng.randint(9, 400)
            scene.log(
                at,
                proc,
                logger.server("error", f"Worker (pid:{pid}) was sent SIGKILL! Perhaps out of memory?"),
                evidence=True,
            )
            scene.log(
                at + scene.rng.uniform(0.05, 0.4),
                proc,
                logger.server(
                    "info",
                    f"Booting worker with pid: {pid + scene.rng.randint(1, 40)}",
                    scene.rng.randint(400, 900),
                ),
            )
        return Verdict(
            f"gunicorn workers in {proc.pod.name} are killed with SIGKILL by the OOM killer ({kills}x) at the {proc.container.memory_limit_mi}Mi limit; the master restarts them.",
            "warning",
        )
    if variant == "celery":
        found = wanted(scene, "worker")
        proc = scene.pick(main_procs(scene, found))
        celery: Celery = proc.logger
        for at in times:
            worker = scene.rng.randint(1, 8)
            job = scene.rng.randint(10, 900)
            lines = celery.log(
                "error",
                f"Process 'ForkPoolWorker-{worker}' pid:{scene.rng.randint(20, 900)} exited with 'signal 9 (SIGKILL)'",
            )
            lines += celery.log(
                "error",
                f"Task handler raised error: WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL) Job: {job}.')",
            )
            lines += [
                fixed("Traceback (most recent call last):"),
                fixed(
                    '  File "/usr/local/lib/python3.12/site-packages/billiard/pool.py", line 1265, in mark_as_worker_lost'
                ),
                fixed("    raise WorkerLostError("),
                fixed(
                    f"billiard.exceptions.WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL) Job: {job}."
                ),
            ]
            scene.log(at, proc, lines, evidence=[0, 1])
        return Verdict(
            f"Celery pool processes in {proc.pod.name} are SIGKILLed by the OOM killer ({kills}x) at the {proc.container.memory_limit_mi}Mi limit and their tasks are lost.",
            "warning",
        )
    if variant == "postgres":
        found = wanted(scene, "postgres")
        proc = main_procs(scene, found)[0]
        pg = proc.logger
        for at in times[:2]:
            victim = scene.rng.randint(2000, 90_000)
            statement = f"SELECT * FROM {scene.pick(scene.domain).replace('-', '_')} ORDER BY created_at DESC"
            lines = [
                pg.line(1, "LOG", f"server process (PID {victim}) was terminated by signal 9: Killed"),
                pg.line(1, "DETAIL", f"Failed process was running: {statement}"),
                pg.line(1, "LOG", "terminating any other active server processes"),
                pg.line(1, "LOG", "all server processes terminated; reinitializing"),
                *pg.recovery(scene.rng.randint(2000, 90_000), scene.timeline.ns(at - 1)),
                pg.line(1, "LOG", "database system is ready to accept connections"),
            ]
            scene.log(at, proc, lines, evidence=[0])
        return Verdict(
            f"A PostgreSQL backend in {proc.pod.name} is killed by the OOM killer at the {proc.container.memory_limit_mi}Mi limit; the server restarts all sessions and recovers.",
            "critical",
        )
    found = wanted(scene, "web")
    proc = scene.pick(main_procs(scene, found))
    nginx = proc.logger
    for at in times:
        dead = nginx.worker_pid
        nginx.worker_pid = scene.rng.randint(30, 400)
        scene.log(
            at,
            proc,
            [
                nginx.error("alert", f"worker process {dead} exited on signal 9", pid=1),
                nginx.error("notice", f"start worker process {nginx.worker_pid}", pid=1),
            ],
            evidence=[0],
        )
    return Verdict(
        f"nginx workers in {proc.pod.name} are killed with signal 9 by the OOM killer ({kills}x) at the {proc.container.memory_limit_mi}Mi limit.",
        "warning",
    )


def _startup_lines(scene: Scene, proc: Proc) -> list[Render]:
    logger: AppLogger = proc.logger
    entries = scene.rng.randint(200_000, 4_000_000)
    what = scene.pick(
        (
            "warming product cache",
            "loading recommendation model",
            "building search index",
            "preloading price tables",
        )
    )
    return logger.log("info", f"{what} ({entries} entries)")


@scenario("oom.startup_crashloop", FAMILY_VARIANTS, hard_case="shared_symptom", prepare=want_api)
def startup_crashloop(scene: Scene, family: str) -> Verdict:
    """A release loads more data at start-up than its limit holds: killed before it is ready, in a loop."""
    target = api(scene, family)
    recreate = scene.chance(0.3)
    new_pods = begin_rollout(scene, target, incident_start(scene, 0.1, 0.3), replace_all=recreate)
    for pod in new_pods:
        proc = next(p for p in scene.procs_of_pod(pod) if p.container is target.main)

        def die(death: Proc, run: Run, at: float) -> None:
            run.ready = at
            run.quiet_start = True
            if 0 <= run.start < scene.duration:
                scene.log(run.start + 0.1, death, death.logger.startup())
                scene.log(run.start + 2, death, _startup_lines(scene, death))
                memory_climb(scene, death, run.start + 3, at - 0.5, warn=True, evidence=False)

        run = proc.last_run()
        crash_loop(
            scene,
            proc,
            run.start + scene.rng.uniform(20, 60),
            run_length=lambda _n: scene.rng.uniform(20, 60),
            on_death=die,
            evidence_backoff=True,
        )
    severity = "critical" if recreate else "warning"
    return Verdict(
        f"The new {target.name} pods are OOM-killed ({target.main.memory_limit_mi}Mi limit) while loading data at start-up, before they become ready, and crash-loop.",
        severity,
    )


def _prepare_store(spec: StackSpec, rng: random.Random, variant: str) -> None:
    if variant == "redis":
        want_redis(spec, "namespace")
        spec.apis = ["jvm" if rng.random() < 0.5 else "node", *spec.apis[1:]]
    elif variant == "postgres":
        want_postgres(spec, "namespace", bouncer=False)
    else:
        want_rabbitmq(spec, rng, rng.choice(("python", "jvm", "go")))


@scenario(
    "oom.datastore_restart",
    ("redis", "postgres", "rabbitmq"),
    hard_case="causal_chain",
    prepare=_prepare_store,
)
def datastore_restart(scene: Scene, variant: str) -> Verdict:
    """A datastore container is killed at its memory limit: it restarts cold, and its clients fail meanwhile."""
    found = wanted(scene, variant)
    proc = main_procs(scene, found)[0]
    first = incident_start(scene, 0.2, 0.5)
    repeats = scene.rng.randint(1, 3)

    def die(death: Proc, run: Run, at: float) -> None:
        pass

    lengths = [scene.rng.uniform(120, 600) for _ in range(repeats)] + [10**9]
    crash_loop(
        scene,
        proc,
        first,
        run_length=lambda n: lengths[min(n - 1, len(lengths) - 1)],
        on_death=die,
        evidence_backoff=True,
    )
    # The restart's own words are the tell: no shutdown before it, and for PostgreSQL a crash recovery.
    for run in proc.runs[1:]:
        run.ready = run.start + scene.rng.uniform(1, 6)
        run.cite_start = run is proc.runs[1]
    return Verdict(
        f"The {variant} container {proc.pod.name} is OOM-killed at its {proc.container.memory_limit_mi}Mi limit and restarts without a shutdown; its clients fail while it is down.",
        "critical",
    )


@scenario("oom.worker_leak", FAMILY_VARIANTS, hard_case="subtle", prepare=prepare_worker)
def worker_leak(scene: Scene, family: str) -> Verdict:
    """A queue worker leaks memory per message: it is killed at its limit every few minutes, mid-message."""
    found = wanted(scene, "worker")
    found.config.load = max(2.0, found.config.load)
    victims, severity = split_victims(scene, main_procs(scene, found), all_share=0.4)
    first = incident_start(scene, 0.15, 0.45)
    interval = scene.rng.uniform(180, 480)
    for proc in victims:
        _leak(scene, proc, first, interval, warn=scene.chance(0.5), warn_again=False)
    return Verdict(
        f"{found.name} grows with every message and is OOM-killed at its {found.main.memory_limit_mi}Mi limit every few minutes, losing the message in flight.",
        severity,
    )
