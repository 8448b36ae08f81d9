"""Scenarios where the platform cannot start a container: image pulls and volume mounts that fail."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys
from app.golden.scenarios.lifecycle import (
    back_off_seconds,
    image_of,
    image_parts,
    sync_error,
)
from app.golden.scenarios.noise import herring
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import refused
from app.golden.scenarios.window import Pod, Window

# --- image_pull_error --------------------------------------------------------------------------------


def _pull_loop(
    w: Window, pod: Pod, image: str, error: str, *, start: float | None = None, containerd: bool = True
) -> None:
    """Pull, fail, back off, again: the kubelet's retries for an image that cannot be pulled."""
    w.quiet(pod, 0)
    at = start if start is not None else w.rng.uniform(5, 40)
    attempt = 0
    while at < w.duration_s - 8 and attempt < 5:
        first = attempt == 0
        w.event(at, pod, "Normal", "Pulling", f'Pulling image "{image}"')
        if containerd:
            w.add(
                at + 0.4,
                w.runtime(pod.node),
                f.containerd("error", f'PullImage "{image}" failed', error=error),
                evidence=first,
            )
        w.event(
            at + 0.45, pod, "Warning", "Failed", f'Failed to pull image "{image}": {error}', evidence=first
        )
        w.event(at + 0.46, pod, "Warning", "Failed", "Error: ErrImagePull")
        sync_error(w, pod, at + 0.47, "ErrImagePull", error)
        back = at + w.rng.uniform(1, 3)
        w.event(back, pod, "Normal", "BackOff", f'Back-off pulling image "{image}"')
        w.event(
            back + 0.01,
            pod,
            "Warning",
            "Failed",
            "Error: ImagePullBackOff",
            evidence=first and not containerd,
        )
        sync_error(w, pod, back + 0.02, "ImagePullBackOff", f'Back-off pulling image \\"{image}\\"')
        at = back + back_off_seconds(attempt) + w.rng.uniform(1, 5)
        attempt += 1


def _bumped(image: str, suffix: str) -> str:
    registry, repository, _tag = image_parts(image)
    return f"{registry}/{repository}:{suffix}"


@scenario("image_pull_error")
def pull_tag_not_found(w: Window) -> Verdict:
    """ErrImagePull and back-off for a tag that does not exist."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    tag = w.pick(("v2.0.0", "latest-stable", "v1.13.0-rc1", "sha-3f9c2e1", "release-2026-11"))
    image = _bumped(image_of(pod), tag)
    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: not found'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name} cannot start: tag {tag} of {image.rsplit(':', 1)[0]} does not exist.", "warning"
    )


@scenario("image_pull_error")
def pull_unauthorized(w: Window) -> Verdict:
    """The registry refuses the pull without valid credentials (401 or access denied)."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    image = image_of(pod)
    registry, repository, tag = image_parts(image)
    if w.chance(0.5):
        error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed'
    else:
        error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": unexpected status from HEAD request to https://{registry}/v2/{repository}/manifests/{tag}: 401 Unauthorized'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name} cannot pull {image}: the registry {registry} refuses it without valid pull credentials.",
        "warning",
    )


