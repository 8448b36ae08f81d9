"""Red herrings across classes: convincing lines of one root cause in a window whose cause is another.

Each decoy is a short episode a careful reader sees is not the cause: it recovered (a DNS timeout,
then the call succeeds), it is expected (a readiness probe refused while a new pod starts), it is old
(an OOMKilled last state from days ago) or it was handled (a client's bad JSON answered with 400).
A grep counts its words all the same. Scenarios place decoys after their own lines; they are never
evidence. Two decoys describe a real but minor problem (a telemetry sidecar that cannot verify its
collector's certificate, a cache directory the app may not create) and so never go into healthy
windows, where they would be the only problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.golden.scenarios import formats as f
from app.golden.scenarios.lifecycle import container_started, image_of, probe_failed, ready, startup
from app.golden.scenarios.noise import app_log, go_log, request_path
from app.golden.scenarios.window import APP_RUNTIMES, CLUSTER_DNS_IP, EXTERNAL_HOSTS, Pod, Window
from app.taxonomy import RootCause

# Hosts a decoy's app calls that no scenario makes fail, so a decoy never tells a scenario's story.
_SIDE_HOSTS = ("feature-flags", "geoip", "exchange-rates", "audit-log")


@dataclass(frozen=True)
class Decoy:
    """A benign episode whose lines sound like ``speaks``; ``benign_alone`` if fine in a healthy window."""

    speaks: RootCause
    place: Callable[[Window, float], None]
    description: str
    benign_alone: bool = True


def steady_app(w: Window, at: float, span: float = 5.0) -> Pod:
    """An app pod that can speak from ``at`` for ``span`` seconds (a new bystander when none can)."""
    speakers = [
        pod
        for pod in w.pods
        if pod.runtime in APP_RUNTIMES and not w.is_quiet(pod, at) and not w.is_quiet(pod, at + span)
    ]
    return w.pick(speakers) if speakers else w.app()


def fresh_start(w: Window, at: float) -> tuple[Pod, float]:
    """A new pod of another Deployment that begins starting at ``at``; returns it and its process start."""
    pod = w.app()
    w.quiet(pod, 0, at + 4)
    w.event(at, pod, "Normal", "Scheduled", f"Successfully assigned {pod.ref} to {pod.node}")
    return pod, container_started(w, pod, at + 0.5)


def _side_host(w: Window, pod: Pod) -> str:
    name = w.pick(_SIDE_HOSTS)
    return w.pick((f"{name}.{pod.namespace}.svc.cluster.local", w.pick(EXTERNAL_HOSTS)))


# --- the decoys ---------------------------------------------------------------------------------------


def recovered_lookup_timeout(w: Window, at: float) -> None:
    """A DNS lookup times out once and the retry succeeds."""
    pod = steady_app(w, at)
    host = _side_host(w, pod)
    back = at + w.rng.uniform(1.0, 2.5)
    if pod.runtime == "go":
        error = f'Get "https://{host}/v1/config": dial tcp: lookup {host} on {CLUSTER_DNS_IP}:53: read udp {pod.ip}:{w.port()}->{CLUSTER_DNS_IP}:53: i/o timeout'
        w.add(
            at,
            pod,
            go_log(pod, "warn", "clients/http.go:71", "request failed, retrying", attempt=1, error=error),
        )
        w.add(
            back,
            pod,
            go_log(pod, "info", "clients/http.go:80", "request succeeded after retry", host=host, attempt=2),
        )
    elif pod.runtime == "node":
        err = {"code": "EAI_AGAIN", "message": f"getaddrinfo EAI_AGAIN {host}"}
        w.add(at, pod, f.pino(40, "request failed, retrying", pod.name, attempt=1, err=err))
        w.add(back, pod, f.pino(30, "request succeeded after retry", pod.name, host=host, attempt=2))
    elif pod.runtime == "python":
        message = f"Retrying (Retry(total=2, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f{w.hexid(10)}>: Failed to resolve '{host}' ([Errno -3] Temporary failure in name resolution)\")': /v1/config"
        w.add(at, pod, f.python_log("WARNING", "urllib3.connectionpool", message))
        w.add(
            back,
            pod,
            f.python_log("INFO", f"{pod.app.replace('-', '_')}.client", f"fetched /v1/config from {host}"),
        )
    else:
        message = f"Lookup of {host} failed (java.net.UnknownHostException: {host}: Temporary failure in name resolution), retrying in 1000 ms"
        w.add(at, pod, f.spring(pod.app, "WARN", "scheduling-1", "c.e.app.client.ConfigClient", message))
        w.add(
            back,
            pod,
            f.spring(
                pod.app,
                "INFO",
                "scheduling-1",
                "c.e.app.client.ConfigClient",
                f"Fetched configuration from {host} on attempt 2",
            ),
        )


def startup_probe_blip(w: Window, at: float) -> None:
    """A new pod of another Deployment fails one or two readiness probes while starting, then is Ready."""
    pod, began = fresh_start(w, at)
    done = w.block(began + 0.4, pod, startup(w, pod))
    refused = f'Get "http://{pod.ip}:8080/readyz": dial tcp {pod.ip}:8080: connect: connection refused'
    for index in range(w.rng.randint(1, 2)):
        probe_failed(w, pod, done + 2 + index * 5, "Readiness", refused, kubelet=w.chance(0.5))
    w.add(done + 12, pod, ready(w, pod))


def sidecar_x509_warning(w: Window, at: float) -> None:
    """A telemetry sidecar cannot verify its collector's certificate and keeps retrying; the app is fine."""
    pod = steady_app(w, at)
    side = w.sidecar(pod, "otel-agent", "otel")
    # Collectors are quiet when all is well; this one only speaks to complain.
    w.quiet(side, 0)
    error = 'rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"'
    for moment in w.spread(at, at + 40, w.rng.randint(2, 3)):
        w.add(
            moment,
            side,
            f.otelcol(
                "info",
                "internal/retry_sender.go:118",
                "Exporting failed. Will retry the request after interval.",
                kind="exporter",
                data_type=w.pick(("traces", "metrics")),
                name="otlp",
                error=error,
                interval=f"{w.rng.uniform(3, 30):.1f}s",
            ),
        )


