"""``healthy``: nothing is failing at the end of the window and nothing needs fixing.

Healthy windows are ordinary namespaces: traffic, CronJobs, checkpoints, probes, and the benign
episodes every namespace has (``incidentals``): a rollout whose new pods fail readiness while they
start, scaling, 4xx from clients and scanners, a dependency blip of a few seconds, a Job retried
after a transient error, a planned restart of a datastore whose clients reconnect, a drained node,
a certificate renewed early. Severity is always ``info``.
"""

from __future__ import annotations

from app.golden.scenarios.common import (
    FAMILY_VARIANTS,
    incident_start,
    prepare_cron,
    restart_stateful_pod,
    want_api,
    want_store,
    wanted,
)
from app.golden.scenarios.incidentals import (
    cert_renewal,
    client_error_burst,
    cron_retry_episode,
    node_drain_episode,
    rollout_episode,
    scaling_episode,
    transient_blip,
)
from app.golden.scenarios.registry import Verdict, scenarios_of
from app.logs.synthetic.scene import Scene

scenario = scenarios_of("healthy")


@scenario("healthy.steady", FAMILY_VARIANTS, prepare=want_api)
def steady(scene: Scene, family: str) -> Verdict:
    """An ordinary stretch of time: traffic, jobs and the datastores' routine."""
    return Verdict(
        f"Normal operation in {scene.namespace}: requests succeed, jobs complete, nothing is failing.", "info"
    )


@scenario("healthy.rollout", FAMILY_VARIANTS, hard_case="healthy_alarming", prepare=want_api)
def healthy_rollout(scene: Scene, family: str) -> Verdict:
    """A rolling update: Killing and ScalingReplicaSet events, readiness refused while new pods start."""
    rollout_episode(scene, incident_start(scene, 0.1, 0.6))
    return Verdict(
        f"A rolling update in {scene.namespace} completes; the new pods become ready after brief start-up probe failures.",
        "info",
    )


@scenario("healthy.autoscaling", ("",), hard_case="healthy_alarming")
def autoscaling(scene: Scene, variant: str) -> Verdict:
    """The HPA scales a Deployment up under load and back down later."""
    scaling_episode(scene)
    return Verdict(
        f"The HPA scales a Deployment in {scene.namespace} up and down with load; every new pod starts cleanly.",
        "info",
    )


@scenario("healthy.job_retried", ("go", "python", "node"), hard_case="healthy_alarming", prepare=prepare_cron)
def job_retried(scene: Scene, family: str) -> Verdict:
    """A CronJob attempt fails on a transient error and the Job's retry succeeds."""
    cron_retry_episode(scene)
    return Verdict(
        f"A CronJob run in {scene.namespace} fails once on a transient error and succeeds on retry.", "info"
    )


@scenario(
    "healthy.planned_restart",
    ("postgres", "redis", "rabbitmq"),
    hard_case="healthy_alarming",
    prepare=want_store,
)
def planned_restart(scene: Scene, variant: str) -> Verdict:
    """A datastore is restarted for a configuration change: a clean shutdown, a start, clients reconnect."""
    workload = wanted(scene, variant)
    proc = restart_stateful_pod(scene, workload, incident_start(scene, 0.1, 0.7))
    run = proc.last_run()
    run.ready = run.start + scene.rng.uniform(1, 5)
    return Verdict(
        f"{proc.pod.name} ({variant}) is restarted cleanly for a configuration change; its clients reconnect within seconds.",
        "info",
    )


@scenario("healthy.client_errors", FAMILY_VARIANTS, hard_case="healthy_alarming", prepare=want_api)
def client_errors(scene: Scene, family: str) -> Verdict:
    """Clients send bad requests (expired tokens, scanners, rate limits): 4xx answered correctly."""
    for _ in range(scene.rng.randint(1, 3)):
        client_error_burst(scene)
    return Verdict(
        f"{scene.namespace} answers bursts of 4xx to clients with expired tokens, scanners and rate-limited callers; the service itself is fine.",
        "info",
    )


@scenario("healthy.node_maintenance", ("",), hard_case="healthy_alarming")
def node_maintenance(scene: Scene, variant: str) -> Verdict:
    """A node is drained for maintenance; its pods restart elsewhere."""
    if not node_drain_episode(scene):
        rollout_episode(scene)
    return Verdict(
        f"A node is drained for maintenance; the pods of {scene.namespace} on it are recreated elsewhere and serve normally.",
        "info",
    )


@scenario("healthy.certificate_renewed", ("",))
def certificate_renewed(scene: Scene, variant: str) -> Verdict:
    """cert-manager renews a certificate well before it expires."""
    cert_renewal(scene)
    return Verdict(
        f"cert-manager renews a certificate of {scene.namespace} ahead of its expiry; nothing is failing.",
        "info",
    )


@scenario("healthy.transient_blip", FAMILY_VARIANTS, hard_case="healthy_alarming", prepare=want_api)
def healthy_blip(scene: Scene, family: str) -> Verdict:
    """A dependency fails for a few seconds; a couple of requests fail and are retried, then all is well."""
    for _ in range(scene.rng.randint(1, 2)):
        transient_blip(scene)
    return Verdict(
        f"A dependency of {scene.namespace} fails for a few seconds; a couple of requests fail and succeed on retry.",
        "info",
    )
