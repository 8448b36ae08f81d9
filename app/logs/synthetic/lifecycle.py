"""What Kubernetes does and says around a pod's life, written into a scene.

Messages are the kubelet's and controllers' own (Kubernetes 1.31): ``Pulled``, ``Created``,
``Started``, ``Killing``, ``BackOff``, ``Unhealthy``, ``Failed`` with ``ErrImagePull``, ``FailedMount``,
``FailedScheduling``, ``Evicted``, and the ReplicaSet, Deployment, Job and CronJob controllers'.
The kubelet restarts a crashed container after a back-off of 10 s doubling to 5 minutes, and while it
waits every pod sync records ``BackOff`` again; client-go's spam filter then lets through at most 25
events per object and one more every five minutes, so long crash loops go quiet in the events.
"""

from __future__ import annotations

from collections.abc import Callable

from app.logs.synthetic.cluster import Pod, Workload, safe_suffix
from app.logs.synthetic.components import make_component
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.parts import FOREVER, Proc, Run
from app.logs.synthetic.scene import Scene

KUBE_VERSION = "1.31"
# The kubelet's pod workers re-sync a pod in back-off about this often.
_SYNC_S = (8.0, 22.0)


def back_off_s(step: int) -> float:
    """The kubelet's back-off after ``step`` earlier back-offs: 10 s doubling to 5 minutes."""
    return float(min(10 * 2**step, 300))


def add_procs(scene: Scene, pod: Pod, *, running_since: float | None = None) -> None:
    """A process, with its format writer, for each of a pod's containers (started at ``running_since``)."""
    for container in pod.workload.containers:
        runs = []
        if running_since is not None:
            ready = running_since + scene.rng.uniform(2, 12)
            runs.append(Run(running_since, ready, quiet_start=True))
        proc = Proc(pod, container, runs)
        proc.logger = make_component(scene, pod, container)
        scene.procs.append(proc)


def add_running_pod(scene: Scene, workload: Workload, ordinal: int) -> Pod:
    """A pod of ``workload`` whose containers have run since long before the window (no events)."""
    pod = scene.cluster.new_pod(workload, scene.namespace, ordinal=ordinal)
    add_procs(scene, pod, running_since=-scene.rng.uniform(3600, 20 * 86400))
    return pod


def image_of(proc: Proc) -> str:
    """The container's image reference as the pod spec writes it."""
    return proc.container.image


def start_container(
    scene: Scene,
    proc: Proc,
    at: float,
    *,
    pulled: bool = False,
    ready_after: float | None = None,
    evidence: bool = False,
) -> Run:
    """The kubelet (re)starting a container: Pulled (or Pulling and Pulled), Created, Started; returns the run."""
    pod = proc.pod
    kubelet = scene.kubelet(pod)
    image = image_of(proc)
    if pulled:
        scene.event(at, pod.ref, kubelet, "Normal", "Pulling", f'Pulling image "{image}"')
        took = scene.rng.uniform(0.8, 9.0)
        size = scene.rng.randint(30, 900) * 1_048_576 + scene.rng.randint(0, 999_999)
        scene.event(
            at + took,
            pod.ref,
            kubelet,
            "Normal",
            "Pulled",
            f'Successfully pulled image "{image}" in {took:.3f}s ({took:.3f}s including waiting). Image size: {size} bytes.',
        )
        at += took
    else:
        scene.event(
            at,
            pod.ref,
            kubelet,
            "Normal",
            "Pulled",
            f'Container image "{image}" already present on machine',
            evidence=evidence,
        )
    scene.event(at + 0.05, pod.ref, kubelet, "Normal", "Created", f"Created container {proc.container.name}")
    scene.event(at + 0.3, pod.ref, kubelet, "Normal", "Started", f"Started container {proc.container.name}")
    begin = at + 0.35
    ready = begin + (ready_after if ready_after is not None else scene.rng.uniform(2, 15))
    run = Run(begin, ready)
    proc.runs.append(run)
    return run


def stop(proc: Proc, at: float, *, graceful: bool) -> None:
    """End the container's current run at ``at``."""
    run = proc.run_at(at)
    if run is not None:
        run.end = at
        run.graceful = graceful
        run.ready = min(run.ready, at)


def kill_for_stop(scene: Scene, proc: Proc, at: float, *, reason: str = "", evidence: bool = False) -> None:
    """The kubelet stopping a container (deletion, eviction, liveness failure): Killing, then SIGTERM."""
    message = reason or f"Stopping container {proc.container.name}"
    scene.event(at, proc.pod.ref, scene.kubelet(proc.pod), "Normal", "Killing", message, evidence=evidence)
    stop(proc, at + scene.rng.uniform(0.2, 3.0), graceful=True)


