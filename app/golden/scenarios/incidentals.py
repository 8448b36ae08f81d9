"""Benign episodes that look alarming: rollouts, scaling, 4xx bursts, blips that recover, a retried Job.

They happen in every namespace whatever else goes on, so the generator adds them to windows of every
class alike (never one that speaks the window's own class), and the healthy scenarios are built from
them. None of their lines is ever evidence.
"""

from __future__ import annotations

from collections.abc import Callable

from app.golden.scenarios.common import hpa_scale_up, renewal_due, renewal_requested
from app.logs.synthetic.cluster import new_uid
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.jobs import start_job_pod
from app.logs.synthetic.lifecycle import create_pod, delete_pod, probe_failed, rollout
from app.logs.synthetic.parts import Outage
from app.logs.synthetic.runtimes import AppLogger, Request
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.traffic import serve_request

Episode = Callable[[Scene], bool]


def rollout_episode(scene: Scene, at: float | None = None) -> bool:
    """A Deployment rolls to a new version; new pods fail readiness while they start, then serve."""
    candidates = scene.with_role("api", "worker", "web")
    if not candidates:
        return False
    target = scene.pick(candidates)
    at = scene.between(0.05, 0.85) if at is None else at
    new_pods = rollout(scene, target, at, surge_delay=scene.rng.uniform(15, 45))
    for pod in new_pods:
        proc = next(item for item in scene.procs_of_pod(pod) if item.container is target.main)
        run = proc.last_run()
        path = target.config.probe_paths[-1]
        output = f'Get "http://{pod.ip}:{proc.container.port}{path}": dial tcp {pod.ip}:{proc.container.port}: connect: connection refused'
        if scene.chance(0.7):
            probe_failed(
                scene,
                proc,
                run.start + scene.rng.uniform(0.5, max(0.6, run.ready - run.start)),
                "Readiness",
                output,
            )
    return True


def scaling_episode(scene: Scene) -> bool:
    """The HPA scales a Deployment up (new pods start) and, later, down (pods stop cleanly)."""
    candidates = scene.with_role("api", "worker")
    if not candidates:
        return False
    target = scene.pick(candidates)
    hpa = ObjectRef("HorizontalPodAutoscaler", target.name, new_uid(scene.rng), "autoscaling/v2")
    at = scene.between(0.05, 0.6)
    before = len(target.pods)
    extra = scene.rng.randint(1, 2)
    pods = hpa_scale_up(scene, target, hpa, at, extra)
    down = at + scene.rng.uniform(360, 900)
    if down < scene.duration:
        scene.event(
            down,
            hpa,
            Reporter("horizontal-pod-autoscaler"),
            "Normal",
            "SuccessfulRescale",
            f"New size: {before}; reason: All metrics below target",
        )
        scene.event(
            down + 0.2,
            target.ref,
            Reporter("deployment-controller"),
            "Normal",
            "ScalingReplicaSet",
            f"Scaled down replica set {target.replicaset_ref().name} from {before + extra} to {before}",
        )
        for pod in pods:
            delete_pod(scene, pod, down + 0.3)
    return True


def client_error_burst(scene: Scene) -> bool:
    """Clients with expired tokens, a scanner probing for admin pages, a client hitting its rate limit: 4xx."""
    apis = scene.with_role("api")
    if not apis:
        return False
    target = scene.pick(apis)
    proc = scene.pick(scene.procs_of(target))
    logger: AppLogger = proc.logger
    at = scene.between(0.05, 0.8)
    kind = scene.pick(("token", "scanner", "ratelimit"))
    client = f"10.{scene.rng.randint(0, 9)}.{scene.rng.randint(0, 255)}.{scene.rng.randint(2, 254)}"
    for _ in range(scene.rng.randint(4, 14)):
        if not proc.serving(at):
            break
        if kind == "scanner":
            path, status = (
                scene.pick(
                    ("/wp-login.php", "/.env", "/admin", "/actuator/env", "/.git/config", "/phpmyadmin/")
                ),
                404,
            )
        elif kind == "token":
            path, status = f"/v1/{scene.pick(scene.domain)}", 401
        else:
            path, status = f"/v1/{scene.pick(scene.domain)}", 429
        request = Request(
            "GET",
            path,
            status,
            scene.rng.uniform(0.5, 4),
            60,
            client,
            scene.port(),
            scene.pick(("python-requests/2.32.3", "curl/8.5.0", "Go-http-client/1.1")),
            scene.uuid(),
        )
        lines = logger.access(request) if logger.logs_access else []
        if kind == "token" and scene.chance(0.5):
            lines += logger.log("warn", "rejected request: token expired", path=path)
        if kind == "ratelimit" and scene.chance(0.3):
            lines += logger.log("warn", "rate limit exceeded for client", client=client, limit_per_minute=600)
        scene.log(at, proc, lines)
        at += scene.rng.uniform(0.2, 6)
    return True


def transient_blip(
    scene: Scene, failures: tuple[str, ...] = ("refused", "timeout", "read_timeout", "dns_timeout", "reset")
) -> bool:
    """A dependency fails for a few seconds; a request or two fail, then everything is fine."""
    deps = [
        dep for dep in scene.deps.values() if any(workload.role == "api" for workload in scene.callers(dep))
    ]
    if not deps:
        return False
    dep = scene.pick(deps)
    at = scene.between(0.1, 0.8)
    outage = Outage(at, at + scene.rng.uniform(2, 8), scene.pick(failures), evidence=False)
    dep.outages.append(outage)
    for workload in scene.callers(dep):
        if workload.role == "api":
            for proc in scene.procs_of(workload)[:1]:
                if proc.serving(at):
                    serve_request(scene, proc, at + 0.5, through=dep)
                    if dep.target.kind != "redis":
                        retry = {"go": "retrying request", "node": "retrying request"}.get(
                            proc.logger.family, "retrying request after transient error"
                        )
                        scene.log(at + 0.6, proc, proc.logger.log("warn", retry, attempt=2))
    return True