def optional_cache_eacces(w: Window, at: float) -> None:
    """The app may not create its optional disk cache and falls back to memory, logged at WARN."""
    pod = steady_app(w, at)
    later = at + w.rng.uniform(0.01, 0.2)
    if pod.runtime == "go":
        w.add(
            at,
            pod,
            go_log(
                pod,
                "warn",
                "cache/disk.go:31",
                "disk cache disabled",
                error=f"mkdir /var/cache/{pod.app}: permission denied",
            ),
        )
    elif pod.runtime == "node":
        err = {"code": "EACCES", "message": f"EACCES: permission denied, mkdir '/home/node/.cache/{pod.app}'"}
        w.add(at, pod, f.pino(40, "disk cache unavailable", pod.name, err=err))
    elif pod.runtime == "python":
        w.add(
            at,
            pod,
            f.python_log(
                "WARNING",
                f"{pod.app.replace('-', '_')}.cache",
                "could not create cache directory: [Errno 13] Permission denied: '/app/.cache'",
            ),
        )
    else:
        w.add(
            at,
            pod,
            f.spring(
                pod.app,
                "WARN",
                "main",
                "c.e.app.cache.DiskCache",
                f"Disk cache disabled: java.nio.file.AccessDeniedException: /var/cache/{pod.app}",
            ),
        )
    w.add(
        later, pod, app_log(w, pod, "info", "using in-memory cache", max_entries=w.pick((5000, 10000, 50000)))
    )


def old_oom_last_state(w: Window, at: float) -> None:
    """The restart watcher's resync lists a container OOM-killed days ago, ready ever since."""
    watcher = w.platform("restart-watcher")
    pod = steady_app(w, at)
    days_ago = w.rng.uniform(1.5, 9) * 86400
    for moment in (at, at + 300):
        if moment > w.duration_s - 2:
            break
        w.add(
            moment,
            watcher,
            f.zap(
                "info",
                "watcher/pods.go:141",
                "container has restarted",
                pod=pod.ref,
                container=pod.container,
                restartCount=1,
                lastState="terminated",
                reason="OOMKilled",
                exitCode=137,
                finishedAt=w.clock(-days_ago),
                ready=True,
            ),
        )


