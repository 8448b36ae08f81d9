"""Scenarios where the container dies of its limits or its settings: OOM kills and bad configuration.

Several share one symptom on purpose with ``bugs`` and ``network``: a CrashLoopBackOff whose events
and kubelet lines look alike, told apart only by the application's last lines (or the kernel's OOM
line).
"""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.lifecycle import (
    container_exited,
    container_started,
    crashloop,
    image_of,
    probe_failed,
    probe_timeout_output,
    process_name,
    ready,
    startup,
    sync_error,
    terminated_report,
)
from app.golden.scenarios.noise import app_log, go_log, herring, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import ingress_failure, reconnected, refused
from app.golden.scenarios.window import APP_RUNTIMES, Pod, Window

_LIMITS_MI = (256, 384, 512, 768, 1024, 1536, 2048)


def kernel_oom(
    w: Window,
    pod: Pod,
    at: float,
    *,
    npd_event: bool = True,
    evidence: bool = True,
    process: str | None = None,
    limit_mi: int | None = None,
) -> int:
    """The kernel's memory-cgroup OOM kill of the pod's main process; returns the limit in MiB."""
    limit_mi = limit_mi or w.pick(_LIMITS_MI)
    limit_kb = limit_mi * 1024
    pid = w.rng.randint(2000, 60000)
    adj = w.pick((985, 992, 999, 968))
    process = process or process_name(pod)
    killed = (
        f"Memory cgroup out of memory: Killed process {pid} ({process}) total-vm:{limit_kb * w.rng.randint(3, 6)}kB, "
        f"anon-rss:{limit_kb - w.rng.randint(2000, 9000)}kB, file-rss:{w.rng.randint(9000, 40000)}kB, shmem-rss:0kB, "
        f"UID:{w.pick((1000, 1001, 65532))} pgtables:{w.rng.randint(2000, 9000)}kB oom_score_adj:{adj}"
    )
    kernel = w.kernel(pod.node)
    w.add(
        at,
        kernel,
        f.kernel(f"{process} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj={adj}"),
    )
    w.add(
        at + 0.001,
        kernel,
        f.kernel(f"memory: usage {limit_kb}kB, limit {limit_kb}kB, failcnt {w.rng.randint(10, 9000)}"),
    )
    w.add(at + 0.002, w.kernel(pod.node, "error"), f.kernel(killed), evidence=evidence)
    if npd_event:
        w.add(
            at + w.rng.uniform(0.5, 3),
            w.events("default"),
            f.kube_event("Warning", "OOMKilling", f"node/{pod.node}", killed),
            evidence=evidence,
        )
    return limit_mi


# --- oom_killed -----------------------------------------------------------------------------------


@scenario("oom_killed")
def oom_jvm_heap_growth(w: Window) -> Verdict:
    """A JVM export job grows past the memory limit (sometimes throwing OutOfMemoryError first) and is OOM-killed."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    job = w.rng.randint(1000, 9999)
    w.add(
        20,
        pod,
        f.spring(
            pod.app,
            "INFO",
            "task-1",
            "c.e.export.ExportJob",
            f"Starting export job {job} (format=csv, tenant=t-{w.rng.randint(10, 99)})",
        ),
    )
    at = 30.0
    for rows in sorted(w.rng.sample(range(100_000, 3_000_000, 50_000), 4)):
        w.add(
            at,
            pod,
            f.spring(
                pod.app, "INFO", "task-1", "c.e.export.ExportJob", f"Export job {job}: buffered {rows} rows"
            ),
        )
        at += w.rng.uniform(8, 30)
    if w.chance(0.6):
        w.add(
            at,
            pod,
            f.spring(
                pod.app,
                "WARN",
                "task-1",
                "c.e.export.ExportJob",
                f"Export job {job}: buffer exceeds 80% of max heap",
            ),
        )
    if w.chance(0.5):
        # The heap fills too; the JVM's own OutOfMemoryError comes moments before the kernel's kill.
        oome = [
            f.spring(pod.app, "ERROR", "task-1", "c.e.export.ExportJob", f"Export job {job} failed"),
            f.jvm("java.lang.OutOfMemoryError: Java heap space"),
            f.jvm("\tat java.base/java.util.Arrays.copyOf(Arrays.java:3541)"),
            f.jvm("\tat java.base/java.util.ArrayList.grow(ArrayList.java:237)"),
            f.jvm(
                f"\tat com.acme.{pod.namespace}.export.CsvBuffer.append(CsvBuffer.java:{w.rng.randint(40, 90)})"
            ),
            f.jvm(
                f"\tat com.acme.{pod.namespace}.export.ExportJob.run(ExportJob.java:{w.rng.randint(90, 160)})"
            ),
        ]
        at = w.block(at + w.rng.uniform(0.5, 2), pod, oome, evidence=(0, 1))
    limit = kernel_oom(w, pod, at + w.rng.uniform(2, 10))
    container_exited(w, pod, at + 11, 137)
    restart = container_started(w, pod, at + w.rng.uniform(14, 20))
    w.block(restart + 1, pod, [*startup(w, pod), ready(w, pod)])
    w.quiet(pod, at, restart + 8)
    return Verdict(
        f"{pod.name} (Java) was OOM-killed by the kernel at its {limit}Mi memory limit while buffering export job {job}, then restarted.",
        "critical",
    )


@scenario("oom_killed")
def oom_go_cache_crashloop(w: Window) -> Verdict:
    """A Go service is OOM-killed each time it warms its cache, and crashloops."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.4, pod, [*startup(w, pod), ready(w, pod)])
        for _ in range(w.rng.randint(2, 4)):
            at += w.rng.uniform(3, 12)
            w.add(
                at,
                pod,
                go_log(
                    pod,
                    "info",
                    "cache/warm.go:77",
                    "warming cache",
                    loaded=w.rng.randint(10_000, 900_000),
                    rss_mb=w.rng.randint(300, 1400),
                ),
            )
        kernel_oom(w, pod, at + w.rng.uniform(1, 5), evidence=attempt == 0)
        return at + 6

    crashloop(w, pod, run, exit_code=137, runs=w.rng.randint(2, 3))
    return Verdict(
        f"{pod.name} is OOM-killed (exit 137) every time it warms its cache, and is in CrashLoopBackOff.",
        "critical",
    )


