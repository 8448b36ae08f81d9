"""Benign work of every container over its runs, and the failures that work runs into.

APIs serve requests (Poisson arrivals, realistic routes, statuses and latencies) and call their
dependencies; workers consume jobs; nginx serves a front end; the kubelet's probes hit the containers
that log them; datastores write what they write on their own (``datastores``); CronJobs run on their
schedule (``jobs``) and connection-oriented clients reconnect during outages (``calls``). Every rate
is scaled by the scene's ``traffic_scale``.
"""

from __future__ import annotations

import math

from app.logs.synthetic import calls, jobs
from app.logs.synthetic.code import singular, stable_int
from app.logs.synthetic.datastores import PgBouncer, Postgres, RabbitMQ, Redis
from app.logs.synthetic.lifecycle import KUBE_VERSION
from app.logs.synthetic.parts import Dep, Proc
from app.logs.synthetic.proxies import Envoy, EnvoyHop, Nginx
from app.logs.synthetic.runtimes import AppLogger, Request
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.runtimes.python import Celery
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.startup import own_lines

REQUEST_RATE = 0.05
JOB_RATE = 0.03
WEB_RATE = 0.08
_USE = {
    "postgres": 0.8,
    "mongodb": 0.8,
    "redis": 0.5,
    "http": 0.25,
    "rabbitmq": 0.1,
    "kafka": 0.12,
    "s3": 0.04,
}
_AGENTS = (
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-httpx/0.27.2",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
    "axios/1.7.7",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
)
_PERIODIC = (
    ("refreshed feature flags", 300.0),
    ("reloaded exchange rates", 600.0),
    ("outbox relay published pending events", 30.0),
    ("cleaned up expired idempotency keys", 900.0),
    ("token cache refreshed", 240.0),
    ("pool stats", 60.0),
)


def write_all(scene: Scene) -> None:
    """Write every container's lines over its runs."""
    for cron in [workload for workload in scene.workloads if workload.kind == "CronJob"]:
        jobs.write_cronjob(scene, cron)
    for proc in list(scene.procs):
        if proc.pod.workload.kind in ("CronJob", "Job"):
            continue
        for run in proc.runs:
            own_lines(scene, proc, run)
            low, high = max(run.ready, 0.0), min(run.end, scene.duration)
            if high > low:
                _work(scene, proc, low, high)
    calls.write_reconnects(scene)


# --- work -----------------------------------------------------------------------------------------


def _work(scene: Scene, proc: Proc, low: float, high: float) -> None:
    workload = proc.pod.workload
    logger = proc.logger
    if isinstance(logger, Envoy):
        at = low + scene.rng.uniform(0, 1800)
        while at < high:
            scene.log(at, proc, logger.xds_reconnect())
            at += scene.rng.uniform(1700, 1900)
        return
    if isinstance(logger, Postgres):
        writes = (
            REQUEST_RATE
            * scene.traffic_scale
            * sum(len(w.pods) for w in scene.with_role("api", "worker"))
            * 3
        )
        for at, lines in logger.background(low, high, writes):
            scene.log(at, proc, lines)
        _slow_queries(scene, proc, logger, low, high)
        return
    if isinstance(logger, Redis):
        changes = REQUEST_RATE * scene.traffic_scale * 40 * max(1, len(scene.with_role("api")))
        for at, lines in logger.background(low, high, changes):
            scene.log(at, proc, lines)
        return
    if isinstance(logger, PgBouncer):
        rate = (
            REQUEST_RATE
            * scene.traffic_scale
            * 4
            * sum(len(w.pods) for w in scene.with_role("api", "worker"))
        )
        for at, lines in logger.background(low, high, lambda _t: rate * scene.rng.uniform(0.6, 1.4)):
            scene.log(at, proc, lines)
        return
    if isinstance(logger, RabbitMQ):
        return
    if isinstance(logger, Nginx):
        _web(scene, proc, logger, low, high)
        _probes(scene, proc, low, high)
        return
    _probes(scene, proc, low, high)
    _periodic(scene, proc, low, high)
    if workload.role == "api":
        _serve(scene, proc, low, high)
    elif workload.role == "worker":
        _consume(scene, proc, low, high)