@scenario("image_pull_error")
def pull_registry_timeout(w: Window) -> Verdict:
    """The registry does not answer (i/o timeout) while pulling."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    image = image_of(pod)
    registry, repository, tag = image_parts(image)
    error = f'rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": failed to do request: Head "https://{registry}/v2/{repository}/manifests/{tag}": dial tcp 10.{w.rng.randint(0, 40)}.{w.rng.randint(0, 255)}.{w.rng.randint(2, 254)}:443: i/o timeout'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name} cannot pull {image}: the registry {registry} does not answer (i/o timeout).", "warning"
    )


@scenario("image_pull_error", "other_words")
def pull_registry_dns(w: Window) -> Verdict:
    """The node cannot resolve the registry host; still an image pull error by rule."""
    pod = w.app()
    w.crowd(pod, 2, 3)
    registry = w.pick(("harbor.internal", "registry.corp.example", "nexus.build.local"))
    image = f"{registry}/{pod.namespace}/{pod.app}:{image_parts(image_of(pod))[2]}"
    _, repository, tag = image_parts(image)
    error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": failed to do request: Head "https://{registry}/v2/{repository}/manifests/{tag}": dial tcp: lookup {registry} on 10.0.0.2:53: no such host'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name}'s image cannot be pulled: the node cannot resolve the registry host {registry}.",
        "warning",
    )


@scenario("image_pull_error")
def pull_rate_limited(w: Window) -> Verdict:
    """Docker Hub's pull rate limit (429 toomanyrequests)."""
    pod = w.app(app=w.pick(("redis-cache", "nginx-proxy", "busybox-init", "memcached")))
    w.crowd(pod, 1, 3)
    name = pod.app.split("-")[0]
    image = f"docker.io/library/{name}:{w.pick(('7.2', '1.27', 'latest', '1.6'))}"
    error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/{name}/manifests/sha256:{w.hexid(64)}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name} cannot pull {image}: Docker Hub's anonymous pull rate limit is reached (429).", "warning"
    )


@scenario("image_pull_error", "subtle")
def pull_rollout_partial(w: Window) -> Verdict:
    """A rollout's new pod cannot pull its image while the old pods keep serving."""
    old = w.app()
    twin = w.app(replica_of=old)
    new = w.app(old.runtime, app=old.app, container=old.container)
    w.crowd(old, 0, 1)
    w.noise_weight(old, 2.5)
    w.noise_weight(twin, 2.5)
    tag = w.pick(("v2.4.0", "v3.0.1", "1.19.0"))
    image = _bumped(image_of(old), tag)
    at = w.rng.uniform(20, 60)
    w.add(
        at - 15,
        w.events(),
        f.kube_event(
            "Normal",
            "ScalingReplicaSet",
            f"deployment/{old.app}",
            f"Scaled up replica set {new.name.rsplit('-', 1)[0]} to 1",
        ),
    )
    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: not found'
    # Only the first attempt shows the registry's answer; after that, only back-off events.
    _pull_loop(w, new, image, error, start=at, containerd=w.chance(0.5))
    return Verdict(
        f"The rollout of {old.app} is stuck: the new pod {new.name} cannot pull {image} (not found); old pods still serve.",
        "warning",
    )


@scenario("image_pull_error")
def pull_platform_mismatch(w: Window) -> Verdict:
    """The image has no manifest for the node's platform."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    image = image_of(pod)
    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": no match for platform in manifest: not found'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{image} has no manifest for the node's platform (built for another architecture), so {pod.name} cannot pull it.",
        "warning",
    )


@scenario("image_pull_error", "red_herring")
def pull_error_with_startup_probe_herring(w: Window) -> Verdict:
    """One pod cannot pull its image while another Deployment's new pod fails readiness during start-up."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    tag = w.pick(("v2.0.0", "v1.14.2", "sha-9c1e2f7", "2026.11.3"))
    image = _bumped(image_of(pod), tag)
    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: not found'
    _pull_loop(w, pod, image, error, containerd=w.chance(0.5))
    spoken = add_decoys(
        w, "image_pull_error", w.rng.randint(2, 3), prefer=("probe_failure", "crash_config_error")
    )
    return Verdict(
        f"{pod.name} cannot start: tag {tag} of its image does not exist; {describe_decoys(spoken)} are not the cause.",
        "warning",
    )