@scenario("oom_killed")
def oom_python_batch(w: Window) -> Verdict:
    """A Python worker loading DataFrames is OOM-killed (exit 137)."""
    pod = w.app("python")
    w.crowd(pod, 1, 2)
    w.quiet(pod, 0)
    at = w.rng.uniform(10, 40)
    dataset = w.pick(("events", "orders", "clickstream", "ledger_entries"))
    for part in range(w.rng.randint(3, 5)):
        w.add(
            at,
            pod,
            f.python_log(
                "INFO",
                "worker.loader",
                f"loading partition {part} of {dataset} into DataFrame (rows={w.rng.randint(400_000, 4_000_000)})",
            ),
        )
        at += w.rng.uniform(10, 40)
    limit = kernel_oom(w, pod, at)
    container_exited(w, pod, at + 0.3, 137, evidence=True)
    if w.chance(0.5):
        container_started(w, pod, at + w.rng.uniform(12, 20))
    return Verdict(
        f"The {pod.app} worker was killed by the kernel OOM killer (exit 137) at its {limit}Mi limit while loading {dataset} partitions.",
        "critical",
    )


@scenario("oom_killed")
def oom_node_ssr(w: Window) -> Verdict:
    """One Node.js replica is OOM-killed while its twin keeps serving."""
    pod = w.app("node")
    twin = w.app(replica_of=pod)
    w.crowd(pod, 0, 2)
    w.noise_weight(twin, 2.0)
    killed_at = w.rng.uniform(w.duration_s * 0.4, w.duration_s * 0.7)
    w.quiet(pod, killed_at, killed_at + 20)
    for _ in range(3):
        w.add(
            killed_at - w.rng.uniform(5, 60),
            pod,
            f.pino(
                40,
                "render queue growing",
                pod.name,
                queued=w.rng.randint(50, 400),
                heapUsedMb=w.rng.randint(600, 1500),
            ),
        )
    kernel_oom(w, pod, killed_at)
    container_exited(w, pod, killed_at + 0.2, 137, evidence=w.chance(0.5))
    restart = container_started(w, pod, killed_at + w.rng.uniform(8, 15))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name} (Node.js SSR) exceeded its memory limit and was OOM-killed by the kernel; the replica kept serving.",
        "warning",
    )


@scenario("oom_killed", "shared_symptom")
def oom_crashloop_shared_symptom(w: Window) -> Verdict:
    """The shared CrashLoopBackOff symptom; only the kernel's OOM line reveals the cause."""
    pod = w.app()
    w.crowd(pod, 2, 3)

    # No OOMKilling event here: only the kernel line separates this from a config or dependency crash.
    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.4, pod, [*startup(w, pod), ready(w, pod)])
        for _ in range(w.rng.randint(2, 5)):
            at += w.rng.uniform(2, 9)
            w.add(
                at,
                pod,
                app_log(w, pod, "info", "request completed", path=request_path(w, pod.namespace), status=200),
            )
        kernel_oom(w, pod, at + w.rng.uniform(0.5, 3), npd_event=False, evidence=attempt == 0)
        return at + 4

    crashloop(w, pod, run, exit_code=137, exit_evidence=True)
    return Verdict(
        f"{pod.name} is in CrashLoopBackOff because the kernel OOM-kills it under load (exit 137); the app logs nothing before dying.",
        "critical",
    )


@scenario("oom_killed", "red_herring")
def oom_with_red_herrings(w: Window) -> Verdict:
    """An OOM kill surrounded by benign retry and slow-request warnings."""
    pod = w.app()
    others = w.crowd(pod, 2, 3)
    killed_at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.7)
    w.quiet(pod, killed_at - 1, killed_at + 20)
    talkers = [other for other in others if other.runtime in APP_RUNTIMES]
    for offset in (-8, -3, 4):
        # The killed pod says nothing after it dies; the herring after the kill comes from a neighbour.
        source = w.pick([pod, *talkers] if offset < 0 or not talkers else talkers)
        w.add(killed_at + offset + w.rng.uniform(-1, 1), source, herring(w, source))
    w.add(
        killed_at - 2,
        pod,
        app_log(w, pod, "warn", "request to redis failed, retrying in 1s", error="i/o timeout"),
    )
    kernel_oom(w, pod, killed_at)
    container_exited(w, pod, killed_at + 0.2, 137)
    restart = container_started(w, pod, killed_at + w.rng.uniform(10, 18))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name} was OOM-killed by the kernel (exit 137); the nearby retry and slow-request warnings are unrelated.",
        "critical",
    )


