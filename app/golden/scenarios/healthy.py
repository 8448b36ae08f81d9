"""Healthy windows: normal operation, some of it noisy or alarming-looking but benign."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.lifecycle import (
    container_exited,
    container_started,
    image_of,
    probe_failed,
    ready,
    shutdown,
    startup,
)
from app.golden.scenarios.noise import add_red_herrings, app_log, go_log, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import reconnected, refused
from app.golden.scenarios.window import Window


@scenario("healthy")
def healthy_steady_traffic(w: Window) -> Verdict:
    """Ordinary requests, health checks and chatter from several pods."""
    pod = w.app()
    if w.chance(0.4):
        w.sidecar(pod, "istio-proxy", "envoy")
    w.crowd(pod, 1, 4)
    return Verdict(
        f"Normal traffic in {w.namespace}: requests, health checks and routine chatter; nothing failing.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_rolling_update(w: Window) -> Verdict:
    """A rollout: Normal events, one refused readiness probe at start-up, a clean shutdown."""
    old = w.app()
    new = w.app(old.runtime, app=old.app, container=old.container)
    w.crowd(old, 0, 2)
    at = w.rng.uniform(20, w.duration_s * 0.4)
    rs = new.name.rsplit("-", 1)[0]
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Normal", "ScalingReplicaSet", f"deployment/{old.app}", f"Scaled up replica set {rs} to 1"
        ),
    )
    w.quiet(new, 0, at + 12)
    w.event(at + 0.5, new, "Normal", "Scheduled", f"Successfully assigned {new.ref} to {new.node}")
    started = container_started(w, new, at + 1, pulled=True)
    w.block(started + 0.5, new, startup(w, new))
    # One refused readiness probe while the app is still starting is normal.
    probe_failed(
        w,
        new,
        started + 3,
        "Readiness",
        f'Get "http://{new.ip}:8080/readyz": dial tcp {new.ip}:8080: connect: connection refused',
        kubelet=w.chance(0.5),
    )
    w.add(started + 7, new, ready(w, new))
    old_rs = old.name.rsplit("-", 1)[0]
    w.add(
        started + 12,
        w.events(),
        f.kube_event(
            "Normal",
            "ScalingReplicaSet",
            f"deployment/{old.app}",
            f"Scaled down replica set {old_rs} to 0 from 1",
        ),
    )
    w.event(started + 12.2, old, "Normal", "Killing", f"Stopping container {old.container}")
    w.block(started + 12.3, old, shutdown(w, old))
    w.quiet(old, started + 12.2)
    return Verdict(
        f"A rolling update of {old.app}: the new pod started (one early readiness failure during start-up) and the old one shut down cleanly.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_benign_errors(w: Window) -> Verdict:
    """Many alarming-looking but benign lines: retries that succeed, zero error counters, deprecations."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    add_red_herrings(w, w.rng.randint(4, 7))
    return Verdict(
        f"{w.namespace} is healthy; the retries (which succeed), zero error counters, 400s and deprecation warnings are benign.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_ndots_nxdomain(w: Window) -> Verdict:
    """NXDOMAIN answers for search-domain expansions followed by a successful lookup."""
    pod = w.app()
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    host = w.pick(("api.stripe.com", "hooks.slack.com", "api.sendgrid.com", "sqs.eu-central-1.amazonaws.com"))
    # With ndots:5, resolvers try the search domains first; NXDOMAIN for those is expected.
    search = (f"{pod.namespace}.svc.cluster.local", "svc.cluster.local", "cluster.local")
    for at in sorted(w.rng.uniform(5, w.duration_s - 5) for _ in range(w.rng.randint(2, 3))):
        step = at
        for domain in search:
            for qtype in ("A", "AAAA"):
                w.add(
                    step,
                    dns,
                    f.coredns(
                        f'[INFO] {pod.ip}:{w.port()} - {w.rng.randint(1, 65535)} "{qtype} IN {host}.{domain}. udp {w.rng.randint(50, 90)} false 512" NXDOMAIN qr,aa,rd {w.rng.randint(140, 180)} {w.rng.uniform(0.00005, 0.0004):.6f}s'
                    ),
                )
                step += w.rng.uniform(0.0005, 0.002)
        w.add(
            step,
            dns,
            f.coredns(
                f'[INFO] {pod.ip}:{w.port()} - {w.rng.randint(1, 65535)} "A IN {host}. udp {w.rng.randint(40, 70)} false 512" NOERROR qr,rd,ra {w.rng.randint(90, 200)} {w.rng.uniform(0.002, 0.03):.6f}s'
            ),
        )
        w.add(step + 0.2, pod, app_log(w, pod, "info", "outbound request completed", host=host, status=200))
    return Verdict(
        f"Healthy: the NXDOMAIN answers are the search-domain expansions of {host} (ndots), followed by a successful lookup.",
        "info",
    )


@scenario("healthy")
def healthy_cronjob(w: Window) -> Verdict:
    """A CronJob's pod runs and completes."""
    app = w.app()
    job_name = w.pick(("nightly-report", "cleanup-sessions", "sync-exchange-rates", "db-backup"))
    suffix = w.rng.randint(29_000_000, 29_999_999)
    job = w.job(f"{job_name}-{suffix}", container=job_name)
    w.crowd(app, 0, 2)
    at = w.rng.uniform(10, w.duration_s * 0.4)
    w.add(
        at,
        w.events(),
        f.kube_event("Normal", "SuccessfulCreate", f"cronjob/{job_name}", f"Created job {job_name}-{suffix}"),
    )
    w.quiet(job, 0, at + 3)
    started = container_started(w, job, at + 1)
    rows = w.rng.randint(100, 90000)
    w.add(started + 0.5, job, f.python_log("INFO", job_name.replace("-", "_"), "starting run"))
    w.add(
        started + w.rng.uniform(5, 40),
        job,
        f.python_log("INFO", job_name.replace("-", "_"), f"processed {rows} rows"),
    )
    done = started + w.rng.uniform(45, 90)
    w.add(done, job, f.python_log("INFO", job_name.replace("-", "_"), "run finished, exiting 0"))
    w.quiet(job, done + 0.1)
    w.add(
        done + 2, w.events(), f.kube_event("Normal", "Completed", f"job/{job_name}-{suffix}", "Job completed")
    )
    w.add(
        done + 3,
        w.events(),
        f.kube_event(
            "Normal",
            "SawCompletedJob",
            f"cronjob/{job_name}",
            f"Saw completed job: {job_name}-{suffix}, condition: Complete",
        ),
    )
    return Verdict(
        f"The {job_name} CronJob ran and completed successfully; the rest of {w.namespace} is serving normally.",
        "info",
    )


@scenario("healthy")
def healthy_hpa_scale(w: Window) -> Verdict:
    """The HPA scales up and the new pod starts cleanly."""
    pod = w.app()
    new = w.app(replica_of=pod)
    w.crowd(pod, 0, 2)
    at = w.rng.uniform(20, w.duration_s * 0.5)
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Normal",
            "SuccessfulRescale",
            f"horizontalpodautoscaler/{pod.app}",
            f"New size: {w.rng.randint(3, 6)}; reason: cpu resource utilization (percentage of request) above target",
        ),
    )
    w.quiet(new, 0, at + 8)
    w.event(at + 0.3, new, "Normal", "Scheduled", f"Successfully assigned {new.ref} to {new.node}")
    started = container_started(w, new, at + 1)
    w.block(started + 0.5, new, [*startup(w, new), ready(w, new)])
    return Verdict(f"The HPA scaled {pod.app} up under load and the new pod started cleanly.", "info")


