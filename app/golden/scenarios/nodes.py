"""Scenarios where the cluster has no room: unschedulable pods and node resource pressure."""

from __future__ import annotations

import dataclasses

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.lifecycle import (
    container_exited,
    container_started,
    probe_failed,
    probe_timeout_output,
    process_name,
    ready,
    shutdown,
    startup,
    terminated_report,
)
from app.golden.scenarios.noise import app_log, go_log, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import ingress_failure, refused
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


@scenario("scheduling_failure", "red_herring")
def sched_with_cross_class_decoys(w: Window) -> Verdict:
    """A pod stays Pending for lack of memory, next to routine image GC, a transient mount message and more."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    total = _nodes(w)
    resource = w.pick(("memory", "cpu"))
    message = f"0/{total} nodes are available: {total} Insufficient {resource}. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    _unschedulable(w, pod, message)
    spoken = add_decoys(
        w,
        "scheduling_failure",
        w.rng.randint(2, 3),
        prefer=("node_resource_pressure", "volume_mount_failure", "probe_failure"),
    )
    return Verdict(
        f"{pod.name} stays Pending: no node has enough free {resource}; {describe_decoys(spoken)} are not the cause.",
        "warning",
    )


@scenario("scheduling_failure", "causal_chain")
def sched_database_pending_clients_refused(w: Window) -> Verdict:
    """A node is replaced and the database pod cannot be placed again; its clients log refused connections."""
    db = w.stateful(w.pick(("postgres", "redis")))
    clients = [w.app(), w.app()] if w.chance(0.5) else [w.app()]
    w.crowd(clients[0], 0, 1)
    total = _nodes(w)
    host = f"{db.app}.{db.namespace}.svc.cluster.local"
    ip = w.service_ip()
    at = w.rng.uniform(15, w.duration_s * 0.3)
    gone = w.nodes[-1]
    w.add(
        at - 3,
        w.events("default"),
        f.kube_event(
            "Normal",
            "RemovingNode",
            f"node/{gone}",
            f"Node {gone} event: Removing Node {gone} from Controller",
        ),
    )
    w.event(at, db, "Normal", "Killing", f"Stopping container {db.container}")
    w.quiet(db, at + 0.5)
    size = w.pick(("8Gi", "12Gi", "16Gi"))
    message = f"0/{total} nodes are available: {total} Insufficient memory. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    _unschedulable(w, db, message, start=at + 1)
    store = "postgres" if db.runtime == "postgres" else "redis"
    first = True
    for client in clients:
        for moment in w.spread(at + 2, w.duration_s - 3, w.rng.randint(3, 4)):
            w.add(moment, client, refused(w, client, store, host, ip), evidence=first)
            first = False
    return Verdict(
        f"After {gone} was removed, {db.name} (requesting {size}) fits on no remaining node and stays Pending; its clients' refused connections are the consequence.",
        "critical",
    )


@scenario("scheduling_failure", "paraphrase")
def sched_predicate_paraphrase(w: Window) -> Verdict:
    """FailedScheduling for less common reasons: pod count, host ports, topology spread, volume limits."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    total = _nodes(w)
    reason, what = w.pick(
        (
            ("Too many pods", "every node is at its maximum pod count"),
            (
                "node(s) didn't have free ports for the requested pod ports",
                "its hostPort is taken on every node",
            ),
            (
                "node(s) didn't match pod topology spread constraints",
                "its topology spread constraint allows no node",
            ),
            ("node(s) exceed max volume count", "every node has reached its attachable-volume limit"),
            ("Insufficient ephemeral-storage", "no node has the ephemeral storage it requests"),
        )
    )
    message = f"0/{total} nodes are available: {total} {reason}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    _unschedulable(w, pod, message)
    return Verdict(f"{pod.name} stays Pending: {what}.", "warning")


