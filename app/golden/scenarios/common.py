"""Building blocks the scenarios share: asking the stack for a part, picking targets, forcing traffic,
failing releases and Jobs, and the controllers' events several scenarios write alike.

``want_*`` adjust a drawn ``StackSpec`` so the namespace has what a scenario acts on (an API in Go,
PostgreSQL in the namespace, a CronJob ...); everything else about the namespace stays as drawn.
``prepare_*`` (and ``api_on_postgres``) are ready-made ``prepare`` functions built from them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from app.golden.scenarios.registry import Prepare
from app.golden.schema import Severity
from app.logs.synthetic.cluster import Pod, Workload
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.faults import CertDates, Err, Frame, Target
from app.logs.synthetic.formats import utc
from app.logs.synthetic.lifecycle import (
    begin_rollout,
    crash_loop,
    create_pod,
    delete_pod,
    scheduled,
    start_container,
)
from app.logs.synthetic.parts import Bug, Dep, Outage, Proc, Run
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec
from app.logs.synthetic.traffic import serve_request

FAMILY_VARIANTS = ("go", "jvm", "python", "node")


# --- asking for parts ------------------------------------------------------------------------------


def want_api(spec: StackSpec, rng: random.Random, family: str) -> None:
    """An API in ``family`` (the first one)."""
    if family not in spec.apis:
        spec.apis[0] = family


def want_worker(spec: StackSpec, family: str) -> None:
    """A worker in ``family``."""
    spec.worker = family


def want_cron(spec: StackSpec, family: str) -> None:
    """A CronJob in ``family`` (the first one)."""
    spec.crons = [family, *spec.crons[1:]]


def want_postgres(spec: StackSpec, where: str = "namespace", *, bouncer: bool | None = None) -> None:
    """PostgreSQL in the namespace or elsewhere."""
    spec.postgres = where
    spec.mongodb = False
    if bouncer is not None:
        spec.pgbouncer = bouncer


def want_redis(spec: StackSpec, where: str = "namespace") -> None:
    """Redis in the namespace or elsewhere."""
    spec.redis = where


def want_rabbitmq(spec: StackSpec, rng: random.Random, family: str) -> None:
    """RabbitMQ with a worker in ``family`` consuming from it."""
    spec.worker = family
    spec.rabbitmq = True


def want_kafka(spec: StackSpec) -> None:
    """A Kafka cluster (outside the namespace) that the worker and first API use."""
    spec.kafka = True


def want_upstream(spec: StackSpec, *, internal: bool) -> None:
    """An HTTP API the services call: another team's (internal) or a third party's."""
    if internal:
        spec.internal_upstream = True
    else:
        spec.upstreams = max(spec.upstreams, 1)


def only_dependency(spec: StackSpec, keep: str) -> None:
    """Drop the other dependencies APIs would try first, so calls reach ``keep`` (postgres, mongodb, http ...)."""
    if keep != "postgres":
        spec.postgres = None
        spec.pgbouncer = False
    if keep != "mongodb":
        spec.mongodb = False


def want_store(
    spec: StackSpec, rng: random.Random, store: str, *, consumers: Sequence[str] = FAMILY_VARIANTS
) -> None:
    """The datastore named ``store`` in the namespace (postgres, redis, rabbitmq with a worker of ``consumers``), else nothing."""
    if store == "postgres":
        want_postgres(spec, "namespace", bouncer=False)
    elif store == "redis":
        want_redis(spec, "namespace")
    elif store == "rabbitmq":
        want_rabbitmq(spec, rng, rng.choice(consumers))


# --- preparations: ready-made ``prepare`` functions for a scenario decorator -----------------------


def prepare_worker(spec: StackSpec, rng: random.Random, family: str) -> None:
    """A worker in the variant's family."""
    want_worker(spec, family)


def prepare_cron(spec: StackSpec, rng: random.Random, family: str) -> None:
    """A CronJob in the variant's family."""
    want_cron(spec, family)


def prepare_postgres(spec: StackSpec, rng: random.Random, variant: str) -> None:
    """PostgreSQL in the namespace, reached directly (no PgBouncer)."""
    want_postgres(spec, "namespace", bouncer=False)


def prepare_kafka_worker(spec: StackSpec, rng: random.Random, family: str) -> None:
    """A worker in the variant's family on Kafka (no RabbitMQ)."""
    want_worker(spec, family)
    want_kafka(spec)
    spec.rabbitmq = False


def prepare_internal_upstream(spec: StackSpec, rng: random.Random, family: str) -> None:
    """An API in the variant's family whose only dependency is another team's HTTP API."""
    want_api(spec, rng, family)
    want_upstream(spec, internal=True)
    only_dependency(spec, "http")