@scenario("oom_killed", "subtle")
def oom_sidecar_container(w: Window) -> Verdict:
    """A sidecar container is OOM-killed while the main container keeps serving."""
    pod = w.app()
    side = w.sidecar(pod, w.pick(("log-shipper", "istio-proxy", "otel-agent")), "envoy")
    w.crowd(pod, 1, 2)
    w.noise_weight(pod, 2.5)
    w.quiet(side, 0)
    process = {"log-shipper": "fluent-bit", "istio-proxy": "envoy", "otel-agent": "otelcol-contrib"}[
        side.container
    ]
    killed_at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.7)
    limit_kb = w.pick((64, 128, 256)) * 1024
    pid = w.rng.randint(2000, 60000)
    kernel = w.kernel(side.node)
    w.add(
        killed_at,
        kernel,
        f.kernel(
            f"{process[:15]} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=999"
        ),
    )
    w.add(
        killed_at + 0.002,
        w.kernel(side.node, "error"),
        f.kernel(
            f"Memory cgroup out of memory: Killed process {pid} ({process[:15]}) total-vm:{limit_kb * 4}kB, anon-rss:{limit_kb - 1500}kB, file-rss:{w.rng.randint(4000, 20000)}kB, shmem-rss:0kB, UID:1337 pgtables:{w.rng.randint(400, 1500)}kB oom_score_adj:999"
        ),
        evidence=True,
    )
    container_exited(w, side, killed_at + 0.1, 137)
    w.event(
        killed_at + 2,
        side,
        "Warning",
        "BackOff",
        f"Back-off restarting failed container {side.container} in pod {side.full}",
        evidence=True,
    )
    return Verdict(
        f"The {side.container} sidecar of {pod.name} was OOM-killed at its {limit_kb // 1024}Mi limit; the main container kept serving.",
        "warning",
    )


@scenario("oom_killed", "causal_chain")
def oom_redis_killed_clients_refused(w: Window) -> Verdict:
    """Redis forks for a background save and is OOM-killed; its clients log refused connections."""
    redis = w.stateful("redis", app=w.pick(("redis-master", "redis-cache", "sessions-redis")))
    clients = [w.app(), w.app()] if w.chance(0.5) else [w.app()]
    w.crowd(clients[0], 0, 1)
    ip = w.service_ip()
    host = f"{redis.app}.{redis.namespace}.svc.cluster.local"
    killed_at = w.rng.uniform(w.duration_s * 0.25, w.duration_s * 0.5)
    w.add(killed_at - w.rng.uniform(4, 8), redis, f.redis("*", "10000 changes in 60 seconds. Saving..."))
    w.add(killed_at - 3, redis, f.redis("*", f"Background saving started by pid {w.rng.randint(100, 9000)}"))
    limit = kernel_oom(w, redis, killed_at, process="redis-server", npd_event=w.chance(0.5))
    container_exited(w, redis, killed_at + 0.1, 137)
    down = w.rng.uniform(12, 25)
    w.quiet(redis, killed_at, killed_at + down + 5)
    back = container_started(w, redis, killed_at + down)
    w.block(
        back + 0.2,
        redis,
        [
            f.redis("#", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"),
            f.redis("*", "Server initialized"),
            f.redis("*", f"DB loaded from disk: {w.rng.uniform(1, 9):.3f} seconds"),
            f.redis("*", "Ready to accept connections tcp"),
        ],
    )
    first = True
    for client in clients:
        for at in w.spread(killed_at + 0.5, back - 0.5, w.rng.randint(3, 4)):
            w.add(at, client, refused(w, client, "redis", host, ip), evidence=first)
            first = False
        w.add(back + w.rng.uniform(2, 5), client, reconnected(w, client, "redis", host))
    return Verdict(
        f"{redis.name} was OOM-killed by the kernel at its {limit}Mi limit while forking a background save; its clients' refused connections are the consequence.",
        "critical",
    )


@scenario("oom_killed", "subtle")
def oom_reason_field_only(w: Window) -> Verdict:
    """No kernel log is shipped: only the restart watcher's reason OOMKilled and exit 137 tell the cause."""
    pod = w.app()
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 1, 2)
    w.noise_weight(pod, 1.5)
    killed_at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    report = w.pick(("monthly-statement", "export-csv", "reconciliation", "bulk-reindex"))
    w.add(
        killed_at - w.rng.uniform(20, 60),
        pod,
        app_log(w, pod, "info", "report started", report=report, rows=w.rng.randint(200_000, 5_000_000)),
    )
    w.quiet(pod, killed_at - 0.5, killed_at + 14)
    container_exited(w, pod, killed_at, 137, evidence=True)
    # In-flight requests die with the process; nginx sees the connection close mid-response.
    ingress_failure(
        w,
        ingress,
        pod,
        killed_at + 0.01,
        "upstream prematurely closed connection while reading response header from upstream",
    )
    terminated_report(
        w, pod, killed_at + w.rng.uniform(1, 3), "OOMKilled", 137, restarts=w.rng.randint(1, 4), evidence=True
    )
    for at in w.spread(killed_at + 1, killed_at + 8, w.rng.randint(1, 2)):
        ingress_failure(
            w, ingress, pod, at, "connect() failed (111: Connection refused) while connecting to upstream"
        )
    restart = container_started(w, pod, killed_at + w.rng.uniform(9, 12))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name} was OOM-killed (reason OOMKilled, exit 137) while running the {report} report; the ingress 502s are in-flight requests dying with it.",
        "critical",
    )


