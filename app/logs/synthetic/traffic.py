"""Benign work of every container over its runs, and the failures that work runs into.

APIs serve requests (Poisson arrivals, realistic routes, statuses and latencies) and call their
dependencies; workers consume jobs; CronJobs run on their schedule with the controllers' events;
nginx serves a front end; the kubelet's probes hit the containers that log them; datastores write
what they write on their own (``datastores``). Every rate is scaled by the scene's ``traffic_scale``.
"""

from __future__ import annotations

import math

from app.logs.synthetic import calls
from app.logs.synthetic.code import singular, stable_int
from app.logs.synthetic.datastores import PgBouncer, Postgres, RabbitMQ, Redis
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.lifecycle import KUBE_VERSION, create_pod
from app.logs.synthetic.proxies import Envoy, EnvoyHop, Nginx
from app.logs.synthetic.runtimes import AppLogger, Request
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.runtimes.python import Celery
from app.logs.synthetic.scene import Dep, Outage, Proc, Run, Scene

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
        _cron(scene, cron)
    for proc in list(scene.procs):
        if proc.pod.workload.kind in ("CronJob", "Job"):
            continue
        for run in proc.runs:
            _lifecycle_lines(scene, proc, run)
            low, high = max(run.ready, 0.0), min(run.end, scene.duration)
            if high > low:
                _work(scene, proc, low, high)
    _reconnects(scene)


# --- start, ready, stop ---------------------------------------------------------------------------


def _lifecycle_lines(scene: Scene, proc: Proc, run: Run) -> None:
    logger = proc.logger
    previous = proc.runs[proc.runs.index(run) - 1] if proc.runs.index(run) else None
    if not run.quiet_start and 0 <= run.start < scene.duration:
        if isinstance(logger, Postgres):
            crashed = previous is not None and not previous.graceful
            last_up = scene.timeline.ns(previous.end if previous else run.start - 600)
            lines = logger.startup(crashed_before=crashed, last_up_ns=last_up)
        elif isinstance(logger, Redis):
            lines = logger.startup(
                keys=int(proc.pod.workload.config.setdefault("keys", scene.rng.randint(200, 90_000)))
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
    rate = REQUEST_RATE * scene.traffic_scale * float(proc.pod.workload.config.get("load", 1.0))  # type: ignore[arg-type]
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
    rate = JOB_RATE * scene.traffic_scale * float(workload.config.get("load", 1.0))  # type: ignore[arg-type]
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
    period = float(config["probe_period"])  # type: ignore[arg-type]
    paths = config["probe_paths"]
    node_ip = proc.pod.ip.rsplit(".", 1)[0] + ".1"
    agent = f"kube-probe/{KUBE_VERSION}"
    phase = scene.rng.uniform(0, period)
    for path in paths:  # type: ignore[union-attr]
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
    return bool(proc.pod.workload.config.get("probes_logged")) and bool(
        getattr(logger, "logs_probes", isinstance(logger, Nginx))
    )


def configure(scene: Scene, workload) -> None:
    """Draw what every pod of a workload shares: probe settings and periodic tasks."""
    config = workload.config
    config.setdefault("probes_logged", scene.chance(0.3))
    config.setdefault("probe_period", scene.pick((10, 15, 20, 30, 30)))
    config.setdefault(
        "probe_paths",
        scene.pick(
            (("/healthz", "/readyz"), ("/health/live", "/health/ready"), ("/livez", "/readyz"), ("/healthz",))
        ),
    )
    config.setdefault("periodic", scene.rng.sample(_PERIODIC, scene.rng.choice((0, 1, 1, 2))))


def _periodic(scene: Scene, proc: Proc, low: float, high: float) -> None:
    tasks = proc.pod.workload.config.get("periodic", ())
    logger: AppLogger = proc.logger
    extra = {"thread": "scheduling-1"} if isinstance(logger, SpringBoot) else {}
    for message, period in tasks:  # type: ignore[union-attr]
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
            fixed += serving / float(workload.config["probe_period"]) * len(workload.config["probe_paths"])  # type: ignore[arg-type]
        fixed += sum(serving / period for _message, period in workload.config.get("periodic", ()))  # type: ignore[union-attr]
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


# --- CronJobs -------------------------------------------------------------------------------------


def _cron(scene: Scene, cron) -> None:
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
            cite = bool(cron.config.get("cite_failure"))
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


def _cron_job(scene: Scene, cron, job: ObjectRef, at: float) -> tuple[str, float]:
    attempts = int(cron.config.get("backoff_limit", 0)) + 1
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


def start_job_pod(scene: Scene, cron, job: ObjectRef, at: float) -> Proc:
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


# --- long-lived connections -----------------------------------------------------------------------


def _reconnects(scene: Scene) -> None:
    """Reconnect attempts of connection-oriented clients (Kafka, Lettuce/ioredis, AMQP consumers) during outages."""
    for dep in scene.deps.values():
        kind = dep.target.kind
        if kind not in ("kafka", "redis", "rabbitmq"):
            continue
        for workload in scene.callers(dep):
            for proc in scene.procs_of(workload):
                family = getattr(proc.logger, "family", "")
                if kind == "redis" and family not in ("jvm", "node"):
                    continue
                if kind == "rabbitmq" and workload.role != "worker":
                    continue
                _reconnect_proc(scene, proc, dep, family)


def _reconnect_proc(scene: Scene, proc: Proc, dep: Dep, family: str) -> None:
    first, cap = calls.reconnect_delays(dep.target.kind, family)
    for outage in _down_periods(scene, dep):
        at = max(outage.start, 0.0) + scene.rng.uniform(0.1, first)
        delay, attempt = first, 0
        while at < min(outage.end, scene.duration):
            if proc.serving(at):
                lines = calls.reconnect_lines(scene, proc, dep, outage, at, attempt)
                scene.log(at, proc, lines, evidence=[0] if scene.cite(outage) else False)
            attempt += 1
            delay = min(delay * 2, cap)
            at += delay * scene.rng.uniform(0.9, 1.1)


def _down_periods(scene: Scene, dep: Dep) -> list[Outage]:
    periods = [outage for outage in dep.outages if outage.share >= 0.5]
    if dep.server is not None:
        step, start = 2.0, None
        at = 0.0
        while at < scene.duration:
            down = scene.server_down(dep, at)
            if down and start is None:
                start = at
            if not down and start is not None:
                periods.append(Outage(start, at, "reset" if scene.meshed else "refused", evidence=False))
                start = None
            at += step
        if start is not None:
            periods.append(
                Outage(start, scene.duration, "reset" if scene.meshed else "refused", evidence=False)
            )
    return periods
