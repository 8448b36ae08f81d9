"""How an application reports a call that failed: per request, per job, and while it reconnects.

A failed request is logged the way the stack does it: Go and Node.js log one error line with the
error, then the access line with a 5xx; Spring lets Tomcat log the exception with its root cause;
FastAPI logs ``logger.exception`` (or uvicorn reports the escaped exception); Django logs
``Internal Server Error``. Long-lived connections fail on their own schedule, not per request: Kafka
clients log from their network thread, Lettuce's watchdog and Spring AMQP's listener log reconnects,
Celery's consumer says "Cannot connect ... Trying again in N seconds".
"""

from __future__ import annotations

from app.logs.synthetic.clients import Call, client_error
from app.logs.synthetic.code import singular, stable_int
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, fixed
from app.logs.synthetic.parts import Bug, Dep, Outage, Proc
from app.logs.synthetic.runtimes import AppLogger, Request
from app.logs.synthetic.runtimes.base import Level
from app.logs.synthetic.runtimes.go import _GoLogger
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.runtimes.node import Winston, inspect_lines
from app.logs.synthetic.runtimes.python import Celery, Gunicorn, Uvicorn
from app.logs.synthetic.scene import Scene

STATUS_FOR_FAILURE = {"read_timeout": 504, "unavailable": 503, "forbidden": 500, "auth_failed": 500}
_WHAT = {
    "postgres": "database",
    "mongodb": "database",
    "redis": "cache",
    "rabbitmq": "message broker",
    "kafka": "event bus",
    "http": "upstream",
    "s3": "object storage",
}


def error_for(scene: Scene, proc: Proc, dep: Dep, outage: Outage, at: float, call: Call | None = None) -> Err:
    """The error the container's client library raises for this failed call."""
    local = f"{proc.pod.ip}:{scene.port()}"
    family = proc.logger.family
    return client_error(
        family,
        dep.target,
        outage.failure,
        local=local,
        now_ns=scene.timeline.ns(at),
        cert=outage.cert,
        call=call,
    )


def failed_request(
    scene: Scene, proc: Proc, request: Request, dep: Dep, outage: Outage, resource: str, verb: str, at: float
) -> tuple[list[Render], list[int]]:
    """The lines of a request that failed on ``dep``, and which of them name the cause."""
    logger: AppLogger = proc.logger
    call = Call(
        method=request.method,
        path=_dep_path(dep, resource),
        table=resource.replace("-", "_"),
        topic=f"{singular(resource)}-events",
        bucket=f"{scene.namespace}-exports",
    )
    err = error_for(scene, proc, dep, outage, at, call)
    frames = logger.ctx.code.stack(resource, verb)
    what = _WHAT.get(dep.target.kind, "dependency")
    status = STATUS_FOR_FAILURE.get(outage.failure, 502 if dep.target.kind == "http" else 500)
    failed = Request(
        request.method,
        request.path,
        status,
        request.duration_ms,
        0 if status >= 500 else request.size,
        request.client,
        request.client_port,
        request.agent,
        request.request_id,
    )
    if isinstance(logger, SpringBoot):
        lines = logger.unhandled(err, frames)
        return lines, _marks(lines, err)
    if isinstance(logger, Gunicorn):
        lines = logger.unhandled(err, frames, request.path) + logger.access(failed)
        return lines, _marks(lines, err)
    # Some FastAPI services catch and log; others let uvicorn report the exception (stable per service).
    if isinstance(logger, Uvicorn) and stable_int(logger.ctx.code.service, "escapes", low=0, high=1):
        lines = logger.unhandled(err, frames) + logger.access(failed)
        return lines, _marks(lines, err)
    message = (
        f"{verb} {singular(resource)} failed: {what} error"
        if logger.family != "go"
        else f"failed to {verb} {singular(resource)}"
    )
    lines = logger.error("error", message, err, app_frames=frames) + logger.access(failed)
    return lines, _marks(lines, err)


