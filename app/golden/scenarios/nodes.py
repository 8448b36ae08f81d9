"""Scenarios where the cluster has no room: unschedulable pods and node resource pressure."""

from __future__ import annotations

import dataclasses

from app.golden.scenarios import formats as f
from app.golden.scenarios.lifecycle import (
    container_started,
    probe_failed,
    process_name,
    ready,
    shutdown,
    startup,
)
from app.golden.scenarios.noise import app_log, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.window import Pod, Window

# --- scheduling_failure ------------------------------------------------------------------------------


def _unschedulable(w: Window, pod: Pod, message: str, *, start: float = 5) -> None:
    scheduler = w.platform("kube-scheduler")
    # The scheduler says little when nothing else is being created.
    w.noise_weight(scheduler, 0.08)
    w.quiet(pod, 0)
    first = True
    # The scheduler tries as soon as the pod exists, then again with back-off.
    first_try = start + w.rng.uniform(0.2, 3)
    for at in [first_try, *w.spread(first_try + 30, w.duration_s - 3, w.rng.randint(1, 3))]:
        w.add(
            at,
            w.events(pod.namespace),
            f.kube_event("Warning", "FailedScheduling", f"pod/{pod.name}", message),
            evidence=first,
        )
        w.add(
            at - 0.01,
            scheduler,
            f.klog(
                "I",
                "schedule_one.go:1055",
                "Unable to schedule pod; no fit; waiting",
                component="kube-scheduler",
                pod=pod.ref,
                err=message,
            ),
            evidence=first and w.chance(0.5),
        )
        first = False


def _nodes(w: Window) -> int:
    return len(w.nodes)


@scenario("scheduling_failure")
def sched_insufficient_memory_taint(w: Window) -> Verdict:
    """FailedScheduling: insufficient memory on some nodes, an untolerated taint on the rest."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    total = _nodes(w)
    tainted = w.rng.randint(1, total - 1)
    taint = w.pick(
        ("{heavy: true}", "{dedicated: gpu}", "{node-role.kubernetes.io/control-plane: }", "{spot: true}")
    )
    message = f"0/{total} nodes are available: {total - tainted} Insufficient memory, {tainted} node(s) had untolerated taint {taint}. preemption: 0/{total} nodes are available: {total - tainted} No preemption victims found for incoming pod, {tainted} Preemption is not helpful for scheduling."
    _unschedulable(w, pod, message)
    return Verdict(
        f"{pod.name} stays Pending: no node has enough free memory and the others carry taint {taint}.",
        "warning",
    )


@scenario("scheduling_failure")
def sched_insufficient_cpu(w: Window) -> Verdict:
    """FailedScheduling: the CPU request fits no node."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    total = _nodes(w)
    short = w.rng.randint(1, total)
    rest = total - short
    parts = f"{short} Insufficient cpu" + (
        f", {rest} node(s) didn't match Pod's node affinity/selector" if rest else ""
    )
    message = (
        f"0/{total} nodes are available: {parts}. preemption: 0/{total} nodes are available: {short} No preemption victims found for incoming pod"
        + (f", {rest} Preemption is not helpful for scheduling." if rest else ".")
    )
    _unschedulable(w, pod, message)
    return Verdict(f"{pod.name} cannot be scheduled: its CPU request fits no node.", "warning")


@scenario("scheduling_failure")
def sched_unbound_pvc(w: Window) -> Verdict:
    """FailedScheduling: an unbound PVC whose StorageClass does not exist."""
    pod = w.stateful(w.pick(("postgres", "redis", "kafka")))
    w.crowd(pod, 1, 3)
    total = _nodes(w)
    claim = f"data-{pod.name}"
    storage_class = w.pick(("fast-ssd", "gp3-encrypted", "premium-rwo"))
    w.add(
        w.rng.uniform(3, 10),
        w.events(),
        f.kube_event(
            "Warning",
            "ProvisioningFailed",
            f"persistentvolumeclaim/{claim}",
            f'storageclass.storage.k8s.io "{storage_class}" not found',
        ),
        evidence=True,
    )
    message = f"0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    _unschedulable(w, pod, message)
    return Verdict(
        f"{pod.name} is Pending: PVC {claim} cannot be provisioned (StorageClass {storage_class} does not exist).",
        "warning",
    )


