"""Scenarios where the container dies of its limits or its settings: OOM kills and bad configuration.

Several share one symptom on purpose with ``bugs`` and ``network``: a CrashLoopBackOff whose events
and kubelet lines look alike, told apart only by the application's last lines (or the kernel's OOM
line).
"""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.lifecycle import (
    container_exited,
    container_started,
    crashloop,
    image_of,
    process_name,
    ready,
    startup,
    sync_error,
)
from app.golden.scenarios.noise import app_log, go_log, herring, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.window import APP_RUNTIMES, Pod, Window

_LIMITS_MI = (256, 384, 512, 768, 1024, 1536, 2048)


def kernel_oom(w: Window, pod: Pod, at: float, *, npd_event: bool = True, evidence: bool = True) -> int:
    """The kernel's memory-cgroup OOM kill of the pod's main process; returns the limit in MiB."""
    limit_mi = w.pick(_LIMITS_MI)
    limit_kb = limit_mi * 1024
    pid = w.rng.randint(2000, 60000)
    adj = w.pick((985, 992, 999, 968))
    process = process_name(pod)
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


@scenario("oom_killed", "hard")
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


@scenario("oom_killed", "hard")
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


@scenario("oom_killed", "hard")
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


@scenario("crash_config_error", "hard")
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


@scenario("crash_config_error", "hard")
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


@scenario("crash_config_error", "hard")
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
        f.flux(
            "info",
            "kustomization",
            "Kustomization",
            pod.namespace,
            "server-side apply completed",
            output={
                f"ConfigMap/{pod.namespace}/{config_map}": "configured",
                f"Deployment/{pod.namespace}/{pod.app}": "configured",
            },
            revision=f"main@sha1:{w.hexid(40)}",
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
