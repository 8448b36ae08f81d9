"""``volume_mount_failure``: a pod's volume cannot be attached or mounted, so its containers never start.

The kubelet's ``FailedMount`` ("MountVolume.SetUp failed ...", "Unable to attach or mount volumes")
and the attach/detach controller's ``FailedAttachVolume`` ("Multi-Attach error", a CSI call that times
out) are the whole story: the pod sits in ContainerCreating. When it is a datastore's pod, its clients
fail too, and that is a symptom.
"""

from __future__ import annotations

from app.golden.scenarios.common import (
    incident_start,
    prepare_postgres,
    want_redis,
    want_store,
    wanted,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.golden.schema import Severity
from app.logs.synthetic.cluster import Workload, new_uid, safe_suffix
from app.logs.synthetic.events import Reporter
from app.logs.synthetic.lifecycle import (
    begin_rollout,
    mount_failure_loop,
    reschedule_stateful_pod,
    schedule_failure_loop,
)
from app.logs.synthetic.scene import Scene

scenario = scenarios_of("volume_mount_failure")

_ATTACHER = Reporter("attachdetach-controller")


def _pvc(scene: Scene) -> str:
    return f"pvc-{new_uid(scene.rng)}"


def _stuck_rollout(
    scene: Scene,
    target: Workload,
    message: str,
    volume: str,
    *,
    reason: str = "FailedMount",
    reporter: Reporter | None = None,
) -> Severity:
    """Roll ``target``; its new pods wait for a volume that will not mount. Returns the severity."""
    recreate = scene.chance(0.25)
    pods = begin_rollout(scene, target, incident_start(scene, 0.1, 0.45), replace_all=recreate, start=False)
    for pod in pods:
        proc = next(item for item in scene.procs_of_pod(pod) if item.container is target.main)
        mount_failure_loop(
            scene,
            proc,
            pod.started_at + scene.rng.uniform(0.5, 2.5),
            message,
            volumes=volume,
            reason=reason,
            reporter=reporter,
        )
    return "critical" if recreate else "warning"


@scenario("volume.missing_object", ("configmap", "secret", "secret_key", "configmap_key"))
def missing_object(scene: Scene, variant: str) -> Verdict:
    """The release mounts a ConfigMap or Secret (or a key of one) that does not exist."""
    target = scene.pick(scene.with_role("api", "worker", "web"))
    volume = scene.pick(("config", "settings", "tls", "credentials"))
    name = f"{target.name}-{volume}-{scene.pick(('v2', safe_suffix(scene.rng, 5), 'prod'))}"
    message = {
        "configmap": f'MountVolume.SetUp failed for volume "{volume}" : configmap "{name}" not found',
        "secret": f'MountVolume.SetUp failed for volume "{volume}" : secret "{name}" not found',
        "secret_key": f'MountVolume.SetUp failed for volume "{volume}" : references non-existent secret key: {scene.pick(("tls.key", "password", "ca.crt", "credentials.json"))}',
        "configmap_key": f'MountVolume.SetUp failed for volume "{volume}" : configmap references non-existent config key: {scene.pick(("app.yaml", "nginx.conf", "settings.json", "logback.xml"))}',
    }[variant]
    severity = _stuck_rollout(scene, target, message, volume)
    return Verdict(
        f"New {target.name} pods stay in ContainerCreating: {message.split(' : ', 1)[1]}.", severity
    )


@scenario(
    "volume.multi_attach",
    ("postgres", "redis", "rabbitmq", "deployment"),
    hard_case="causal_chain",
    prepare=want_store,
)
def multi_attach(scene: Scene, variant: str) -> Verdict:
    """A pod moved to another node while its ReadWriteOnce volume is still attached to the old one."""
    pvc = _pvc(scene)
    if variant == "deployment":
        target = scene.pick(scene.with_role("api", "worker"))
        old_pods = list(target.pods)
        message = f'Multi-Attach error for volume "{pvc}" Volume is already used by pod(s) {", ".join(pod.name for pod in old_pods[:2])}'
        pods = begin_rollout(scene, target, incident_start(scene, 0.1, 0.4), start=False)
        for pod in pods:
            proc = next(item for item in scene.procs_of_pod(pod) if item.container is target.main)
            mount_failure_loop(
                scene,
                proc,
                pod.started_at + 0.5,
                message,
                volumes="data",
                reason="FailedAttachVolume",
                reporter=_ATTACHER,
            )
        return Verdict(
            f"The new {target.name} pod cannot start: its ReadWriteOnce volume {pvc} is still used by the old pods on another node (Multi-Attach).",
            "warning",
        )
    workload = wanted(scene, variant)
    pod = reschedule_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.4))
    message = f'Multi-Attach error for volume "{pvc}" Volume is already exclusively attached to one node and can\'t be attached to another'
    proc = next(item for item in scene.procs_of_pod(pod) if item.container is workload.main)
    mount_failure_loop(
        scene, proc, pod.started_at, message, volumes="data", reason="FailedAttachVolume", reporter=_ATTACHER
    )
    return Verdict(
        f"{pod.name} ({variant}) was moved to {pod.node} but its volume {pvc} is still attached to the old node (Multi-Attach); the pod cannot start and its clients fail.",
        "critical",
    )