@scenario("scheduling_failure")
def sched_node_selector(w: Window) -> Verdict:
    """FailedScheduling: no node matches the node selector or affinity."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    total = _nodes(w)
    message = f"0/{total} nodes are available: {total} node(s) didn't match Pod's node affinity/selector. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    _unschedulable(w, pod, message)
    selector = w.pick(
        (
            "disktype=ssd",
            "topology.kubernetes.io/zone=eu-central-1c",
            "pool=highmem",
            "kubernetes.io/arch=arm64",
        )
    )
    return Verdict(f"{pod.name} is Pending: no node matches its node selector ({selector}).", "warning")


@scenario("scheduling_failure")
def sched_anti_affinity(w: Window) -> Verdict:
    """FailedScheduling: required pod anti-affinity leaves no node."""
    pod = w.app()
    w.app(replica_of=pod)
    w.crowd(pod, 0, 2)
    total = _nodes(w)
    message = f"0/{total} nodes are available: {total} node(s) didn't match pod anti-affinity rules. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    _unschedulable(w, pod, message)
    return Verdict(
        f"{pod.name} cannot be placed: required pod anti-affinity allows one replica per node and all {total} nodes have one.",
        "warning",
    )


@scenario("scheduling_failure")
def sched_gpu(w: Window) -> Verdict:
    """FailedScheduling: no free nvidia.com/gpu."""
    pod = w.app("python", app=w.pick(("embedder", "inference", "trainer", "ocr-worker")))
    w.crowd(pod, 1, 3)
    total = _nodes(w)
    message = f"0/{total} nodes are available: {total} Insufficient nvidia.com/gpu. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    _unschedulable(w, pod, message)
    return Verdict(f"{pod.name} requests a GPU but no node has a free nvidia.com/gpu.", "warning")


@scenario("scheduling_failure", "causal_chain")
def sched_hpa_pending_with_autoscaler(w: Window) -> Verdict:
    """The HPA scales up, the new pod stays Pending and the autoscaler is at its maximum."""
    pod = w.app()
    twin = w.app(replica_of=pod)
    pending = w.app(replica_of=pod)
    w.crowd(pod, 0, 1)
    w.noise_weight(pod, 2.0)
    w.noise_weight(twin, 2.0)
    for source in (pod, twin):
        for at in w.spread(10, w.duration_s - 5, 2):
            w.add(
                at,
                source,
                app_log(
                    w,
                    source,
                    "warn",
                    "slow request",
                    path=request_path(w, source.namespace),
                    duration_ms=w.rng.randint(1200, 4000),
                    threshold_ms=1000,
                ),
            )
    at = w.rng.uniform(10, 40)
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Normal",
            "SuccessfulRescale",
            f"horizontalpodautoscaler/{pod.app}",
            "New size: 3; reason: cpu resource utilization (percentage of request) above target",
        ),
    )
    total = _nodes(w)
    message = f"0/{total} nodes are available: {total} Insufficient cpu. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    _unschedulable(w, pending, message, start=at + 1)
    w.add(
        at + w.rng.uniform(10, 30),
        w.events(),
        f.kube_event(
            "Normal",
            "NotTriggerScaleUp",
            f"pod/{pending.name}",
            "pod didn't trigger scale-up: 1 max node group size reached",
        ),
        evidence=True,
    )
    return Verdict(
        f"The HPA scaled {pod.app} up but {pending.name} stays Pending: no CPU left and the node group is at its maximum size.",
        "warning",
    )


@scenario("scheduling_failure", "other_words")
def sched_volume_node_affinity(w: Window) -> Verdict:
    """After a node is removed, a StatefulSet pod hits a volume node affinity conflict."""
    pod = w.stateful(w.pick(("postgres", "redis", "kafka")))
    w.crowd(pod, 2, 3)
    total = _nodes(w)
    w.add(
        w.rng.uniform(3, 20),
        w.events("default"),
        f.kube_event(
            "Normal",
            "RemovingNode",
            f"node/{w.nodes[-1]}",
            f"Node {w.nodes[-1]} event: Removing Node {w.nodes[-1]} from Controller",
        ),
    )
    zone = w.pick(("eu-central-1a", "us-east-1b", "europe-west4-c"))
    message = f"0/{total} nodes are available: 1 node(s) had volume node affinity conflict, {total - 1} node(s) had untolerated taint {{node.kubernetes.io/unreachable: }}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    _unschedulable(w, pod, message, start=30)
    return Verdict(
        f"{pod.name} cannot be rescheduled: its volume is bound to zone {zone} where no schedulable node is left.",
        "warning",
    )


# --- node_resource_pressure --------------------------------------------------------------------------


def _reclaim(w: Window, node: str, at: float, resource: str, *, evidence: bool) -> None:
    kubelet = w.kubelet(node)
    if w.chance(0.5):
        w.add(
            at,
            kubelet,
            f.klog(
                "W",
                "eviction_manager.go:366",
                f"eviction manager: attempting to reclaim {resource}",
                pid=w.pid(node),
            ),
            evidence=evidence,
        )
    else:
        w.add(
            at,
            kubelet,
            f.klog(
                "I",
                "eviction_manager.go:366",
                "Eviction manager: attempting to reclaim",
                pid=w.pid(node),
                resourceName=resource,
            ),
            evidence=evidence,
        )
        w.add(
            at + 0.001,
            kubelet,
            f.klog(
                "I",
                "eviction_manager.go:377",
                "Eviction manager: must evict pod(s) to reclaim",
                pid=w.pid(node),
                resourceName=resource,
            ),
        )
    w.add(
        at + 0.2,
        w.events("default"),
        f.kube_event("Warning", "EvictionThresholdMet", f"node/{node}", f"Attempting to reclaim {resource}"),
        evidence=evidence,
    )


_USAGE = {
    "memory": lambda w: (
        f"Threshold quantity: 100Mi, available: {w.rng.randint(40000, 99000)}Ki",
        f"{w.rng.randint(600000, 2400000)}Ki",
        "512Mi",
    ),
    "ephemeral-storage": lambda w: (
        f"Threshold quantity: {w.rng.randint(2, 9)}{w.rng.randint(10, 99) * 10**7}, available: {w.rng.randint(1, 9)}{w.rng.randint(100, 999)}Ki",
        f"{w.rng.randint(4, 30)}{w.rng.randint(100000, 999999)}Ki",
        "0",
    ),
    "pids": lambda w: (
        f"Threshold quantity: {w.rng.randint(100, 500)}, available: {w.rng.randint(0, 90)}",
        f"{w.rng.randint(2000, 30000)}",
        "0",
    ),
}


def _evict(w: Window, pod: Pod, at: float, resource: str, *, evidence: bool) -> None:
    threshold, used, request = _USAGE[resource](w)
    if resource == "pids":
        message = f"The node was low on resource: pids. {threshold}."
    else:
        message = f"The node was low on resource: {resource}. {threshold}. Container {pod.container} was using {used}, request is {request}, has larger consumption of {resource}."
    w.event(at, pod, "Warning", "Evicted", message, evidence=evidence)
    w.event(at + 0.05, pod, "Normal", "Killing", f"Stopping container {pod.container}")
    w.block(at + 0.1, pod, shutdown(w, pod))
    w.add(
        at + w.rng.uniform(1, 3),
        w.kubelet(pod.node),
        f.klog(
            "I",
            "eviction_manager.go:616",
            "Eviction manager: pod is evicted successfully",
            pid=w.pid(pod.node),
            pod=pod.ref,
        ),
    )
    w.quiet(pod, at + 0.05)


def _same_node(w: Window, pods: list[Pod], node: str) -> list[Pod]:
    """The pods moved onto ``node`` (node pressure hits everything running there)."""
    moved = []
    for pod in pods:
        index = w.pods.index(pod)
        w.pods[index] = dataclasses.replace(pod, node=node)
        moved.append(w.pods[index])
    return moved


@scenario("node_resource_pressure")
def node_memory_eviction(w: Window) -> Verdict:
    """The kubelet reclaims memory and evicts pods from a node under memory pressure."""
    first = w.app()
    second = w.app()
    w.crowd(first, 0, 2)
    node = first.node
    first, second = _same_node(w, [first, second], node)
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    w.add(
        at - 2,
        w.events("default"),
        f.kube_event(
            "Normal",
            "NodeHasInsufficientMemory",
            f"node/{node}",
            f"Node {node} status is now: NodeHasInsufficientMemory",
        ),
    )
    _reclaim(w, node, at, "memory", evidence=True)
    _evict(w, first, at + w.rng.uniform(1, 3), "memory", evidence=True)
    if w.chance(0.6):
        _evict(w, second, at + w.rng.uniform(12, 30), "memory", evidence=False)
    return Verdict(
        f"Node {node} ran low on memory; the kubelet evicted {first.name} to reclaim it.", "critical"
    )


@scenario("node_resource_pressure")
def node_ephemeral_storage(w: Window) -> Verdict:
    """The kubelet evicts the largest ephemeral-storage user from a node under disk pressure."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    at = w.rng.uniform(w.duration_s * 0.2, w.duration_s * 0.6)
    w.add(
        at - 1,
        w.events("default"),
        f.kube_event(
            "Normal",
            "NodeHasDiskPressure",
            f"node/{pod.node}",
            f"Node {pod.node} status is now: NodeHasDiskPressure",
        ),
    )
    _reclaim(w, pod.node, at, "ephemeral-storage", evidence=True)
    _evict(w, pod, at + w.rng.uniform(1, 4), "ephemeral-storage", evidence=True)
    return Verdict(
        f"Node {pod.node} ran short of ephemeral storage; {pod.name}, the largest user, was evicted.",
        "warning",
    )


