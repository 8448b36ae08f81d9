"""What the platform says around a container's life: start-up, crash loops, probes and images.

These symptoms are shared by many root causes (a CrashLoopBackOff looks the same whether the app
ran out of memory, lacked a setting or could not reach its database), so they are never evidence
on their own; the lines that tell the causes apart come from the scenarios.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from app.golden.scenarios import formats as f
from app.golden.scenarios.formats import Line
from app.golden.scenarios.noise import go_log
from app.golden.scenarios.window import Pod, Window

_REGISTRIES = (
    "registry.local",
    "ghcr.io/acme-corp",
    "123456789012.dkr.ecr.eu-central-1.amazonaws.com",
    "harbor.internal/prod",
)


def process_name(pod: Pod) -> str:
    """The process name the kernel reports (``comm``, cut to 15 characters as Linux does)."""
    names = {"jvm": "java", "python": "python3", "node": "node"}
    return names.get(pod.runtime, pod.app.replace("-", "")[:15])


def image_of(pod: Pod) -> str:
    """The image reference of the pod's workload: the same for every replica."""
    # Derived from the workload, not the pod, so replicas of one Deployment never disagree.
    workload = hashlib.sha256(f"{pod.namespace}/{pod.app}".encode()).hexdigest()
    digits = [int(char, 16) for char in workload[:4]]
    registry = _REGISTRIES[digits[0] % len(_REGISTRIES)]
    return f"{registry}/{pod.app}:v{1 + digits[1] % 3}.{digits[2]}.{digits[3] % 8}"


def _class_name(pod: Pod) -> str:
    return "".join(part.capitalize() for part in pod.app.split("-")) + "Application"


def _gunicorn(pod: Pod) -> bool:
    # A Python service runs under gunicorn or bare uvicorn; stable per pod.
    return int(pod.uid[1], 16) % 2 == 0


def startup(w: Window, pod: Pod) -> list[Line]:
    """The first lines an app writes when its container starts, in its runtime's format."""
    version = image_of(pod).rsplit(":", 1)[1]
    if pod.runtime == "jvm":
        return [
            f.spring(
                pod.app,
                "INFO",
                "main",
                f"c.e.{pod.app.split('-')[0]}.{_class_name(pod)}",
                f"Starting {_class_name(pod)} {version} using Java 21.0.5 with PID 1 (/app/app.jar started by app in /app)",
            ),
            f.spring(
                pod.app,
                "INFO",
                "main",
                f"c.e.{pod.app.split('-')[0]}.{_class_name(pod)}",
                'The following 1 profile is active: "prod"',
            ),
        ]
    if pod.runtime == "python":
        if _gunicorn(pod):
            return [
                f.gunicorn(1, "INFO", "Starting gunicorn 22.0.0"),
                f.gunicorn(1, "INFO", "Listening at: http://0.0.0.0:8000 (1)"),
                f.gunicorn(1, "INFO", "Using worker: uvicorn.workers.UvicornWorker"),
            ]
        return [
            f.python_log("INFO", "uvicorn.error", f"Started server process [{w.rng.randint(1, 9)}]"),
            f.python_log("INFO", "uvicorn.error", "Waiting for application startup."),
        ]
    if pod.runtime == "node":
        return [f.pino(30, f"starting {pod.app} {version}", pod.name, env="production", node="v20.18.1")]
    return [
        go_log(
            pod, "info", "cmd/server/main.go:48", "starting", service=pod.app, version=version, go="go1.23.4"
        )
    ]