@scenario("healthy", "healthy_alarming")
def healthy_cert_issuance(w: Window) -> Verdict:
    """cert-manager issues or renews a certificate on schedule ('Issuing certificate as Secret does not exist')."""
    pod = w.app()
    cm = w.platform("cert-manager")
    w.crowd(pod, 0, 2)
    secret = f"{pod.app}-tls"
    at = w.rng.uniform(10, w.duration_s * 0.5)
    renewal = w.chance(0.5)
    reason = (
        f"Renewing certificate as renewal was scheduled at {w.clock(at - 5)}"
        if renewal
        else "Issuing certificate as Secret does not exist"
    )
    cert = f"certificate/{secret}"
    w.add(at, w.events(), f.kube_event("Normal", "Issuing", cert, reason))
    w.add(
        at + 0.01,
        cm,
        f.logr(
            "I",
            "trigger_controller.go:215",
            "cert-manager/certificates-trigger",
            "Certificate must be re-issued",
            key=f"{pod.namespace}/{secret}",
            reason="Renewing" if renewal else "DoesNotExist",
            message=reason,
        ),
    )
    w.add(
        at + 0.2,
        w.events(),
        f.kube_event(
            "Normal",
            "Generated",
            cert,
            f'Stored new private key in temporary Secret resource "{secret}-{w.hexid(5)}"',
        ),
    )
    w.add(
        at + 0.4,
        w.events(),
        f.kube_event(
            "Normal",
            "Requested",
            cert,
            f'Created new CertificateRequest resource "{secret}-{w.rng.randint(1, 9)}"',
        ),
    )
    w.add(
        at + w.rng.uniform(20, 70),
        w.events(),
        f.kube_event("Normal", "Issuing", cert, "The certificate has been successfully issued"),
    )
    return Verdict(
        f"cert-manager {'renewed' if renewal else 'issued'} {secret} on schedule; no TLS errors.", "info"
    )