def recovered_connection_refused(w: Window, at: float) -> None:
    """A cache connection is refused once (Redis restarting) and re-established within seconds."""
    pod = steady_app(w, at)
    ip = w.service_ip()
    back = at + w.rng.uniform(1.5, 4)
    host = w.pick(("redis-master", "redis-cache", "sessions-redis"))
    if pod.runtime == "go":
        w.add(
            at,
            pod,
            go_log(
                pod,
                "warn",
                "cache/redis.go:64",
                "redis connection lost, reconnecting",
                error=f"dial tcp {ip}:6379: connect: connection refused",
            ),
        )
        w.add(
            back,
            pod,
            go_log(pod, "info", "cache/redis.go:70", "redis connection re-established", addr=f"{host}:6379"),
        )
    elif pod.runtime == "node":
        err = {"code": "ECONNREFUSED", "message": f"connect ECONNREFUSED {ip}:6379"}
        w.add(at, pod, f.pino(40, "redis connection lost, reconnecting", pod.name, err=err))
        w.add(back, pod, f.pino(30, "redis ready", pod.name, host=host))
    elif pod.runtime == "python":
        w.add(
            at,
            pod,
            f.python_log(
                "WARNING",
                "app.cache",
                f"Error 111 connecting to {host}:6379. Connection refused. Retrying in 1s",
            ),
        )
        w.add(back, pod, f.python_log("INFO", "app.cache", f"connection to {host}:6379 restored"))
    else:
        message = f"Cannot reconnect to [{host}/<unresolved>:6379]: Connection refused: {host}/{ip}:6379"
        w.add(
            at,
            pod,
            f.spring(
                pod.app,
                "WARN",
                "lettuce-eventExecutorLoop-1-3",
                "i.l.core.protocol.ConnectionWatchdog",
                message,
            ),
        )
        w.add(
            back,
            pod,
            f.spring(
                pod.app,
                "INFO",
                "lettuce-nioEventLoop-4-2",
                "i.l.core.protocol.ReconnectionHandler",
                f"Reconnected to {host}/<unresolved>:6379",
            ),
        )