@scenario("oom_killed", "red_herring")
def oom_with_cross_class_decoys(w: Window) -> Verdict:
    """An OOM kill, next to a DNS timeout that recovered, a sidecar's x509 warning and other decoys."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    killed_at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    w.quiet(pod, killed_at - 0.5, killed_at + 16)
    if w.chance(0.5):
        limit = f"its {kernel_oom(w, pod, killed_at, npd_event=w.chance(0.5))}Mi limit"
        container_exited(w, pod, killed_at + 0.2, 137)
    else:
        limit = "its memory limit"
        container_exited(w, pod, killed_at + 0.2, 137, evidence=True)
        terminated_report(w, pod, killed_at + w.rng.uniform(1, 3), "OOMKilled", 137, evidence=True)
    restart = container_started(w, pod, killed_at + w.rng.uniform(10, 15))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    spoken = add_decoys(
        w,
        "oom_killed",
        w.rng.randint(2, 3),
        prefer=("dns_resolution_failure", "tls_certificate_error", "dependency_unavailable"),
    )
    return Verdict(
        f"{pod.name} was OOM-killed at {limit} (exit 137) and restarted; {describe_decoys(spoken)} are not the cause.",
        "critical",
    )


@scenario("oom_killed", "shared_symptom")
def oom_gc_thrash_probe_timeouts(w: Window) -> Verdict:
    """A JVM close to its limit spends seconds in GC, misses two liveness probes, then is OOM-killed."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    killed_at = w.rng.uniform(w.duration_s * 0.4, w.duration_s * 0.7)
    w.quiet(pod, killed_at - 0.5, killed_at + 18)
    uptime = w.rng.uniform(20_000, 90_000)
    gc = w.rng.randint(300, 3000)
    limit = w.pick((768, 1024, 1536, 2048))
    # -XX:MaxRAMPercentage=75: the heap may grow to three quarters of the limit, the rest is native.
    heap = limit * 3 // 4
    for index, at in enumerate(w.spread(killed_at - 70, killed_at - 2, w.rng.randint(3, 5))):
        before = heap - w.rng.randint(5, 40)
        pause = w.rng.uniform(900, 3500)
        w.add(
            at,
            pod,
            f.jvm(
                f"[{uptime + at:.3f}s][info][gc] GC({gc + index}) Pause Full (G1 Compaction Pause) {before}M->{before - w.rng.randint(0, 6)}M({heap}M) {pause:.3f}ms"
            ),
        )
    for at in (killed_at - 40, killed_at - 30):
        probe_failed(
            w,
            pod,
            at + w.rng.uniform(-1, 1),
            "Liveness",
            probe_timeout_output(pod, "/actuator/health/liveness"),
        )
    kernel_oom(w, pod, killed_at, npd_event=w.chance(0.5), limit_mi=limit)
    container_exited(w, pod, killed_at + 0.2, 137)
    restart = container_started(w, pod, killed_at + w.rng.uniform(10, 16))
    w.block(restart + 0.5, pod, startup(w, pod))
    return Verdict(
        f"{pod.name}'s JVM ran at its {limit}Mi container limit (back-to-back full GCs made two liveness probes time out) until the kernel OOM-killed it.",
        "critical",
    )