@scenario("image_pull_error", "other_words")
def pull_registry_x509(w: Window) -> Verdict:
    """The node does not trust the private registry's CA: an x509 error, but the pull is what fails."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    registry = w.pick(("harbor.internal", "registry.corp.example", "nexus.build.local:8443"))
    image = f"{registry}/{pod.namespace}/{pod.app}:{image_parts(image_of(pod))[2]}"
    _, repository, tag = image_parts(image)
    error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": failed to do request: Head "https://{registry}/v2/{repository}/manifests/{tag}": tls: failed to verify certificate: x509: certificate signed by unknown authority'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name}'s image cannot be pulled: the node does not trust the CA of registry {registry} (x509 unknown authority).",
        "warning",
    )


@scenario("image_pull_error", "other_words")
def pull_forbidden_token(w: Window) -> Verdict:
    """The registry answers 403 Forbidden to the node's token: a permission error, but the pull is what fails."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    tag = image_parts(image_of(pod))[2]
    if w.chance(0.5):
        registry = "europe-docker.pkg.dev"
        repository = f"acme-prod/{pod.namespace}/{pod.app}"
        image = f"{registry}/{repository}:{tag}"
        scope = repository.replace("/", "%2F")
        error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://{registry}/v2/token?scope=repository%3A{scope}%3Apull&service={registry}: 403 Forbidden'
    else:
        registry = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
        image = f"{registry}/{pod.app}:{tag}"
        error = f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": unexpected status from HEAD request to https://{registry}/v2/{pod.app}/manifests/{tag}: 403 Forbidden'
    _pull_loop(w, pod, image, error)
    return Verdict(
        f"{pod.name} cannot pull {image}: the registry refuses the node's credentials (403 Forbidden).",
        "warning",
    )


@scenario("image_pull_error", "causal_chain")
def pull_stuck_rollout_flux_timeout(w: Window) -> Verdict:
    """A rollout's image cannot be pulled; five minutes later Flux reports a failed health check."""
    old = w.app()
    new = w.app(old.runtime, app=old.app, container=old.container)
    flux = w.platform("flux")
    w.crowd(old, 0, 1)
    w.noise_weight(old, 2.0)
    w.ensure_duration(w.rng.uniform(520, 700))
    tag = w.pick(("v2.4.0", "v3.0.1", "1.19.0", "sha-4be7c19"))
    image = _bumped(image_of(old), tag)
    revision = f"main@sha1:{w.hexid(40)}"
    applied = w.rng.uniform(10, 40)
    w.add(
        applied,
        flux,
        f.flux_applied(old.namespace, {f"Deployment/{old.namespace}/{old.app}": "configured"}, revision),
    )
    error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": failed to resolve reference "{image}": {image}: not found'
    _pull_loop(w, new, image, error, start=applied + w.rng.uniform(3, 8), containerd=w.chance(0.5))
    w.add(
        applied + 300 + w.rng.uniform(1, 20),
        flux,
        f.flux(
            "error",
            "kustomization",
            "Kustomization",
            old.namespace,
            f"Reconciliation failed after 5m{w.rng.uniform(0.1, 2):.1f}s, next try in 10m0s",
            error=f"health check failed after 5m0.01s: timeout waiting for: [Deployment/{old.namespace}/{old.app} status: 'InProgress']",
            revision=revision,
        ),
        evidence=True,
    )
    return Verdict(
        f"Flux applied {old.app} with tag {tag}, which does not exist; the new pod never pulls it, so Flux's health check times out five minutes later.",
        "warning",
    )


