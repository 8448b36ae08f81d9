"""Scenarios about being refused or judged unhealthy: permission denials and failing probes.

Probe rule (see ``app.golden.synthetic``): these probe scenarios show no underlying cause in the
logs (a slow handler, a wrong path, port or timeout), so they are ``probe_failure``; a probe that
fails because a dependency is clearly unreachable is labeled ``dependency_unavailable`` instead.
"""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.lifecycle import (
    container_exited,
    container_started,
    crashloop,
    liveness_kill,
    probe_failed,
    probe_timeout_output,
    ready,
    startup,
    terminated_report,
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


@scenario("permission_denied", "causal_chain")
def perm_lease_forbidden_leader_lost(w: Window) -> Verdict:
    """A Role change removes lease rights; the controller loses leader election, restarts, and cannot lead."""
    app = w.pick(("tenant-controller", "backup-operator", "queue-operator", "cert-sync"))
    pod = w.app("go", app=app, container="manager")
    flux = w.platform("flux")
    w.crowd(pod, 1, 2)
    w.ensure_duration(w.rng.uniform(420, 700))
    account = f"{app}-controller-manager"
    lease = f"{app}-leader-election"
    pid = 1  # the manager is PID 1 in its container
    applied = w.rng.uniform(15, 60)
    w.add(
        applied,
        flux,
        f.flux_applied(
            pod.namespace,
            {f"Role/{pod.namespace}/{app}-leader-election-role": "configured"},
            f"main@sha1:{w.hexid(40)}",
        ),
    )
    forbidden = f'leases.coordination.k8s.io "{lease}" is forbidden: User "system:serviceaccount:{pod.namespace}:{account}" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "{pod.namespace}"'

    def lock_error(at: float, *, evidence: bool = False) -> None:
        line = f.klog(
            "E",
            "leaderelection.go:436",
            f"error retrieving resource lock {pod.namespace}/{lease}: {forbidden}",
            component="client-go",
            pid=pid,
        )
        w.add(at, pod, line, evidence=evidence)

    at = applied + w.rng.uniform(3, 10)
    for index in range(3):
        lock_error(at + index * 2.0, evidence=index == 0)
    lost = at + 10.2
    w.add(
        lost - 0.1,
        pod,
        f.klog(
            "I",
            "leaderelection.go:297",
            f"failed to renew lease {pod.namespace}/{lease}: timed out waiting for the condition",
            component="client-go",
            pid=pid,
        ),
    )
    w.add(
        lost,
        pod,
        f.klog(
            "E",
            "main.go:137",
            "problem running manager",
            component="controller-runtime",
            pid=pid,
            err="leader election lost",
        ),
        evidence=True,
    )
    w.quiet(pod, lost + 0.1, lost + 14)
    container_exited(w, pod, lost + 0.2, 1)
    refused_probe = f'Get "http://{pod.ip}:8081/readyz": dial tcp {pod.ip}:8081: connect: connection refused'
    probe_failed(w, pod, lost + 3, "Readiness", refused_probe)
    if w.chance(0.5):
        probe_failed(
            w,
            pod,
            lost + 8,
            "Liveness",
            f'Get "http://{pod.ip}:8081/healthz": dial tcp {pod.ip}:8081: connect: connection refused',
            kubelet=False,
        )
    began = container_started(w, pod, lost + 12)
    w.add(
        began + 0.5,
        pod,
        f.klog(
            "I",
            "leaderelection.go:257",
            f"attempting to acquire leader lease {pod.namespace}/{lease}...",
            component="client-go",
            pid=pid,
        ),
    )
    for moment in w.spread(began + 1, w.duration_s - 3, w.rng.randint(2, 4)):
        lock_error(moment)
    return Verdict(
        f"A Role change took lease rights from {account}: {pod.name} lost leader election, restarted and cannot acquire the lease again (forbidden), so it reconciles nothing.",
        "critical",
    )


@scenario("permission_denied", "paraphrase")
def perm_authz_paraphrase(w: Window) -> Verdict:
    """Refused for lack of rights in other words: Kafka ACLs, Vault 403, PostgreSQL 42501, RabbitMQ ACCESS_REFUSED."""
    kind = w.pick(("kafka", "vault", "postgres_grant", "rabbitmq"))
    pod = w.app(
        {"kafka": "jvm", "vault": "go", "postgres_grant": w.pick(("go", "python")), "rabbitmq": "node"}[kind]
    )
    w.crowd(pod, 1, 3)
    topic = w.pick(("orders", "payments.settled", "inventory-events"))
    table = w.pick(("invoices", "ledger_entries", "customers"))
    path = f"secret/data/{pod.namespace}/{pod.app}"
    first = True
    for at in w.spread(w.duration_s * 0.1, w.duration_s - 4, w.rng.randint(3, 5)):
        if kind == "kafka":
            line = f.spring(
                pod.app,
                "ERROR",
                "kafka-producer-network-thread | producer-1",
                "o.s.k.support.LoggingProducerListener",
                f"Exception thrown when sending a message with key='{w.rng.randint(10000, 99999)}' to topic {topic}: org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [{topic}]",
            )
        elif kind == "vault":
            error = f"Error making API request.\n\nURL: GET https://vault.vault.svc:8200/v1/{path}\nCode: 403. Errors:\n\n* permission denied"
            line = go_log(
                pod, "error", "secrets/vault.go:64", "failed to read secret", path=path, error=error
            )
        elif kind == "postgres_grant":
            message = f"permission denied for table {table}"
            if pod.runtime == "go":
                line = go_log(
                    pod, "error", "store/pg.go:88", "query failed", error=f"ERROR: {message} (SQLSTATE 42501)"
                )
            else:
                line = f.python_log(
                    "ERROR",
                    "app.db",
                    f"sqlalchemy.exc.ProgrammingError: (psycopg2.errors.InsufficientPrivilege) {message}",
                )
        else:
            err = {
                "message": 'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."',
                "code": 403,
            }
            line = f.pino(50, "amqp connection failed", pod.name, err=err)
        w.add(at, pod, line, evidence=first)
        first = False
    what = {
        "kafka": f"Kafka ACLs do not let {pod.app} write to topic {topic}",
        "vault": f"Vault's policy denies {pod.app} read access to {path}",
        "postgres_grant": f"{pod.app}'s database role has no privilege on table {table}",
        "rabbitmq": f"RabbitMQ refuses {pod.app}'s login (ACCESS_REFUSED)",
    }[kind]
    return Verdict(f"{what}; every attempt is refused.", "critical")


@scenario("permission_denied", "red_herring")
def perm_with_cross_class_decoys(w: Window) -> Verdict:
    """S3 or RBAC refuses the app, next to a DNS blip that recovered, a sidecar's x509 warning and others."""
    pod = w.app("go")
    w.crowd(pod, 1, 2)
    first = True
    s3 = w.chance(0.5)
    bucket = w.pick(("acme-exports", "invoices-prod", "ml-artifacts"))
    for at in w.spread(w.duration_s * 0.1, w.duration_s - 4, w.rng.randint(2, 4)):
        if s3:
            error = f"operation error S3: PutObject, https response error StatusCode: 403, RequestID: {w.hexid(16).upper()}, HostID: {w.hexid(24)}=, api error AccessDenied: Access Denied"
            line = go_log(pod, "error", "storage/s3.go:118", "upload failed", bucket=bucket, error=error)
        else:
            err = f'k8s.io/client-go@v0.31.3/tools/cache/reflector.go:243: Failed to watch *v1.Secret: failed to list *v1.Secret: secrets is forbidden: User "system:serviceaccount:{pod.namespace}:{pod.app}" cannot list resource "secrets" in API group "" in the namespace "{pod.namespace}"'
            line = f.klog(
                "E",
                "reflector.go:158",
                "Unhandled Error",
                component="client-go",
                err=err,
                logger="UnhandledError",
            )
        w.add(at, pod, line, evidence=first)
        first = False
    spoken = add_decoys(
        w,
        "permission_denied",
        w.rng.randint(2, 3),
        prefer=("dns_resolution_failure", "tls_certificate_error", "oom_killed"),
    )
    what = (
        f"may not write to bucket {bucket} (403 AccessDenied)"
        if s3
        else "may not list Secrets (RBAC forbidden)"
    )
    return Verdict(f"{pod.name} {what}; {describe_decoys(spoken)} are not the cause.", "critical")


@scenario("permission_denied", "other_words")
def perm_forbidden_panic_at_startup(w: Window) -> Verdict:
    """An operator panics at start-up; the panic message is an RBAC refusal, not a bug."""
    app = w.pick(("tenant-controller", "backup-operator", "queue-operator", "quota-sync"))
    pod = w.app("go", app=app, container="manager")
    w.crowd(pod, 1, 3)
    resource = w.pick(("configmaps", "namespaces", "secrets", "nodes"))
    scope = (
        "at the cluster scope"
        if resource in ("namespaces", "nodes")
        else f'in the namespace "{pod.namespace}"'
    )
    kind = resource.rstrip("s").capitalize().replace("Configmap", "ConfigMap")
    line_no = w.rng.randint(60, 140)

    def run(at: float, attempt: int) -> float:
        lines = [
            f.go_plain(
                f'panic: failed to list *v1.{kind}: {resource} is forbidden: User "system:serviceaccount:{pod.namespace}:{app}" cannot list resource "{resource}" in API group "" {scope}'
            ),
            f.go_plain(""),
            f.go_plain("goroutine 1 [running]:"),
            f.go_plain("main.main()"),
            f.go_plain(f"	/workspace/cmd/main.go:{line_no} +0x{w.hexid(3)}"),
        ]
        w.add(at + 0.3, pod, startup(w, pod)[0])
        return w.block(at + w.rng.uniform(0.5, 1.5), pod, lines, evidence=(0,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2)
    return Verdict(
        f"{pod.name} panics at start-up because its service account may not list {resource}; the panic is how it reports the RBAC refusal.",
        "critical",
    )


@scenario("permission_denied", "subtle")
def perm_single_denied_line(w: Window) -> Verdict:
    """One line among noise: a nightly export Job is denied by S3 or GCS and gives up."""
    app = w.app()
    job = w.pick(("nightly-export", "invoice-archive", "audit-export"))
    suffix = w.rng.randint(29_000_000, 29_999_999)
    pod = w.job(f"{job}-{suffix}", w.pick(("python", "go")), container=job)
    w.crowd(app, 1, 3)
    w.quiet(pod, 0)
    at = w.rng.uniform(20, w.duration_s * 0.5)
    w.add(
        at,
        w.events(),
        f.kube_event("Normal", "SuccessfulCreate", f"job/{job}-{suffix}", f"Created pod: {pod.name}"),
    )
    began = container_started(w, pod, at + 0.5)
    rows = w.rng.randint(10_000, 900_000)
    w.add(began + 1, pod, app_log(w, pod, "info", "export started", rows=rows))
    bucket = w.pick(("acme-archive", "exports-prod", "audit-trail"))
    if w.chance(0.5):
        error = f'operation error S3: PutObject, https response error StatusCode: 403, RequestID: {w.hexid(16).upper()}, api error AccessDenied: User: arn:aws:sts::123456789012:assumed-role/{job}/{w.hexid(12)} is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::{bucket}/{w.hexid(8)}.parquet" because no identity-based policy allows the s3:PutObject action'
    else:
        error = f"googleapi: Error 403: {job}@acme-prod.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object. Permission 'storage.objects.create' denied on resource (or it may not exist)., forbidden"
    done = began + w.rng.uniform(30, 90)
    w.add(
        done,
        pod,
        app_log(w, pod, "error", "export failed, exiting", bucket=bucket, error=error),
        evidence=True,
    )
    container_exited(w, pod, done + 0.1, 1)
    return Verdict(
        f"The {job} Job cannot write its export to bucket {bucket}: its identity is not allowed to create objects there (403).",
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


@scenario("probe_failure", "red_herring")
def probe_with_cross_class_decoys(w: Window) -> Verdict:
    """Readiness probes fail on a wrong path or time out, next to an old OOMKilled and other decoys."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    w.noise_weight(pod, 1.5)
    timeout = w.chance(0.5)
    path = w.pick(("/ready", "/health/ready", "/status"))
    first = True
    for at in w.spread(20, w.duration_s - 3, w.rng.randint(4, 6)):
        output = probe_timeout_output(pod, "/readyz") if timeout else "HTTP probe failed with statuscode: 404"
        probe_failed(w, pod, at, "Readiness", output, evidence=first, kubelet=w.chance(0.5))
        first = False
    spoken = add_decoys(
        w,
        "probe_failure",
        w.rng.randint(2, 3),
        prefer=("oom_killed", "tls_certificate_error", "image_pull_error"),
    )
    what = (
        "time out while the app serves traffic normally"
        if timeout
        else f"request {path}, which the app answers with 404"
    )
    return Verdict(
        f"{pod.name}'s readiness probes {what}; {describe_decoys(spoken)} are not the cause.", "warning"
    )


@scenario("probe_failure", "paraphrase")
def probe_failure_paraphrase(w: Window) -> Verdict:
    """Probes fail in other words: an exec probe whose binary is missing, a TCP probe timing out, NOT_SERVING."""
    kind = w.pick(("exec_missing", "tcp_timeout", "grpc_not_serving"))
    pod = (
        w.stateful("redis") if kind == "tcp_timeout" else w.app("go" if kind == "grpc_not_serving" else None)
    )
    w.crowd(pod, 1, 3)
    first = True
    for at in w.spread(20, w.duration_s - 3, w.rng.randint(4, 6)):
        if kind == "exec_missing":
            message = f'Readiness probe errored: rpc error: code = Unknown desc = failed to exec in container: failed to start exec "{w.hexid(64)}": OCI runtime exec failed: exec failed: unable to start container process: exec: "curl": executable file not found in $PATH: unknown'
            w.event(at, pod, "Warning", "Unhealthy", message, evidence=first)
        elif kind == "tcp_timeout":
            probe_failed(w, pod, at, "Liveness", f"dial tcp {pod.ip}:6379: i/o timeout", evidence=first)
        else:
            probe_failed(
                w, pod, at, "Readiness", 'service unhealthy (responded with "NOT_SERVING")', evidence=first
            )
        first = False
    what = {
        "exec_missing": "its exec readiness probe runs curl, which the image does not contain",
        "tcp_timeout": "its TCP liveness probe on 6379 times out while Redis logs nothing wrong",
        "grpc_not_serving": "its gRPC health service answers NOT_SERVING although the app serves requests",
    }[kind]
    return Verdict(f"{pod.name}'s probes fail: {what}.", "warning")


@scenario("probe_failure", "other_words")
def probe_liveness_kill_exit_137(w: Window) -> Verdict:
    """Liveness timeouts get the container killed; it ignores SIGTERM, so it dies by SIGKILL with exit 137."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    path = w.pick(("/healthz", "/livez", "/health"))
    start = w.rng.uniform(30, w.duration_s * 0.4)
    times = [start + index * 10 + w.rng.uniform(-0.3, 0.3) for index in range(3)]
    for index, at in enumerate(times):
        probe_failed(w, pod, at, "Liveness", probe_timeout_output(pod, path), evidence=index == 0)
    liveness_kill(w, pod, times[-1] + 0.05)
    w.quiet(pod, times[-1], times[-1] + 45)
    # The process does not handle SIGTERM; after the 30 s grace period the kubelet sends SIGKILL.
    killed = times[-1] + 30.1
    container_exited(w, pod, killed, 137)
    terminated_report(w, pod, killed + w.rng.uniform(1, 3), "Error", 137, restarts=w.rng.randint(1, 5))
    restart = container_started(w, pod, killed + w.rng.uniform(2, 6))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name}'s liveness probe on {path} timed out three times and the kubelet restarted it; exit 137 is the SIGKILL after the grace period, not an OOM.",
        "warning",
    )


@scenario("probe_failure", "causal_chain")
def probe_path_moved_in_rollout(w: Window) -> Verdict:
    """A new version serves health under a new path; its pods never pass readiness and the rollout stalls."""
    old = w.app(w.pick(("go", "node", "python")))
    new = w.app(old.runtime, app=old.app, container=old.container)
    flux = w.platform("flux")
    w.crowd(old, 0, 1)
    w.noise_weight(old, 2.0)
    applied = w.rng.uniform(10, 40)
    w.add(
        applied,
        flux,
        f.flux_applied(
            old.namespace,
            {f"Deployment/{old.namespace}/{old.app}": "configured"},
            f"main@sha1:{w.hexid(40)}",
        ),
    )
    w.quiet(new, 0, applied + 8)
    w.event(applied + 2, new, "Normal", "Scheduled", f"Successfully assigned {new.ref} to {new.node}")
    began = container_started(w, new, applied + 3, pulled=True)
    w.block(began + 0.5, new, [*startup(w, new), ready(w, new)])
    w.add(
        began + 0.8,
        new,
        app_log(
            w, new, "info", "health endpoints registered", liveness="/health/live", readiness="/health/ready"
        ),
    )
    first = True
    for at in w.spread(began + 10, w.duration_s - 3, w.rng.randint(4, 6)):
        probe_failed(
            w,
            new,
            at,
            "Readiness",
            "HTTP probe failed with statuscode: 404",
            evidence=first,
            kubelet=w.chance(0.5),
        )
        first = False
    return Verdict(
        f"The new {old.app} version serves readiness under /health/ready but the probe still asks /readyz (404); its pod never becomes ready and the rollout stalls while old pods serve.",
        "warning",
    )