@scenario("oom_killed", "paraphrase")
def oom_containerd_task_oom(w: Window) -> Verdict:
    """No kernel log is shipped, only containerd's: a TaskOOM event, then the task's exit with 137."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    killed_at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    w.quiet(pod, killed_at - 0.5, killed_at + 16)
    for moment in w.spread(killed_at - 90, killed_at - 3, w.rng.randint(2, 4)):
        w.add(
            moment,
            pod,
            app_log(
                w,
                pod,
                "info",
                "import progress",
                imported=w.rng.randint(100_000, 5_000_000),
                rss_mb=w.rng.randint(400, 2000),
            ),
        )
    container_id = w.hexid(64)
    w.add(
        killed_at,
        w.runtime(pod.node),
        f.containerd("info", f'TaskOOM event container_id:"{container_id}"'),
        evidence=True,
    )
    container_exited(w, pod, killed_at + 0.05, 137, container_id=container_id)
    # containerd logs TaskOOM at info; the request that died with the process is the key symptom.
    reason = "upstream prematurely closed connection while reading response header from upstream"
    ingress_failure(w, w.platform("ingress-nginx"), pod, killed_at + 0.02, reason, evidence=True)
    restart = container_started(w, pod, killed_at + w.rng.uniform(10, 15))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"{pod.name} hit its memory limit during an import and was OOM-killed (containerd's TaskOOM event, exit 137), then restarted.",
        "critical",
    )


# --- crash_config_error --------------------------------------------------------------------------

_ENV_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "STRIPE_API_KEY",
    "JWT_SECRET",
    "S3_BUCKET",
    "KAFKA_BROKERS",
    "SMTP_HOST",
)


@scenario("crash_config_error")
def config_spring_datasource(w: Window) -> Verdict:
    """Spring Boot 'APPLICATION FAILED TO START': an unresolved datasource placeholder."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    var = w.pick(("DB_URL", "DATABASE_URL", "JDBC_URL", "POSTGRES_URL"))
    prop = w.pick(("spring.datasource.url", "spring.datasource.url", "spring.r2dbc.url"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.5, pod, startup(w, pod)) + w.rng.uniform(1.5, 4)
        report = [
            f.spring(pod.app, "ERROR", "main", "o.s.b.d.LoggingFailureAnalysisReporter", ""),
            f.jvm(""),
            f.jvm("***************************"),
            f.jvm("APPLICATION FAILED TO START"),
            f.jvm("***************************"),
            f.jvm(""),
            f.jvm("Description:"),
            f.jvm(""),
            f.jvm(f"Failed to bind properties under '{prop}' to java.lang.String:"),
            f.jvm(""),
            f.jvm(f"    Property: {prop}"),
            f.jvm(f'    Value: "${{{var}}}"'),
            f.jvm("    Origin: class path resource [application.yaml] - 4:10"),
            f.jvm(
                f"    Reason: java.lang.IllegalArgumentException: Could not resolve placeholder '{var}' in value \"${{{var}}}\""
            ),
            f.jvm(""),
            f.jvm("Action:"),
            f.jvm(""),
            f.jvm("Update your application's configuration"),
        ]
        evidence = (0, 3, 8, 13) if attempt == 0 else ()
        return w.block(at, pod, report, evidence=evidence)

    crashloop(w, pod, run, exit_code=1, runs=w.rng.randint(2, 3))
    return Verdict(
        f"{pod.name} fails at start-up: Spring cannot bind '{prop}' because the placeholder {var} is not set.",
        "critical",
    )


@scenario("crash_config_error")
def config_python_env_keyerror(w: Window) -> Verdict:
    """KeyError on os.environ at import: a required environment variable is missing."""
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    var = w.pick(_ENV_VARS)
    module = w.pick(("settings", "config", "core.config"))

    def run(at: float, attempt: int) -> float:
        trace = [
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain('  File "/app/main.py", line 9, in <module>'),
            f.python_plain(f"    from app.{module} import settings"),
            f.python_plain(
                f'  File "/app/app/{module.replace(".", "/")}.py", line {w.rng.randint(6, 40)}, in <module>'
            ),
            f.python_plain(f'    {var.lower()} = os.environ["{var}"]'),
            f.python_plain("                   ~~~~~~~~~~^^^^^^^^^^^^^^^^"),
            f.python_plain('  File "<frozen os>", line 714, in __getitem__'),
            f.python_plain(f"KeyError: '{var}'"),
        ]
        return w.block(at + w.rng.uniform(0.5, 2), pod, trace, evidence=(0, 4, 7) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} crashes on import because the environment variable {var} is not set (KeyError).",
        "critical",
    )