def back_off_events(
    scene: Scene, proc: Proc, start: float, end: float, *, evidence_first: bool = False
) -> None:
    """BackOff events recorded at each pod sync while the container waits to restart."""
    at = start + scene.rng.uniform(0.5, 2.0)
    message = f"Back-off restarting failed container {proc.container.name} in pod {proc.pod.full_name}"
    first = True
    while at < end:
        scene.event(
            at,
            proc.pod.ref,
            scene.kubelet(proc.pod),
            "Warning",
            "BackOff",
            message,
            evidence=evidence_first and first,
        )
        first = False
        at += scene.rng.uniform(*_SYNC_S)


Death = Callable[[Proc, Run, float], None]


def crash_loop(
    scene: Scene,
    proc: Proc,
    first_death: float,
    *,
    run_length: Callable[[int], float],
    on_death: Death,
    restarts_before: int = 0,
    until: float | None = None,
    evidence_backoff: bool = False,
) -> int:
    """A container that keeps dying: each death at the end of a run, back-off, restart; returns the deaths.

    ``on_death(proc, run, at)`` writes what the process printed as it died; ``run_length(n)`` is how
    long run ``n`` (counted from the first restart) lasts.
    """
    until = scene.duration if until is None else until
    current = proc.run_at(first_death - 1e-6) or proc.last_run()
    deaths = 0
    at = first_death
    restarts = restarts_before
    cited = {"backoff": False}
    while at < until:
        current.end = at
        current.graceful = False
        on_death(proc, current, at)
        deaths += 1
        # The first restart is immediate; later ones wait 10 s, 20 s, 40 s ... (kubelet's doBackOff).
        delay = (back_off_s(restarts - 1) if restarts else 0.0) + scene.rng.uniform(0.2, 1.5)
        if restarts >= 1:
            back_off_events(
                scene, proc, at, at + delay, evidence_first=evidence_backoff and not cited["backoff"]
            )
            cited["backoff"] = True
        restarts += 1
        proc.restarts = restarts
        if at + delay >= until:
            break
        current = start_container(scene, proc, at + delay)
        at = current.start + run_length(deaths)
    return deaths


def crash_loop_before(scene: Scene, proc: Proc, restarts: int) -> None:
    """Mark a container as already crash-looping when the window starts (its first run is gone)."""
    proc.runs.clear()
    proc.restarts = restarts


def delete_pod(scene: Scene, pod: Pod, at: float, *, evidence: bool = False) -> None:
    """A pod being deleted (rollout, scale-down, drain): every container stopped gracefully."""
    for proc in scene.procs_of_pod(pod):
        kill_for_stop(scene, proc, at, evidence=evidence)


def scheduled(scene: Scene, pod: Pod, at: float) -> None:
    """The scheduler's event for binding ``pod`` to its node."""
    scene.event(
        at,
        pod.ref,
        scene.cluster.scheduler,
        "Normal",
        "Scheduled",
        f"Successfully assigned {scene.namespace}/{pod.name} to {pod.node}",
        action="Binding",
    )


def create_pod(
    scene: Scene,
    workload: Workload,
    at: float,
    *,
    pulled: bool = False,
    job: ObjectRef | None = None,
    ordinal: int | None = None,
    schedule: bool = True,
    start: bool = True,
) -> Pod:
    """A controller creating a pod, the scheduler placing it and the kubelet starting its containers."""
    pod = scene.cluster.new_pod(workload, scene.namespace, ordinal=ordinal, job=job.name if job else "")
    owner = job or (workload.replicaset_ref() if workload.kind == "Deployment" else workload.ref)
    scene.events.touch(owner, at - scene.rng.uniform(0.01, 0.3))
    scene.events.touch(pod.ref, at + 0.001)
    scene.event(
        at,
        owner,
        workload.controller,
        "Normal",
        "SuccessfulCreate",
        f"Created pod: {pod.name}"
        if workload.kind != "StatefulSet"
        else f"create Pod {pod.name} in StatefulSet {workload.name} successful",
    )
    add_procs(scene, pod)
    if schedule:
        bound = at + scene.rng.uniform(0.01, 0.4)
        scheduled(scene, pod, bound)
        begin = bound + scene.rng.uniform(0.5, 2.0)
        pod.started_at = begin
        for proc in scene.procs_of_pod(pod) if start else ():
            start_container(scene, proc, begin, pulled=pulled)
            begin += 0.4
    return pod


