"""``probe_failure``: liveness, readiness or startup probes fail with no deeper cause in view.

The kubelet says it in ``Unhealthy`` events ("Liveness probe failed: ...") and, for liveness and
startup probes, a ``Killing`` event ("failed liveness probe, will be restarted") followed by a clean
SIGTERM stop and a restart. What makes them fail is the probe or the process itself: a timeout shorter
than a slow response, a path or port the release no longer serves, a start-up longer than the startup
probe allows, an exec probe whose binary is not in the image.
"""

from __future__ import annotations

from collections.abc import Callable

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    api,
    incident_start,
    main_procs,
    new_main_procs,
    want_api,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.golden.schema import Severity
from app.logs.synthetic.cluster import Workload
from app.logs.synthetic.lifecycle import begin_rollout, crash_loop, liveness_restart, probe_failed
from app.logs.synthetic.parts import Proc, Run
from app.logs.synthetic.runtimes import AppLogger, Request
from app.logs.synthetic.scene import Scene

scenario = scenarios_of("probe_failure")


def _fail_then_kill(
    scene: Scene, proc: Proc, run: Run, at: float, probe: str, output: str, period: float, *, cite: bool
) -> None:
    """Three failed probes one period apart, then the kubelet's Killing; the container stops cleanly."""
    for index in range(3):
        probe_failed(
            scene,
            proc,
            at - (2 - index) * period - 0.5,
            probe.capitalize(),
            output,
            evidence=cite and index == 0,
        )
    liveness_restart(scene, proc, at, probe, evidence=cite)
    run.graceful = True


def _release(scene: Scene, target: Workload) -> tuple[list[Proc], Severity]:
    """A release of ``target``: its new pods' main processes; Recreate (critical) or rolling (warning)."""
    recreate = scene.chance(0.3)
    pods = begin_rollout(scene, target, incident_start(scene, 0.1, 0.35), replace_all=recreate)
    return new_main_procs(scene, target, pods), "critical" if recreate else "warning"


def _restart_each_period(
    scene: Scene, proc: Proc, period: float, kill: Callable[[Proc, Run, float], None]
) -> None:
    """Restart ``proc`` each time three probes a period apart have failed after it started (``kill`` writes why)."""
    crash_loop(
        scene,
        proc,
        proc.last_run().start + 10 + 3 * period,
        run_length=lambda _n: 10 + 3 * period + scene.rng.uniform(0.5, 2),
        on_death=kill,
    )


def _slow_lines(scene: Scene, proc: Proc, start: float, end: float) -> None:
    """Requests that take seconds while the process struggles (its own view of the slowdown)."""
    logger: AppLogger = proc.logger
    at = start
    while at < end:
        duration = scene.rng.uniform(2500, 14000)
        resource = scene.pick(scene.domain)
        if logger.family == "node":
            lines = logger.log(
                "warn", "event loop blocked", blocked_ms=int(duration * scene.rng.uniform(0.3, 0.8))
            )
        elif logger.logs_access:
            request = Request(
                "GET",
                f"/v1/{resource}?limit=100",
                200,
                duration,
                scene.rng.randint(2000, 90000),
                scene.cluster.pod_ip(),
                scene.port(),
                "okhttp/4.12.0",
                scene.uuid(),
            )
            lines = logger.access(request)
        else:
            lines = logger.log("warn", f"slow request GET /v1/{resource} took {int(duration)} ms")
        scene.log(at, proc, lines)
        at += scene.rng.uniform(8, 40)