@scenario("crash_config_error")
def config_go_envconfig(w: Window) -> Verdict:
    """A Go service exits at start-up: a required configuration key has no value."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    var = w.pick(_ENV_VARS)

    def run(at: float, attempt: int) -> float:
        w.add(at + 0.2, pod, startup(w, pod)[0])
        w.add(
            at + 0.3,
            pod,
            go_log(
                pod,
                "fatal",
                "cmd/server/main.go:41",
                "failed to load configuration",
                error=f"envconfig: required key {var} missing value",
            ),
            evidence=attempt == 0,
        )
        return at + 0.4

    crashloop(w, pod, run, exit_code=1, runs=w.rng.randint(3, 4))
    return Verdict(
        f"{pod.name} exits immediately: required configuration key {var} has no value.", "critical"
    )


@scenario("crash_config_error")
def config_node_invalid_json(w: Window) -> Verdict:
    """A Node.js app cannot parse its JSON configuration file."""
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    position = w.rng.randint(80, 900)
    path = w.pick(("/etc/app/config.json", "/config/settings.json", "/app/config/production.json"))

    def run(at: float, attempt: int) -> float:
        trace = [
            f.node_plain("/app/dist/config.js:14"),
            f.node_plain("    throw new Error(`Invalid configuration file ${path}: ${err.message}`);"),
            f.node_plain("    ^"),
            f.node_plain(""),
            f.node_plain(
                f"Error: Invalid configuration file {path}: Unexpected token }} in JSON at position {position}"
            ),
            f.node_plain("    at loadConfig (/app/dist/config.js:14:11)"),
            f.node_plain("    at Object.<anonymous> (/app/dist/server.js:9:16)"),
            f.node_plain("    at Module._compile (node:internal/modules/cjs/loader:1469:14)"),
            f.node_plain(""),
            f.node_plain("Node.js v20.18.1"),
        ]
        return w.block(at + 0.6, pod, trace, evidence=(4,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} cannot parse its configuration file {path} (invalid JSON) and exits at start-up.",
        "critical",
    )


@scenario("crash_config_error")
def config_invalid_flag(w: Window) -> Verdict:
    """A Go binary is started with a flag it does not define."""
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    flag = w.pick(("metrics-bind-address", "health-probe-addr", "leader-elect-namespace", "log-format"))

    def run(at: float, attempt: int) -> float:
        usage = [
            f.go_plain(f"flag provided but not defined: -{flag}"),
            f.go_plain("Usage of /app/server:"),
            f.go_plain("  -addr string"),
            f.go_plain('    	listen address (default ":8080")'),
            f.go_plain("  -config string"),
            f.go_plain('    	path to the config file (default "/etc/app/config.yaml")'),
        ]
        return w.block(at + 0.1, pod, usage, evidence=(0,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2, exit_evidence=False)
    return Verdict(
        f"{pod.name} is started with an unknown flag -{flag} and exits with usage (exit 2).", "critical"
    )


@scenario("crash_config_error", "shared_symptom")
def config_crashloop_missing_secret_env(w: Window) -> Verdict:
    """The shared CrashLoopBackOff symptom, caused by a missing environment variable."""
    pod = w.app(w.pick(("go", "node")))
    others = w.crowd(pod, 2, 3)
    var = w.pick(_ENV_VARS)
    for other in others:
        if other.runtime in APP_RUNTIMES:
            w.add(w.rng.uniform(5, w.duration_s - 5), other, herring(w, other))

    def run(at: float, attempt: int) -> float:
        if pod.runtime == "go":
            # A panic, which looks like a bug, but its message is a missing setting.
            lines = [
                f.go_plain(f"panic: config: {var} must be set"),
                f.go_plain(""),
                f.go_plain("goroutine 1 [running]:"),
                f.go_plain(f"github.com/acme/{pod.app}/internal/config.MustLoad()"),
                f.go_plain(f"	/src/internal/config/config.go:{w.rng.randint(30, 90)} +0x1c5"),
                f.go_plain("main.main()"),
                f.go_plain("	/src/cmd/server/main.go:27 +0x25"),
            ]
        else:
            lines = [
                f.node_plain(f"Error: Missing required environment variable {var}"),
                f.node_plain("    at requireEnv (/app/dist/env.js:8:11)"),
                f.node_plain("    at Object.<anonymous> (/app/dist/server.js:5:20)"),
                f.node_plain(""),
                f.node_plain("Node.js v20.18.1"),
            ]
        at = w.block(at + 0.3, pod, startup(w, pod)) + 0.2
        return w.block(at, pod, lines, evidence=(0,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=2 if pod.runtime == "go" else 1)
    return Verdict(
        f"{pod.name} is in CrashLoopBackOff because {var} is missing from its environment (the Secret does not provide it).",
        "critical",
    )


@scenario("crash_config_error", "other_words")
def config_secret_key_missing(w: Window) -> Verdict:
    """CreateContainerConfigError: the env refers to a key the Secret lacks."""
    pod = w.app()
    w.crowd(pod, 2, 3)
    w.quiet(pod, 0)
    secret = f"{pod.app}-{w.pick(('db', 'secrets', 'credentials', 'env'))}"
    key = w.pick(("DB_PASSWORD", "API_TOKEN", "CLIENT_SECRET", "REDIS_PASSWORD"))
    message = f"couldn't find key {key} in Secret {pod.namespace}/{secret}"
    at = w.rng.uniform(10, 60)
    for attempt in range(w.rng.randint(3, 5)):
        w.event(at, pod, "Normal", "Pulled", f'Container image "{image_of(pod)}" already present on machine')
        w.event(at + 0.01, pod, "Warning", "Failed", f"Error: {message}", evidence=attempt == 0)
        sync_error(w, pod, at + 0.02, "CreateContainerConfigError", message, evidence=attempt == 0)
        at += w.rng.uniform(10, 90)
        if at > w.duration_s - 10:
            break
    return Verdict(
        f"{pod.name} cannot start (CreateContainerConfigError): its env refers to key {key}, which Secret {secret} lacks.",
        "critical",
    )


@scenario("crash_config_error", "causal_chain")
def config_yaml_after_flux_apply(w: Window) -> Verdict:
    """Flux applies a new ConfigMap; minutes later the app cannot parse its YAML."""
    pod = w.app("go")
    flux = w.platform("flux")
    w.crowd(pod, 1, 2)
    w.ensure_duration(480)
    applied = w.rng.uniform(20, 60)
    config_map = f"{pod.app}-config"
    w.add(
        applied,
        flux,
        f.flux_applied(
            pod.namespace,
            {
                f"ConfigMap/{pod.namespace}/{config_map}": "configured",
                f"Deployment/{pod.namespace}/{pod.app}": "configured",
            },
            f"main@sha1:{w.hexid(40)}",
        ),
        evidence=True,
    )
    line = w.rng.randint(8, 60)

    def run(at: float, attempt: int) -> float:
        w.add(at + 0.2, pod, startup(w, pod)[0])
        w.add(
            at + 0.3,
            pod,
            go_log(
                pod,
                "fatal",
                "cmd/server/main.go:52",
                "cannot parse configuration",
                path="/etc/app/config.yaml",
                error=f"yaml: line {line}: did not find expected key",
            ),
            evidence=attempt == 0,
        )
        return at + 0.35

    crashloop(w, pod, run, exit_code=1, start=applied + w.rng.uniform(90, 200))
    return Verdict(
        f"After Flux applied a new {config_map}, {pod.name} cannot parse /etc/app/config.yaml (line {line}) and crashloops.",
        "critical",
    )


@scenario("crash_config_error", "other_words")
def config_env_read_in_stacktrace(w: Window) -> Verdict:
    """An unset variable crashes start-up with a stack trace; the quoted source line shows it is config."""
    pod = w.app(w.pick(("node", "python", "jvm")))
    w.crowd(pod, 1, 3)
    var, bean = w.pick(
        (
            ("JWT_SIGNING_KEY", "tokenSigner"),
            ("PAYMENT_API_KEY", "paymentClient"),
            ("WEBHOOK_SECRET", "webhookVerifier"),
        )
    )
    if pod.runtime == "python":
        var = w.pick(("DB_POOL_SIZE", "WORKER_CONCURRENCY", "CACHE_TTL_SECONDS"))
    cls = bean[0].upper() + bean[1:]
    source_line = w.rng.randint(8, 60)

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, startup(w, pod)) + w.rng.uniform(0.2, 1.5)
        if pod.runtime == "node":
            lines = [
                f.node_plain("/app/dist/config/secrets.js:12"),
                f.node_plain(f"    const key = Buffer.from(process.env.{var}, 'base64');"),
                f.node_plain("                       ^"),
                f.node_plain(""),
                f.node_plain(
                    "TypeError [ERR_INVALID_ARG_TYPE]: The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object. Received undefined"
                ),
                f.node_plain("    at Function.from (node:buffer:319:9)"),
                f.node_plain("    at Object.<anonymous> (/app/dist/config/secrets.js:12:24)"),
                f.node_plain("    at Module._compile (node:internal/modules/cjs/loader:1469:14) {"),
                f.node_plain("  code: 'ERR_INVALID_ARG_TYPE'"),
                f.node_plain("}"),
                f.node_plain(""),
                f.node_plain("Node.js v20.18.1"),
            ]
            evidence: tuple[int, ...] = (1, 4)
        elif pod.runtime == "python":
            lines = [
                f.python_plain("Traceback (most recent call last):"),
                f.python_plain('  File "/app/main.py", line 7, in <module>'),
                f.python_plain("    from app.settings import settings"),
                f.python_plain(f'  File "/app/app/settings.py", line {source_line}, in <module>'),
                f.python_plain(f'    {var.lower()} = int(os.getenv("{var}"))'),
                f.python_plain(
                    "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"
                ),
            ]
            evidence = (4, 5)
        else:
            lines = [
                f.spring(pod.app, "ERROR", "main", "o.s.boot.SpringApplication", "Application run failed"),
                f.jvm(
                    f"org.springframework.beans.factory.BeanCreationException: Error creating bean with name '{bean}' defined in URL [jar:nested:/app/app.jar/!BOOT-INF/classes/!/com/acme/{pod.namespace}/config/{cls}.class]: Failed to instantiate [com.acme.{pod.namespace}.config.{cls}]: Constructor threw exception"
                ),
                f.jvm(
                    "\tat org.springframework.beans.factory.support.ConstructorResolver.instantiate(ConstructorResolver.java:318)"
                ),
                f.jvm(f"Caused by: java.lang.IllegalArgumentException: {var} must not be blank"),
                f.jvm(f"\tat com.acme.{pod.namespace}.config.{cls}.<init>({cls}.java:{source_line})"),
            ]
            evidence = (0, 3)
        return w.block(at, pod, lines, evidence=evidence if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} crashes at start-up because {var} is not set (the Secret lacks the key); the stack trace is the symptom, not a code bug.",
        "critical",
    )


@scenario("crash_config_error", "red_herring")
def config_fatal_with_permission_warn(w: Window) -> Verdict:
    """Each start warns that an optional cache dir is not writable, then exits on a missing variable."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    var = w.pick(_ENV_VARS)

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, startup(w, pod)) + 0.1
        if pod.runtime == "go":
            warn = go_log(
                pod,
                "warn",
                "cache/disk.go:31",
                "disk cache disabled",
                error="mkdir /var/cache/app: permission denied",
            )
            fatal = go_log(
                pod,
                "fatal",
                "cmd/server/main.go:39",
                "configuration incomplete",
                error=f'required environment variable "{var}" is not set',
            )
        elif pod.runtime == "node":
            warn = f.pino(
                40,
                "disk cache unavailable",
                pod.name,
                err={"code": "EACCES", "message": "EACCES: permission denied, mkdir '/home/node/.cache'"},
            )
            fatal = f.pino(60, f"missing required environment variable {var}, exiting", pod.name)
        elif pod.runtime == "python":
            warn = f.python_log(
                "WARNING",
                "app.cache",
                "could not create cache directory: [Errno 13] Permission denied: '/app/.cache'",
            )
            fatal = f.python_log("CRITICAL", "app.config", f"required setting {var} is not set; exiting")
        else:
            warn = f.spring(
                pod.app,
                "WARN",
                "main",
                "c.e.app.cache.DiskCache",
                "Disk cache disabled: java.nio.file.AccessDeniedException: /var/cache/app",
            )
            fatal = f.spring(
                pod.app,
                "ERROR",
                "main",
                "c.e.app.config.RequiredSettings",
                f"Required setting {var} is missing; shutting down",
            )
        w.add(at, pod, warn)
        return w.add(at + w.rng.uniform(0.05, 0.4), pod, fatal, evidence=attempt == 0) + 0.05

    crashloop(w, pod, run, exit_code=1)
    spoken = add_decoys(w, "crash_config_error", 1, prefer=("dns_resolution_failure", "oom_killed"))
    return Verdict(
        f"{pod.name} exits at start-up because {var} is not set; the permission warning about its optional disk cache and {describe_decoys(spoken)} are benign.",
        "critical",
    )