def begin_rollout(
    scene: Scene,
    workload: Workload,
    at: float,
    *,
    replace_all: bool = False,
    start: bool = True,
    schedule: bool = True,
) -> list[Pod]:
    """A Deployment starting a new ReplicaSet whose pods may never become ready.

    With the default RollingUpdate strategy one surge pod is created and the old pods keep serving
    until it is ready; with ``replace_all`` (a Recreate strategy) the old pods are stopped first.
    """
    old_pods = [pod for pod in workload.pods if any(proc.running(at) for proc in scene.procs_of_pod(pod))]
    old_rs = workload.replicaset_ref()
    workload.rs_hash = safe_suffix(scene.rng, len(workload.rs_hash))
    new_rs = workload.replicaset_ref()
    controller = Reporter("deployment-controller")
    begin = at
    if replace_all:
        scene.event(
            at,
            workload.ref,
            controller,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled down replica set {old_rs.name} from {len(old_pods)} to 0",
        )
        for old in old_pods:
            scene.event(
                at + 0.05,
                old_rs,
                Reporter("replicaset-controller"),
                "Normal",
                "SuccessfulDelete",
                f"Deleted pod: {old.name}",
            )
            delete_pod(scene, old, at + 0.1)
        begin = at + scene.rng.uniform(5, 30)
    count = len(old_pods) if replace_all else 1
    scene.event(
        begin,
        workload.ref,
        controller,
        "Normal",
        "ScalingReplicaSet",
        f"Scaled up replica set {new_rs.name} from 0 to {count}",
    )
    return [
        create_pod(scene, workload, begin + 0.1 + index * 0.05, start=start, schedule=schedule)
        for index in range(count)
    ]


def rollout(scene: Scene, workload: Workload, at: float, *, surge_delay: float = 25.0) -> list[Pod]:
    """A Deployment rolling to a new ReplicaSet: one new pod up, one old pod down, repeated."""
    old_pods = [pod for pod in workload.pods if any(proc.running(at) for proc in scene.procs_of_pod(pod))]
    old_rs = workload.replicaset_ref()
    workload.rs_hash = safe_suffix(scene.rng, len(workload.rs_hash))
    new_rs = workload.replicaset_ref()
    deployment = workload.ref
    controller = Reporter("deployment-controller")
    new_pods: list[Pod] = []
    for index, old in enumerate(old_pods):
        step = at + index * surge_delay
        scene.event(
            step,
            deployment,
            controller,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled up replica set {new_rs.name} from {index} to {index + 1}",
        )
        new_pods.append(create_pod(scene, workload, step + 0.1))
        down = step + surge_delay * 0.8
        scene.event(
            down,
            deployment,
            controller,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled down replica set {old_rs.name} from {len(old_pods) - index} to {len(old_pods) - index - 1}",
        )
        scene.event(
            down + 0.05,
            old_rs,
            Reporter("replicaset-controller"),
            "Normal",
            "SuccessfulDelete",
            f"Deleted pod: {old.name}",
        )
        delete_pod(scene, old, down + 0.1)
    return new_pods


def probe_failed(
    scene: Scene, proc: Proc, at: float, probe: str, output: str, *, evidence: bool = False
) -> bool:
    """An ``Unhealthy`` event for a failed probe (``Liveness``, ``Readiness`` or ``Startup``)."""
    return scene.event(
        at,
        proc.pod.ref,
        scene.kubelet(proc.pod),
        "Warning",
        "Unhealthy",
        f"{probe} probe failed: {output}",
        evidence=evidence,
    )


def liveness_restart(
    scene: Scene, proc: Proc, at: float, probe: str = "liveness", *, evidence: bool = False
) -> None:
    """The kubelet killing a container whose liveness (or startup) probe failed; it is restarted."""
    scene.event(
        at,
        proc.pod.ref,
        scene.kubelet(proc.pod),
        "Normal",
        "Killing",
        f"Container {proc.container.name} failed {probe} probe, will be restarted",
        evidence=evidence,
    )