@scenario("image_pull_error", "paraphrase")
def pull_invalid_reference(w: Window) -> Verdict:
    """A templated image reference is malformed (uppercase, trailing space): InvalidImageName, no pull at all."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    w.quiet(pod, 0)
    registry, repository, tag = image_parts(image_of(pod))
    owner, _, name = repository.rpartition("/")
    if w.chance(0.5) and owner:
        bad = f"{registry}/{owner.upper()}/{name}:{tag}"
        reason = f"invalid reference format: repository name ({owner.upper()}/{name}) must be lowercase"
    else:
        bad = f"{registry}/{repository}:{tag} "
        reason = "invalid reference format"
    detail = f'Failed to apply default image tag "{bad}": couldn\'t parse image name "{bad}": {reason}'
    first = True
    for at in [w.rng.uniform(5, 30), *w.spread(40, w.duration_s - 5, w.rng.randint(2, 4))]:
        w.event(at, pod, "Warning", "InspectFailed", detail, evidence=first)
        w.event(at + 0.01, pod, "Warning", "Failed", "Error: InvalidImageName")
        sync_error(w, pod, at + 0.02, "InvalidImageName", detail)
        first = False
    return Verdict(
        f"{pod.name} cannot start: its image reference {bad.strip()!r} is malformed ({reason}), so the kubelet never pulls it.",
        "warning",
    )


# --- volume_mount_failure ----------------------------------------------------------------------------


def _mount_failed(
    w: Window,
    pod: Pod,
    at: float,
    volume: str,
    plugin: str,
    reason: str,
    *,
    evidence: bool,
    operation: str = "MountVolume.SetUp",
) -> None:
    w.event(
        at,
        pod,
        "Warning",
        "FailedMount",
        f'{operation} failed for volume "{volume}" : {reason}',
        evidence=evidence,
    )
    unique = f"kubernetes.io/{plugin}/{pod.uid}-{volume}"
    retry = w.clock(at + 122)
    message = f'Operation for "{{volumeName:{unique} podName:{pod.uid} nodeName:}}" failed. No retries permitted until {retry} (durationBeforeRetry 2m2s). Error: {operation} failed for volume "{volume}" (UniqueName: "{unique}") pod "{pod.name}" (UID: "{pod.uid}") : {reason}'
    w.add(
        at + 0.01,
        w.kubelet(pod.node),
        f.klog("E", "nestedpendingoperations.go:348", message, pid=w.pid(pod.node)),
    )


def _unable_to_mount(w: Window, pod: Pod, at: float, volume: str, *, evidence: bool = False) -> None:
    token = w.token_volume()
    w.event(
        at,
        pod,
        "Warning",
        "FailedMount",
        f"Unable to attach or mount volumes: unmounted volumes=[{volume}], unattached volumes=[{volume} {token}]: timed out waiting for the condition",
        evidence=evidence,
    )


def _stuck_mounting(
    w: Window,
    pod: Pod,
    volume: str,
    plugin: str,
    reason: str,
    start: float | None = None,
    *,
    operation: str = "MountVolume.SetUp",
) -> None:
    w.quiet(pod, 0)
    at = start if start is not None else w.rng.uniform(5, 40)
    w.event(at - 1, pod, "Normal", "Scheduled", f"Successfully assigned {pod.ref} to {pod.node}")
    first = True
    while at < w.duration_s - 5:
        _mount_failed(w, pod, at, volume, plugin, reason, evidence=first, operation=operation)
        first = False
        if at + 120 < w.duration_s - 5:
            _unable_to_mount(w, pod, at + 120 + w.rng.uniform(0, 2), volume)
        at += 122 + w.rng.uniform(0, 3)


@scenario("volume_mount_failure")
def vol_configmap_missing(w: Window) -> Verdict:
    """FailedMount: a ConfigMap volume's ConfigMap does not exist."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    volume = w.pick(("config", "app-config", "settings"))
    name = f"{pod.app}-{w.pick(('config', 'settings', 'env'))}"
    _stuck_mounting(w, pod, volume, "configmap", f'configmap "{name}" not found')
    return Verdict(
        f"{pod.name} stays in ContainerCreating: its volume {volume} needs ConfigMap {name}, which does not exist.",
        "warning",
    )


