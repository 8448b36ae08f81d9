"""The root-cause taxonomy shared by prompts, the golden set and evals."""

from __future__ import annotations

from typing import Literal, get_args

RootCause = Literal[
    "oom_killed",
    "crash_config_error",
    "image_pull_error",
    "dependency_unavailable",
    "dns_resolution_failure",
    "probe_failure",
    "volume_mount_failure",
    "tls_certificate_error",
    "permission_denied",
    "node_resource_pressure",
    "scheduling_failure",
    "application_exception",
    "healthy",
]

ROOT_CAUSES: tuple[str, ...] = get_args(RootCause)

DEFINITIONS: dict[str, str] = {
    "oom_killed": "A container exceeded its memory limit and was killed by the kernel OOM killer (exit 137).",
    "crash_config_error": "The process exits at start-up because configuration, an env var, secret or flag "
    "is missing or invalid.",
    "image_pull_error": "The container image cannot be pulled: wrong name or tag, missing registry "
    "credentials, or registry unreachable.",
    "dependency_unavailable": "A service the workload needs (database, cache, queue, upstream API) refuses "
    "or drops connections or times out.",
    "dns_resolution_failure": "A hostname cannot be resolved: NXDOMAIN, SERVFAIL or timeouts from the "
    "cluster DNS.",
    "probe_failure": "Liveness or readiness probes fail, so the kubelet restarts the container or removes "
    "it from endpoints.",
    "volume_mount_failure": "A volume cannot be attached or mounted: missing PVC, secret or configmap, "
    "multi-attach or CSI errors.",
    "tls_certificate_error": "A TLS handshake fails: expired, untrusted, mismatched or not yet issued "
    "certificate.",
    "permission_denied": "An operation is refused for lack of rights: RBAC forbidden, filesystem "
    "permission denied, or failed authentication to a service.",
    "node_resource_pressure": "The node runs short of memory, disk or PIDs, so pods are evicted or "
    "throttled.",
    "scheduling_failure": "Pods stay Pending because no node fits: insufficient resources, taints, "
    "affinity or unbound PVCs.",
    "application_exception": "The application's own code fails: an unhandled exception, panic or bug, "
    "with its infrastructure healthy.",
    "healthy": "No failure: the window shows normal operation, possibly with benign noise.",
}

assert set(DEFINITIONS) == set(ROOT_CAUSES), "every root cause needs a definition"


def describe_taxonomy() -> str:
    """The taxonomy as lines of ``id: definition``, for prompts and help texts."""
    return "\n".join(f"{cause}: {DEFINITIONS[cause]}" for cause in ROOT_CAUSES)
