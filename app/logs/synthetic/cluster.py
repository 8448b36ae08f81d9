"""Nodes, workloads, pods and containers of a simulated cluster, named the way Kubernetes names them.

Stream labels follow k8s/'s Alloy config (``namespace``, ``pod``, ``container``, ``app`` from the
``app.kubernetes.io/name`` label when the pod has it, ``node``) plus the ``service_name`` Loki 3 derives
from them, so a synthetic line carries exactly the labels a real one would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from app.logs.synthetic.events import ObjectRef, Reporter
from app.logs.synthetic.timeline import Labels

# Pod-template hashes and name suffixes use apimachinery's SafeEncodeString alphabet (no vowels).
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
WorkloadKind = Literal["Deployment", "StatefulSet", "Job", "CronJob"]
APPS_API = "apps/v1"


def safe_suffix(rng: random.Random, length: int = 5) -> str:
    """A random suffix as Kubernetes generates for pod and ReplicaSet names."""
    return "".join(rng.choice(_SAFE) for _ in range(length))


def new_uid(rng: random.Random) -> str:
    """A random UUID, as the API server assigns to objects."""
    raw = f"{rng.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{'89ab'[int(raw[16], 16) % 4]}{raw[17:20]}-{raw[20:]}"


@dataclass(frozen=True)
class Flavor:
    """How a cluster names its nodes and where its pods' addresses come from."""

    name: str
    pod_cidr: str
    region: str = ""

    def node_names(self, rng: random.Random, count: int) -> list[str]:
        """``count`` worker node names in this flavour's style."""
        if self.name == "eks":
            return [
                f"ip-10-{rng.randint(0, 3)}-{rng.randint(1, 200)}-{rng.randint(2, 250)}.{self.region}.compute.internal"
                for _ in range(count)
            ]
        if self.name == "gke":
            pool = f"{rng.getrandbits(32):08x}"
            return [f"gke-prod-default-pool-{pool}-{safe_suffix(rng, 4)}" for _ in range(count)]
        if self.name == "aks":
            pool = rng.randint(10_000_000, 99_999_999)
            return [f"aks-nodepool1-{pool}-vmss{index:06d}" for index in range(count)]
        if self.name == "k3s":
            return [f"k3s-agent-{index + 1}" for index in range(count)]
        return [f"worker-{index + 1}" for index in range(count)]

    def scheduler_instance(self, rng: random.Random) -> str:
        """The scheduler's reportingInstance: ``default-scheduler-<its host name>``."""
        hosts = {
            "eks": f"ip-172-16-{rng.randint(0, 120)}-{rng.randint(2, 250)}.{self.region}.compute.internal",
            "gke": f"gke-{rng.getrandbits(40):010x}-{safe_suffix(rng, 4)}-vm",
            "aks": f"kube-scheduler-{safe_suffix(rng, 10)}-{safe_suffix(rng, 5)}",
            "k3s": "k3s-server-1",
            "kubeadm": f"control-plane-{rng.randint(1, 3)}",
        }
        return f"default-scheduler-{hosts[self.name]}"

    def pod_ip(self, rng: random.Random) -> str:
        """An address from the flavour's pod range."""
        first, second = self.pod_cidr.split(".")[:2]
        return f"{first}.{second}.{rng.randint(0, 31)}.{rng.randint(2, 254)}"


FLAVORS: tuple[Flavor, ...] = (
    Flavor("kubeadm", "10.244.0.0/16"),
    Flavor("k3s", "10.42.0.0/16"),
    Flavor("eks", "10.0.0.0/16", "eu-central-1"),
    Flavor("eks", "10.1.0.0/16", "us-east-2"),
    Flavor("gke", "10.108.0.0/14"),
    Flavor("aks", "10.224.0.0/16"),
)


@dataclass
class Container:
    """One container of a workload's pod template: its name, the format it logs in, image and limits."""

    name: str
    component: str
    image: str
    memory_limit_mi: int
    port: int = 8080
    # Whether its pods carry app.kubernetes.io/name (Alloy's ``app`` label) is decided per workload.


@dataclass
class WorkloadConfig:
    """Settings every pod of a workload shares, drawn once when the workload is created or set by a scenario.

    ``None`` means "not drawn yet": the first pod's component draws it and the other pods reuse it.
    """

    probes_logged: bool = False  # whether the container writes an access line per kubelet probe
    probe_period: int = 10
    probe_paths: tuple[str, ...] = ("/healthz",)
    periodic: list[tuple[str, float]] = field(default_factory=list)  # (message, period in seconds)
    load: float = 1.0  # request/job rate relative to the scene's
    backoff_limit: int = 0  # a Job's retries
    cite_failure: bool = False  # a CronJob's BackoffLimitExceeded is evidence
    cited: bool = False  # a scenario already cited a line of this workload
    broker_url: str = ""  # a Celery worker's broker
    database: str = "app"  # the database PgBouncer pools
    slow_ms: int | None = None  # PostgreSQL's log_min_duration_statement
    persistence: bool | None = None  # Redis RDB snapshots
    server_name: str | None = None  # nginx's server_name
    keys: int | None = None  # keys Redis loads at start
    drawn: bool = False  # the shared settings above were drawn (``traffic.configure``)