@scenario("node_resource_pressure")
def node_disk_pressure_image_gc(w: Window) -> Verdict:
    """Image garbage collection cannot free disk, then pods are evicted."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    node = pod.node
    at = w.rng.uniform(20, w.duration_s * 0.5)
    wanted = w.rng.randint(2_000_000_000, 9_000_000_000)
    w.add(
        at,
        w.kubelet(node),
        f.klog(
            "E",
            "kubelet.go:1562",
            "Image garbage collection failed multiple times in a row",
            pid=w.pid(node),
            err=f"failed to garbage collect required amount of images. Attempted to free {wanted} bytes, but only found 0 bytes eligible to free.",
        ),
        evidence=True,
    )
    w.add(
        at + 0.3,
        w.events("default"),
        f.kube_event(
            "Warning",
            "FreeDiskSpaceFailed",
            f"node/{node}",
            f"Failed to garbage collect required amount of images. Attempted to free {wanted} bytes, but only found 0 bytes eligible to free.",
        ),
    )
    _reclaim(w, node, at + w.rng.uniform(20, 60), "ephemeral-storage", evidence=False)
    _evict(w, pod, at + w.rng.uniform(62, 90), "ephemeral-storage", evidence=True)
    return Verdict(
        f"Node {node}'s disk is full and image GC cannot free space; the kubelet evicts pods such as {pod.name}.",
        "critical",
    )


@scenario("node_resource_pressure")
def node_pid_pressure(w: Window) -> Verdict:
    """A node runs out of PIDs: forks fail and a pod is evicted."""
    pod = w.app(w.pick(("python", "node")))
    w.crowd(pod, 1, 3)
    at = w.rng.uniform(w.duration_s * 0.2, w.duration_s * 0.6)
    w.add(
        at - 5,
        pod,
        app_log(
            w,
            pod,
            "error",
            "failed to spawn worker",
            error="fork/exec /usr/bin/convert: resource temporarily unavailable",
        ),
    )
    w.add(
        at - 1,
        w.events("default"),
        f.kube_event(
            "Normal",
            "NodeHasInsufficientPID",
            f"node/{pod.node}",
            f"Node {pod.node} status is now: NodeHasInsufficientPID",
        ),
        evidence=True,
    )
    _reclaim(w, pod.node, at, "pids", evidence=True)
    _evict(w, pod, at + w.rng.uniform(1, 4), "pids", evidence=False)
    return Verdict(
        f"Node {pod.node} is running out of process IDs; forks fail and the kubelet evicts {pod.name}.",
        "critical",
    )


@scenario("node_resource_pressure", "shared_symptom")
def node_multi_pod_eviction_sigterm(w: Window) -> Verdict:
    """Several apps only log SIGTERM; the kubelet lines show memory-pressure evictions."""
    pods = [w.app() for _ in range(w.rng.randint(2, 3))]
    w.crowd(pods[0], 0, 1)
    node = pods[0].node
    pods = _same_node(w, pods, node)
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    # The apps only see SIGTERM; the reason is in the kubelet and event lines.
    _reclaim(w, node, at, "memory", evidence=True)
    for index, pod in enumerate(pods):
        _evict(w, pod, at + 2 + index * w.rng.uniform(5, 20), "memory", evidence=index == 0)
    return Verdict(
        f"Memory pressure on {node} made the kubelet evict {len(pods)} pods; their graceful shutdowns are a consequence.",
        "critical",
    )


@scenario("node_resource_pressure", "other_words")
def node_system_oom(w: Window) -> Verdict:
    """A system-wide OOM kill (no memory cgroup), unlike a container hitting its own limit."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    node = pod.node
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    process = process_name(pod)
    pid = w.rng.randint(2000, 60000)
    w.add(
        at - 30,
        w.events("default"),
        f.kube_event(
            "Normal",
            "NodeHasInsufficientMemory",
            f"node/{node}",
            f"Node {node} status is now: NodeHasInsufficientMemory",
        ),
        evidence=True,
    )
    w.add(
        at,
        w.kernel(node),
        f.kernel(
            f"{process} invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=999"
        ),
    )
    # "Out of memory" without "Memory cgroup": the whole node ran out, not one container's limit.
    w.add(
        at + 0.002,
        w.kernel(node, "error"),
        f.kernel(
            f"Out of memory: Killed process {pid} ({process}) total-vm:{w.rng.randint(3, 9)}123456kB, anon-rss:{w.rng.randint(1, 3)}893872kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:6644kB oom_score_adj:999"
        ),
        evidence=True,
    )
    w.add(
        at + 1,
        w.events("default"),
        f.kube_event(
            "Warning",
            "SystemOOM",
            f"node/{node}",
            f"System OOM encountered, victim process: {process}, pid: {pid}",
        ),
        evidence=True,
    )
    w.quiet(pod, at, at + 15)
    restart = container_started(w, pod, at + w.rng.uniform(8, 14))
    w.block(restart + 0.5, pod, [*startup(w, pod), ready(w, pod)])
    return Verdict(
        f"Node {node} as a whole ran out of memory (system OOM, not a container limit); the kernel killed {process} in {pod.name}.",
        "critical",
    )