@scenario("volume.attach_timeout", ("ebs", "longhorn"), hard_case="subtle", prepare=prepare_postgres)
def attach_timeout(scene: Scene, variant: str) -> Verdict:
    """The CSI driver cannot attach the database's volume to its new node."""
    workload = wanted(scene, "postgres")
    pod = reschedule_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.4))
    pvc = _pvc(scene)
    if variant == "ebs":
        message = f'AttachVolume.Attach failed for volume "{pvc}" : rpc error: code = DeadlineExceeded desc = context deadline exceeded'
    else:
        message = f'AttachVolume.Attach failed for volume "{pvc}" : rpc error: code = Aborted desc = volume {pvc} is not ready for workloads'
    proc = next(item for item in scene.procs_of_pod(pod) if item.container is workload.main)
    mount_failure_loop(
        scene,
        proc,
        pod.started_at + 5,
        message,
        volumes="data",
        reason="FailedAttachVolume",
        reporter=_ATTACHER,
    )
    return Verdict(
        f"The {variant} volume {pvc} of {pod.name} cannot be attached to {pod.node}; PostgreSQL does not start and its clients fail.",
        "critical",
    )


@scenario("volume.nfs_mount", ("access_denied", "timeout"), hard_case="other_words")
def nfs_mount(scene: Scene, variant: str) -> Verdict:
    """The release mounts an NFS export the server refuses or does not answer."""
    target = scene.pick(scene.with_role("api", "worker", "web"))
    server = f"10.{scene.rng.randint(0, 40)}.{scene.rng.randint(0, 255)}.{scene.rng.randint(2, 250)}"
    export = f"/exports/{scene.pick(('media', 'shared', 'reports', 'uploads'))}"
    output = (
        "mount.nfs: access denied by server while mounting"
        if variant == "access_denied"
        else "mount.nfs: Connection timed out"
    )
    path = f"/var/lib/kubelet/pods/{new_uid(scene.rng)}/volumes/kubernetes.io~nfs/shared"
    message = f'MountVolume.SetUp failed for volume "shared" : mount failed: exit status 32\nMounting command: mount\nMounting arguments: -t nfs {server}:{export} {path}\nOutput: {output}{" " + server + ":" + export if variant == "access_denied" else ""}'
    severity = _stuck_rollout(scene, target, message, "shared")
    return Verdict(
        f"New {target.name} pods cannot mount the NFS export {server}:{export} ({output.removeprefix('mount.nfs: ')}).",
        severity,
    )