def ready(w: Window, pod: Pod) -> Line:
    """The line an app writes once it serves traffic."""
    if pod.runtime == "jvm":
        return f.spring(
            pod.app,
            "INFO",
            "main",
            "o.s.b.w.embedded.tomcat.TomcatWebServer",
            "Tomcat started on port 8080 (http) with context path '/'",
        )
    if pod.runtime == "python" and _gunicorn(pod):
        return f.gunicorn(7, "INFO", "Booting worker with pid: 7")
    if pod.runtime == "python":
        return f.python_log(
            "INFO", "uvicorn.error", "Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"
        )
    if pod.runtime == "node":
        return f.pino(30, "Server listening at http://0.0.0.0:3000", pod.name)
    return go_log(pod, "info", "cmd/server/main.go:97", "http server listening", addr=":8080")


def container_started(w: Window, pod: Pod, at: float, *, pulled: bool = False) -> float:
    """The Normal events of a container (re)start; returns when the process begins."""
    image = image_of(pod)
    if pulled:
        w.event(at, pod, "Normal", "Pulling", f'Pulling image "{image}"')
        w.event(
            at + 1.8,
            pod,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in 1.712s (1.712s including waiting). Image size: {w.rng.randint(40, 400)}123456 bytes.',
        )
    else:
        w.event(at, pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
    w.event(at + 2.0, pod, "Normal", "Created", f"Created container {pod.container}")
    w.event(at + 2.3, pod, "Normal", "Started", f"Started container {pod.container}")
    return at + 2.6


def terminated_report(
    w: Window, pod: Pod, at: float, reason: str, exit_code: int, *, restarts: int = 1, evidence: bool = False
) -> None:
    """The restart watcher's line for a container that just terminated: its reason and exit code."""
    w.add(
        at,
        w.platform("restart-watcher"),
        f.zap(
            "warn",
            "watcher/pods.go:118",
            "container terminated",
            pod=pod.ref,
            container=pod.container,
            reason=reason,
            exitCode=exit_code,
            restartCount=restarts,
            finishedAt=w.clock(at - w.rng.uniform(0.5, 2)),
        ),
        evidence=evidence,
    )


def back_off_seconds(restart: int) -> int:
    """The kubelet's crash back-off after ``restart`` restarts: 10s doubling up to 5m."""
    return min(10 * 2**restart, 300)


def container_exited(
    w: Window, pod: Pod, at: float, exit_code: int, *, evidence: bool = False, container_id: str | None = None
) -> None:
    """containerd's TaskExit line for the pod's container."""
    container_id = container_id or w.hexid(64)
    seconds = (w.start_ns // 1_000_000_000) + int(at)
    w.add(
        at,
        w.runtime(pod.node),
        f.containerd(
            "info",
            f'TaskExit event in podsandbox handler container_id:"{container_id}" id:"{container_id}" pid:{w.rng.randint(3000, 90000)} exit_status:{exit_code} exited_at:{{seconds:{seconds} nanos:{w.rng.randrange(10**9)}}}',
        ),
        evidence=evidence,
    )


def sync_error(w: Window, pod: Pod, at: float, reason: str, detail: str, *, evidence: bool = False) -> None:
    """The kubelet's "Error syncing pod" line for a container it cannot start (back-off, pull, config)."""
    err = f'failed to "StartContainer" for "{pod.container}" with {reason}: "{detail}"'
    line = f.klog(
        "E",
        "pod_workers.go:1298",
        "Error syncing pod, skipping",
        pid=w.pid(pod.node),
        err=err,
        pod=pod.ref,
        podUID=pod.uid,
    )
    w.add(at, w.kubelet(pod.node), line, evidence=evidence)


def back_off(w: Window, pod: Pod, at: float, restart: int) -> None:
    """The BackOff event and the kubelet's CrashLoopBackOff error for one restart."""
    delay = back_off_seconds(restart)
    w.event(
        at,
        pod,
        "Warning",
        "BackOff",
        f"Back-off restarting failed container {pod.container} in pod {pod.full}",
    )
    detail = f"back-off {delay}s restarting failed container={pod.container} pod={pod.full}"
    sync_error(w, pod, at + 0.01, "CrashLoopBackOff", detail)


def crashloop(
    w: Window,
    pod: Pod,
    run: Callable[[float, int], float],
    *,
    exit_code: int,
    start: float | None = None,
    runs: int | None = None,
    exit_evidence: bool = False,
) -> list[float]:
    """A container that starts, fails and is backed off, again and again; returns each run's start.

    ``run(at, attempt)`` writes one run's lines from ``at`` and returns when the process died.
    """
    w.quiet(pod, 0)
    at = start if start is not None else w.rng.uniform(5, 40)
    first_restart = w.rng.randint(0, 3)
    runs = runs or w.rng.randint(2, 4)
    starts: list[float] = []
    for attempt in range(runs):
        restart = first_restart + attempt
        if at > w.duration_s - 25:
            break
        began = container_started(w, pod, at)
        starts.append(began)
        died = run(began, attempt)
        container_exited(w, pod, died + 0.05, exit_code, evidence=exit_evidence and attempt == 0)
        back_off(w, pod, died + w.rng.uniform(0.8, 2.5), restart)
        at = died + back_off_seconds(restart) + w.rng.uniform(1, 4)
        w.ensure_duration(died + 20)
    return starts


def probe_failed(
    w: Window, pod: Pod, at: float, probe: str, output: str, *, evidence: bool = False, kubelet: bool = True
) -> None:
    """An Unhealthy event (and the kubelet's prober line) for a failed probe."""
    w.event(at, pod, "Warning", "Unhealthy", f"{probe} probe failed: {output}", evidence=evidence)
    if kubelet:
        w.add(
            at + 0.002,
            w.kubelet(pod.node),
            f.klog(
                "I",
                "prober.go:107",
                "Probe failed",
                pid=w.pid(pod.node),
                probeType=probe,
                pod=pod.ref,
                podUID=pod.uid,
                containerName=pod.container,
                probeResult="failure",
                output=output,
            ),
        )


def probe_timeout_output(pod: Pod, path: str = "/healthz", port: int = 8080) -> str:
    """What the kubelet reports when an HTTP probe gets no answer in time."""
    return f'Get "http://{pod.ip}:{port}{path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'


def liveness_kill(w: Window, pod: Pod, at: float) -> None:
    """The kubelet killing a container whose liveness probe failed."""
    w.event(
        at, pod, "Normal", "Killing", f"Container {pod.container} failed liveness probe, will be restarted"
    )


def shutdown(w: Window, pod: Pod) -> list[Line]:
    """The lines an app writes when it receives SIGTERM and drains."""
    if pod.runtime == "jvm":
        return [
            f.spring(
                pod.app,
                "INFO",
                "SpringApplicationShutdownHook",
                "o.s.b.w.e.tomcat.GracefulShutdown",
                "Commencing graceful shutdown. Waiting for active requests to complete",
            ),
            f.spring(
                pod.app,
                "INFO",
                "tomcat-shutdown",
                "o.s.b.w.e.tomcat.GracefulShutdown",
                "Graceful shutdown complete",
            ),
        ]
    if pod.runtime == "python":
        return [
            f.python_log("INFO", "uvicorn.error", "Shutting down"),
            f.python_log("INFO", "uvicorn.error", "Waiting for application shutdown."),
            f.python_log("INFO", "uvicorn.error", f"Finished server process [{w.rng.randint(1, 9)}]"),
        ]
    if pod.runtime == "node":
        return [
            f.pino(30, "SIGTERM received, closing server", pod.name),
            f.pino(30, "server closed", pod.name),
        ]
    return [
        go_log(pod, "info", "cmd/server/main.go:120", "shutdown signal received", signal="terminated"),
        go_log(pod, "info", "cmd/server/main.go:131", "http server stopped gracefully"),
    ]


def image_parts(image: str) -> tuple[str, str, str]:
    """An image reference split into registry host, repository path and tag."""
    registry, rest = image.split("/", 1)
    repository, tag = rest.rsplit(":", 1)
    return registry, repository, tag