@scenario("scheduling_failure", "subtle")
def sched_job_deadline_pending(w: Window) -> Verdict:
    """A CronJob's pod never gets a node; one aggregated FailedScheduling, then the Job hits its deadline."""
    app = w.app()
    job = w.pick(("nightly-report", "db-backup", "reindex", "invoice-run"))
    suffix = w.rng.randint(29_000_000, 29_999_999)
    pod = w.job(f"{job}-{suffix}", container=job)
    w.quiet(pod, 0)
    w.crowd(app, 1, 2)
    w.ensure_duration(w.rng.uniform(420, 700))
    total = _nodes(w)
    at = w.rng.uniform(10, 40)
    w.add(
        at,
        w.events(),
        f.kube_event("Normal", "SuccessfulCreate", f"cronjob/{job}", f"Created job {job}-{suffix}"),
    )
    w.add(
        at + 0.2,
        w.events(),
        f.kube_event("Normal", "SuccessfulCreate", f"job/{job}-{suffix}", f"Created pod: {pod.name}"),
    )
    message = f"0/{total} nodes are available: {total - 1} Insufficient cpu, 1 node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}. preemption: 0/{total} nodes are available: {total - 1} No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    w.add(
        at + 0.5,
        w.events(),
        f.kube_event("Warning", "FailedScheduling", f"pod/{pod.name}", message),
        evidence=True,
    )
    deadline = at + 300 + w.rng.uniform(0, 5)
    w.add(
        deadline,
        w.events(),
        f.kube_event(
            "Warning",
            "DeadlineExceeded",
            f"job/{job}-{suffix}",
            "Job was active longer than specified deadline",
        ),
        evidence=True,
    )
    w.add(
        deadline + 0.3,
        w.events(),
        f.kube_event("Normal", "SuccessfulDelete", f"job/{job}-{suffix}", f"Deleted pod: {pod.name}"),
    )
    return Verdict(
        f"The {job} CronJob's pod never got a node (insufficient CPU), so the Job hit its 5-minute deadline without running.",
        "warning",
    )


