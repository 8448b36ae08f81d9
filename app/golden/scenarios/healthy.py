"""Healthy windows: normal operation, some of it noisy or alarming-looking but benign."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.lifecycle import container_started, image_of, probe_failed, ready, shutdown, startup
from app.golden.scenarios.noise import add_red_herrings, app_log
from app.golden.scenarios.registry import Verdict, scenario
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
    job = w.app("python", app=f"{job_name}-{suffix}", container=job_name)
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
        f.flux(
            "info",
            "kustomization",
            "Kustomization",
            pod.namespace,
            "server-side apply completed",
            output={
                f"Deployment/{pod.namespace}/{pod.app}": "unchanged",
                f"Service/{pod.namespace}/{pod.app}": "unchanged",
            },
            revision=revision,
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
