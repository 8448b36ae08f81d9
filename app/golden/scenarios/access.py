"""Scenarios about being refused or judged unhealthy: permission denials and failing probes.

Probe rule (see ``app.golden.synthetic``): these probe scenarios show no underlying cause in the
logs (a slow handler, a wrong path, port or timeout), so they are ``probe_failure``; a probe that
fails because a dependency is clearly unreachable is labeled ``dependency_unavailable`` instead.
"""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.lifecycle import (
    container_started,
    crashloop,
    liveness_kill,
    probe_failed,
    probe_timeout_output,
    ready,
    startup,
)
from app.golden.scenarios.noise import app_log, go_log, herring
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.window import APP_RUNTIMES, Window

# --- permission_denied ------------------------------------------------------------------------------


@scenario("permission_denied")
def perm_rbac_forbidden(w: Window) -> Verdict:
    """A client-go informer in the app is forbidden to list or watch a resource (RBAC)."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    account = w.pick((pod.app, "default", f"{pod.app}-sa"))
    resource, group = w.pick(
        (
            ("pods", '""'),
            ("configmaps", '""'),
            ("jobs", '"batch"'),
            ("leases", '"coordination.k8s.io"'),
            ("secrets", '""'),
        )
    )
    verb = w.pick(("list", "watch", "get", "create"))
    first = True
    for at in w.spread(5, w.duration_s - 3, w.rng.randint(3, 6)):
        kind = resource.rstrip("s").capitalize()
        err = f'k8s.io/client-go@v0.31.3/tools/cache/reflector.go:243: Failed to watch *v1.{kind}: failed to list *v1.{kind}: {resource} is forbidden: User "system:serviceaccount:{pod.namespace}:{account}" cannot {verb} resource "{resource}" in API group {group} in the namespace "{pod.namespace}"'
        w.add(
            at,
            pod,
            f.klog(
                "E",
                "reflector.go:158",
                "Unhandled Error",
                component="client-go",
                err=err,
                logger="UnhandledError",
            ),
            evidence=first,
        )
        first = False
    return Verdict(
        f"{pod.name}'s service account {account} lacks RBAC permission to {verb} {resource} in {pod.namespace}.",
        "critical",
    )


@scenario("permission_denied")
def perm_fs_eacces_node(w: Window) -> Verdict:
    """A Node.js app crashloops on EACCES opening a path it may not write."""
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    path = w.pick(("/data/cache", "/data/cache/index.json", "/var/lib/app/uploads", "/app/data/sessions.db"))
    syscall = w.pick(("open", "mkdir", "scandir"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, startup(w, pod)) + w.rng.uniform(0.2, 2)
        return w.block(
            at,
            pod,
            [
                f.node_plain(f"Error: EACCES: permission denied, {syscall} '{path}'"),
                f.node_plain("    at async open (node:internal/fs/promises:639:25)"),
                f.node_plain("    at async Cache.init (/app/dist/cache.js:22:18) {"),
                f.node_plain("  errno: -13,"),
                f.node_plain("  code: 'EACCES',"),
                f.node_plain(f"  syscall: '{syscall}',"),
                f.node_plain(f"  path: '{path}'"),
                f.node_plain("}"),
            ],
            evidence=(0, 4) if attempt == 0 else (),
        )

    crashloop(w, pod, run, exit_code=1)
    return Verdict(f"{pod.name} runs as a user that may not {syscall} {path} (EACCES) and exits.", "critical")


@scenario("permission_denied")
def perm_postgres_password(w: Window) -> Verdict:
    """PostgreSQL rejects the app's password; both sides log the failed authentication."""
    pod = w.app(w.pick(("go", "python", "jvm")))
    db = w.stateful("postgres")
    w.crowd(pod, 0, 2)
    user = w.pick(("app", pod.app.replace("-", "_"), "service", "orders"))
    line = w.rng.randint(90, 130)
    first = True
    for at in w.spread(w.duration_s * 0.15, w.duration_s - 3, w.rng.randint(3, 5)):
        pid = w.rng.randint(3000, 90000)
        w.add(
            at,
            db,
            f.postgres(pid, "FATAL", f'password authentication failed for user "{user}"'),
            evidence=first,
        )
        w.add(
            at + 0.0005,
            db,
            f.postgres(
                pid,
                "DETAIL",
                f'Connection matched file "/var/lib/postgresql/data/pg_hba.conf" line {line}: "host all all all scram-sha-256"',
            ),
        )
        message = f'FATAL: password authentication failed for user "{user}" (SQLSTATE 28P01)'
        if pod.runtime == "jvm":
            app_line = f.spring(
                pod.app,
                "ERROR",
                "main",
                "com.zaxxer.hikari.pool.HikariPool",
                f'HikariPool-1 - Exception during pool initialization. org.postgresql.util.PSQLException: FATAL: password authentication failed for user "{user}"',
            )
        else:
            app_line = app_log(w, pod, "error", "database connection failed", error=message)
        w.add(at + 0.01, pod, app_line, evidence=first)
        first = False
    return Verdict(
        f"PostgreSQL rejects {pod.app}'s password for user {user}; every connection fails authentication.",
        "critical",
    )


