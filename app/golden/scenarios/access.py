"""``permission_denied``: an operation is refused for lack of rights.

A refused login (PostgreSQL's "password authentication failed", Redis's ``WRONGPASS``, RabbitMQ's
``ACCESS_REFUSED``), a refused authorization (Kubernetes RBAC "is forbidden", S3 ``AccessDenied``,
SQL "permission denied for table"), or a file the process may not write (``EACCES``). The servers in
the namespace log their side too.
"""

from __future__ import annotations

import random

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    add_bug,
    api,
    api_on_postgres,
    dep,
    force_creates,
    force_requests,
    host_of,
    incident_start,
    main_procs,
    outage,
    prepare_postgres,
    restart_stateful_pod,
    want_api,
    want_cron,
    want_rabbitmq,
    want_redis,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.code import snake
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, fixed, klog
from app.logs.synthetic.lifecycle import crash_loop
from app.logs.synthetic.parts import Dep, Proc, Run
from app.logs.synthetic.runtimes import AppLogger
from app.logs.synthetic.runtimes.python import traceback_lines
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("permission_denied")

_SITE = "/usr/local/lib/python3.12/site-packages"


def _server_side(scene: Scene, target: Dep, start: float, lines: list[str], *, every: float = 30.0) -> None:
    """The database server's own lines for refused connections, when it runs in the namespace."""
    if target.server is None:
        return
    proc = main_procs(scene, target.server)[0]
    pg = proc.logger
    at = start + scene.rng.uniform(0.5, 5)
    first = True
    while at < scene.duration:
        pid = scene.rng.randint(200, 90_000)
        renders = [pg.line(pid, severity, text) for severity, text in (line.split("|", 1) for line in lines)]
        scene.log(at, proc, renders, evidence=[0] if first else False)
        first = False
        at += scene.rng.expovariate(1 / every)


def _hit(scene: Scene, target: Dep, start: float, failure: str, share: float = 1.0) -> None:
    outage(scene, target, start, scene.duration + 1, failure, share=share)
    for workload in scene.callers(target):
        if workload.role == "api":
            for proc in main_procs(scene, workload):
                force_requests(scene, proc, start + 1, scene.duration - 1, 2, through=target)


@scenario("perm.database_password", FAMILY_VARIANTS, prepare=api_on_postgres(("namespace", "external")))
def database_password(scene: Scene, family: str) -> Verdict:
    """The database password was rotated and the service still uses the old one: every login is refused."""
    target = dep(scene, "postgres")
    start = incident_start(scene, 0.15, 0.5)
    _hit(scene, target, start, "auth_failed")
    user = target.target.user
    _server_side(
        scene,
        target,
        start,
        [
            f'FATAL|password authentication failed for user "{user}"',
            'DETAIL|Connection matched file "/var/lib/postgresql/data/pg_hba.conf" line 128: "host all all all scram-sha-256"',
        ],
    )
    return Verdict(
        f"PostgreSQL at {host_of(target.target)} refuses the password of user {user} for {api(scene, family).name}; its requests fail.",
        "critical",
    )


@scenario(
    "perm.table_grant",
    ("go", "python"),
    hard_case="other_words",
    prepare=api_on_postgres(("namespace", "external")),
)
def table_grant(scene: Scene, family: str) -> Verdict:
    """A migration run as another role created a table the service's role has no grant on."""
    target = dep(scene, "postgres")
    start = incident_start(scene, 0.1, 0.5)
    share = scene.rng.uniform(0.25, 0.6)
    _hit(scene, target, start, "forbidden", share)
    table = scene.domain[0].replace("-", "_")
    _server_side(
        scene,
        target,
        start,
        [f"ERROR|permission denied for table {table}", f"STATEMENT|SELECT * FROM {table} WHERE id = $1"],
        every=60,
    )
    return Verdict(
        f"The role {target.target.user} has no grant on the table {table}; {api(scene, family).name}'s queries on it fail (SQLSTATE 42501).",
        "warning",
    )