def handled_bad_request(w: Window, at: float) -> None:
    """A client sends malformed JSON; the app logs the exception it handled and answers 400."""
    pod = steady_app(w, at)
    path = request_path(w, pod.namespace)
    if pod.runtime == "jvm":
        message = "Resolved [org.springframework.http.converter.HttpMessageNotReadableException: JSON parse error: Unexpected character ('}' (code 125)): was expecting double-quote to start field name]"
        w.add(
            at,
            pod,
            f.spring(
                pod.app,
                "WARN",
                f"nio-8080-exec-{w.rng.randint(1, 10)}",
                ".w.s.m.s.DefaultHandlerExceptionResolver",
                message,
            ),
        )
    elif pod.runtime == "python":
        lines = [
            f.python_log("ERROR", f"{pod.app.replace('-', '_')}.api", "invalid JSON body, returning 400"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain(f'  File "/app/app/api/routes.py", line {w.rng.randint(30, 200)}, in receive'),
            f.python_plain("    payload = json.loads(body)"),
            f.python_plain("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
        ]
        end = w.block(at, pod, lines)
        w.add(
            end,
            pod,
            f.uvicorn_access(
                f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:{w.port()}",
                f"POST {path} HTTP/1.1",
                400,
            ),
        )
    elif pod.runtime == "go":
        error = "json: cannot unmarshal string into Go struct field Request.quantity of type int"
        w.add(
            at,
            pod,
            go_log(
                pod, "error", "server/handler.go:93", "request failed", status=400, path=path, error=error
            ),
        )
    else:
        err = {
            "type": "SyntaxError",
            "message": f"Unexpected token }} in JSON at position {w.rng.randint(20, 400)}",
            "statusCode": 400,
        }
        w.add(
            at,
            pod,
            f.pino(
                50,
                "request errored",
                pod.name,
                err=err,
                req={"method": "POST", "url": path},
                res={"statusCode": 400},
            ),
        )


def config_warnings_at_start(w: Window, at: float) -> None:
    """A new pod warns about a deprecated and an unknown setting, uses defaults, and starts."""
    pod, began = fresh_start(w, at)
    done = w.block(began + 0.4, pod, startup(w, pod))
    w.add(done + 0.1, pod, app_log(w, pod, "warn", "config key REDIS_HOST is deprecated, use REDIS_URL"))
    w.add(done + 0.2, pod, app_log(w, pod, "warn", "invalid LOG_LEVEL 'verbose', falling back to 'info'"))
    w.add(done + w.rng.uniform(2, 6), pod, ready(w, pod))


def image_gc_routine(w: Window, at: float) -> None:
    """The kubelet's image garbage collection frees disk above its high threshold, as it does daily."""
    node = w.pick(w.nodes)
    kubelet = w.kubelet(node)
    usage = w.rng.randint(86, 89)
    w.add(
        at,
        kubelet,
        f.klog(
            "I",
            "image_gc_manager.go:391",
            "Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold",
            pid=w.pid(node),
            usage=usage,
            highThreshold=85,
            amountToFree=w.rng.randint(900_000_000, 4_000_000_000),
            lowThreshold=80,
        ),
    )
    for index in range(w.rng.randint(1, 2)):
        w.add(
            at + 0.5 + index * 0.3,
            kubelet,
            f.klog(
                "I",
                "image_gc_manager.go:447",
                "Removing image to free bytes",
                pid=w.pid(node),
                imageID=f"sha256:{w.hexid(64)}",
                size=w.rng.randint(80_000_000, 900_000_000),
                runtimeHandler="",
            ),
        )


def pending_until_scale_up(w: Window, at: float) -> None:
    """A new pod waits for a node, the cluster autoscaler adds one, and the pod starts there."""
    pod = w.app()
    w.quiet(pod, 0, at + 95)
    total = len(w.nodes)
    message = f"0/{total} nodes are available: {total} Insufficient cpu. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    w.event(at, pod, "Warning", "FailedScheduling", message)
    group = w.pick(("eks-general-pool", "default-pool", "workers-m5-large"))
    size = w.rng.randint(3, 6)
    w.event(
        at + 8,
        pod,
        "Normal",
        "TriggeredScaleUp",
        f"pod triggered scale-up: [{{{group} {size}->{size + 1} (max: 12)}}]",
    )
    scheduled = at + w.rng.uniform(70, 85)
    w.event(scheduled, pod, "Normal", "Scheduled", f"Successfully assigned {pod.ref} to {pod.node}")
    began = container_started(w, pod, scheduled + 3, pulled=True)
    w.block(began + 0.4, pod, [*startup(w, pod), ready(w, pod)])


def pull_retried(w: Window, at: float) -> None:
    """One image pull is reset by the registry; the retry pulls it and the pod starts."""
    pod = w.app()
    w.quiet(pod, 0, at + 6)
    image = image_of(pod)
    registry, rest = image.split("/", 1)
    node_ip = f"10.0.{w.rng.randint(0, 9)}.{w.rng.randint(2, 254)}"
    error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to copy: httpReadSeeker: failed open: failed to do request: Get "https://{registry}/v2/{rest.rsplit(":", 1)[0]}/blobs/sha256:{w.hexid(64)}": read tcp {node_ip}:{w.port()}->10.{w.rng.randint(0, 40)}.{w.rng.randint(0, 255)}.{w.rng.randint(2, 254)}:443: read: connection reset by peer'
    w.event(at - 14, pod, "Normal", "Scheduled", f"Successfully assigned {pod.ref} to {pod.node}")
    w.event(at - 12, pod, "Normal", "Pulling", f'Pulling image "{image}"')
    w.event(at - 9, pod, "Warning", "Failed", f'Failed to pull image "{image}": {error}')
    w.event(at - 8.99, pod, "Warning", "Failed", "Error: ErrImagePull")
    w.event(at - 7, pod, "Normal", "BackOff", f'Back-off pulling image "{image}"')
    began = container_started(w, pod, at, pulled=True)
    w.block(began + 0.4, pod, [*startup(w, pod), ready(w, pod)])


def mount_cache_not_synced(w: Window, at: float) -> None:
    """A starting pod's first mount attempt reports an object not yet in the kubelet's cache, then works."""
    pod = w.app()
    w.quiet(pod, 0, at + 6)
    w.event(at - 1, pod, "Normal", "Scheduled", f"Successfully assigned {pod.ref} to {pod.node}")
    token = w.token_volume()
    w.event(
        at,
        pod,
        "Warning",
        "FailedMount",
        f'MountVolume.SetUp failed for volume "{token}" : object "{pod.namespace}"/"kube-root-ca.crt" not registered',
    )
    began = container_started(w, pod, at + 1.5)
    w.block(began + 0.4, pod, [*startup(w, pod), ready(w, pod)])


def describe_decoys(spoken: list[RootCause]) -> str:
    """The decoys ``add_decoys`` placed, as a phrase for a summary."""
    descriptions = {decoy.speaks: decoy.description for decoy in DECOYS}
    parts = [descriptions[cause] for cause in spoken]
    if len(parts) < 2:
        return "".join(parts) or "the benign noise"
    return ", ".join(parts[:-1]) + " and " + parts[-1]


DECOYS: tuple[Decoy, ...] = (
    Decoy(
        "dns_resolution_failure",
        recovered_lookup_timeout,
        "a DNS lookup that timed out once and then succeeded",
    ),
    Decoy("probe_failure", startup_probe_blip, "a new pod's readiness probe refused while it started"),
    Decoy(
        "tls_certificate_error",
        sidecar_x509_warning,
        "a telemetry sidecar's x509 complaints",
        benign_alone=False,
    ),
    Decoy(
        "permission_denied",
        optional_cache_eacces,
        "a permission warning about an optional cache directory",
        benign_alone=False,
    ),
    Decoy("oom_killed", old_oom_last_state, "an OOMKilled last state from days ago"),
    Decoy(
        "dependency_unavailable",
        recovered_connection_refused,
        "a cache connection refused and re-established within seconds",
    ),
    Decoy("application_exception", handled_bad_request, "a client's malformed request answered with 400"),
    Decoy("crash_config_error", config_warnings_at_start, "a new pod's warnings about deprecated settings"),
    Decoy("node_resource_pressure", image_gc_routine, "routine image garbage collection"),
    Decoy("scheduling_failure", pending_until_scale_up, "a pod that waited for the cluster autoscaler"),
    Decoy("image_pull_error", pull_retried, "an image pull that succeeded on retry"),
    Decoy(
        "volume_mount_failure",
        mount_cache_not_synced,
        "a transient 'not registered' mount message of a starting pod",
    ),
)


# Decoys that could pass for the cause's explanation, or break its definition, in windows of a class:
# a refused-then-reconnected cache next to failing probes could be read as their reason, and
# application_exception requires the infrastructure to be healthy.
_COULD_EXPLAIN: dict[str, tuple[str, ...]] = {
    "probe_failure": ("dependency_unavailable", "dns_resolution_failure"),
    "application_exception": ("tls_certificate_error", "permission_denied"),
}


def add_decoys(
    w: Window, cause: RootCause, count: int, *, prefer: tuple[RootCause, ...] = ()
) -> list[RootCause]:
    """Place ``count`` decoys that speak other classes than ``cause``; returns the classes they speak.

    ``prefer`` names the confusions a scenario is about: one of them is always drawn, the rest at
    random, so no single decoy dominates a class's red herrings.
    """
    avoid = (cause, *_COULD_EXPLAIN.get(cause, ()))
    allowed = [d for d in DECOYS if d.speaks not in avoid and (cause != "healthy" or d.benign_alone)]
    w.rng.shuffle(allowed)
    preferred = [d for d in allowed if d.speaks in prefer][:1]
    chosen = (preferred + [d for d in allowed if d not in preferred])[:count]
    for decoy in chosen:
        # Late enough for the fresh pods' events, early enough for their 90 s of start-up.
        decoy.place(w, w.rng.uniform(15, max(20, w.duration_s - 110)))
    return [decoy.speaks for decoy in chosen]