@scenario("healthy", "healthy_alarming")
def healthy_node_drain(w: Window) -> Verdict:
    """A node drain: graceful shutdown and a replacement pod starting elsewhere."""
    pod = w.app()
    moved = w.app(replica_of=pod)
    w.crowd(pod, 0, 2)
    at = w.rng.uniform(20, w.duration_s * 0.5)
    node = pod.node
    w.add(
        at,
        w.events("default"),
        f.kube_event(
            "Normal", "NodeNotSchedulable", f"node/{node}", f"Node {node} status is now: NodeNotSchedulable"
        ),
    )
    w.event(at + 2, pod, "Normal", "Killing", f"Stopping container {pod.container}")
    w.block(at + 2.1, pod, shutdown(w, pod))
    w.quiet(pod, at + 2)
    w.quiet(moved, 0, at + 6)
    w.event(at + 3, moved, "Normal", "Scheduled", f"Successfully assigned {moved.ref} to {moved.node}")
    started = container_started(w, moved, at + 4)
    w.block(started + 0.5, moved, [*startup(w, moved), ready(w, moved)])
    return Verdict(
        f"Node {node} was drained for maintenance; {pod.name} shut down gracefully and its replacement started on {moved.node}.",
        "info",
    )


@scenario("healthy")
def healthy_flux_reconcile(w: Window) -> Verdict:
    """Flux reconciles with no changes while apps serve normally."""
    pod = w.app()
    flux = w.platform("flux")
    w.crowd(pod, 1, 2)
    w.noise_weight(flux, 0.6)
    revision = f"main@sha1:{w.hexid(40)}"
    at = w.rng.uniform(10, w.duration_s - 20)
    image = image_of(pod)
    w.add(
        at,
        flux,
        f.flux_applied(
            pod.namespace,
            {
                f"Deployment/{pod.namespace}/{pod.app}": "unchanged",
                f"Service/{pod.namespace}/{pod.app}": "unchanged",
            },
            revision,
        ),
    )
    w.add(
        at + 0.3,
        flux,
        f.flux(
            "info",
            "kustomization",
            "Kustomization",
            pod.namespace,
            f"Reconciliation finished in {w.rng.uniform(0.5, 4):.1f}s, next run in 10m0s",
            revision=revision,
        ),
    )
    return Verdict(
        f"Flux reconciled {pod.namespace} with no changes ({image} unchanged); apps serve normally.", "info"
    )