def _rbac_lines(scene: Scene, proc: Proc, verb: str, resource: str, group: str) -> list[Render]:
    """What a Kubernetes client prints when the API server answers 403."""
    logger: AppLogger = proc.logger
    account = f"system:serviceaccount:{scene.namespace}:{proc.pod.workload.name}"
    where = f'in API group "{group}" in the namespace "{scene.namespace}"'
    text = f'{resource} is forbidden: User "{account}" cannot {verb} resource "{resource}" {where}'
    if logger.family == "go":
        if resource == "leases":
            return [
                klog(
                    "E",
                    1,
                    "leaderelection.go:436",
                    f'error retrieving resource lock {scene.namespace}/{proc.pod.workload.name}-leader: leases.coordination.k8s.io "{proc.pod.workload.name}-leader" is forbidden: User "{account}" cannot get resource "leases" {where}',
                )
            ]
        kind = {"configmaps": "ConfigMap", "secrets": "Secret", "pods": "Pod"}[resource]
        source = "k8s.io/client-go@v0.31.2/tools/cache/reflector.go:243"
        return [
            klog("W", 1, "reflector.go:561", f"{source}: failed to list *v1.{kind}: {text}"),
            klog(
                "E",
                1,
                "reflector.go:158",
                "Unhandled Error",
                err=f"{source}: Failed to watch *v1.{kind}: failed to list *v1.{kind}: {text}",
                logger="UnhandledError",
            ),
        ]
    if logger.family == "python":
        body = f'{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{text.replace(chr(34), chr(92) + chr(34))}","reason":"Forbidden","details":{{"kind":"{resource}"}},"code":403}}'
        message = f"(403)\nReason: Forbidden\nHTTP response headers: HTTPHeaderDict({{'Audit-Id': '{scene.uuid()}', 'Cache-Control': 'no-cache, private', 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'Content-Length': '{len(body)}'}})\nHTTP response body: {body}"
        err = Err(
            message,
            "kubernetes.client.exceptions.ApiException",
            (Frame(f"{_SITE}/kubernetes/client/rest.py", "request", 244, "raise ApiException(http_resp=r)"),),
        )
        frames = (
            Frame(
                f"/app/{snake(logger.ctx.code.package)}/settings_watcher.py",
                "refresh",
                57,
                f"items = self.core.list_namespaced_{resource[:-1] if resource != 'leases' else 'lease'}(self.namespace)",
            ),
        )
        return logger.log("error", f"failed to refresh {resource} from the Kubernetes API") + [
            fixed(line) for line in traceback_lines(err, frames)
        ]
    url = f"https://10.96.0.1:443/api/v1/namespaces/{scene.namespace}/{resource}"
    err = Err(
        f"Failure executing: {verb.upper() if verb != 'list' else 'GET'} at: {url}. Message: Forbidden!Configured service account doesn't have access. Service account may have been revoked. {text}.",
        "io.fabric8.kubernetes.client.KubernetesClientException",
        (
            Frame("io.fabric8.kubernetes.client.dsl.internal.OperationSupport", "requestFailure", 660),
            Frame("io.fabric8.kubernetes.client.dsl.internal.OperationSupport", "assertResponseCode", 640),
        ),
    )
    return logger.error("error", f"Failed to refresh {resource}", err)


@scenario("perm.rbac_forbidden", ("go", "python", "jvm"), prepare=want_api)
def rbac_forbidden(scene: Scene, family: str) -> Verdict:
    """A Role binding was narrowed: the service's calls to the Kubernetes API are forbidden."""
    target = api(scene, family)
    start = incident_start(scene, 0.1, 0.45)
    resource, verb, group = scene.pick(
        (
            ("configmaps", "list", ""),
            ("secrets", "get", ""),
            ("leases", "get", "coordination.k8s.io"),
            ("pods", "list", ""),
        )
    )
    if family != "go" and resource == "leases":
        resource, verb, group = "configmaps", "list", ""
    for proc in main_procs(scene, target):
        at = start + scene.rng.uniform(0, 10)
        delay = 1.0
        first = True
        while at < scene.duration and proc.serving(at):
            scene.log(at, proc, _rbac_lines(scene, proc, verb, resource, group), evidence=first)
            first = False
            delay = min(delay * 2, 30.0 if resource != "leases" else 2.0)
            at += delay * scene.rng.uniform(0.9, 1.3)
    return Verdict(
        f"The service account of {target.name} may no longer {verb} {resource}: the Kubernetes API answers 403 Forbidden.",
        "warning",
    )


