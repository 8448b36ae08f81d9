"""``image_pull_error``: the kubelet cannot pull a container's image, whatever the transport error.

Only events show it (the container never runs): ``Pulling``, ``Failed`` with containerd's message,
``Error: ErrImagePull``, then ``Back-off pulling image`` and ``Error: ImagePullBackOff`` while the
kubelet backs off from 10 s to 5 minutes. The message differs by registry and cause: a tag that does
not exist, credentials the registry refuses (each registry words it its own way), Docker Hub's rate
limit, a malformed reference, a registry that cannot be reached or not trusted, no image for the
node's platform.
"""

from __future__ import annotations

from app.golden.scenarios.common import incident_start, prepare_cron, wanted
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.golden.schema import Severity
from app.logs.synthetic.cluster import Container, Pod, Workload
from app.logs.synthetic.events import ObjectRef
from app.logs.synthetic.lifecycle import begin_rollout, create_pod, pull_failure_loop
from app.logs.synthetic.scene import Scene

scenario = scenarios_of("image_pull_error")

_REGISTRIES = {
    "dockerhub": "docker.io/{org}",
    "ghcr": "ghcr.io/{org}",
    "ecr": "{account}.dkr.ecr.eu-central-1.amazonaws.com/{org}",
    "gar": "europe-docker.pkg.dev/{org}-prod/apps",
    "harbor": "harbor.{org}.internal/apps",
}


def _pull(ref: str, detail: str) -> str:
    return f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": {detail}'


def _resolve(ref: str, detail: str) -> str:
    return _pull(ref, f'failed to resolve reference "{ref}": {detail}')


def _unauthorized(registry: str, ref: str, org: str, repo: str) -> str:
    scope = f"repository%3A{org}%2F{repo}%3Apull"
    if registry == "dockerhub":
        return _resolve(
            ref,
            "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
        )
    if registry == "ghcr":
        return _resolve(
            ref,
            f"failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope={scope}&service=ghcr.io: 401 Unauthorized",
        )
    if registry == "ecr":
        host = ref.split("/", 1)[0]
        return _resolve(
            ref,
            f"unexpected status from HEAD request to https://{host}/v2/{org}/{repo}/manifests/{ref.rsplit(':', 1)[1]}: 403 Forbidden",
        )
    if registry == "gar":
        return _resolve(
            ref,
            f"failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://europe-docker.pkg.dev/v2/token?scope=repository%3A{org}-prod%2Fapps%2F{repo}%3Apull&service=europe-docker.pkg.dev: 403 Forbidden",
        )
    host = ref.split("/", 1)[0]
    return _resolve(
        ref,
        f"failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://{host}/service/token?scope=repository%3Aapps%2F{repo}%3Apull&service=harbor-registry: 401 Unauthorized",
    )


def _target(scene: Scene) -> Workload:
    return scene.pick(scene.with_role("api", "worker", "web"))


def _not_found(image: str) -> str:
    """The kubelet's message for a reference the registry does not have."""
    return _resolve(image, f"{image}: not found").replace("code = Unknown", "code = NotFound")


def _roll_out(scene: Scene, target: Workload) -> tuple[list[Pod], Severity]:
    """Begin a rollout whose new pods are created but not started; a Recreate (critical) or rolling one."""
    recreate = scene.chance(0.25)
    pods = begin_rollout(scene, target, incident_start(scene, 0.1, 0.45), replace_all=recreate, start=False)
    return pods, "critical" if recreate else "warning"


def _fail_pulls(
    scene: Scene, target: Workload, container: Container, error: str
) -> tuple[list[Pod], Severity]:
    """Roll ``target`` out; in its new pods (returned) ``container`` cannot pull its image."""
    pods, severity = _roll_out(scene, target)
    for pod in pods:
        proc = next(proc for proc in scene.procs_of_pod(pod) if proc.container is container)
        pull_failure_loop(scene, proc, pod.started_at, error)
    return pods, severity


def _fail_rollout(scene: Scene, target: Workload, image: str, error: str, summary: str) -> Verdict:
    """Roll ``target``'s main container to ``image``, which its new pods cannot pull."""
    container = target.main
    old_image = container.image
    container.image = image
    pods, severity = _fail_pulls(scene, target, container, error)
    # Old pods keep the image they were created with.
    for proc in scene.procs_of(target, container.name):
        if proc.pod not in pods:
            proc.container = Container(
                container.name, container.component, old_image, container.memory_limit_mi, container.port
            )
    return Verdict(summary, severity)