def failed_by_bug(scene: Scene, proc: Proc, request: Request, bug: Bug) -> tuple[list[Render], list[int]]:
    """A request that hit a bug: the exception as the stack reports it, and a 500."""
    logger: AppLogger = proc.logger
    err = bug.err(proc)
    frames = bug.frames(proc)
    failed = Request(
        request.method,
        request.path,
        500,
        request.duration_ms,
        0,
        request.client,
        request.client_port,
        request.agent,
        request.request_id,
    )
    if isinstance(logger, _GoLogger):
        return logger.recovered_panic(err, frames, f"{request.client}:{request.client_port}"), [0]
    if isinstance(logger, SpringBoot):
        return logger.unhandled(err, frames), [0, 1]
    if isinstance(logger, Gunicorn):
        lines = logger.unhandled(err, frames, request.path) + logger.access(failed)
        return lines, [0, len(lines) - 2]
    if isinstance(logger, Uvicorn):
        lines = logger.unhandled(err, frames) + logger.access(failed)
        return lines, [0, len(lines) - 2]
    if isinstance(logger, Winston):
        return logger.error("error", "unhandled error", err, app_frames=frames) + logger.access(failed), [0]
    return logger.error("error", "unhandled error", err, app_frames=frames) + logger.access(failed), [0]


def degraded_cache(
    scene: Scene, proc: Proc, dep: Dep, outage: Outage, at: float
) -> tuple[list[Render], list[int]]:
    """A cache read that failed and fell back to the database: a warning, the request goes on."""
    logger: AppLogger = proc.logger
    err = error_for(scene, proc, dep, outage, at)
    if logger.family in ("jvm", "python"):
        # Both log the exception's one-line summary here, not the trace.
        text = f"cache unavailable, falling back to database: {err.type}: {err.message.splitlines()[0]}"
        lines = logger.log("warn", text)
    else:
        lines = logger.log("warn", "cache unavailable, falling back to database", error=err.message)
    return lines, [0]


def failed_job(
    scene: Scene, proc: Proc, dep: Dep, outage: Outage, task: str, resource: str, at: float
) -> tuple[list[Render], list[int]]:
    """A background job (worker or CronJob) whose call to ``dep`` failed."""
    logger: AppLogger = proc.logger
    call = Call(
        path=_dep_path(dep, resource),
        table=resource.replace("-", "_"),
        topic=f"{singular(resource)}-events",
        bucket=f"{scene.namespace}-exports",
        operation=scene.pick(("PutObject", "GetObject", "ListObjectsV2", "CreateMultipartUpload")),
    )
    err = error_for(scene, proc, dep, outage, at, call)
    frames = (
        logger.ctx.code.frame("job", resource, task.split(".")[-1]),
        logger.ctx.code.frame("service", resource, "process"),
    )
    if isinstance(logger, Celery):
        task_id = scene.uuid()
        lines = logger.task_received(task, task_id) + logger.task_failed(
            task, task_id, err, frames, scene.rng.randint(1, 4)
        )
        return lines, [1, *_marks(lines, err)[1:]]
    lines = logger.error("error", f"job {task} failed", err, app_frames=frames)
    return lines, _marks(lines, err)


def failed_job_by_bug(
    scene: Scene, proc: Proc, bug: Bug, task: str, at: float
) -> tuple[list[Render], list[int]]:
    """A background job that raised from the job's own code."""
    logger: AppLogger = proc.logger
    err = bug.err(proc)
    frames = bug.frames(proc)
    if isinstance(logger, Celery):
        task_id = scene.uuid()
        lines = logger.task_received(task, task_id) + logger.task_failed(
            task, task_id, err, frames, scene.rng.randint(1, 4)
        )
        return lines, [1, len(lines) - 1]
    lines = logger.error("error", f"job {task} failed", err, app_frames=frames)
    return lines, _marks(lines, err)