def _arrivals(scene: Scene, rate: float, low: float, high: float) -> list[float]:
    times: list[float] = []
    if rate <= 0:
        return times
    at = low + scene.rng.expovariate(rate)
    while at < high:
        times.append(at)
        at += scene.rng.expovariate(rate)
    return times


def _route(scene: Scene) -> tuple[str, str, str, str]:
    resource = scene.pick(scene.domain)
    roll = scene.rng.random()
    item = (
        f"{singular(resource)[:3]}_{scene.hexid(12)}"
        if roll < 0.8
        else str(scene.rng.randint(1000, 99_999_999))
    )
    if roll < 0.4:
        return "GET", f"/v1/{resource}?limit={scene.pick((20, 50, 100))}", resource, "list"
    if roll < 0.75:
        return "GET", f"/v1/{resource}/{item}", resource, "get"
    if roll < 0.95:
        return "POST", f"/v1/{resource}", resource, "create"
    return (
        ("PATCH", f"/v1/{resource}/{item}", resource, "update")
        if roll < 0.99
        else ("DELETE", f"/v1/{resource}/{item}", resource, "delete")
    )


def _status(scene: Scene, method: str) -> int:
    roll = scene.rng.random()
    if roll < 0.02:
        return 401
    if method == "GET":
        return 404 if roll < 0.06 else 200
    if method == "POST":
        return 400 if roll < 0.04 else (409 if roll < 0.05 else (422 if roll < 0.06 else 201))
    return 204 if method == "DELETE" else 200


def _serve(scene: Scene, proc: Proc, low: float, high: float) -> None:
    rate = REQUEST_RATE * scene.traffic_scale * proc.pod.workload.config.load
    for at in _arrivals(scene, rate, low, high):
        if not proc.unready or proc.serving(at):
            serve_request(scene, proc, at)


def serve_request(
    scene: Scene,
    proc: Proc,
    at: float,
    *,
    route: tuple[str, str, str, str] | None = None,
    through: Dep | None = None,
) -> int:
    """One request to an API container at ``at``: its lines, failures on dependencies included; returns the status.

    ``through`` makes the request call that dependency first and meet its outage, if one is on.
    """
    logger: AppLogger = proc.logger
    sidecar = next((other for other in scene.procs_of_pod(proc.pod) if isinstance(other.logger, Envoy)), None)
    deps = scene.deps_of(proc.pod.workload)
    method, path, resource, verb = route or _route(scene)
    duration = scene.rng.lognormvariate(math.log(18), 0.7)
    client = scene.cluster.pod_ip() if scene.chance(0.2) else _gateway_ip(scene)
    request = Request(
        method,
        path,
        _status(scene, method),
        duration,
        scene.rng.randint(90, 24_000),
        client,
        scene.port(),
        scene.pick(_AGENTS),
        scene.uuid(),
    )
    lines, marks = [], []
    bug = scene.bug_at(proc, resource, verb, at)
    if bug is not None:
        lines, bug_marks = calls.failed_by_bug(scene, proc, request, bug)
        scene.log(
            at + request.duration_ms / 1000, proc, lines, evidence=bug_marks if scene.cite(bug) else False
        )
        if sidecar is not None:
            _inbound(scene, sidecar, proc, request, 500, at + request.duration_ms / 1000)
        return 500
    for dep in [dep for dep in deps if dep.target.kind == "redis"]:
        outage = scene.call_failure(dep, at) if scene.chance(_USE["redis"]) else None
        if outage is not None:
            warn, warn_marks = calls.degraded_cache(scene, proc, dep, outage, at)
            if scene.cite(outage):
                marks += [len(lines) + index for index in warn_marks]
            lines += warn
    failed = None
    if through is not None and (outage := scene.call_failure(through, at, certain=True)) is not None:
        failed = (through, outage)
    for dep in [dep for dep in deps if dep.target.kind != "redis"] if failed is None else ():
        if not scene.chance(dep.use if dep.use is not None else _USE.get(dep.target.kind, 0.2)):
            continue
        outage = scene.call_failure(dep, at)
        if outage is not None:
            failed = (dep, outage)
            break
    if failed is not None:
        dep, outage = failed
        slow = outage.failure in ("timeout", "read_timeout", "dns_timeout")
        request = _with_duration(request, 5000.0 + duration if slow else duration)
        fail_lines, fail_marks = calls.failed_request(scene, proc, request, dep, outage, resource, verb, at)
        if scene.cite(outage):
            marks += [len(lines) + index for index in fail_marks]
        lines += fail_lines
        status = calls.STATUS_FOR_FAILURE.get(outage.failure, 502 if dep.target.kind == "http" else 500)
    else:
        lines += logger.access(request) if logger.logs_access else []
        if request.status in (200, 201) and scene.chance(0.25 if not logger.logs_access else 0.06):
            lines += _business(scene, logger, resource, verb)
        status = request.status
    end = at + request.duration_ms / 1000
    scene.log(end, proc, lines, evidence=marks)
    if sidecar is not None:
        _inbound(scene, sidecar, proc, request, status, end)
    return status