@dataclass
class Workload:
    """A Deployment, StatefulSet, Job or CronJob and the pods it runs in the window."""

    kind: WorkloadKind
    name: str
    role: str
    containers: list[Container]
    replicas: int
    uid: str
    app_label: str | None
    rs_hash: str = ""
    pods: list[Pod] = field(default_factory=list)
    service_ip: str = ""
    schedule_min: int = 0
    # Settings every pod of the workload shares (a database's slow-query threshold, a probe's period ...).
    config: WorkloadConfig = field(default_factory=WorkloadConfig)

    @property
    def ref(self) -> ObjectRef:
        """The workload as an event's involved object."""
        return ObjectRef(
            self.kind, self.name, self.uid, "batch/v1" if self.kind in ("Job", "CronJob") else APPS_API
        )

    @property
    def main(self) -> Container:
        """The container the workload exists for (sidecars come after it)."""
        return self.containers[0]

    @property
    def controller(self) -> Reporter:
        """Who records the events about this workload's pods' creation."""
        names = {
            "Deployment": "replicaset-controller",
            "StatefulSet": "statefulset-controller",
            "Job": "job-controller",
            "CronJob": "job-controller",
        }
        return Reporter(names[self.kind])

    def replicaset_ref(self) -> ObjectRef:
        """The current ReplicaSet of a Deployment."""
        return ObjectRef("ReplicaSet", f"{self.name}-{self.rs_hash}", self.uid[::-1], APPS_API)


@dataclass
class Pod:
    """A pod on a node, with its address and the workload that owns it."""

    name: str
    uid: str
    ip: str
    node: str
    workload: Workload
    namespace: str
    # When the kubelet began setting the pod up (seconds into the window; for pods created in it).
    started_at: float = 0.0

    @property
    def ref(self) -> ObjectRef:
        """The pod as an event's involved object."""
        return ObjectRef("Pod", self.name, self.uid)

    @property
    def full_name(self) -> str:
        """``name_namespace(uid)``, as the kubelet names a pod in its messages."""
        return f"{self.name}_{self.namespace}({self.uid})"

    def labels(self, container: Container) -> Labels:
        """The stream labels of one of this pod's containers, as Loki returns them."""
        app = self.workload.app_label
        labels = {
            "container": container.name,
            "namespace": self.namespace,
            "node": self.node,
            "pod": self.name,
        }
        if app:
            labels["app"] = app
        # Loki 3's discover_service_name takes the first of app, ..., container that the stream has.
        labels["service_name"] = app or container.name
        return labels


@dataclass
class Cluster:
    """The nodes and naming of one cluster; every random choice comes from ``rng``."""

    rng: random.Random
    flavor: Flavor
    nodes: list[str]
    scheduler: Reporter
    _ips: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, rng: random.Random, node_count: int | None = None) -> Cluster:
        """A cluster of 3-7 nodes in one of the common flavours."""
        flavor = rng.choice(FLAVORS)
        nodes = flavor.node_names(rng, node_count or rng.randint(3, 7))
        return cls(rng, flavor, nodes, Reporter("default-scheduler", instance=flavor.scheduler_instance(rng)))

    def kubelet(self, node: str) -> Reporter:
        """The kubelet of a node, as an event reporter."""
        return Reporter("kubelet", host=node)

    def pod_ip(self) -> str:
        """An unused pod address."""
        while (ip := self.flavor.pod_ip(self.rng)) in self._ips:
            pass
        self._ips.add(ip)
        return ip

    def service_ip(self) -> str:
        """An unused ClusterIP."""
        while (ip := f"10.96.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}") in self._ips:
            pass
        self._ips.add(ip)
        return ip

    def new_pod(
        self, workload: Workload, namespace: str, *, ordinal: int | None = None, job: str = ""
    ) -> Pod:
        """A pod of ``workload``, named as its controller names it."""
        if workload.kind == "StatefulSet":
            name = f"{workload.name}-{ordinal if ordinal is not None else len(workload.pods)}"
        elif workload.kind in ("Job", "CronJob"):
            name = f"{job or workload.name}-{safe_suffix(self.rng)}"
        else:
            name = f"{workload.name}-{workload.rs_hash}-{safe_suffix(self.rng)}"
        pod = Pod(name, new_uid(self.rng), self.pod_ip(), self.rng.choice(self.nodes), workload, namespace)
        workload.pods.append(pod)
        return pod

    def new_workload(
        self,
        kind: WorkloadKind,
        name: str,
        role: str,
        containers: list[Container],
        *,
        replicas: int = 1,
        app_label: bool = True,
    ) -> Workload:
        """A workload (its pods are added separately)."""
        hash_length = self.rng.choice((8, 9, 10, 10))
        return Workload(
            kind=kind,
            name=name,
            role=role,
            containers=containers,
            replicas=replicas,
            uid=new_uid(self.rng),
            app_label=name if app_label else None,
            rs_hash=safe_suffix(self.rng, hash_length) if kind == "Deployment" else "",
            service_ip=self.service_ip() if kind in ("Deployment", "StatefulSet") else "",
        )
