"""``scheduling_failure``: pods stay Pending because no node fits them.

The scheduler says why in ``FailedScheduling`` ("0/5 nodes are available: 2 Insufficient cpu, ...");
the cluster autoscaler may add ``NotTriggerScaleUp``; a claim without a volume brings the persistent
volume controller's ``ProvisioningFailed``. A Pending database's clients fail, and that is a symptom.
"""

from __future__ import annotations

import random

from app.golden.scenarios.common import (
    failing_jobs,
    hpa_scale_up,
    incident_start,
    prepare_postgres,
    want_cron,
    want_postgres,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.golden.schema import Severity
from app.logs.synthetic.cluster import Workload, new_uid
from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.lifecycle import begin_rollout, create_pod, delete_pod, schedule_failure_loop
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec

scenario = scenarios_of("scheduling_failure")

_PREEMPT_NONE = "preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod."
_PREEMPT_USELESS = "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."


def _message(scene: Scene, reason: str) -> str:
    """The scheduler's FailedScheduling message for a reason, with counts for this cluster's nodes."""
    n = len(scene.cluster.nodes)
    split = scene.rng.randint(1, max(1, n - 1))
    texts = {
        "cpu": (f"{n} Insufficient cpu", _PREEMPT_NONE),
        "memory": (f"{n} Insufficient memory", _PREEMPT_NONE),
        "cpu_memory": (f"{split} Insufficient cpu, {n - split} Insufficient memory", _PREEMPT_NONE),
        "gpu": (f"{n} Insufficient nvidia.com/gpu", _PREEMPT_USELESS),
        "selector": (f"{n} node(s) didn't match Pod's node affinity/selector", _PREEMPT_USELESS),
        "taint": (
            f"1 node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}, {n - 1} node(s) had untolerated taint {{dedicated: batch}}",
            _PREEMPT_USELESS,
        ),
        "anti_affinity": (f"{n} node(s) didn't match pod anti-affinity rules", _PREEMPT_USELESS),
        "spread": (
            f"{split} node(s) didn't match pod topology spread constraints, {n - split} Insufficient cpu",
            _PREEMPT_USELESS,
        ),
        "unbound": ("pod has unbound immediate PersistentVolumeClaims", _PREEMPT_USELESS),
        "volume_affinity": (
            f"1 node(s) had volume node affinity conflict, {n - 1} node(s) didn't match Pod's node affinity/selector",
            _PREEMPT_USELESS,
        ),
        "pods": (f"{n} Too many pods", _PREEMPT_NONE),
        "ports": (f"{n} node(s) didn't have free ports for the requested pod ports", _PREEMPT_USELESS),
    }
    head, preemption = texts[reason]
    return f"0/{n} nodes are available: {head}. {preemption.format(n=n)}"


def _scale_up(scene: Scene, target: Workload, at: float, count: int) -> list:
    """An HPA adding replicas: its event, the Deployment scaling, and the new pods (not yet placed)."""
    hpa = ObjectRef("HorizontalPodAutoscaler", target.name, new_uid(scene.rng), "autoscaling/v2")
    return hpa_scale_up(scene, target, hpa, at, count, schedule=False)


def _pending(scene: Scene, pods: list, message: str, at: float) -> None:
    """The scheduler trying each new pod within a second of its creation, and failing."""
    for index, pod in enumerate(pods):
        schedule_failure_loop(
            scene, pod, at + scene.rng.uniform(0.01, 0.6) + index * 0.01, message, evidence=index == 0
        )


def _prepare_kind(spec: StackSpec, rng: random.Random, variant: str) -> None:
    kind = variant.split(".")[-1]
    if kind == "statefulset":
        want_postgres(spec, "namespace", bouncer=False)
    elif kind == "cronjob":
        want_cron(spec, rng.choice(("go", "jvm", "python", "node")))


@scenario(
    "sched.insufficient",
    (
        "cpu.deployment",
        "memory.deployment",
        "cpu.statefulset",
        "memory.statefulset",
        "cpu_memory.cronjob",
        "memory.cronjob",
    ),
    prepare=_prepare_kind,
)
def insufficient(scene: Scene, variant: str) -> Verdict:
    """No node has the CPU or memory the pod requests."""
    reason, kind = variant.split(".")
    message = _message(scene, reason)
    start = incident_start(scene, 0.1, 0.45)
    if kind == "deployment":
        target = scene.pick(scene.with_role("api", "worker"))
        pods = _scale_up(scene, target, start, scene.rng.randint(1, 3))
        _pending(scene, pods, message, start + 0.3)
        return Verdict(
            f"The HPA scaled {target.name} up but its new pods stay Pending: {message.split('. preemption')[0]}.",
            "warning",
        )
    if kind == "statefulset":
        target = wanted(scene, "postgres")
        old = target.pods[0]
        delete_pod(scene, old, start)
        target.pods.remove(old)
        scene.event(
            start + 3,
            target.ref,
            Reporter("statefulset-controller"),
            "Normal",
            "SuccessfulCreate",
            f"create Pod {old.name} in StatefulSet {target.name} successful",
        )
        pod = scene.cluster.new_pod(target, scene.namespace, ordinal=0)
        _pending(scene, [pod], message, start + 3)
        return Verdict(
            f"{pod.name} was rescheduled (its node drained) and stays Pending: {message.split('. preemption')[0]}; its clients cannot reach the database.",
            "critical",
        )
    cron = wanted(scene, "cron")
    first = {"done": False}

    def attempt(job: ObjectRef, at: float) -> tuple[str, float]:
        pod = create_pod(scene, cron, at, job=job, schedule=False, start=False)
        schedule_failure_loop(
            scene, pod, at + scene.rng.uniform(0.01, 0.6), message, evidence=not first["done"]
        )
        first["done"] = True
        return "pending", scene.duration + 1

    failing_jobs(scene, cron, start, attempt)
    return Verdict(
        f"Pods of the {cron.name} CronJob stay Pending and its runs do not happen: {message.split('. preemption')[0]}.",
        "warning",
    )


def _one_pending(scene: Scene, reason: str, *, rollout: bool = True) -> tuple[Workload, str, Severity, float]:
    """A rollout (or a scale-up) whose new pods do not fit; returns the target, message, severity and when."""
    target = scene.pick(scene.with_role("api", "worker"))
    message = _message(scene, reason)
    start = incident_start(scene, 0.1, 0.45)
    if rollout:
        recreate = scene.chance(0.25)
        pods = begin_rollout(scene, target, start, replace_all=recreate, schedule=False, start=False)
        _pending(scene, pods, message, start + (20 if recreate else 0.2))
        return target, message, "critical" if recreate else "warning", start
    pods = _scale_up(scene, target, start, scene.rng.randint(1, 2))
    _pending(scene, pods, message, start + 0.3)
    return target, message, "warning", start


@scenario(
    "sched.constraint",
    ("selector", "taint", "anti_affinity", "spread", "gpu", "pods", "ports", "volume_affinity"),
)
def constraint(scene: Scene, reason: str) -> Verdict:
    """The release's placement rules (selector, tolerations, affinity, spread, GPUs, host ports) fit no node."""
    target, message, severity, _start = _one_pending(scene, reason, rollout=reason not in ("pods",))
    return Verdict(f"New {target.name} pods stay Pending: {message.split('. preemption')[0]}.", severity)


@scenario("sched.autoscaler_max", ("",), hard_case="subtle")
def autoscaler_max(scene: Scene, variant: str) -> Verdict:
    """The cluster autoscaler would add a node, but its node group is at its maximum size."""
    target, message, severity, start = _one_pending(scene, "cpu_memory", rollout=False)
    for pod in target.pods[-2:]:
        at = start + scene.rng.uniform(8, 15)
        while at < scene.duration:
            scene.event(
                at,
                pod.ref,
                Reporter("cluster-autoscaler"),
                "Normal",
                "NotTriggerScaleUp",
                f"pod didn't trigger scale-up: {scene.rng.randint(1, 2)} max node group size reached",
                evidence=True,
            )
            at += scene.rng.uniform(60, 120)
    return Verdict(
        f"New {target.name} pods stay Pending ({message.split('. preemption')[0]}) and the autoscaler cannot add nodes: max node group size reached.",
        severity,
    )


@scenario(
    "sched.unbound_claim",
    ("storageclass_missing", "provisioner_denied"),
    hard_case="causal_chain",
    prepare=prepare_postgres,
)
def unbound_claim(scene: Scene, variant: str) -> Verdict:
    """A new database replica's claim never gets a volume: the pod has an unbound PVC and stays Pending."""
    target = wanted(scene, "postgres")
    start = incident_start(scene, 0.1, 0.45)
    target.replicas += 1
    scene.event(
        start,
        target.ref,
        Reporter("statefulset-controller"),
        "Normal",
        "SuccessfulCreate",
        f"create Claim data-{target.name}-1 Pod {target.name}-1 in StatefulSet {target.name} success",
    )
    scene.event(
        start + 0.05,
        target.ref,
        Reporter("statefulset-controller"),
        "Normal",
        "SuccessfulCreate",
        f"create Pod {target.name}-1 in StatefulSet {target.name} successful",
    )
    pod = scene.cluster.new_pod(target, scene.namespace, ordinal=1)
    claim = ObjectRef("PersistentVolumeClaim", f"data-{target.name}-1", new_uid(scene.rng))
    _pending(scene, [pod], _message(scene, "unbound"), start + 0.1)
    at = start + 0.2
    first = True
    while at < scene.duration:
        if variant == "storageclass_missing":
            scene.event(
                at,
                claim,
                Reporter("persistentvolume-controller"),
                "Warning",
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{scene.pick(("fast-ssd", "premium-rwo", "gp3-encrypted"))}" not found',
                evidence=first,
            )
        else:
            provisioner = Reporter(
                f"ebs.csi.aws.com_ebs-csi-controller-{scene.hexid(9)}-{scene.hexid(5)}_{new_uid(scene.rng)}"
            )
            scene.event(
                at,
                claim,
                provisioner,
                "Warning",
                "ProvisioningFailed",
                f'failed to provision volume with StorageClass "gp3": rpc error: code = Internal desc = Could not create volume "pvc-{new_uid(scene.rng)}": could not create volume in EC2: UnauthorizedOperation: You are not authorized to perform this operation.',
                evidence=first,
            )
        first = False
        at += min(300.0, scene.rng.uniform(15, 60) * (1.5 if not first else 1))
    return Verdict(
        f"The new {pod.name} replica stays Pending: its claim data-{pod.name} is not bound ({variant.replace('_', ' ')}).",
        "warning",
    )