@scenario("scheduling_failure", "causal_chain")
def sched_scale_up_blocked_overload(w: Window) -> Verdict:
    """The HPA cannot add replicas (Pending, no room); the overloaded pods time out at the ingress and on probes."""
    pod = w.app()
    twin = w.app(replica_of=pod)
    pending = w.app(replica_of=pod)
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 0, 1)
    total = _nodes(w)
    at = w.rng.uniform(10, w.duration_s * 0.25)
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Normal",
            "SuccessfulRescale",
            f"horizontalpodautoscaler/{pod.app}",
            f"New size: {w.rng.randint(4, 8)}; reason: cpu resource utilization (percentage of request) above target",
        ),
    )
    message = f"0/{total} nodes are available: {total} Insufficient cpu. preemption: 0/{total} nodes are available: {total} No preemption victims found for incoming pod."
    _unschedulable(w, pending, message, start=at + 0.5)
    for moment in w.spread(at + 20, w.duration_s - 3, w.rng.randint(3, 5)):
        ingress_failure(
            w,
            ingress,
            w.pick((pod, twin)),
            moment,
            "upstream timed out (110: Connection timed out) while reading response header from upstream",
            status=504,
        )
    for moment in w.spread(at + 30, w.duration_s - 3, w.rng.randint(2, 3)):
        probe_failed(
            w,
            w.pick((pod, twin)),
            moment,
            "Readiness",
            probe_timeout_output(pod, "/readyz"),
            kubelet=w.chance(0.5),
        )
    return Verdict(
        f"The HPA wants more {pod.app} replicas but {pending.name} fits on no node (insufficient CPU); the running pods are overloaded, hence the 504s and readiness timeouts.",
        "critical",
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


def _node_condition(w: Window, node: str, at: float, condition: str, *, evidence: bool = False) -> None:
    w.add(
        at,
        w.events("default"),
        f.kube_event("Normal", condition, f"node/{node}", f"Node {node} status is now: {condition}"),
        evidence=evidence,
    )


@scenario("node_resource_pressure", "causal_chain")
def node_pressure_oomkilled_restarts(w: Window) -> Verdict:
    """A node runs out of memory: the kernel kills containers (reported OOMKilled, exit 137) and pods are evicted."""
    victim = w.app()
    evicted = w.app()
    w.crowd(victim, 0, 1)
    node = victim.node
    victim, evicted = _same_node(w, [victim, evicted], node)
    at = w.rng.uniform(w.duration_s * 0.25, w.duration_s * 0.5)
    _node_condition(w, node, at - 20, "NodeHasInsufficientMemory", evidence=True)
    process = process_name(victim)
    pid = w.rng.randint(2000, 60000)
    w.add(
        at,
        w.kernel(node, "error"),
        f.kernel(
            f"Out of memory: Killed process {pid} ({process}) total-vm:{w.rng.randint(2, 6)}123456kB, anon-rss:{w.rng.randint(1, 3)}456789kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:{w.rng.randint(2000, 9000)}kB oom_score_adj:{w.pick((985, 999))}"
        ),
        evidence=True,
    )
    w.quiet(victim, at - 0.5, at + 14)
    container_exited(w, victim, at + 0.1, 137)
    # The kernel counts the kill in the container's cgroup, so its status says OOMKilled although
    # it stayed under its own limit: the node as a whole ran out.
    terminated_report(w, victim, at + w.rng.uniform(1, 3), "OOMKilled", 137, restarts=w.rng.randint(1, 3))
    began = container_started(w, victim, at + w.rng.uniform(8, 12))
    w.block(began + 0.5, victim, startup(w, victim))
    _reclaim(w, node, at + w.rng.uniform(3, 8), "memory", evidence=False)
    _evict(w, evicted, at + w.rng.uniform(10, 20), "memory", evidence=True)
    return Verdict(
        f"Node {node} ran out of memory: the kernel killed {process} in {victim.name} (its status says OOMKilled, exit 137, though it was under its own limit) and the kubelet evicted {evicted.name}.",
        "critical",
    )


@scenario("node_resource_pressure", "other_words")
def node_disk_full_app_enospc(w: Window) -> Verdict:
    """The node's disk fills: apps writing to emptyDir get ENOSPC before the kubelet evicts a pod."""
    pod = w.app()
    writer = w.app()
    w.crowd(pod, 0, 1)
    node = pod.node
    pod, writer = _same_node(w, [pod, writer], node)
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    for index, moment in enumerate(w.spread(at - 40, at - 2, w.rng.randint(2, 3))):
        path = f"/scratch/upload-{w.hexid(8)}"
        if writer.runtime == "node":
            line = f.pino(
                50,
                "upload failed",
                writer.name,
                err={"code": "ENOSPC", "message": f"ENOSPC: no space left on device, write '{path}'"},
            )
        elif writer.runtime == "python":
            line = f.python_log(
                "ERROR",
                f"{writer.app.replace('-', '_')}.upload",
                f"OSError: [Errno 28] No space left on device: '{path}'",
            )
        elif writer.runtime == "jvm":
            line = f.spring(
                writer.app,
                "ERROR",
                f"nio-8080-exec-{w.rng.randint(1, 10)}",
                "c.e.app.upload.UploadService",
                "Upload failed: java.io.IOException: No space left on device",
            )
        else:
            line = go_log(
                writer,
                "error",
                "upload/store.go:54",
                "upload failed",
                error=f"write {path}: no space left on device",
            )
        w.add(moment, writer, line, evidence=index == 0)
    _node_condition(w, node, at, "NodeHasDiskPressure", evidence=True)
    _reclaim(w, node, at + 1, "ephemeral-storage", evidence=True)
    _evict(w, writer, at + w.rng.uniform(2, 6), "ephemeral-storage", evidence=False)
    return Verdict(
        f"Node {node}'s disk filled up: {writer.app}'s writes fail with 'no space left on device' and the kubelet evicts it under disk pressure.",
        "critical",
    )


@scenario("node_resource_pressure", "other_words")
def node_pid_exhaustion_thread_errors(w: Window) -> Verdict:
    """A node runs out of PIDs: threads cannot be created (Java says OutOfMemoryError) and a pod is evicted."""
    pod = w.app(w.pick(("jvm", "go", "python")))
    other = w.app()
    w.crowd(pod, 0, 1)
    node = pod.node
    pod, other = _same_node(w, [pod, other], node)
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    if pod.runtime == "jvm":
        lines = [
            f.spring(
                pod.app,
                "ERROR",
                "scheduling-1",
                "o.s.s.s.TaskUtils$LoggingErrorHandler",
                "Unexpected error occurred in scheduled task",
            ),
            f.jvm(
                "java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory or process/resource limits reached"
            ),
            f.jvm("\tat java.base/java.lang.Thread.start0(Native Method)"),
            f.jvm("\tat java.base/java.lang.Thread.start(Thread.java:1553)"),
        ]
        evidence: tuple[int, ...] = (1,)
    elif pod.runtime == "go":
        lines = [
            f.go_plain(
                f"runtime: failed to create new OS thread (have {w.rng.randint(9, 40)} already; errno=11)"
            ),
            f.go_plain("runtime: may need to increase max user processes (ulimit -u)"),
            f.go_plain("fatal error: newosproc"),
        ]
        evidence = (0,)
    else:
        lines = [
            f.python_log("ERROR", f"{pod.app.replace('-', '_')}.worker", "failed to start worker thread"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain('  File "/usr/local/lib/python3.12/threading.py", line 992, in start'),
            f.python_plain("    _start_new_thread(self._bootstrap, ())"),
            f.python_plain("RuntimeError: can't start new thread"),
        ]
        evidence = (4,)
    w.block(at - w.rng.uniform(5, 20), pod, lines, evidence=evidence)
    _node_condition(w, node, at, "NodeHasInsufficientPID", evidence=True)
    _reclaim(w, node, at + 1, "pids", evidence=True)
    _evict(w, other, at + w.rng.uniform(2, 6), "pids", evidence=False)
    return Verdict(
        f"Node {node} ran out of process IDs: {pod.app} cannot create threads (an OutOfMemoryError in Java's words, though memory is fine) and the kubelet evicts {other.name}.",
        "critical",
    )


@scenario("node_resource_pressure", "red_herring")
def node_pressure_with_cross_class_decoys(w: Window) -> Verdict:
    """A memory-pressure eviction next to an old OOMKilled, a pod waiting for the autoscaler and other decoys."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    node = pod.node
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s * 0.6)
    _node_condition(w, node, at - 2, "NodeHasInsufficientMemory")
    _reclaim(w, node, at, "memory", evidence=True)
    _evict(w, pod, at + w.rng.uniform(1, 4), "memory", evidence=True)
    spoken = add_decoys(
        w,
        "node_resource_pressure",
        w.rng.randint(2, 3),
        prefer=("oom_killed", "scheduling_failure", "image_pull_error"),
    )
    return Verdict(
        f"Node {node} ran low on memory and the kubelet evicted {pod.name}; {describe_decoys(spoken)} are not the cause.",
        "critical",
    )


@scenario("node_resource_pressure", "causal_chain")
def node_pressure_taint_blocks_replacement(w: Window) -> Verdict:
    """Every node is under memory pressure: a pod is evicted and its replacement cannot be placed (taints)."""
    pod = w.app()
    replacement = w.app(replica_of=pod)
    w.crowd(pod, 0, 1)
    w.quiet(replacement, 0)
    node = pod.node
    at = w.rng.uniform(w.duration_s * 0.2, w.duration_s * 0.45)
    offsets = [w.rng.uniform(5, 60) for _ in w.nodes]
    for name, offset in zip(w.nodes, offsets, strict=True):
        # The first node to report pressure is the one a reader cites.
        _node_condition(w, name, at - offset, "NodeHasInsufficientMemory", evidence=offset == max(offsets))
    _evict(w, pod, at, "memory", evidence=True)
    total = len(w.nodes)
    message = f"0/{total} nodes are available: {total} node(s) had untolerated taint {{node.kubernetes.io/memory-pressure: }}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    first = True
    for moment in [at + 1, *w.spread(at + 30, w.duration_s - 3, w.rng.randint(1, 2))]:
        w.add(
            moment,
            w.events(pod.namespace),
            f.kube_event("Warning", "FailedScheduling", f"pod/{replacement.name}", message),
            evidence=first,
        )
        first = False
    return Verdict(
        f"All {total} nodes are under memory pressure: the kubelet evicted {pod.name} from {node} and its replacement cannot be scheduled because every node carries the memory-pressure taint.",
        "critical",
    )