def cron_retry_episode(scene: Scene) -> bool:
    """A CronJob's first attempt fails on a transient error; the Job's retry succeeds."""
    cron = scene.workload("cron")
    if cron is None or cron.name in scene.cron_hooks:
        return False
    cron.config.backoff_limit = max(1, cron.config.backoff_limit)
    when = scene.between(0.0, 0.7)
    state = {"used": False}

    def hook(
        scene_: Scene, cron_: object, job: ObjectRef, at: float, attempt: int
    ) -> tuple[str, float] | None:
        if state["used"] or at < when or attempt:
            return None
        state["used"] = True
        proc = start_job_pod(scene, cron, job, at)
        run = proc.last_run()
        logger: AppLogger = proc.logger
        begin = run.start + scene.rng.uniform(0.3, 1.5)
        scene.log(
            begin, proc, logger.log("info", f"starting {cron.name.rsplit('-', 1)[-1]}", run_id=scene.hexid(8))
        )
        scene.log(
            begin + scene.rng.uniform(1, 10),
            proc,
            logger.log("error", "run failed: upstream closed the connection; exiting for retry", attempt=1),
        )
        run.end, run.graceful = begin + 11, False
        return "failed", run.end

    scene.cron_hooks[cron.name] = hook
    return True


def duplicate_key(scene: Scene) -> bool:
    """An idempotent retry hits a unique constraint: PostgreSQL logs an ERROR the client handles."""
    postgres = scene.workload("postgres")
    if postgres is None:
        return False
    proc = scene.procs_of(postgres)[0]
    table = scene.pick(scene.domain).replace("-", "_")
    for _ in range(scene.rng.randint(1, 3)):
        at = scene.between(0.05, 0.95)
        if proc.serving(at):
            pid = scene.rng.randint(200, 90_000)
            key = scene.uuid()
            lines = [
                proc.logger.line(
                    pid,
                    "ERROR",
                    f'duplicate key value violates unique constraint "{table}_idempotency_key_key"',
                ),
                proc.logger.line(pid, "DETAIL", f"Key (idempotency_key)=({key}) already exists."),
                proc.logger.line(
                    pid,
                    "STATEMENT",
                    f"INSERT INTO {table} (id, idempotency_key, payload, created_at) VALUES ($1, $2, $3, $4)",
                ),
            ]
            scene.log(at, proc, lines)
    return True


def node_drain_episode(scene: Scene) -> bool:
    """A node is drained for maintenance: its pods are stopped cleanly and recreated on other nodes."""
    node = scene.pick(scene.cluster.nodes)
    at = scene.between(0.1, 0.7)
    moved = 0
    for workload in scene.with_role("api", "worker", "web"):
        for pod in [pod for pod in workload.pods if pod.node == node]:
            if not any(proc.running(at) for proc in scene.procs_of_pod(pod)):
                continue
            delete_pod(scene, pod, at + moved * 0.4)
            create_pod(scene, workload, at + moved * 0.4 + 0.2)
            moved += 1
    return moved > 0


def cert_renewal(scene: Scene) -> bool:
    """cert-manager renews a certificate of the namespace weeks before it expires."""
    secret = f"{scene.pick(scene.with_role('api', 'web') or scene.workloads).name}-tls"
    cert = ObjectRef("Certificate", secret, new_uid(scene.rng), "cert-manager.io/v1")
    at = scene.between(0.05, 0.9)
    renewal_due(scene, cert, at)
    scene.event(
        at + 0.2,
        cert,
        Reporter("cert-manager-certificates-key-manager"),
        "Normal",
        "Reused",
        f'Reusing private key stored in existing Secret resource "{secret}"',
    )
    renewal_requested(scene, cert, at + 0.4, f"{secret}-{scene.rng.randint(2, 40)}")
    scene.event(
        at + scene.rng.uniform(3, 40),
        cert,
        Reporter("cert-manager-certificates-issuing"),
        "Normal",
        "Issuing",
        "The certificate has been successfully issued",
    )
    return True


# Episodes and the classes whose evidence they could be mistaken to explain (never added to those).
EPISODES: tuple[tuple[Episode, frozenset[str]], ...] = (
    (rollout_episode, frozenset({"probe_failure"})),
    (scaling_episode, frozenset({"scheduling_failure"})),
    (client_error_burst, frozenset({"permission_denied"})),
    (
        transient_blip,
        frozenset({"dependency_unavailable", "dns_resolution_failure", "tls_certificate_error"}),
    ),
    (cron_retry_episode, frozenset()),
    (duplicate_key, frozenset({"application_exception"})),
    (node_drain_episode, frozenset({"node_resource_pressure", "scheduling_failure"})),
    (cert_renewal, frozenset({"tls_certificate_error"})),
)


def add_incidentals(scene: Scene, cause: str) -> int:
    """Add benign alarming episodes to a window (independently of its class); returns how many."""
    added = 0
    # One rate for every class: how often a window holds a benign episode must not tell its class.
    for episode, avoid in EPISODES:
        if cause not in avoid and scene.chance(0.15) and episode(scene):
            added += 1
    return added