@scenario("volume.rbd_map", ("",), hard_case="other_words", prepare=prepare_postgres)
def rbd_map(scene: Scene, variant: str) -> Verdict:
    """Ceph RBD cannot map the database's image on the node: MountDevice fails with a timeout from rbd."""
    workload = wanted(scene, "postgres")
    pod = reschedule_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.4))
    pvc = _pvc(scene)
    monitors = ",".join(f"10.0.{scene.rng.randint(0, 9)}.{scene.rng.randint(2, 250)}:6789" for _ in range(3))
    message = (
        f'MountVolume.MountDevice failed for volume "{pvc}" : rpc error: code = Internal desc = rbd: map failed with error an error '
        f"(exit status 110) occurred while running rbd args: [--id csi-rbd-node -m {monitors} --keyfile=***stripped*** map "
        f"replicapool/csi-vol-{new_uid(scene.rng)} --device-type krbd --options noudev], rbd error output: rbd: sysfs write failed\nrbd: map failed: (110) Connection timed out"
    )
    proc = next(item for item in scene.procs_of_pod(pod) if item.container is workload.main)
    mount_failure_loop(scene, proc, pod.started_at + 3, message, volumes="data")
    return Verdict(
        f"The Ceph RBD volume {pvc} of {pod.name} cannot be mapped on {pod.node}; the database does not start.",
        "critical",
    )


@scenario(
    "volume.bad_filesystem",
    ("",),
    hard_case="other_words",
    prepare=lambda spec, rng, variant: want_redis(spec, "namespace"),
)
def bad_filesystem(scene: Scene, variant: str) -> Verdict:
    """The block device's filesystem does not mount (wrong type or a damaged superblock)."""
    workload = wanted(scene, "redis")
    pod = reschedule_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.4))
    pvc = _pvc(scene)
    device = scene.pick(("/dev/nvme2n1", "/dev/xvdbc", "/dev/sdc"))
    mount = f"/var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com/{scene.hexid(64)}/globalmount"
    message = (
        f'MountVolume.MountDevice failed for volume "{pvc}" : rpc error: code = Internal desc = could not format "{device}" and mount it at '
        f'"{mount}": mount failed: exit status 32\nMounting command: mount\nMounting arguments: -t ext4 -o defaults {device} {mount}\n'
        f"Output: mount: {mount}: wrong fs type, bad option, bad superblock on {device}, missing codepage or helper program, or other error."
    )
    proc = next(item for item in scene.procs_of_pod(pod) if item.container is workload.main)
    mount_failure_loop(scene, proc, pod.started_at + 3, message, volumes="data")
    return Verdict(
        f"The volume {pvc} of {pod.name} does not mount ({device}: wrong fs type or bad superblock); Redis does not start.",
        "critical",
    )


@scenario("volume.csi_driver_missing", ("",))
def csi_driver_missing(scene: Scene, variant: str) -> Verdict:
    """The release mounts a secrets-store CSI volume on a cluster whose nodes run no such driver."""
    target = scene.pick(scene.with_role("api", "worker"))
    message = 'MountVolume.SetUp failed for volume "secrets-store" : kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name secrets-store.csi.k8s.io not found in the list of registered CSI drivers'
    severity = _stuck_rollout(scene, target, message, "secrets-store")
    return Verdict(
        f"New {target.name} pods cannot mount their secrets-store volume: the CSI driver is not registered on the nodes.",
        severity,
    )


@scenario("volume.claim_missing", ("",), hard_case="other_words")
def claim_missing(scene: Scene, variant: str) -> Verdict:
    """The release mounts a PersistentVolumeClaim that was never created: the scheduler cannot place the pod."""
    target = scene.pick(scene.with_role("api", "worker"))
    claim = f"{target.name}-{scene.pick(('uploads', 'data', 'cache', 'exports'))}"
    recreate = scene.chance(0.25)
    at = incident_start(scene, 0.1, 0.45)
    pods = begin_rollout(scene, target, at, replace_all=recreate, schedule=False, start=False)
    for index, pod in enumerate(pods):
        schedule_failure_loop(
            scene,
            pod,
            at + (20 if recreate else 0.2) + scene.rng.uniform(0.05, 0.5),
            f'persistentvolumeclaim "{claim}" not found',
            evidence=index == 0,
        )
    return Verdict(
        f"New {target.name} pods cannot start: the PersistentVolumeClaim {claim} they mount does not exist.",
        "critical" if recreate else "warning",
    )