@scenario("healthy", "healthy_alarming")
def healthy_job_retry_succeeds(w: Window) -> Verdict:
    """A migration Job's first pod fails while PostgreSQL restarts for maintenance; the second pod succeeds."""
    app = w.app()
    db = w.stateful("postgres")
    w.crowd(app, 0, 1)
    job = f"{app.app}-migrate-{w.rng.randint(1, 400)}"
    first = w.job(job, container="migrate")
    second = w.job(job, container="migrate")
    w.quiet(first, 0)
    w.quiet(second, 0)
    at = w.rng.uniform(20, w.duration_s * 0.3)
    w.block(
        at,
        db,
        [
            f.postgres(1, "LOG", "received smart shutdown request"),
            f.postgres(1, "LOG", "database system is shut down"),
        ],
    )
    w.quiet(db, at + 0.2, at + 10)
    w.add(
        at + 3,
        db,
        f.postgres(1, "LOG", f"starting PostgreSQL 16.{w.rng.randint(2, 6)} on x86_64-pc-linux-gnu"),
    )
    w.add(
        at + 5,
        w.events(),
        f.kube_event("Normal", "SuccessfulCreate", f"job/{job}", f"Created pod: {first.name}"),
    )
    started = container_started(w, first, at + 5.5)
    w.add(
        started + 0.4,
        first,
        f.python_log("INFO", "alembic.runtime.migration", "Context impl PostgresqlImpl."),
    )
    pid = w.rng.randint(100, 900)
    w.add(started + 0.9, db, f.postgres(pid, "FATAL", "the database system is starting up"))
    w.block(
        started + 1,
        first,
        [
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain(
                f'psycopg2.OperationalError: connection to server at "{db.app}" ({w.service_ip()}), port 5432 failed: FATAL:  the database system is starting up'
            ),
        ],
    )
    container_exited(w, first, started + 1.2, 1)
    w.add(at + 9, db, f.postgres(1, "LOG", "database system is ready to accept connections"))
    w.add(
        started + 11,
        w.events(),
        f.kube_event("Normal", "SuccessfulCreate", f"job/{job}", f"Created pod: {second.name}"),
    )
    again = container_started(w, second, started + 11.5)
    w.add(
        again + 0.4, second, f.python_log("INFO", "alembic.runtime.migration", "Context impl PostgresqlImpl.")
    )
    done = again + w.rng.uniform(3, 9)
    w.add(
        done - 1,
        second,
        f.python_log(
            "INFO",
            "alembic.runtime.migration",
            f"Running upgrade {w.hexid(12)} -> {w.hexid(12)}, add index on orders.created_at",
        ),
    )
    container_exited(w, second, done, 0)
    w.add(done + 1, w.events(), f.kube_event("Normal", "Completed", f"job/{job}", "Job completed"))
    return Verdict(
        f"The {job} Job's first pod failed while PostgreSQL restarted for maintenance; the Job retried and the migration completed. Nothing is failing.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_flux_dependency_wait(w: Window) -> Verdict:
    """Flux's apps Kustomization waits for its infrastructure dependency, then both reconcile."""
    pod = w.app()
    flux = w.platform("flux")
    w.crowd(pod, 1, 2)
    revision = f"main@sha1:{w.hexid(40)}"
    at = w.rng.uniform(10, w.duration_s * 0.4)
    waits = w.rng.randint(2, 3)
    for index in range(waits):
        w.add(
            at + index * 30,
            flux,
            f.flux(
                "info",
                "kustomization",
                "Kustomization",
                "apps",
                "Dependencies do not meet ready condition, retrying in 30s",
                error="dependency 'flux-system/infrastructure' is not ready",
                revision=revision,
            ),
        )
    ready_at = at + (waits - 1) * 30 + w.rng.uniform(5, 25)
    w.add(
        ready_at,
        flux,
        f.flux(
            "info",
            "kustomization",
            "Kustomization",
            "infrastructure",
            f"Reconciliation finished in {w.rng.uniform(20, 90):.1f}s, next run in 1h0m0s",
            revision=revision,
        ),
    )
    applied = at + waits * 30 + 0.5
    w.add(
        applied,
        flux,
        f.flux_applied(
            "apps",
            {
                f"Deployment/{pod.namespace}/{pod.app}": "unchanged",
                f"ConfigMap/{pod.namespace}/{pod.app}-config": "unchanged",
            },
            revision,
        ),
    )
    w.add(
        applied + 0.4,
        flux,
        f.flux(
            "info",
            "kustomization",
            "Kustomization",
            "apps",
            f"Reconciliation finished in {waits * 30 + 1.2:.1f}s, next run in 10m0s",
            revision=revision,
        ),
    )
    return Verdict(
        "Flux's apps Kustomization waited for infrastructure to become ready (dependsOn), then applied with no changes; nothing failed.",
        "info",
    )


_SCANNER_PATHS = ("/wp-login.php", "/.env", "/admin/config.php", "/.git/config", "/phpmyadmin/")


@scenario("healthy", "healthy_alarming")
def healthy_client_errors_4xx(w: Window) -> Verdict:
    """Clients send expired tokens, lack scopes, hit rate limits and scan for files: 4xx answers, no failure."""
    pod = w.app()
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 0, 2)
    w.noise_weight(pod, 1.5)
    for at in w.spread(5, w.duration_s - 5, w.rng.randint(5, 8)):
        kind = w.pick(("expired", "scope", "rate", "scan", "scan"))
        client = w.client_ip()
        if kind == "scan":
            request, status = f"GET {w.pick(_SCANNER_PATHS)} HTTP/1.1", 404
            agent = (
                "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))"
            )
        else:
            request, status = (
                f"POST {request_path(w, pod.namespace)} HTTP/1.1",
                {"expired": 401, "scope": 403, "rate": 429}[kind],
            )
            agent = "okhttp/4.12.0"
            message = {
                "expired": ("invalid token", {"error": "token is expired", "client_id": f"app-{w.hexid(6)}"}),
                "scope": (
                    "forbidden: missing scope",
                    {"required": "orders:write", "client_id": f"partner-{w.hexid(6)}"},
                ),
                "rate": ("rate limit exceeded", {"client_id": f"partner-{w.hexid(6)}", "limit": "100/min"}),
            }[kind]
            w.add(at - 0.002, pod, app_log(w, pod, "warn", message[0], status=status, **message[1]))
        w.add(
            at,
            ingress,
            f.nginx_access(
                client,
                request,
                status,
                w.rng.randint(40, 200),
                f"{pod.namespace}-{pod.app}-8080",
                f"{pod.ip}:8080",
                w.rng.uniform(0.001, 0.02),
                w.hexid(32),
                agent=agent,
            ),
        )
    return Verdict(
        f"Healthy: the 401s, 403s, 429s and 404s at {pod.app} are clients' expired tokens, missing scopes, rate limits and scanners; no server error.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_handled_errors_and_gc(w: Window) -> Verdict:
    """Errors already handled: an idempotent replay rejected by a unique key, a flag refresh that recovered, GC."""
    pod = w.app()
    db = w.stateful("postgres")
    w.crowd(pod, 0, 2)
    at = w.rng.uniform(10, w.duration_s * 0.4)
    key = w.uuid()
    pid = w.rng.randint(3000, 9000)
    w.add(
        at,
        db,
        f.postgres(
            pid, "ERROR", 'duplicate key value violates unique constraint "payments_idempotency_key_key"'
        ),
    )
    w.add(at + 0.0004, db, f.postgres(pid, "DETAIL", f"Key (idempotency_key)=({key}) already exists."))
    w.add(
        at + 0.01,
        pod,
        app_log(
            w,
            pod,
            "info",
            "duplicate request ignored (idempotency key replay)",
            idempotency_key=key,
            status=200,
        ),
    )
    later = w.rng.uniform(at + 20, w.duration_s - 40)
    w.add(
        later,
        pod,
        app_log(
            w,
            pod,
            "error",
            "failed to refresh feature flags, using cached values",
            error="context deadline exceeded",
        ),
    )
    w.add(later + 30, pod, app_log(w, pod, "info", "feature flags refreshed", flags=w.rng.randint(20, 90)))
    jvm = next((other for other in w.pods if other.runtime == "jvm"), None)
    if jvm is not None:
        uptime = w.rng.uniform(20_000, 90_000)
        for moment in w.spread(5, w.duration_s - 5, w.rng.randint(2, 3)):
            before = w.rng.randint(600, 900)
            w.add(
                moment,
                jvm,
                f.jvm(
                    f"[{uptime + moment:.3f}s][info][gc] GC({w.rng.randint(100, 900)}) Pause Young (Normal) (G1 Evacuation Pause) {before}M->{before - w.rng.randint(200, 400)}M(1024M) {w.rng.uniform(3, 15):.3f}ms"
                ),
            )
        w.add(
            w.rng.uniform(5, w.duration_s - 5),
            jvm,
            f.spring(
                jvm.app,
                "WARN",
                "HikariPool-1 housekeeper",
                "com.zaxxer.hikari.pool.HikariPool",
                f"HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta={w.rng.randint(61, 75)}s).",
            ),
        )
    add_decoys(w, "healthy", w.rng.randint(0, 1))
    return Verdict(
        "Healthy: the duplicate-key error is an idempotent replay the app answered, the feature-flag refresh recovered, and the GC and housekeeper lines are routine.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_rollout_startup_probes(w: Window) -> Verdict:
    """A rollout of several replicas: each new pod fails a few start-up probes, then is Ready; old pods stop."""
    old = [w.app()]
    old.append(w.app(replica_of=old[0]))
    w.crowd(old[0], 0, 1)
    first_new = w.app(old[0].runtime, app=old[0].app, container=old[0].container)
    new = [first_new, w.app(replica_of=first_new)]
    at = w.rng.uniform(15, w.duration_s * 0.3)
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Normal",
            "ScalingReplicaSet",
            f"deployment/{old[0].app}",
            f"Scaled up replica set {first_new.name.rsplit('-', 1)[0]} to 1",
        ),
    )
    for index, (fresh, stale) in enumerate(zip(new, old, strict=True)):
        start = at + index * w.rng.uniform(35, 60)
        w.quiet(fresh, 0, start + 25)
        w.event(
            start + 0.5, fresh, "Normal", "Scheduled", f"Successfully assigned {fresh.ref} to {fresh.node}"
        )
        began = container_started(w, fresh, start + 1, pulled=index == 0)
        done = w.block(began + 0.5, fresh, startup(w, fresh))
        probe = w.pick(("Startup", "Readiness"))
        for attempt in range(w.rng.randint(2, 3)):
            output = (
                f'Get "http://{fresh.ip}:8080/readyz": dial tcp {fresh.ip}:8080: connect: connection refused'
                if attempt == 0
                else "HTTP probe failed with statuscode: 503"
            )
            probe_failed(w, fresh, done + 3 + attempt * 5, probe, output, kubelet=w.chance(0.4))
        w.add(done + 20, fresh, ready(w, fresh))
        stop = done + 24
        w.event(stop, stale, "Normal", "Killing", f"Stopping container {stale.container}")
        w.block(stop + 0.1, stale, shutdown(w, stale))
        w.quiet(stale, stop)
    return Verdict(
        f"A rolling update of {old[0].app}: each new pod failed a few start-up probes while warming up, then became Ready, and the old pods shut down cleanly.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_planned_redis_restart(w: Window) -> Verdict:
    """Redis is restarted by a Helm upgrade; clients log refused connections for seconds, then reconnect."""
    redis = w.stateful("redis")
    helm = w.platform("helm-controller")
    clients = [w.app(), w.app()]
    w.crowd(clients[0], 0, 1)
    at = w.rng.uniform(20, w.duration_s * 0.4)
    w.add(
        at - 2,
        helm,
        f.flux(
            "info",
            "helmrelease",
            "HelmRelease",
            redis.app,
            f"Helm upgrade succeeded for release {redis.namespace}/{redis.app} with chart redis@19.{w.rng.randint(0, 6)}.{w.rng.randint(0, 9)}",
        ),
    )
    w.event(at, redis, "Normal", "Killing", f"Stopping container {redis.container}")
    w.block(
        at + 0.1,
        redis,
        [
            f.redis("#", "User requested shutdown..."),
            f.redis("*", "Saving the final RDB snapshot before exiting."),
            f.redis("*", "DB saved on disk"),
            f.redis("#", "Redis is now ready to exit, bye bye..."),
        ],
    )
    down = w.rng.uniform(4, 9)
    w.quiet(redis, at + 0.5, at + down + 3)
    back = container_started(w, redis, at + down)
    w.block(
        back + 0.2,
        redis,
        [f.redis("*", "Server initialized"), f.redis("*", "Ready to accept connections tcp")],
    )
    host = f"{redis.app}.{redis.namespace}.svc.cluster.local"
    ip = w.service_ip()
    for client in clients:
        for moment in w.spread(at + 0.6, back - 0.2, w.rng.randint(1, 2)):
            w.add(moment, client, refused(w, client, "redis", host, ip))
        w.add(back + w.rng.uniform(1, 3), client, reconnected(w, client, "redis", host))
    return Verdict(
        f"A Helm upgrade restarted {redis.name}; its clients saw refused connections for a few seconds and reconnected. Planned and recovered: nothing is failing.",
        "info",
    )


@scenario("healthy", "healthy_alarming")
def healthy_cross_class_blips(w: Window) -> Verdict:
    """Several benign blips that each sound like a failure: all recovered, expected, old or handled."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    spoken = add_decoys(w, "healthy", w.rng.randint(3, 4))
    return Verdict(f"Healthy: {describe_decoys(spoken)}; nothing is failing.", "info")


@scenario("healthy", "healthy_alarming")
def healthy_cert_renewal_early(w: Window) -> Verdict:
    """An app warns that its certificate expires in 30 days; cert-manager renews it on schedule."""
    pod = w.app("go")
    cm = w.platform("cert-manager")
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 0, 1)
    secret = f"{pod.app}-tls"
    days = w.rng.randint(28, 30)
    at = w.rng.uniform(10, w.duration_s * 0.4)
    for moment in w.spread(5, at - 1, 2):
        w.add(
            moment,
            pod,
            go_log(
                pod,
                "warn",
                "tlsutil/watch.go:58",
                "certificate expires soon",
                secret=secret,
                not_after=w.clock(days * 86400 + at),
                days_left=days,
            ),
        )
    reason = f"Renewing certificate as renewal was scheduled at {w.clock(at - 5)}"
    w.add(at, w.events(), f.kube_event("Normal", "Issuing", f"certificate/{secret}", reason))
    w.add(
        at + 0.01,
        cm,
        f.logr(
            "I",
            "trigger_controller.go:215",
            "cert-manager/certificates-trigger",
            "Certificate must be re-issued",
            key=f"{pod.namespace}/{secret}",
            reason="Renewing",
            message=reason,
        ),
    )
    issued = at + w.rng.uniform(15, 50)
    w.add(
        issued,
        w.events(),
        f.kube_event(
            "Normal", "Issuing", f"certificate/{secret}", "The certificate has been successfully issued"
        ),
    )
    w.add(
        issued + w.rng.uniform(1, 5),
        ingress,
        f.klog(
            "I",
            "backend_ssl.go:67",
            "Updating secret in local store",
            component="ingress-nginx",
            pid=7,
            name=f"{pod.namespace}/{secret}",
        ),
    )
    w.add(
        issued + w.rng.uniform(6, 12),
        pod,
        go_log(pod, "info", "tlsutil/watch.go:71", "certificate reloaded", secret=secret, days_left=90),
    )
    return Verdict(
        f"Healthy: {pod.app} warned that {secret} expires in {days} days and cert-manager renewed it on schedule; the ingress and the app picked up the new certificate.",
        "info",
    )