def _eacces(proc: Proc, path: str, op: str) -> Err:
    """A write refused by file permissions, as each runtime reports it (``op``: open, mkdir or rename)."""
    family = proc.logger.family
    folder = path.rsplit("/", 1)[0]
    if family == "go":
        return Err(
            {
                "open": f"open {path}: permission denied",
                "mkdir": f"mkdir {folder}: permission denied",
                "rename": f"rename {path}.tmp {path}: permission denied",
            }[op]
        )
    if family == "python":
        target = {"open": path, "mkdir": folder, "rename": f"{path}.tmp"}[op]
        return Err(f"[Errno 13] Permission denied: '{target}'", "PermissionError")
    if family == "node":
        target = {"open": path, "mkdir": folder, "rename": f"{path}.tmp"}[op]
        return Err(
            f"EACCES: permission denied, {op} '{target}'",
            "Error",
            extra=(("errno", -13), ("code", "EACCES"), ("syscall", op), ("path", target)),
        )
    frames = {
        "open": (
            Frame("java.base/sun.nio.fs.UnixException", "translateToIOException", 90),
            Frame("java.base/sun.nio.fs.UnixFileSystemProvider", "newByteChannel", 261),
            Frame("java.base/java.nio.file.Files", "newOutputStream", 215),
        ),
        "mkdir": (
            Frame("java.base/sun.nio.fs.UnixException", "translateToIOException", 90),
            Frame("java.base/sun.nio.fs.UnixFileSystemProvider", "createDirectory", 397),
            Frame("java.base/java.nio.file.Files", "createDirectory", 700),
        ),
        "rename": (
            Frame("java.base/sun.nio.fs.UnixException", "translateToIOException", 90),
            Frame("java.base/sun.nio.fs.UnixCopyFile", "move", 441),
            Frame("java.base/java.nio.file.Files", "move", 1432),
        ),
    }[op]
    return Err(folder if op == "mkdir" else path, "java.nio.file.AccessDeniedException", frames)


@scenario("perm.volume_not_writable", FAMILY_VARIANTS, hard_case="shared_symptom", prepare=want_api)
def volume_not_writable(scene: Scene, family: str) -> Verdict:
    """After a securityContext change the process runs as a user that may not write the mounted volume."""
    target = api(scene, family)
    resource = scene.pick(scene.domain)
    folder = scene.pick(("/data/uploads", "/var/lib/app/exports", "/srv/attachments", "/data/cache"))
    start = incident_start(scene, 0.1, 0.45)

    op = scene.pick(("open", "mkdir", "rename"))

    def err(proc: Proc) -> Err:
        return _eacces(proc, f"{folder}/{resource}/{scene.hexid(12)}.bin", op)

    def frames(proc: Proc) -> tuple[Frame, ...]:
        return (
            proc.logger.ctx.code.frame("service", resource, "store"),
            proc.logger.ctx.code.frame("handler", resource, "upload"),
        )

    add_bug(scene, target, resource, start, 1.0, err, frames, verb="create")
    force_creates(scene, target, resource, start + 5, (20, 90))
    return Verdict(
        f"{target.name} may not write to {folder} (permission denied) since its pods run as a new user; uploads to /v1/{resource} fail.",
        "warning",
    )