def _dep_path(dep: Dep, resource: str) -> str:
    if dep.target.kind != "http":
        return f"/{resource}"
    return f"/v1/{dep.name.split(':')[-1] if dep.name.startswith('svc:') else resource}"


def _marks(lines: list[Render], err: Err) -> list[int]:
    """Indices of the lines that say what failed: the first line and the one naming the root cause."""
    root = err.root().message.split("\n")[0]
    marks = [0]
    if len(lines) > 1 and root:
        rendered = [render(0) for render in lines]
        found = [index for index, text in enumerate(rendered) if root in text and index]
        if found:
            marks.append(found[-1])
    return marks


def reconnect_lines(
    scene: Scene, proc: Proc, dep: Dep, outage: Outage, at: float, attempt: int
) -> list[Render]:
    """What a long-lived client connection logs on one failed reconnect attempt."""
    logger: AppLogger = proc.logger
    kind = dep.target.kind
    err = error_for(scene, proc, dep, outage, at)
    if kind == "kafka":
        if logger.family == "jvm":
            level: Level = "error" if err.type else "warn"
            text = f"{err.type}: {err.message}" if err.type else err.message
            return logger.library_line(level, "org.apache.kafka.clients.NetworkClient", text)
        if logger.family == "python":
            return [fixed(err.message)]
        if logger.family == "node":
            inner = err.cause.message if err.cause else err.message
            return logger.log(
                "error",
                f"[Connection] Connection error: {inner}",
                logger="kafkajs",
                broker=f"{dep.target.host}:{dep.target.port}",
            )
        return logger.log(
            "warn",
            "unable to open connection to broker",
            addr=f"{dep.target.host}:{dep.target.port}",
            broker="seed_0",
            err=err.message,
        )
    if kind == "redis" and logger.family == "jvm":
        root = err.root()
        return logger.library_line(
            "warn",
            "io.lettuce.core.protocol.ConnectionWatchdog",
            f"Cannot reconnect to [{dep.target.host}/<unresolved>:{dep.target.port}]: {root.message}",
        )
    if kind == "redis" and logger.family == "node":
        return [fixed(f"[ioredis] Unhandled error event: {inspect_lines(err)[0]}")]
    if kind == "rabbitmq":
        if isinstance(logger, Celery):
            delay = min(2 * (attempt + 1), 32)
            text = f"consumer: Cannot connect to {logger.broker_url}: {err.message}.\nTrying again in {delay:.2f} seconds... ({attempt + 1}/100)"
            return logger.log("error", text)
        if logger.family == "jvm":
            return logger.library_line(
                "warn",
                "org.springframework.amqp.rabbit.listener.SimpleMessageListenerContainer",
                f"Consumer raised exception, processing can restart if the connection factory supports it. Exception summary: {err.type}: {err.message}",
            )
        return logger.error("error", "rabbitmq connection failed, retrying", err)
    return logger.error("warn", f"{_WHAT.get(kind, 'dependency')} connection lost, reconnecting", err)


def reconnect_delays(kind: str, family: str) -> tuple[float, float]:
    """How often a client retries a lost connection: first delay and cap, in seconds."""
    if kind == "kafka":
        return (1.0, 30.0) if family != "python" else (10.0, 60.0)
    if kind == "rabbitmq":
        return (2.0, 32.0) if family == "python" else (5.0, 5.0)
    return (1.0, 30.0)


def write_reconnects(scene: Scene) -> None:
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
    first, cap = reconnect_delays(dep.target.kind, family)
    for outage in _down_periods(scene, dep):
        at = max(outage.start, 0.0) + scene.rng.uniform(0.1, first)
        delay, attempt = first, 0
        while at < min(outage.end, scene.duration):
            if proc.serving(at):
                lines = reconnect_lines(scene, proc, dep, outage, at, attempt)
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


def frame_of(proc: Proc, layer: str, resource: str, function: str) -> Frame:
    """One frame of the container's application code."""
    return proc.logger.ctx.code.frame(layer, resource, function)