@scenario("permission_denied")
def perm_python_permissionerror(w: Window) -> Verdict:
    """A Python app crashloops on PermissionError (errno 13) opening its state file."""
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    path = w.pick(
        (
            "/var/lib/app/state.db",
            "/data/exports/report.csv",
            "/models/cache/tokenizer.json",
            "/srv/media/thumbs",
        )
    )

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, startup(w, pod)) + w.rng.uniform(0.3, 2)
        return w.block(
            at,
            pod,
            [
                f.python_plain("Traceback (most recent call last):"),
                f.python_plain('  File "/app/app/storage.py", line 27, in open_store'),
                f.python_plain(f'    handle = open("{path}", "a+b")'),
                f.python_plain(f"PermissionError: [Errno 13] Permission denied: '{path}'"),
            ],
            evidence=(0, 3) if attempt == 0 else (),
        )

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} may not write {path} (PermissionError, errno 13) and crashes at start-up.", "critical"
    )


@scenario("permission_denied")
def perm_redis_auth(w: Window) -> Verdict:
    """Redis answers NOAUTH or WRONGPASS to every command from the app."""
    pod = w.app(w.pick(("node", "go")))
    redis = w.stateful("redis")
    w.crowd(pod, 0, 2)
    wrongpass = w.chance(0.5)
    reply = (
        "WRONGPASS invalid username-password pair or user is disabled."
        if wrongpass
        else "NOAUTH Authentication required."
    )
    first = True
    for at in w.spread(w.duration_s * 0.1, w.duration_s - 3, w.rng.randint(3, 6)):
        if pod.runtime == "node":
            line = f.node_plain(f"[ioredis] Unhandled error event: ReplyError: {reply}")
        else:
            line = go_log(pod, "error", "cache/redis.go:52", "redis command failed", error=reply)
        w.add(at, pod, line, evidence=first)
        first = False
    w.noise_weight(redis, 0.2)
    return Verdict(f"Redis refuses {pod.app}'s commands: {reply.split('.')[0]}.", "critical")


@scenario("permission_denied", "other_words")
def perm_auth_looks_like_dependency(w: Window) -> Verdict:
    """The app says the database is unavailable; PostgreSQL shows a failed password instead."""
    pod = w.app("python")
    db = w.stateful("postgres")
    w.crowd(pod, 1, 2)
    user = pod.app.replace("-", "_")

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.4, pod, startup(w, pod))
        for tries in range(1, 3):
            at += w.rng.uniform(1, 3)
            w.add(at, pod, f.python_log("WARNING", "app.db", f"database unavailable, retrying ({tries}/2)"))
        pid = w.rng.randint(3000, 90000)
        w.add(
            at - 0.01,
            db,
            f.postgres(pid, "FATAL", f'password authentication failed for user "{user}"'),
            evidence=attempt == 0,
        )
        return w.block(
            at + 0.5,
            pod,
            [
                f.python_log("ERROR", "app.db", "could not connect to database, giving up"),
                f.python_plain(
                    f'psycopg.OperationalError: connection failed: connection to server at "{db.ip}", port 5432 failed: FATAL:  password authentication failed for user "{user}"'
                ),
            ],
            evidence=(1,) if attempt == 0 else (),
        )

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} says the database is unavailable, but PostgreSQL is up and rejects the password for {user}.",
        "critical",
    )