def _fail_added_container(
    scene: Scene, target: Workload, added: Container, summary: str, *, init: bool
) -> Verdict:
    """Roll ``target`` out with ``added`` (an init container or a sidecar) whose image does not exist."""
    if init:
        target.containers.insert(0, added)
    else:
        target.containers.append(added)
    _pods, severity = _fail_pulls(scene, target, added, _not_found(added.image))
    target.containers.remove(added)
    scene.procs[:] = [proc for proc in scene.procs if proc.container is not added]
    return Verdict(summary, severity)


def _image(scene: Scene, registry: str, repo: str, tag: str) -> str:
    base = _REGISTRIES[registry].format(org=scene.org, account=scene.rng.randint(10**11, 10**12 - 1))
    return f"{base}/{repo}:{tag}"


def _new_tag(scene: Scene) -> str:
    return scene.pick(
        (
            f"v{scene.rng.randint(1, 4)}.{scene.rng.randint(0, 30)}.{scene.rng.randint(0, 12)}",
            f"sha-{scene.hexid(7)}",
            f"{scene.rng.randint(1, 4)}.{scene.rng.randint(0, 30)}.{scene.rng.randint(0, 9)}-rc{scene.rng.randint(1, 4)}",
        )
    )


@scenario("pull.tag_not_found", ("dockerhub", "ecr", "gar"))
def tag_not_found(scene: Scene, registry: str) -> Verdict:
    """A release points at a tag that was never pushed."""
    target = _target(scene)
    image = _image(scene, registry, target.name, _new_tag(scene))
    error = _not_found(image)
    summary = f"New {target.name} pods cannot start: the image {image} does not exist in the registry (ErrImagePull, ImagePullBackOff)."
    return _fail_rollout(scene, target, image, error, summary)


@scenario("pull.unauthorized", ("dockerhub", "ghcr", "ecr", "gar", "harbor"), hard_case="other_words")
def unauthorized(scene: Scene, registry: str) -> Verdict:
    """The registry refuses the node's credentials (a missing or expired pull secret, a lost IAM permission)."""
    target = _target(scene)
    image = _image(scene, registry, target.name, _new_tag(scene))
    error = _unauthorized(registry, image, scene.org, target.name)
    summary = f"New {target.name} pods cannot pull {image}: the registry refuses the credentials (ImagePullBackOff)."
    return _fail_rollout(scene, target, image, error, summary)


@scenario("pull.rate_limited", ("dockerhub",))
def rate_limited(scene: Scene, registry: str) -> Verdict:
    """Anonymous pulls from Docker Hub hit the rate limit."""
    target = _target(scene)
    image = f"docker.io/{scene.org}/{target.name}:{_new_tag(scene)}"
    error = _pull(
        image,
        f"failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/{scene.org}/{target.name}/manifests/sha256:{scene.hexid(64)}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit",
    )
    summary = f"New {target.name} pods cannot pull {image}: Docker Hub's pull rate limit was reached (429 toomanyrequests)."
    return _fail_rollout(scene, target, image, error, summary)


@scenario("pull.invalid_reference", ("",), hard_case="other_words")
def invalid_reference(scene: Scene, variant: str) -> Verdict:
    """A templating slip leaves the image reference malformed: the kubelet refuses it before pulling."""
    target = _target(scene)
    container = target.main
    base = container.image.rsplit(":", 1)[0]
    image = scene.pick(
        (
            f"{base}:{_new_tag(scene)} ",
            f"{base}:",
            f"{base}::{_new_tag(scene)}",
            f"{base.upper()}:{_new_tag(scene)}",
        )
    )
    container.image = image
    pods, severity = _roll_out(scene, target)
    cited = 0
    for pod in pods:
        at = pod.started_at
        kubelet = scene.kubelet(pod)
        while at < scene.duration:
            message = f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": invalid reference format'
            if scene.event(at, pod.ref, kubelet, "Warning", "InspectFailed", message, evidence=cited < 2):
                cited += 1
            scene.event(
                at + 0.01,
                pod.ref,
                kubelet,
                "Warning",
                "Failed",
                "Error: InvalidImageName",
                evidence=cited == 1,
            )
            at += scene.rng.uniform(8, 25)
    return Verdict(
        f"New {target.name} pods cannot start: the image reference {image!r} is malformed (InvalidImageName).",
        severity,
    )