def api_on_postgres(where: str | tuple[str, ...]) -> Prepare:
    """Prepare an API in the variant's family whose only dependency is PostgreSQL ``where`` (drawn from several), unpooled."""

    def prepare(spec: StackSpec, rng: random.Random, family: str) -> None:
        want_api(spec, rng, family)
        want_postgres(spec, where if isinstance(where, str) else rng.choice(where), bouncer=False)
        only_dependency(spec, "postgres")

    return prepare


# --- picking targets -------------------------------------------------------------------------------


def api(scene: Scene, family: str | None = None) -> Workload:
    """The first API workload (in ``family`` when given and present)."""
    apis = scene.with_role("api")
    matching = [workload for workload in apis if family is None or _family(scene, workload) == family]
    return (matching or apis)[0]


def wanted(scene: Scene, name: str) -> Workload:
    """The workload the scenario's preparation asked for (``postgres``, ``worker``, ``cron`` ...)."""
    found = scene.workload(name)
    assert found is not None, f"the scenario asked for {name}"
    return found


def _family(scene: Scene, workload: Workload) -> str:
    procs = scene.procs_of(workload)
    return getattr(procs[0].logger, "family", "") if procs else ""


def main_procs(scene: Scene, workload: Workload) -> list[Proc]:
    """The processes of a workload's main container."""
    return scene.procs_of(workload)


def new_main_procs(scene: Scene, workload: Workload, pods: Sequence[Pod]) -> list[Proc]:
    """The main-container process of each of a workload's (new) pods."""
    return [next(proc for proc in scene.procs_of_pod(pod) if proc.container is workload.main) for pod in pods]


def dep(scene: Scene, kind: str, *, name: str | None = None) -> Dep:
    """The dependency of a kind (or name)."""
    for candidate in scene.deps.values():
        if (name is None or candidate.name == name) and candidate.target.kind == kind:
            return candidate
    raise LookupError(f"the scene has no {kind} dependency")


def split_victims(
    scene: Scene, procs: Sequence[Proc], *, all_share: float = 0.5
) -> tuple[list[Proc], Severity]:
    """Every replica (critical) or one of several (warning)."""
    if len(procs) == 1 or scene.chance(all_share):
        return list(procs), "critical"
    return [scene.pick(procs)], "warning"


def incident_start(scene: Scene, low: float = 0.2, high: float = 0.55) -> float:
    """When the incident begins: a point in the window leaving time for its consequences."""
    return scene.between(low, high)


def force_requests(
    scene: Scene, proc: Proc, start: float, end: float, count: int, *, through: Dep | None = None
) -> None:
    """A few requests to an API container between two times (so an outage meets traffic).

    With ``through``, the requests call that dependency and meet its outage whatever its share.
    """
    end = min(end, scene.duration - 1)
    for index in range(count):
        at = start + (end - start) * (index + scene.rng.uniform(0.1, 0.9)) / count
        if proc.serving(at):
            serve_request(scene, proc, at, through=through)


def add_bug(
    scene: Scene,
    workload: Workload,
    resource: str,
    start: float,
    share: float,
    err: Callable[[Proc], Err],
    frames: Callable[[Proc], tuple[Frame, ...]],
    *,
    verb: str,
) -> None:
    """From ``start`` to the window's end, ``share`` of the ``verb`` calls on ``resource`` raise ``err`` through ``frames``."""
    scene.bugs.append(Bug(workload.name, resource, start, scene.duration + 1, share, err, frames, verb=verb))


def force_creates(
    scene: Scene, workload: Workload, resource: str, first: float, spacing: tuple[float, float]
) -> None:
    """Two POSTs creating a ``resource`` on each replica, ``spacing`` seconds apart from ``first`` (so a broken write meets traffic)."""
    for proc in main_procs(scene, workload):
        for index in range(2):
            at = first + index * scene.rng.uniform(*spacing)
            if at < scene.duration and proc.serving(at):
                serve_request(scene, proc, at, route=("POST", f"/v1/{resource}", resource, "create"))


def outage(
    scene: Scene,
    target: Dep,
    start: float,
    end: float,
    failure: str,
    *,
    share: float = 1.0,
    cert: CertDates | None = None,
) -> Outage:
    """Make calls to ``target`` fail between two times."""
    item = Outage(start, end, failure, share=share, cert=cert)
    target.outages.append(item)
    return item


def host_of(target: Target) -> str:
    """``host:port`` of a dependency."""
    return f"{target.host}:{target.port}"


def short_what(kind: str) -> str:
    """A dependency kind in words."""
    return {
        "postgres": "PostgreSQL",
        "mongodb": "MongoDB",
        "redis": "Redis",
        "rabbitmq": "RabbitMQ",
        "kafka": "Kafka",
        "http": "the upstream API",
        "s3": "S3",
    }[kind]


# --- failing releases ------------------------------------------------------------------------------