@scenario("permission_denied", "other_words")
def perm_nginx_readonly_fs(w: Window) -> Verdict:
    """A non-root nginx container may not create its temp or pid path and crashloops."""
    pod = w.app("nginx", app=w.pick(("storefront", "web", "docs", "admin-ui")), container="nginx")
    w.crowd(pod, 2, 3)
    directory = w.pick(("/var/cache/nginx/client_temp", "/var/cache/nginx/proxy_temp", "/var/run/nginx.pid"))

    def run(at: float, attempt: int) -> float:
        lines = [
            f.plain(
                "nginx",
                "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            ),
            f.plain("nginx", "/docker-entrypoint.sh: Configuration complete; ready for start up"),
        ]
        at = w.block(at + 0.2, pod, lines)
        if directory.endswith(".pid"):
            message = f'nginx: [emerg] open() "{directory}" failed (13: Permission denied)'
        else:
            message = f'nginx: [emerg] mkdir() "{directory}" failed (13: Permission denied)'
        w.add(
            at,
            pod,
            f.nginx_error("emerg", message.removeprefix("nginx: [emerg] "), worker=1, component="nginx"),
            evidence=attempt == 0,
        )
        return at + 0.05

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"nginx in {pod.name} runs as non-root on a read-only filesystem and may not create {directory}.",
        "critical",
    )


@scenario("permission_denied")
def perm_s3_access_denied(w: Window) -> Verdict:
    """S3 calls from a Go service fail with 403 AccessDenied."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    bucket = w.pick(("acme-exports", "invoices-prod", "ml-artifacts", "media-uploads"))
    op = w.pick(("PutObject", "GetObject", "ListObjectsV2"))
    first = True
    for at in w.spread(10, w.duration_s - 3, w.rng.randint(3, 5)):
        error = f"operation error S3: {op}, https response error StatusCode: 403, RequestID: {w.hexid(16).upper()}, HostID: {w.hexid(24)}=, api error AccessDenied: Access Denied"
        w.add(
            at,
            pod,
            go_log(
                pod,
                "error",
                "storage/s3.go:118",
                "upload failed" if op == "PutObject" else "read failed",
                bucket=bucket,
                error=error,
            ),
            evidence=first,
        )
        first = False
    return Verdict(f"{pod.name}'s role may not {op} on bucket {bucket} (403 AccessDenied).", "warning")


@scenario("permission_denied", "other_words")
def perm_flux_helm_forbidden(w: Window) -> Verdict:
    """helm-controller cannot upgrade a release: its tenant service account is forbidden."""
    flux = w.platform("helm-controller")
    pod = w.app()
    w.crowd(pod, 1, 2)
    release = pod.app
    resource, group = w.pick(
        (
            ("cronjobs", "batch"),
            ("roles", "rbac.authorization.k8s.io"),
            ("servicemonitors", "monitoring.coreos.com"),
            ("networkpolicies", "networking.k8s.io"),
        )
    )
    first = True
    for at in w.spread(20, w.duration_s - 5, w.rng.randint(2, 3)):
        error = f'Helm upgrade failed for release {pod.namespace}/{release} with chart {release}@1.{w.rng.randint(0, 9)}.{w.rng.randint(0, 9)}: {resource}.{group} is forbidden: User "system:serviceaccount:{pod.namespace}:flux-reconciler" cannot create resource "{resource}" in API group "{group}" in the namespace "{pod.namespace}"'
        w.add(
            at,
            flux,
            f.flux("error", "helmrelease", "HelmRelease", release, "Reconciler error", error=error),
            evidence=first,
        )
        first = False
    w.add(w.rng.uniform(5, w.duration_s - 5), pod, herring(w, pod))
    return Verdict(
        f"Flux cannot upgrade {release}: its tenant service account may not create {resource}.{group}.",
        "warning",
    )


# --- probe_failure ------------------------------------------------------------------------------------


@scenario("probe_failure")
def probe_liveness_timeout_restart(w: Window) -> Verdict:
    """Three liveness timeouts, then the kubelet restarts an otherwise quiet, healthy app."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    path = w.pick(("/healthz", "/livez", "/health"))
    start = w.rng.uniform(30, w.duration_s * 0.5)
    times = [start + index * 10 + w.rng.uniform(-0.3, 0.3) for index in range(3)]
    for index, at in enumerate(times):
        probe_failed(w, pod, at, "Liveness", probe_timeout_output(pod, path), evidence=index == 0)
    liveness_kill(w, pod, times[-1] + 0.05)
    w.quiet(pod, times[-1], times[-1] + 35)
    restart = container_started(w, pod, times[-1] + w.rng.uniform(25, 32))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name}'s liveness probe on {path} timed out three times, so the kubelet restarted it; no other cause is visible.",
        "warning",
    )