@scenario("crash_config_error", "paraphrase")
def config_invalid_value_paraphrase(w: Window) -> Verdict:
    """A setting is present but invalid, in the words of pydantic, Go's time package, envalid or nginx."""
    runtime = w.pick(("python", "go", "node", "nginx"))
    if runtime == "nginx":
        pod = w.app("nginx", app=w.pick(("storefront", "web", "docs", "admin-ui")), container="nginx")
    else:
        pod = w.app(runtime)
    w.crowd(pod, 1, 3)
    service_env = f"{pod.app.upper().replace('-', '_')}_PORT"

    def run(at: float, attempt: int) -> float:
        first = attempt == 0
        if pod.runtime == "python":
            at = w.block(at + 0.3, pod, startup(w, pod)) + 0.5
            lines = [
                f.python_plain("Traceback (most recent call last):"),
                f.python_plain('  File "/app/app/settings.py", line 31, in <module>'),
                f.python_plain("    settings = Settings()"),
                f.python_plain(
                    "pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings"
                ),
                f.python_plain("database_url"),
                f.python_plain(
                    "  Field required [type=missing, input_value={'redis_url': 'redis://re...', 'log_level': 'info'}, input_type=dict]"
                ),
                f.python_plain("    For further information visit https://errors.pydantic.dev/2.9/v/missing"),
            ]
            return w.block(at, pod, lines, evidence=(3, 5) if first else ())
        if pod.runtime == "go":
            w.add(at + 0.2, pod, startup(w, pod)[0])
            line = go_log(
                pod,
                "fatal",
                "cmd/server/main.go:44",
                "invalid configuration",
                key="HTTP_TIMEOUT",
                error='time: missing unit in duration "30"',
            )
            return w.add(at + 0.3, pod, line, evidence=first) + 0.05
        if pod.runtime == "node":
            # Kubernetes injects <SERVICE>_PORT=tcp://... for every Service, clobbering the app's own variable.
            lines = [
                f.node_plain("================================"),
                f.node_plain(" Invalid environment variables:"),
                f.node_plain(f'    {service_env}: Invalid number input: "tcp://{w.service_ip()}:8080"'),
                f.node_plain(" Exiting with error code 1"),
                f.node_plain("================================"),
            ]
            return w.block(at + 0.4, pod, lines, evidence=(1, 2) if first else ())
        message = 'unknown directive "proxy_read_timout" in /etc/nginx/conf.d/default.conf:14'
        w.add(
            at + 0.2,
            pod,
            f.plain("nginx", "/docker-entrypoint.sh: Configuration complete; ready for start up"),
        )
        w.add(at + 0.25, pod, f.nginx_error("emerg", message, worker=1, component="nginx"), evidence=first)
        return at + 0.3

    crashloop(w, pod, run, exit_code=1)
    what = {
        "python": "DATABASE_URL is missing (pydantic ValidationError)",
        "go": 'HTTP_TIMEOUT is "30" without a unit',
        "node": f"{service_env} is overwritten by the Service link variable Kubernetes injects",
        "nginx": "its config has a misspelled directive (proxy_read_timout)",
    }[pod.runtime]
    return Verdict(f"{pod.name} exits at start-up because its configuration is invalid: {what}.", "critical")