@scenario("probe.liveness_timeout", FAMILY_VARIANTS, hard_case="shared_symptom", prepare=want_api)
def liveness_timeout(scene: Scene, family: str) -> Verdict:
    """Under load the health endpoint answers slower than the probe's 1 s timeout: killed and restarted."""
    target = api(scene, family)
    victims = main_procs(scene, target)
    if len(victims) > 1 and scene.chance(0.5):
        victims = [scene.pick(victims)]
    first = incident_start(scene, 0.2, 0.5)
    path = target.config.probe_paths[0]
    period = float(target.config.probe_period)
    for proc in victims:
        output = f'Get "http://{proc.pod.ip}:{proc.container.port}{path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        cited = {"done": False}

        def kill(
            dying: Proc, run: Run, at: float, output: str = output, cited: dict[str, bool] = cited
        ) -> None:
            _slow_lines(scene, dying, max(run.ready, at - 240), at - 3)
            dying.probe_answers.append((at - 3 * period - 1, at, None, "*"))
            _fail_then_kill(scene, dying, run, at, "liveness", output, period, cite=not cited["done"])
            cited["done"] = True

        crash_loop(scene, proc, first, run_length=lambda _n: scene.rng.uniform(180, 600), on_death=kill)
    severity = "critical" if len(victims) == len(main_procs(scene, target)) else "warning"
    return Verdict(
        f"{target.name}'s liveness probe on {path} times out under load; the kubelet keeps restarting the container.",
        severity,
    )


@scenario("probe.wrong_path", FAMILY_VARIANTS, prepare=want_api)
def wrong_path(scene: Scene, family: str) -> Verdict:
    """The release moved the health endpoint; the liveness probe still asks the old path and gets 404."""
    target = api(scene, family)
    path = target.config.probe_paths[0]
    period = float(target.config.probe_period)
    procs, severity = _release(scene, target)
    for proc in procs:
        cited = {"done": False}

        proc.probe_answers.append((0.0, scene.duration, 404, path))

        def kill(dying: Proc, run: Run, at: float, cited: dict[str, bool] = cited) -> None:
            _fail_then_kill(
                scene,
                dying,
                run,
                at,
                "liveness",
                "HTTP probe failed with statuscode: 404",
                period,
                cite=not cited["done"],
            )
            cited["done"] = True

        _restart_each_period(scene, proc, period, kill)
    return Verdict(
        f"New {target.name} pods no longer serve {path}: the liveness probe gets 404 and the kubelet restarts them in a loop.",
        severity,
    )


@scenario("probe.wrong_port", FAMILY_VARIANTS, hard_case="subtle", prepare=want_api)
def wrong_port(scene: Scene, family: str) -> Verdict:
    """The release changed the listen port but not the readiness probe: new pods run but never become ready."""
    target = api(scene, family)
    path = target.config.probe_paths[-1]
    period = float(target.config.probe_period)
    procs, severity = _release(scene, target)
    wrong = target.main.port + scene.pick((1, 80, 1000))
    for proc in procs:
        run = proc.last_run()
        serving_ready = run.ready
        run.ready = float("inf")
        # The process starts and says it listens; it just never receives traffic.
        scene.log(serving_ready, proc, proc.logger.ready())
        output = f'Get "http://{proc.pod.ip}:{wrong}{path}": dial tcp {proc.pod.ip}:{wrong}: connect: connection refused'
        proc.probe_answers.append((0.0, scene.duration, None, path))
        at = run.start + 5
        first = True
        while at < scene.duration:
            probe_failed(scene, proc, at, "Readiness", output, evidence=first)
            first = False
            at += period
    return Verdict(
        f"New {target.name} pods listen on another port than the readiness probe checks ({wrong}); they never become ready.",
        severity,
    )