def _with_duration(request: Request, duration_ms: float) -> Request:
    return Request(
        request.method,
        request.path,
        request.status,
        duration_ms,
        request.size,
        request.client,
        request.client_port,
        request.agent,
        request.request_id,
    )


def _business(scene: Scene, logger: AppLogger, resource: str, verb: str) -> list:
    item = f"{singular(resource)[:3]}_{scene.hexid(12)}"
    if verb == "create":
        return logger.log(
            "info",
            f"{singular(resource)} created",
            id=item,
            amount_cents=scene.rng.randint(100, 90_000) if scene.chance(0.5) else None,
        )
    if verb == "list":
        return logger.log(
            "info", f"listed {resource}", count=scene.rng.randint(0, 100), took_ms=scene.rng.randint(2, 80)
        )
    return logger.log(
        "info",
        f"{singular(resource)} {verb}d" if verb.endswith("e") else f"{singular(resource)} {verb}",
        id=item,
    )


def _gateway_ip(scene: Scene) -> str:
    return f"{scene.cluster.flavor.pod_cidr.split('.')[0]}.{scene.cluster.flavor.pod_cidr.split('.')[1]}.{scene.rng.randint(0, 31)}.{scene.rng.randint(2, 254)}"


def _inbound(scene: Scene, sidecar: Proc, proc: Proc, request: Request, status: int, at: float) -> None:
    envoy: Envoy = sidecar.logger
    port = proc.container.port
    hop = EnvoyHop(
        authority=f"{proc.pod.workload.name}.{scene.namespace}.svc.cluster.local:{port}",
        upstream_host=f"{proc.pod.ip}:{port}",
        cluster=f"inbound|{port}||",
        local=f"127.0.0.6:{scene.port()}",
        downstream_local=f"{proc.pod.ip}:{port}",
        downstream_remote=f"{request.client}:{request.client_port}",
        server_name=f"outbound_.{port}_._.{proc.pod.workload.name}.{scene.namespace}.svc.cluster.local",
    )
    render = envoy.access(
        request.method,
        request.path.split("?")[0],
        status,
        hop,
        sent=0 if status >= 500 else request.size,
        duration_ms=max(1, int(request.duration_ms)),
        forwarded_for=request.client,
        agent=request.agent,
        request_id=request.request_id,
    )
    scene.log(at + 0.0005, sidecar, [render])