@scenario("crash_config_error", "other_words")
def config_tls_keypair_path(w: Window) -> Verdict:
    """The server's TLS settings point at a file the Secret volume does not have; no handshake ever runs."""
    pod = w.app(w.pick(("go", "node")))
    cm = w.platform("cert-manager")
    w.crowd(pod, 1, 2)
    w.noise_weight(cm, 0.8)
    secret = f"{pod.app}-tls"
    wanted = w.pick(("/etc/tls/server.crt", "/etc/tls/cert.pem", "/certs/tls.pem"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.3, pod, startup(w, pod)) + 0.1
        if pod.runtime == "go":
            line = go_log(
                pod,
                "fatal",
                "cmd/server/main.go:71",
                "failed to load TLS key pair",
                cert=wanted,
                error=f"open {wanted}: no such file or directory",
            )
            return w.add(at, pod, line, evidence=attempt == 0) + 0.05
        lines = [
            f.node_plain("node:fs:573"),
            f.node_plain("  return binding.open("),
            f.node_plain("                 ^"),
            f.node_plain(""),
            f.node_plain(f"Error: ENOENT: no such file or directory, open '{wanted}'"),
            f.node_plain("    at Object.readFileSync (node:fs:449:35)"),
            f.node_plain("    at loadTls (/app/dist/server.js:21:17) {"),
            f.node_plain("  code: 'ENOENT',"),
            f.node_plain(f"  path: '{wanted}'"),
            f.node_plain("}"),
        ]
        return w.block(at, pod, lines, evidence=(4, 6) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} exits at start-up: its TLS setting points at {wanted}, but Secret {secret} is mounted with tls.crt/tls.key; the certificate itself is valid.",
        "critical",
    )