@scenario("volume_mount_failure")
def vol_secret_missing(w: Window) -> Verdict:
    """FailedMount: a Secret volume's Secret does not exist."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    volume = w.pick(("tls", "credentials", "certs", "db-secret"))
    name = f"{pod.app}-{w.pick(('tls', 'credentials', 'secrets'))}"
    _stuck_mounting(w, pod, volume, "secret", f'secret "{name}" not found')
    return Verdict(f"{pod.name} cannot start: Secret {name} for volume {volume} does not exist.", "warning")


@scenario("volume_mount_failure")
def vol_multi_attach(w: Window) -> Verdict:
    """Multi-Attach error: a ReadWriteOnce volume is still used by the old pod."""
    pod = w.app()
    old = w.app(replica_of=pod)
    w.crowd(pod, 0, 2)
    w.quiet(pod, 0)
    pvc = f"pvc-{w.uuid()}"
    first = True
    for at in w.spread(10, w.duration_s - 5, w.rng.randint(2, 4)):
        w.add(
            at,
            w.events(),
            f.kube_event(
                "Warning",
                "FailedAttachVolume",
                f"pod/{pod.name}",
                f'Multi-Attach error for volume "{pvc}" Volume is already used by pod(s) {old.name}',
            ),
            evidence=first,
        )
        first = False
    _unable_to_mount(w, pod, w.duration_s - w.rng.uniform(3, 20), "data")
    return Verdict(
        f"{pod.name} cannot attach its ReadWriteOnce volume {pvc}: it is still attached to {old.name} on another node.",
        "warning",
    )


@scenario("volume_mount_failure")
def vol_csi_driver_missing(w: Window) -> Verdict:
    """MountDevice fails: the CSI driver is not registered on the node."""
    pod = w.stateful(w.pick(("postgres", "redis")))
    w.crowd(pod, 2, 3)
    w.quiet(pod, 0)
    pvc = f"pvc-{w.uuid()}"
    driver = w.pick(
        ("ebs.csi.aws.com", "pd.csi.storage.gke.io", "driver.longhorn.io", "rook-ceph.rbd.csi.ceph.com")
    )
    first = True
    for at in w.spread(10, w.duration_s - 5, w.rng.randint(2, 4)):
        message = f'MountVolume.MountDevice failed for volume "{pvc}" : kubernetes.io/csi: attacher.MountDevice failed to create newCsiDriverClient: driver name {driver} not found in the list of registered CSI drivers'
        w.event(at, pod, "Warning", "FailedMount", message, evidence=first)
        first = False
    return Verdict(
        f"{pod.name}'s volume cannot be mounted: the CSI driver {driver} is not registered on {pod.node}.",
        "critical",
    )


@scenario("volume_mount_failure")
def vol_nfs_timeout(w: Window) -> Verdict:
    """An NFS mount times out."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    server = f"10.0.{w.rng.randint(1, 20)}.{w.rng.randint(2, 250)}"
    volume = w.pick(("shared", "uploads", "media"))
    reason = f"mount failed: exit status 32\nMounting command: mount\nMounting arguments: -t nfs {server}:/exports/{volume} /var/lib/kubelet/pods/{pod.uid}/volumes/kubernetes.io~nfs/{volume}\nOutput: mount.nfs: Connection timed out"
    _stuck_mounting(w, pod, volume, "nfs", reason)
    return Verdict(
        f"{pod.name} cannot mount NFS volume {volume}: the server {server} does not answer.", "warning"
    )


@scenario("volume_mount_failure", "causal_chain")
def vol_attach_timeout_after_csi_error(w: Window) -> Verdict:
    """A cloud disk fails to attach, minutes before the mount times out."""
    pod = w.stateful(w.pick(("postgres", "kafka", "redis")))
    w.crowd(pod, 2, 3)
    w.quiet(pod, 0)
    w.ensure_duration(w.rng.uniform(420, 700))
    pvc = f"pvc-{w.uuid()}"
    volume_id = f"vol-0{w.hexid(16)}"
    instance = f"i-0{w.hexid(16)}"
    at = w.rng.uniform(10, 40)
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Warning",
            "FailedAttachVolume",
            f"pod/{pod.name}",
            f'AttachVolume.Attach failed for volume "{pvc}" : rpc error: code = Internal desc = Could not attach volume "{volume_id}" to node "{instance}": attachment of disk "{volume_id}" failed, expected device to be attached but was attaching',
        ),
        evidence=True,
    )
    _unable_to_mount(w, pod, at + 125 + w.rng.uniform(0, 60), "data", evidence=True)
    _unable_to_mount(w, pod, w.duration_s - w.rng.uniform(3, 30), "data")
    return Verdict(
        f"{pod.name} stays Pending in ContainerCreating: the cloud disk {volume_id} never finished attaching, so its data volume times out.",
        "critical",
    )