def _consume(scene: Scene, proc: Proc, low: float, high: float) -> None:
    workload = proc.pod.workload
    logger: AppLogger = proc.logger
    deps = scene.deps_of(workload)
    queue = next((dep for dep in deps if dep.target.kind in ("rabbitmq", "kafka")), None)
    rest = [dep for dep in deps if dep is not queue]
    rate = JOB_RATE * scene.traffic_scale * workload.config.load
    for at in _arrivals(scene, rate, low, high):
        if queue is not None and scene.call_failure(queue, at) is not None:
            continue
        resource = scene.pick(scene.domain)
        task = f"{scene.domain[0].replace('-', '_')}.tasks.{scene.pick(('sync', 'notify', 'settle', 'index', 'enrich'))}_{singular(resource)}"
        bug = scene.bug_at(proc, resource, "consume", at)
        if bug is not None:
            lines, marks = calls.failed_job_by_bug(scene, proc, bug, task, at)
            scene.log(at, proc, lines, evidence=marks if scene.cite(bug) else False)
            continue
        failed = None
        for dep in rest:
            if (
                scene.chance(_USE.get(dep.target.kind, 0.2))
                and (outage := scene.call_failure(dep, at)) is not None
            ):
                failed = (dep, outage)
                break
        if failed is not None:
            lines, marks = calls.failed_job(scene, proc, failed[0], failed[1], task, resource, at)
            scene.log(at, proc, lines, evidence=marks if scene.cite(failed[1]) else False)
            continue
        took = scene.rng.lognormvariate(math.log(0.08), 0.8)
        if isinstance(logger, Celery):
            task_id = scene.uuid()
            scene.log(at, proc, logger.task_received(task, task_id))
            scene.log(at + took, proc, logger.task_succeeded(task, task_id, took, scene.rng.randint(1, 4)))
        else:
            source = {"queue": queue.target.kind} if queue is not None else {}
            scene.log(
                at + took,
                proc,
                logger.log(
                    "info",
                    "processed message",
                    task=task.rsplit(".", 1)[-1],
                    duration_ms=round(took * 1000, 1),
                    **source,
                ),
            )


def _probes(scene: Scene, proc: Proc, low: float, high: float) -> None:
    config = proc.pod.workload.config
    logger = proc.logger
    if not probes_logged(proc):
        return
    period = float(config.probe_period)
    paths = config.probe_paths
    node_ip = proc.pod.ip.rsplit(".", 1)[0] + ".1"
    agent = f"kube-probe/{KUBE_VERSION}"
    phase = scene.rng.uniform(0, period)
    for path in paths:
        at = low + phase
        while at < high:
            status = proc.probe_status(at, str(path))
            if status is not None:
                size = 2 if status == 200 else 19
                request = Request(
                    "GET",
                    path,
                    status,
                    scene.rng.uniform(0.3, 3),
                    size,
                    node_ip,
                    scene.port(),
                    agent,
                    scene.uuid(),
                )
                lines = (
                    logger.access(request)
                    if isinstance(logger, AppLogger)
                    else [logger.access(node_ip, "GET", path, status, size, agent)]
                )
                scene.log(at, proc, lines)
            at += period


def probes_logged(proc: Proc) -> bool:
    """Whether the container writes an access line for the kubelet's probes."""
    logger = proc.logger
    return proc.pod.workload.config.probes_logged and bool(
        getattr(logger, "logs_probes", isinstance(logger, Nginx))
    )


def configure(scene: Scene, workload) -> None:
    """Draw what every pod of a workload shares: probe settings and periodic tasks."""
    logged = scene.chance(0.3)
    period = scene.pick((10, 15, 20, 30, 30))
    paths = scene.pick(
        (("/healthz", "/readyz"), ("/health/live", "/health/ready"), ("/livez", "/readyz"), ("/healthz",))
    )
    periodic = scene.rng.sample(_PERIODIC, scene.rng.choice((0, 1, 1, 2)))
    config = workload.config
    if not config.drawn:
        config.probes_logged, config.probe_period, config.probe_paths = logged, period, paths
        config.periodic = list(periodic)
        config.drawn = True


def _periodic(scene: Scene, proc: Proc, low: float, high: float) -> None:
    tasks = proc.pod.workload.config.periodic
    logger: AppLogger = proc.logger
    extra = {"thread": "scheduling-1"} if isinstance(logger, SpringBoot) else {}
    for message, period in tasks:
        at = low + stable_int(proc.pod.name, message, low=0, high=int(period) * 1000) / 1000
        while at < high:
            fields = {"published": scene.rng.randint(0, 40)} if "outbox" in message else {}
            if message == "pool stats":
                fields = {
                    "total": 10,
                    "active": scene.rng.randint(0, 4),
                    "idle": scene.rng.randint(6, 10),
                    "waiting": 0,
                }
            scene.log(
                at,
                proc,
                logger.log("debug" if message == "pool stats" else "info", message, **extra, **fields),
            )
            # Fixed-rate timers drift by a few milliseconds per tick.
            at += period + scene.rng.uniform(0.0005, 0.02)