@scenario("probe_failure")
def probe_startup_too_short(w: Window) -> Verdict:
    """A slow-starting JVM app is killed by its startup probe before Tomcat is up."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    path = "/actuator/health/liveness"

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.5, pod, startup(w, pod))
        w.add(
            at + 3,
            pod,
            f.spring(
                pod.app,
                "INFO",
                "main",
                "o.s.b.w.embedded.tomcat.TomcatWebServer",
                "Tomcat initialized with port 8080 (http)",
            ),
        )
        w.add(
            at + 9,
            pod,
            f.spring(
                pod.app,
                "INFO",
                "main",
                "o.hibernate.jpa.internal.util.LogHelper",
                "HHH000204: Processing PersistenceUnitInfo [name: default]",
            ),
        )
        for index in range(3):
            probe_failed(
                w,
                pod,
                at + 5 + index * 5,
                "Startup",
                f'Get "http://{pod.ip}:8080{path}": dial tcp {pod.ip}:8080: connect: connection refused',
                evidence=attempt == 0,
                kubelet=index == 0,
            )
        w.event(
            at + 15.1,
            pod,
            "Normal",
            "Killing",
            f"Container {pod.container} failed startup probe, will be restarted",
            evidence=attempt == 0,
        )
        return at + 15.5

    crashloop(w, pod, run, exit_code=143, runs=w.rng.randint(2, 3))
    return Verdict(
        f"{pod.name} needs longer to start than its startup probe allows; the kubelet kills it before Tomcat is up.",
        "warning",
    )


@scenario("probe_failure")
def probe_wrong_port(w: Window) -> Verdict:
    """The readiness probe targets a port the app does not listen on."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    port = w.pick((8081, 9090, 3000, 8000))
    restart = container_started(w, pod, w.rng.uniform(5, 20))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    first = True
    for at in w.spread(restart + 10, w.duration_s - 3, w.rng.randint(4, 6)):
        probe_failed(
            w,
            pod,
            at,
            "Readiness",
            f'Get "http://{pod.ip}:{port}/ready": dial tcp {pod.ip}:{port}: connect: connection refused',
            evidence=first,
        )
        first = False
    return Verdict(
        f"{pod.name} listens on its usual port but the readiness probe targets {port}; the pod never becomes ready.",
        "warning",
    )