@scenario("probe.startup_too_short", ("jvm", "python"), hard_case="shared_symptom", prepare=want_api)
def startup_too_short(scene: Scene, family: str) -> Verdict:
    """Start-up got slower than the startup probe allows (30 s): killed before it listens, again and again."""
    target = api(scene, family)
    procs, severity = _release(scene, target)
    for proc in procs:
        output = f'Get "http://{proc.pod.ip}:{proc.container.port}{target.config.probe_paths[0]}": dial tcp {proc.pod.ip}:{proc.container.port}: connect: connection refused'
        cited = {"done": False}

        def kill(
            dying: Proc, run: Run, at: float, output: str = output, cited: dict[str, bool] = cited
        ) -> None:
            run.ready = at
            run.quiet_start = True
            if 0 <= run.start < scene.duration:
                scene.log(run.start + 0.2, dying, dying.logger.startup())
                task = scene.pick(
                    (
                        "loading embeddings model",
                        "warming up caches",
                        "running schema validation",
                        "building price index",
                    )
                )
                scene.log(run.start + 4, dying, dying.logger.log("info", task))
            _fail_then_kill(scene, dying, run, at, "startup", output, 10.0, cite=not cited["done"])
            cited["done"] = True

        crash_loop(
            scene,
            proc,
            proc.last_run().start + 31,
            run_length=lambda _n: 31 + scene.rng.uniform(0, 1),
            on_death=kill,
        )
    return Verdict(
        f"New {target.name} pods take longer to start than the startup probe allows and are killed before they listen, in a loop.",
        severity,
    )


@scenario("probe.exec_missing", ("",), prepare=lambda spec, rng, variant: want_api(spec, rng, "go"))
def exec_missing(scene: Scene, variant: str) -> Verdict:
    """The new image dropped the binary the exec liveness probe runs: the probe errors and the kubelet restarts it."""
    target = api(scene, "go")
    binary = scene.pick(("grpc_health_probe", "/bin/grpc_health_probe", "healthcheck"))
    period = float(target.config.probe_period)
    procs, severity = _release(scene, target)
    for proc in procs:
        cited = {"done": False}

        def kill(dying: Proc, run: Run, at: float, cited: dict[str, bool] = cited) -> None:
            exec_id = scene.hexid(64)
            output = f'rpc error: code = Unknown desc = failed to exec in container: failed to start exec "{exec_id}": OCI runtime exec failed: exec failed: unable to start container process: exec: "{binary}": executable file not found in $PATH: unknown'
            for index in range(3):
                scene.event(
                    at - (2 - index) * period - 0.5,
                    dying.pod.ref,
                    scene.kubelet(dying.pod),
                    "Warning",
                    "Unhealthy",
                    f"Liveness probe errored: {output}",
                    evidence=not cited["done"] and index == 0,
                )
            liveness_restart(scene, dying, at, "liveness", evidence=not cited["done"])
            run.graceful = True
            cited["done"] = True

        _restart_each_period(scene, proc, period, kill)
    return Verdict(
        f"New {target.name} pods fail their exec liveness probe ({binary} is not in the image) and are restarted in a loop.",
        severity,
    )


@scenario("probe.readiness_timeout", FAMILY_VARIANTS, hard_case="subtle", prepare=want_api)
def readiness_timeout(scene: Scene, family: str) -> Verdict:
    """The readiness endpoint checks too much and answers slower than the probe's timeout: pods drop out of the Service."""
    target = api(scene, family)
    path = target.config.probe_paths[-1]
    period = float(target.config.probe_period)
    start = incident_start(scene, 0.15, 0.5)
    procs = main_procs(scene, target)
    flapping = procs if scene.chance(0.4) else procs[: max(1, len(procs) // 2)]
    for proc in flapping:
        output = f'Get "http://{proc.pod.ip}:{proc.container.port}{path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        at = start + scene.rng.uniform(0, period)
        first = True
        while at < scene.duration:
            episode = scene.rng.uniform(20, 120)
            proc.probe_answers.append((at, at + episode, None, path))
            proc.unready.append((at + 3 * period, at + episode + period))
            tick = at
            while tick < min(at + episode, scene.duration):
                probe_failed(scene, proc, tick, "Readiness", output, evidence=first)
                first = False
                tick += period
            _slow_lines(scene, proc, at, at + episode)
            at += episode + scene.rng.uniform(30, 240)
    severity = "critical" if len(flapping) == len(procs) else "warning"
    return Verdict(
        f"{target.name}'s readiness probe on {path} keeps timing out; its pods drop in and out of the Service's endpoints.",
        severity,
    )
