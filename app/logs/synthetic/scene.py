"""One namespace over a time window: its containers' runs, the things they call, and the window's lines.

A scene is a small simulation. Every container has runs (a process from start to exit); between runs
it is down. Applications call dependencies (a database, a cache, a queue, another API); a dependency
served from the namespace is down while its server has no running pod, and a scenario can add outages
of its own (refused, timed out, unresolvable, untrusted certificate, refused login ...). At the end,
``traffic`` writes each container's benign work over its runs, and work that meets an outage fails in
the client library's words. Lines a scenario marks (and the first failures of a marked outage) are the
window's evidence.

The scene is the state and its primitives only: what it is made of lives in ``parts``, pods come and go
through ``lifecycle``, and ``stack`` builds a scene (``compose``) and finishes it (``finish``), so this
module imports none of the modules that write lines.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.logs.synthetic.cluster import Cluster, Container, Pod, Workload
from app.logs.synthetic.events import EventRecorder, ObjectRef, Reporter
from app.logs.synthetic.formats import Render
from app.logs.synthetic.parts import Bug, Dep, Outage, Proc
from app.logs.synthetic.timeline import Timeline

# A scenario's say in one attempt of a CronJob's Job (``Scene.cron_hooks``).
CronHook = Callable[["Scene", Workload, ObjectRef, float, int], "tuple[str, float] | None"]
# How many failing calls of one outage are cited as evidence (per window): enough to show it, no more.
EVIDENCE_PER_OUTAGE = 4


@dataclass
class Scene:
    """A namespace of a simulated cluster over ``[start, start + duration)``."""

    rng: random.Random
    cluster: Cluster
    namespace: str
    timeline: Timeline
    events: EventRecorder
    org: str
    domain: tuple[str, ...]
    workloads: list[Workload] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    deps: dict[str, Dep] = field(default_factory=dict)
    uses: dict[str, list[str]] = field(default_factory=dict)
    traffic_scale: float = 1.0
    meshed: bool = False
    # A scenario's say in one attempt of a CronJob's Job: ``hook(scene, cron, job, at, attempt)`` writes
    # the attempt itself and returns ``(outcome, end)`` ("ok", "failed" or "pending"), or returns None
    # to let the attempt go its ordinary way.
    cron_hooks: dict[str, CronHook] = field(default_factory=dict)
    bugs: list[Bug] = field(default_factory=list)
    # CronJob schedules count minutes from here (0: the wall clock, as the CronJob controller does).
    cron_epoch_ns: int = 0

    @property
    def duration(self) -> float:
        """The window's length in seconds."""
        return self.timeline.duration_s

    # --- randomness ---

    def pick(self, options: Sequence[object]):
        """One of ``options``."""
        return self.rng.choice(options)

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        return self.rng.random() < probability

    def between(self, low_share: float, high_share: float) -> float:
        """A time between two fractions of the window."""
        return self.rng.uniform(low_share, high_share) * self.duration

    def hexid(self, digits: int = 16) -> str:
        """Random lowercase hex digits."""
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def uuid(self) -> str:
        """A random UUID."""
        raw = self.hexid(32)
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{'89ab'[int(raw[16], 16) % 4]}{raw[17:20]}-{raw[20:]}"

    def port(self) -> int:
        """An ephemeral client port."""
        return self.rng.randint(32768, 60999)

    # --- objects ---

    def procs_of(self, workload: Workload, container: str | None = None) -> list[Proc]:
        """The processes of a workload's main container (or of a named one)."""
        name = container or workload.main.name
        return [proc for proc in self.procs if proc.pod.workload is workload and proc.container.name == name]

    def procs_of_pod(self, pod: Pod) -> list[Proc]:
        """Every container of a pod."""
        return [proc for proc in self.procs if proc.pod is pod]

    def workload(self, role: str) -> Workload | None:
        """The first workload with ``role``."""
        return next((workload for workload in self.workloads if workload.role == role), None)

    def with_role(self, *roles: str) -> list[Workload]:
        """Every workload whose role is one of ``roles``."""
        return [workload for workload in self.workloads if workload.role in roles]

    def add_dep(self, dep: Dep, *, users: Sequence[Workload]) -> Dep:
        """Register a dependency and which workloads call it."""
        self.deps[dep.name] = dep
        for workload in users:
            self.uses.setdefault(workload.name, []).append(dep.name)
        return dep

    def deps_of(self, workload: Workload) -> list[Dep]:
        """The dependencies a workload calls."""
        return [self.deps[name] for name in self.uses.get(workload.name, [])]

    def callers(self, dep: Dep) -> list[Workload]:
        """The workloads that call a dependency."""
        return [workload for workload in self.workloads if dep.name in self.uses.get(workload.name, [])]

    # --- lines ---

    def log(
        self, at_s: float, proc: Proc, renders: Sequence[Render], *, evidence: bool | Sequence[int] = False
    ) -> float:
        """Write a container's lines at ``at_s`` (a burst, microseconds apart); returns when it ends."""
        marks: Sequence[int] = (
            range(len(renders)) if evidence is True else (() if evidence is False else evidence)
        )
        return self.timeline.block(at_s, proc.labels, renders, proc.container.component, evidence=marks)

    def event(
        self,
        at_s: float,
        obj: ObjectRef,
        reporter: Reporter,
        type_: str,
        reason: str,
        message: str,
        *,
        evidence: bool = False,
        action: str = "",
    ) -> bool:
        """Record a Kubernetes event about an object of this namespace."""
        return self.events.record(
            at_s, obj, reporter, type_, reason, message, evidence=evidence, action=action
        )

    def kubelet(self, pod: Pod) -> Reporter:
        """The kubelet of the pod's node."""
        return self.cluster.kubelet(pod.node)

    # --- availability ---

    def server_down(self, dep: Dep, at_s: float) -> bool:
        """Whether no pod of the dependency's in-namespace server is serving at ``at_s``."""
        if dep.server is None:
            return False
        procs = self.procs_of(dep.server)
        return bool(procs) and not any(proc.serving(at_s) for proc in procs)

    def call_failure(self, dep: Dep, at_s: float, *, certain: bool = False) -> Outage | None:
        """Why a call to ``dep`` at ``at_s`` fails, if it does (its server down, or an outage)."""
        outage = dep.failure_at(at_s, self.rng, certain=certain)
        if outage is not None:
            return outage
        if self.server_down(dep, at_s):
            # No ready endpoints: kube-proxy rejects the connection. Behind an Istio sidecar the client
            # talks to its own Envoy instead, which answers 503 (HTTP) or resets the TCP stream.
            if self.meshed:
                return Outage(
                    at_s, at_s + 1, "unavailable" if dep.target.kind == "http" else "reset", evidence=False
                )
            return Outage(at_s, at_s + 1, "refused", evidence=False)
        return None

    def bug_at(self, proc: Proc, resource: str, verb: str, at_s: float) -> Bug | None:
        """The bug a request to ``resource`` at ``at_s`` runs into, if any."""
        for bug in self.bugs:
            matches = (
                bug.workload == proc.pod.workload.name
                and bug.resource == resource
                and bug.verb in (None, verb)
            )
            if matches and bug.start <= at_s < bug.end and self.rng.random() < bug.share:
                return bug
        return None

    def cite(self, outage: Outage | Bug) -> bool:
        """Whether this failing call of ``outage`` is cited as evidence (the first few are)."""
        if not getattr(outage, "evidence", True) or outage.cited >= EVIDENCE_PER_OUTAGE:
            return False
        outage.cited += 1
        return True

    def container_of(self, pod: Pod, name: str) -> Container:
        """A pod's container by name."""
        return next(container for container in pod.workload.containers if container.name == name)