@scenario("probe_failure")
def probe_wrong_path_404(w: Window) -> Verdict:
    """The readiness probe requests a path the app answers with 404."""
    pod = w.app(w.pick(("go", "node", "python")))
    w.crowd(pod, 1, 3)
    path = w.pick(("/health", "/ready", "/status", "/api/health"))
    first = True
    for at in w.spread(15, w.duration_s - 3, w.rng.randint(4, 6)):
        if pod.runtime == "python":
            access = f.uvicorn_access(f"10.244.0.1:{w.port()}", f"GET {path} HTTP/1.1", 404)
        elif pod.runtime == "node":
            access = f.pino(
                30,
                "request completed",
                pod.name,
                req={"method": "GET", "url": path, "userAgent": "kube-probe/1.31"},
                res={"statusCode": 404},
                responseTime=1,
            )
        else:
            access = go_log(
                pod,
                "info",
                "server/middleware.go:61",
                "request completed",
                method="GET",
                path=path,
                status=404,
                agent="kube-probe/1.31",
            )
        w.add(at - 0.002, pod, access, evidence=first)
        probe_failed(w, pod, at, "Readiness", "HTTP probe failed with statuscode: 404", evidence=first)
        first = False
    return Verdict(
        f"{pod.name}'s readiness probe requests {path}, which the app does not serve (404).", "warning"
    )


@scenario("probe_failure")
def probe_grpc_exec_timeout(w: Window) -> Verdict:
    """A gRPC or exec probe keeps exceeding its 1s timeout."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    grpc = w.chance(0.5)
    first = True
    for at in w.spread(15, w.duration_s - 3, w.rng.randint(4, 6)):
        if grpc:
            output = 'timeout: failed to connect service ":9090" within 1s'
            probe_failed(w, pod, at, "Readiness", output, evidence=first)
        else:
            w.event(
                at,
                pod,
                "Warning",
                "Unhealthy",
                "Liveness probe errored: rpc error: code = DeadlineExceeded desc = failed to exec in container: timeout 1s exceeded: context deadline exceeded",
                evidence=first,
            )
        first = False
    kind = "gRPC readiness" if grpc else "exec liveness"
    return Verdict(
        f"{pod.name}'s {kind} probe keeps exceeding its 1s timeout; the app logs show no other problem.",
        "warning",
    )


@scenario("probe_failure", "subtle")
def probe_timeouts_no_cause(w: Window) -> Verdict:
    """Probes time out intermittently with benign noise around and no visible cause."""
    pod = w.app()
    others = w.crowd(pod, 2, 3)
    w.noise_weight(pod, 2.0)
    for other in others:
        if other.runtime in APP_RUNTIMES:
            w.add(w.rng.uniform(5, w.duration_s - 5), other, herring(w, other))
    first = True
    for at in w.spread(20, w.duration_s - 3, w.rng.randint(4, 7)):
        probe_failed(
            w,
            pod,
            at,
            w.pick(("Readiness", "Readiness", "Liveness")),
            probe_timeout_output(pod, w.pick(("/healthz", "/readyz"))),
            evidence=first,
            kubelet=w.chance(0.5),
        )
        first = False
    return Verdict(
        f"{pod.name}'s probes time out intermittently while it serves traffic normally; no dependency or resource problem is visible.",
        "warning",
    )


@scenario("probe_failure", "red_herring")
def probe_slow_healthz_with_herring(w: Window) -> Verdict:
    """A slow /healthz handler times out the liveness probe; a Redis retry nearby recovered."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    at = w.rng.uniform(10, 60)
    w.add(
        at,
        pod,
        go_log(pod, "warn", "cache/redis.go:64", "redis ping failed, retrying in 1s", error="i/o timeout"),
    )
    w.add(at + 1.2, pod, go_log(pod, "info", "cache/redis.go:70", "redis connection established"))
    first = True
    for at in w.spread(60, w.duration_s - 3, w.rng.randint(3, 5)):
        took = w.rng.randint(1300, 4800)
        w.add(
            at + took / 1000,
            pod,
            go_log(
                pod,
                "warn",
                "server/middleware.go:61",
                "slow request",
                method="GET",
                path="/healthz",
                status=200,
                duration_ms=took,
                agent="kube-probe/1.31",
            ),
            evidence=first,
        )
        probe_failed(w, pod, at + 1.0, "Liveness", probe_timeout_output(pod), evidence=first)
        first = False
    return Verdict(
        f"{pod.name}'s /healthz handler takes over a second (it does heavy work) and its 1s liveness probe times out; the Redis retry recovered.",
        "warning",
    )