@scenario("volume_mount_failure", "causal_chain")
def vol_configmap_pruned_by_flux(w: Window) -> Verdict:
    """Flux prunes a ConfigMap; the new pod cannot mount it while the old one runs."""
    old = w.app()
    flux = w.platform("flux")
    new = w.app(old.runtime, app=old.app, container=old.container)
    w.crowd(old, 0, 1)
    w.add(w.rng.uniform(5, w.duration_s - 5), old, herring(w, old))
    name = f"{old.app}-config"
    at = w.rng.uniform(15, 60)
    w.add(
        at,
        flux,
        f.flux(
            "info",
            "kustomization",
            "Kustomization",
            old.namespace,
            "garbage collection completed",
            output={f"ConfigMap/{old.namespace}/{name}": "deleted"},
            revision=f"main@sha1:{w.hexid(40)}",
        ),
        evidence=True,
    )
    _stuck_mounting(
        w, new, "config", "configmap", f'configmap "{name}" not found', start=at + w.rng.uniform(30, 90)
    )
    return Verdict(
        f"Flux pruned ConfigMap {name}; the new pod {new.name} cannot mount its config volume while the old pod keeps running.",
        "warning",
    )


@scenario("volume_mount_failure", "red_herring")
def vol_with_cross_class_decoys(w: Window) -> Verdict:
    """A Secret or ConfigMap volume cannot be mounted, next to a permission warning and other decoys."""
    pod = w.app()
    w.crowd(pod, 1, 2)
    if w.chance(0.5):
        name = f"{pod.app}-{w.pick(('config', 'settings'))}"
        _stuck_mounting(w, pod, "config", "configmap", f'configmap "{name}" not found')
        what = f"ConfigMap {name}"
    else:
        name = f"{pod.app}-{w.pick(('tls', 'credentials'))}"
        _stuck_mounting(w, pod, "secrets", "secret", f'secret "{name}" not found')
        what = f"Secret {name}"
    spoken = add_decoys(
        w, "volume_mount_failure", w.rng.randint(2, 3), prefer=("permission_denied", "scheduling_failure")
    )
    return Verdict(
        f"{pod.name} stays in ContainerCreating because {what} does not exist for its volume; {describe_decoys(spoken)} are not the cause.",
        "warning",
    )