@scenario("pull.registry_unreachable", ("timeout", "dns", "x509"), hard_case="other_words")
def registry_unreachable(scene: Scene, failure: str) -> Verdict:
    """The private registry cannot be reached from the node, or is not trusted: a transport error in the pull."""
    target = _target(scene)
    image = _image(scene, "harbor", target.name, _new_tag(scene))
    host = image.split("/", 1)[0]
    url = f"https://{host}/v2/apps/{target.name}/manifests/{image.rsplit(':', 1)[1]}"
    detail = {
        "timeout": f'failed to do request: Head "{url}": dial tcp 10.{scene.rng.randint(0, 40)}.{scene.rng.randint(0, 255)}.{scene.rng.randint(2, 250)}:443: i/o timeout',
        "dns": f'failed to do request: Head "{url}": dial tcp: lookup {host} on 169.254.169.253:53: no such host',
        "x509": f'failed to do request: Head "{url}": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    }[failure]
    summary = f"New {target.name} pods cannot pull {image}: the node cannot reach or trust the registry ({failure})."
    return _fail_rollout(scene, target, image, _resolve(image, detail), summary)


@scenario("pull.wrong_platform", ("",))
def wrong_platform(scene: Scene, variant: str) -> Verdict:
    """The image was built for another architecture than the nodes' (arm64 only, amd64 nodes)."""
    target = _target(scene)
    image = f"{target.main.image.rsplit(':', 1)[0]}:{_new_tag(scene)}"
    error = _pull(image, "no match for platform in manifest: not found")
    summary = f"New {target.name} pods cannot pull {image}: the image has no variant for the nodes' platform."
    return _fail_rollout(scene, target, image, error, summary)


@scenario("pull.init_container", ("",), hard_case="subtle")
def init_container(scene: Scene, variant: str) -> Verdict:
    """A migration init container's image tag does not exist: pods stay in Init:ImagePullBackOff."""
    target = _target(scene)
    image = f"{target.main.image.rsplit('/', 1)[0]}/{target.name}-migrations:{_new_tag(scene)}"
    init = Container(
        scene.pick(("migrate", "db-migrations", "wait-for-db")), target.main.component, image, 128, 0
    )
    summary = f"New {target.name} pods are stuck in Init:ImagePullBackOff: the {init.name} init container's image {image} does not exist."
    return _fail_added_container(scene, target, init, summary, init=True)


@scenario("pull.sidecar_image", ("",), hard_case="subtle")
def sidecar_image(scene: Scene, variant: str) -> Verdict:
    """A log-shipping sidecar added by the release points at a mirror that does not have its image."""
    target = _target(scene)
    image = f"{target.main.image.split('/', 1)[0]}/mirror/fluent/fluent-bit:{scene.pick(('3.1.9', '3.2.2', '2.2.3'))}"
    sidecar = Container("log-shipper", target.main.component, image, 64, 2020)
    summary = f"New {target.name} pods cannot start: the log-shipper sidecar's image {image} is not in the mirror (ImagePullBackOff)."
    return _fail_added_container(scene, target, sidecar, summary, init=False)


@scenario("pull.cronjob_image", ("go", "python"), prepare=prepare_cron)
def cronjob_image(scene: Scene, family: str) -> Verdict:
    """A CronJob's new image tag does not exist: its Jobs' pods never start and no run completes."""
    cron = wanted(scene, "cron")
    image = f"{cron.main.image.rsplit(':', 1)[0]}:{_new_tag(scene)}"
    error = _not_found(image)
    since = incident_start(scene, 0.0, 0.3)
    old_image = cron.main.image

    def hook(
        scene_: Scene, cron_: Workload, job: ObjectRef, at: float, attempt: int
    ) -> tuple[str, float] | None:
        cron_.main.image = image if at >= since else old_image
        if at < since:
            return None
        pod = create_pod(scene, cron_, at, job=job, start=False)
        proc = next(item for item in scene.procs_of_pod(pod) if item.container is cron_.main)
        pull_failure_loop(scene, proc, pod.started_at, error)
        return "pending", scene.duration + 1

    scene.cron_hooks[cron.name] = hook
    return Verdict(
        f"The {cron.name} CronJob's image {image} does not exist; its Jobs' pods stay in ImagePullBackOff and no run completes.",
        "warning",
    )