def pull_failure_loop(
    scene: Scene, proc: Proc, at: float, error: str, *, evidence_count: int = 3, until: float | None = None
) -> None:
    """The kubelet failing to pull an image, backing off from 10 s to 5 minutes, again and again."""
    until = scene.duration if until is None else until
    kubelet = scene.kubelet(proc.pod)
    image = image_of(proc)
    attempt = 0
    cited = 0
    while at < until:
        scene.event(at, proc.pod.ref, kubelet, "Normal", "Pulling", f'Pulling image "{image}"')
        failed_at = at + scene.rng.uniform(0.3, 4.0)
        cite = cited < evidence_count
        if scene.event(
            failed_at,
            proc.pod.ref,
            kubelet,
            "Warning",
            "Failed",
            f'Failed to pull image "{image}": {error}',
            evidence=cite,
        ):
            cited += cite
        scene.event(
            failed_at + 0.01,
            proc.pod.ref,
            kubelet,
            "Warning",
            "Failed",
            "Error: ErrImagePull",
            evidence=cite and attempt == 0,
        )
        wait = back_off_s(attempt)
        sync = failed_at + scene.rng.uniform(1, 3)
        while sync < min(failed_at + wait, until):
            scene.event(sync, proc.pod.ref, kubelet, "Normal", "BackOff", f'Back-off pulling image "{image}"')
            scene.event(
                sync + 0.01,
                proc.pod.ref,
                kubelet,
                "Warning",
                "Failed",
                "Error: ImagePullBackOff",
                evidence=cited == 1 and attempt == 0,
            )
            sync += scene.rng.uniform(*_SYNC_S)
        at = failed_at + wait + scene.rng.uniform(0.1, 2.0)
        attempt += 1


def mount_failure_loop(
    scene: Scene,
    proc: Proc,
    at: float,
    message: str,
    *,
    volumes: str,
    reporter: Reporter | None = None,
    reason: str = "FailedMount",
    evidence_count: int = 3,
) -> None:
    """A volume that cannot be mounted: the event every ~2 minutes and the 2m timeout summary."""
    kubelet = reporter or scene.kubelet(proc.pod)
    cited = 0
    while at < scene.duration:
        if scene.event(
            at, proc.pod.ref, kubelet, "Warning", reason, message, evidence=cited < evidence_count
        ):
            cited += 1
        summary_at = at + scene.rng.uniform(60, 125)
        scene.event(
            summary_at,
            proc.pod.ref,
            scene.kubelet(proc.pod),
            "Warning",
            "FailedMount",
            f"Unable to attach or mount volumes: unmounted volumes=[{volumes}], unattached volumes=[], failed to process volumes=[]: context deadline exceeded",
        )
        at += scene.rng.uniform(118, 128)


def schedule_failure_loop(scene: Scene, pod: Pod, at: float, message: str, *, evidence: bool = True) -> None:
    """The scheduler failing to place a pod: a FailedScheduling event, then retries with back-off."""
    delay = 1.0
    while at < scene.duration:
        scene.event(
            at,
            pod.ref,
            scene.cluster.scheduler,
            "Warning",
            "FailedScheduling",
            message,
            evidence=evidence,
            action="Scheduling",
        )
        at += delay + scene.rng.uniform(0, 1)
        delay = min(delay * 2, 300)


def evict(scene: Scene, proc: Proc, at: float, message: str, *, evidence: bool = True) -> None:
    """The kubelet's eviction manager evicting a pod: Evicted, then its containers stopped."""
    scene.event(at, proc.pod.ref, scene.kubelet(proc.pod), "Warning", "Evicted", message, evidence=evidence)
    for other in scene.procs_of_pod(proc.pod):
        scene.event(
            at + 0.02,
            proc.pod.ref,
            scene.kubelet(proc.pod),
            "Normal",
            "Killing",
            f"Stopping container {other.container.name}",
        )
        stop(other, at + scene.rng.uniform(0.5, 4.0), graceful=True)


def reschedule_stateful_pod(scene: Scene, workload: Workload, at: float) -> Pod:
    """The StatefulSet's pod is deleted (its node drained) and recreated on another node; returns the new pod."""
    old = workload.pods[0]
    delete_pod(scene, old, at)
    workload.pods.remove(old)
    again = at + scene.rng.uniform(2, 12)
    scene.event(
        again,
        workload.ref,
        Reporter("statefulset-controller"),
        "Normal",
        "SuccessfulCreate",
        f"create Pod {old.name} in StatefulSet {workload.name} successful",
    )
    pod = scene.cluster.new_pod(workload, scene.namespace, ordinal=int(old.name.rsplit("-", 1)[1]))
    pod.node = scene.pick([node for node in scene.cluster.nodes if node != old.node] or scene.cluster.nodes)
    pod.started_at = again + scene.rng.uniform(0.5, 2)
    scheduled(scene, pod, again + 0.3)
    add_procs(scene, pod)
    return pod


def stopped(proc: Proc) -> bool:
    """Whether the container's last run has ended."""
    return bool(proc.runs) and proc.runs[-1].end < FOREVER