def _slow_queries(scene: Scene, proc: Proc, logger: Postgres, low: float, high: float) -> None:
    if not logger.slow_ms:
        return
    for at in _arrivals(scene, 1 / 420, low, high):
        resource = scene.pick(scene.domain).replace("-", "_")
        statement = f"SELECT * FROM {resource} WHERE account_id = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT 100"
        params = [str(scene.rng.randint(1, 90_000)), "2026-11-01 00:00:00+00"]
        lines = logger.slow_statement(
            scene.rng.randint(100, 9000),
            logger.slow_ms * scene.rng.uniform(1.05, 4.0),
            statement,
            params,
            scene.pick(("<unnamed>", "<unnamed>", f"S_{scene.rng.randint(1, 9)}")),
        )
        scene.log(at, proc, lines)


def _web(scene: Scene, proc: Proc, nginx: Nginx, low: float, high: float) -> None:
    deps = scene.deps_of(proc.pod.workload)
    api = deps[0] if deps else None
    assets = (
        "/",
        "/static/js/main.3f9c1e2a.js",
        "/static/css/main.8c2d4b1f.css",
        "/favicon.ico",
        "/manifest.json",
    )
    for at in _arrivals(scene, WEB_RATE * scene.traffic_scale, low, high):
        client = f"10.{scene.rng.randint(0, 9)}.{scene.rng.randint(0, 255)}.{scene.rng.randint(2, 254)}"
        agent = scene.pick(_AGENTS[3:] + _AGENTS[3:4])
        if api is not None and scene.chance(0.5):
            method, path, _resource, _verb = _route(scene)
            path = "/api" + path
            outage = scene.call_failure(api, at)
            if outage is not None:
                upstream = f"{api.target.ip}:{api.target.port}"
                reason = "connect() failed (111: Connection refused) while connecting to upstream"
                status = 502
                if outage.failure in ("timeout", "read_timeout"):
                    reason, status = (
                        "upstream timed out (110: Connection timed out) while reading response header from upstream",
                        504,
                    )
                    at += 60.0
                lines = [
                    nginx.upstream_error(reason, client, method, path, upstream),
                    nginx.access(client, method, path, status, 157, agent),
                ]
                scene.log(at, proc, lines)
                continue
            scene.log(
                at,
                proc,
                [
                    nginx.access(
                        client, method, path, _status(scene, method), scene.rng.randint(60, 9000), agent
                    )
                ],
            )
        else:
            path = scene.pick(assets)
            status = 304 if scene.chance(0.3) else 200
            scene.log(
                at,
                proc,
                [
                    nginx.access(
                        client,
                        "GET",
                        path,
                        status,
                        0 if status == 304 else scene.rng.randint(400, 250_000),
                        agent,
                        f"https://{nginx.server_name}/",
                    )
                ],
            )


def estimate_lines(scene: Scene) -> tuple[float, float]:
    """Expected lines of the window's benign work: ``(fixed, per unit of traffic_scale)``."""
    fixed = variable = 0.0
    for proc in scene.procs:
        workload = proc.pod.workload
        if workload.kind in ("CronJob", "Job"):
            continue
        serving = sum(max(0.0, min(run.end, scene.duration) - max(run.ready, 0.0)) for run in proc.runs)
        logger = proc.logger
        if probes_logged(proc):
            fixed += serving / workload.config.probe_period * len(workload.config.probe_paths)
        fixed += sum(serving / period for _message, period in workload.config.periodic)
        if isinstance(logger, AppLogger) and workload.role == "api":
            per_request = (1.0 if logger.logs_access else 0.3) + (1.0 if scene.meshed else 0.0)
            variable += serving * REQUEST_RATE * per_request
        elif isinstance(logger, AppLogger) and workload.role == "worker":
            variable += serving * JOB_RATE * (2.0 if isinstance(logger, Celery) else 1.0)
        elif isinstance(logger, Nginx):
            variable += serving * WEB_RATE
        elif isinstance(logger, (Postgres, Redis)):
            fixed += serving / 150
        elif isinstance(logger, PgBouncer):
            fixed += serving / 60
    for cron in [workload for workload in scene.workloads if workload.kind == "CronJob"]:
        fixed += scene.duration / (cron.schedule_min * 60) * 13
    return fixed, variable