@scenario("volume_mount_failure", "paraphrase")
def vol_mount_error_paraphrase(w: Window) -> Verdict:
    """A mount fails in other words: a bad superblock, an NFS server's access denied, a CSI deadline, a subPath."""
    pod = w.stateful(w.pick(("postgres", "redis"))) if w.chance(0.4) else w.app()
    w.crowd(pod, 1, 3)
    kind = w.pick(("superblock", "nfs_denied", "csi_deadline", "configmap_key"))
    pvc = f"pvc-{w.uuid()}"
    if kind == "superblock":
        device = w.pick(("/dev/nvme1n1", "/dev/xvdbd", "/dev/sdc"))
        reason = f"rpc error: code = Internal desc = could not format {device!r} and mount it at '/var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com/{w.hexid(64)}/globalmount': mount failed: exit status 32 Mounting command: mount Mounting arguments: -t ext4 -o defaults {device} /var/lib/kubelet/plugins/kubernetes.io/csi/ebs.csi.aws.com/{w.hexid(64)}/globalmount Output: mount: wrong fs type, bad option, bad superblock on {device}, missing codepage or helper program, or other error."
        what = f"its disk {device} has a damaged filesystem (bad superblock)"
        volume, plugin, operation = pvc, "csi", "MountVolume.MountDevice"
    elif kind == "nfs_denied":
        server = f"fs-0{w.hexid(16)}.efs.eu-central-1.amazonaws.com"
        reason = f"mount failed: exit status 32 Mounting command: mount Mounting arguments: -t nfs4 {server}:/ /var/lib/kubelet/pods/{pod.uid}/volumes/kubernetes.io~nfs/shared Output: mount.nfs4: access denied by server while mounting {server}:/"
        what = f"the NFS server {server} refuses the mount (access denied by server)"
        volume, plugin, operation = "shared", "nfs", "MountVolume.SetUp"
    elif kind == "csi_deadline":
        reason = "rpc error: code = DeadlineExceeded desc = context deadline exceeded"
        what = "the CSI driver's mount call times out"
        volume, plugin, operation = pvc, "csi", "MountVolume.MountDevice"
    else:
        key = {"postgres": "postgresql.conf", "redis": "redis.conf"}.get(pod.runtime) or w.pick(
            ("app.yaml", "settings.json", "logging.yaml")
        )
        reason = f"configmap references non-existent config key: {key}"
        what = f"its ConfigMap has no key {key}"
        volume, plugin, operation = "config", "configmap", "MountVolume.SetUp"
    _stuck_mounting(w, pod, volume, plugin, reason, operation=operation)
    return Verdict(f"{pod.name} cannot start: its volume cannot be mounted because {what}.", "warning")


@scenario("volume_mount_failure", "causal_chain")
def vol_database_stuck_clients_refused(w: Window) -> Verdict:
    """A drained node's database pod cannot attach its disk elsewhere; its clients log refused connections."""
    db = w.stateful("postgres", app=w.pick(("postgres", f"{w.namespace}-db", "pg")))
    clients = [w.app(), w.app()] if w.chance(0.5) else [w.app()]
    w.crowd(clients[0], 0, 1)
    w.ensure_duration(w.rng.uniform(420, 700))
    pvc = f"pvc-{w.uuid()}"
    host = f"{db.app}.{db.namespace}.svc.cluster.local"
    ip = w.service_ip()
    at = w.rng.uniform(15, 50)
    w.add(
        at - 5,
        w.events("default"),
        f.kube_event(
            "Normal",
            "NodeNotSchedulable",
            f"node/{w.nodes[-1]}",
            f"Node {w.nodes[-1]} status is now: NodeNotSchedulable",
        ),
    )
    w.event(at, db, "Normal", "Killing", f"Stopping container {db.container}")
    w.block(
        at + 0.1,
        db,
        [
            f.postgres(1, "LOG", "received fast shutdown request"),
            f.postgres(1, "LOG", "database system is shut down"),
        ],
    )
    w.quiet(db, at + 0.5)
    w.event(at + 4, db, "Normal", "Scheduled", f"Successfully assigned {db.ref} to {db.node}")
    w.add(
        at + 5,
        w.events(),
        f.kube_event(
            "Warning",
            "FailedAttachVolume",
            f"pod/{db.name}",
            f'Multi-Attach error for volume "{pvc}" Volume is already exclusively attached to one node and can\'t be attached to another',
        ),
        evidence=True,
    )
    for moment in w.spread(at + 130, w.duration_s - 5, w.rng.randint(1, 2)):
        _unable_to_mount(w, db, moment, "data")
    first = True
    for client in clients:
        for moment in w.spread(at + 2, w.duration_s - 3, w.rng.randint(3, 4)):
            w.add(moment, client, refused(w, client, "postgres", host, ip), evidence=first)
            first = False
    return Verdict(
        f"{db.name} was moved off a drained node but its disk {pvc} is still attached there (Multi-Attach error), so it cannot start; its clients' refused connections are the consequence.",
        "critical",
    )