def _prepare_s3(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_cron(spec, family)
    spec.s3 = True


@scenario("perm.s3_access_denied", FAMILY_VARIANTS, hard_case="subtle", prepare=_prepare_s3)
def s3_access_denied(scene: Scene, family: str) -> Verdict:
    """The job's cloud role lost s3:PutObject: its export fails with AccessDenied and the Job fails."""
    target = dep(scene, "s3")
    cron = wanted(scene, "cron")
    cron.config.cite_failure = True
    cron.config.backoff_limit = scene.rng.choice((0, 1, 2))
    outage(scene, target, incident_start(scene, 0.05, 0.35), scene.duration + 1, "forbidden")
    return Verdict(
        f"The {cron.name} CronJob cannot write to S3: the bucket answers AccessDenied (403) and the Job fails.",
        "warning",
    )


def _prepare_redis(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_api(spec, rng, family)
    want_redis(spec, "namespace")


@scenario("perm.redis_auth", ("jvm", "node"), hard_case="other_words", prepare=_prepare_redis)
def redis_auth(scene: Scene, family: str) -> Verdict:
    """Redis now requires a password the clients do not send (or a rotated one): WRONGPASS / NOAUTH."""
    target = dep(scene, "redis")
    start = incident_start(scene, 0.1, 0.45)
    outage(scene, target, start, scene.duration + 1, "auth_failed")
    for proc in main_procs(scene, api(scene, family)):
        force_requests(scene, proc, start + 1, scene.duration - 1, 3)
    return Verdict(
        f"Redis at {host_of(target.target)} refuses {api(scene, family).name}'s credentials (WRONGPASS); the service falls back to the database.",
        "warning",
    )


def _prepare_mq(spec: StackSpec, rng: random.Random, family: str) -> None:
    want_rabbitmq(spec, rng, family)


@scenario("perm.rabbitmq_login", ("python", "jvm"), prepare=_prepare_mq)
def rabbitmq_login(scene: Scene, family: str) -> Verdict:
    """The broker user's password was changed: consumers' logins are refused (ACCESS_REFUSED)."""
    target = dep(scene, "rabbitmq")
    start = incident_start(scene, 0.1, 0.45)
    outage(scene, target, start, scene.duration + 1, "auth_failed")
    broker = main_procs(scene, target.server)[0] if target.server else None
    if broker is not None:
        at = start + scene.rng.uniform(1, 5)
        first = True
        while at < scene.duration:
            client = f"{scene.cluster.pod_ip()}:{scene.port()}"
            scene.log(
                at,
                broker,
                broker.logger.refused_login(client, target.target.user),
                evidence=[1, 2] if first else False,
            )
            first = False
            at += scene.rng.uniform(4, 40)
    return Verdict(
        f"RabbitMQ refuses the login of user {target.target.user}; the {family} consumers cannot connect and stop processing.",
        "critical",
    )


@scenario("perm.postgres_data_directory", ("",), hard_case="causal_chain", prepare=prepare_postgres)
def postgres_data_directory(scene: Scene, variant: str) -> Verdict:
    """PostgreSQL restarted with a new securityContext and may not use its data directory: it exits at start."""
    workload = wanted(scene, "postgres")
    proc = restart_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.4))
    wrong = scene.chance(0.5)
    cited = {"done": False}

    def die(death: Proc, run: Run, at: float) -> None:
        run.ready, run.quiet_start = at, True
        if not 0 <= run.start < scene.duration:
            return
        pg = death.logger
        if wrong:
            lines = [
                pg.line(1, "FATAL", 'data directory "/var/lib/postgresql/data/pgdata" has wrong ownership'),
                pg.line(1, "HINT", "The server must be started by the user that owns the data directory."),
            ]
        else:
            lines = [
                fixed(
                    "chmod: changing permissions of '/var/lib/postgresql/data/pgdata': Operation not permitted"
                ),
                fixed(
                    'initdb: error: could not change permissions of directory "/var/lib/postgresql/data/pgdata": Operation not permitted'
                ),
            ]
        scene.log(run.start + 0.2, death, lines, evidence=[0, 1] if not cited["done"] else False)
        cited["done"] = True

    crash_loop(
        scene,
        proc,
        proc.last_run().start + scene.rng.uniform(0.3, 1.0),
        run_length=lambda _n: scene.rng.uniform(0.3, 1.0),
        on_death=die,
    )
    return Verdict(
        f"PostgreSQL in {proc.pod.name} may not use its data directory after a securityContext change and crash-loops; its clients cannot connect.",
        "critical",
    )