def failing_rollout(
    scene: Scene,
    workload: Workload,
    write_run: Callable[[Proc, Run, float], None],
    *,
    replace_all_share: float = 0.3,
    run_seconds: tuple[float, float] = (1.0, 6.0),
    start: float | None = None,
) -> tuple[list[Proc], Severity]:
    """A release whose new pods die soon after every start; ``write_run`` writes each run's last words.

    With a rolling update the old pods keep serving (warning); a Recreate strategy, or a workload of
    one replica restarted, leaves nothing serving (critical).
    """
    at = incident_start(scene, 0.1, 0.35) if start is None else start
    replace_all = scene.chance(replace_all_share)
    pods = begin_rollout(scene, workload, at, replace_all=replace_all)
    procs = new_main_procs(scene, workload, pods)
    for proc in procs:

        def die(death: Proc, run: Run, when: float) -> None:
            run.ready = when
            run.quiet_start = True
            write_run(death, run, when)

        first = proc.last_run()
        crash_loop(
            scene,
            proc,
            first.start + scene.rng.uniform(*run_seconds),
            run_length=lambda _n: scene.rng.uniform(*run_seconds),
            on_death=die,
            evidence_backoff=False,
        )
    return procs, "critical" if replace_all else "warning"


def failing_jobs(
    scene: Scene, cron: Workload, since: float, attempt: Callable[[ObjectRef, float], tuple[str, float]]
) -> None:
    """From ``since`` on, each attempt of a Job of ``cron`` is ``attempt(job, at)``: it writes the attempt and returns its outcome and end."""

    def hook(
        scene_: Scene, cron_: Workload, job: ObjectRef, at: float, number: int
    ) -> tuple[str, float] | None:
        return None if at < since else attempt(job, at)

    scene.cron_hooks[cron.name] = hook


def restart_stateful_pod(scene: Scene, workload: Workload, at: float) -> Proc:
    """The StatefulSet controller replacing ``<name>-0`` (a changed spec): the pod is deleted and created again."""
    pod = workload.pods[0]
    controller = Reporter("statefulset-controller")
    scene.event(
        at,
        workload.ref,
        controller,
        "Normal",
        "SuccessfulDelete",
        f"delete Pod {pod.name} in StatefulSet {workload.name} successful",
    )
    delete_pod(scene, pod, at + 0.05)
    again = at + scene.rng.uniform(3, 15)
    scene.event(
        again,
        workload.ref,
        controller,
        "Normal",
        "SuccessfulCreate",
        f"create Pod {pod.name} in StatefulSet {workload.name} successful",
    )
    scheduled(scene, pod, again + 0.2)
    proc = scene.procs_of(workload)[0]
    start_container(scene, proc, again + scene.rng.uniform(1, 3))
    return proc


def hpa_scale_up(
    scene: Scene, workload: Workload, hpa: ObjectRef, at: float, count: int, *, schedule: bool = True
) -> list[Pod]:
    """The HPA adding ``count`` replicas: its event, the Deployment scaling up, and the new pods."""
    before = len(workload.pods)
    scene.event(
        at,
        hpa,
        Reporter("horizontal-pod-autoscaler"),
        "Normal",
        "SuccessfulRescale",
        f"New size: {before + count}; reason: cpu resource utilization (percentage of request) above target",
    )
    scene.event(
        at + 0.2,
        workload.ref,
        Reporter("deployment-controller"),
        "Normal",
        "ScalingReplicaSet",
        f"Scaled up replica set {workload.replicaset_ref().name} from {before} to {before + count}",
    )
    return [create_pod(scene, workload, at + 0.3 + index * 0.05, schedule=schedule) for index in range(count)]


def upstream_weight(scene: Scene, target: Dep) -> bool:
    """Decide whether most requests need this upstream (core) or few do (a side feature); returns core."""
    core = scene.chance(0.5)
    target.use = scene.rng.uniform(0.7, 0.95) if core else scene.rng.uniform(0.1, 0.3)
    return core


# --- cert-manager ----------------------------------------------------------------------------------


def renewal_due(scene: Scene, cert: ObjectRef, at: float) -> None:
    """cert-manager's trigger starting a scheduled renewal of ``cert``."""
    scene.event(
        at,
        cert,
        Reporter("cert-manager-certificates-trigger"),
        "Normal",
        "Issuing",
        f"Renewing certificate as renewal was scheduled at {utc(scene.timeline.ns(at)):%Y-%m-%d %H:%M:%S} +0000 UTC",
    )


def renewal_requested(scene: Scene, cert: ObjectRef, at: float, request: str) -> None:
    """cert-manager creating the CertificateRequest ``request`` for ``cert``."""
    scene.event(
        at,
        cert,
        Reporter("cert-manager-certificates-request-manager"),
        "Normal",
        "Requested",
        f'Created new CertificateRequest resource "{request}"',
    )