@scenario("node_resource_pressure", "causal_chain")
def node_pressure_before_restarts(w: Window) -> Verdict:
    """Memory pressure builds for minutes before an eviction; the replacement's probe blip is benign."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    replacement = w.app(replica_of=pod)
    w.ensure_duration(w.rng.uniform(480, 700))
    w.quiet(replacement, 0, 230)
    at = w.rng.uniform(20, 60)
    for offset in (0, 40, 90):
        w.add(
            at + offset,
            w.kubelet(pod.node),
            f.klog(
                "W",
                "eviction_manager.go:366",
                "eviction manager: attempting to reclaim memory",
                pid=w.pid(pod.node),
            ),
            evidence=offset == 0,
        )
    _evict(w, pod, at + 150 + w.rng.uniform(0, 20), "memory", evidence=True)
    started = container_started(w, replacement, at + 200, pulled=w.chance(0.5))
    w.block(started + 0.5, replacement, startup(w, replacement))
    probe_failed(
        w,
        replacement,
        started + 4,
        "Readiness",
        f'Get "http://{replacement.ip}:8080/readyz": dial tcp {replacement.ip}:8080: connect: connection refused',
    )
    w.add(started + 9, replacement, ready(w, replacement))
    return Verdict(
        f"Memory pressure on {pod.node} built up for minutes before {pod.name} was evicted; the replacement's brief probe failure is just its start-up.",
        "critical",
    )
