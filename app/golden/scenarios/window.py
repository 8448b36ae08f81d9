"""The window builder: pods, streams and timed lines of one synthetic example, and its benign noise.

A scenario places its lines at seconds from the window start and marks the ones that prove the
cause; ``Window.finish`` adds noise from every pod, sorts by time and turns the marks into indices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TypeVar

from app.golden.scenarios.formats import Line, kube_event
from app.golden.schema import GoldenLog
from app.logs.models import format_rfc3339_ns, parse_rfc3339_ns

_T = TypeVar("_T")

# Fixed, not now-relative: the same seed must give the same bytes on any day.
BASE_NS = parse_rfc3339_ns("2026-11-26T00:00:00Z")
SPREAD_DAYS = 28
MIN_LINES = 20
MAX_LINES = 120

EVENTS_JOB = "integrations/kubernetes/eventhandler"
KUBELET_JOB = "integrations/kubernetes/kubelet"
KERNEL_JOB = "integrations/node_exporter/journal"
CONTAINERD_JOB = "integrations/kubernetes/containerd"

# Namespaces and the deployments that live in them; plausible, and varied enough that a model
# cannot learn the label from the namespace.
NAMESPACES: dict[str, tuple[str, ...]] = {
    "payments": ("payments-api", "ledger", "payments-worker", "fraud-check"),
    "checkout": ("checkout", "cart", "pricing"),
    "orders": ("orders-api", "order-events", "fulfillment"),
    "auth": ("auth-server", "token-service", "session-api"),
    "search": ("search-api", "indexer", "query-suggest"),
    "data": ("etl", "ingest", "report-builder"),
    "billing": ("billing-api", "invoicer", "usage-collector"),
    "inventory": ("inventory", "stock-sync", "warehouse-api"),
    "notifications": ("notifier", "email-sender", "push-gateway"),
    "catalog": ("catalog-api", "image-resizer", "recommendations"),
}
APP_RUNTIMES = ("go", "jvm", "python", "node")
# Third-party APIs that services call out to.
EXTERNAL_HOSTS = (
    "api.stripe.com",
    "api.partner.example",
    "hooks.slack.com",
    "login.microsoftonline.com",
    "sqs.eu-central-1.amazonaws.com",
    "api.sendgrid.com",
)
# The kube-dns Service's ClusterIP, which every pod's resolv.conf names.
CLUSTER_DNS_IP = "10.96.0.10"
_HASH_CHARS = "56789bcdf4"
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_PLATFORM: dict[str, tuple[str, str, str]] = {
    "ingress-nginx": ("ingress-nginx", "ingress-nginx-controller", "controller"),
    "coredns": ("kube-system", "coredns", "coredns"),
    "cert-manager": ("cert-manager", "cert-manager", "cert-manager-controller"),
    "flux": ("flux-system", "kustomize-controller", "manager"),
    "helm-controller": ("flux-system", "helm-controller", "manager"),
    "kube-scheduler": ("kube-system", "kube-scheduler", "kube-scheduler"),
    # An in-house watcher that logs container terminations with their reason and exit code (what
    # `kubectl describe` shows as Last State), as many teams run for restart alerts.
    "restart-watcher": ("monitoring", "restart-watcher", "watcher"),
}
_NODE_STYLES: tuple[Callable[[random.Random, int], str], ...] = (
    lambda rng, i: f"node-{i + 1}",
    lambda rng, i: f"worker-{i + 1}",
    lambda rng, i: f"k3s-agent-{i + 1}",
    lambda rng, i: f"ip-10-0-{rng.randint(1, 60)}-{rng.randint(2, 250)}.eu-central-1.compute.internal",
    lambda rng, i: (
        f"gke-prod-default-pool-{rng.getrandbits(32):08x}-{rng.choice('abcdz')}{i}x{rng.randint(1, 9)}"
    ),
)


@dataclass(frozen=True)
class Pod:
    """One container of one pod, with what its log lines need: names, node, IP and runtime."""

    namespace: str
    app: str
    name: str
    container: str
    node: str
    ip: str
    runtime: str
    uid: str

    @property
    def labels(self) -> dict[str, str]:
        """The stream labels the log collector sets for this container."""
        return {
            "namespace": self.namespace,
            "pod": self.name,
            "container": self.container,
            "app": self.app,
            "node": self.node,
            "job": f"{self.namespace}/{self.app}",
        }

    @property
    def ref(self) -> str:
        """``namespace/name``, as klog prints a pod."""
        return f"{self.namespace}/{self.name}"

    @property
    def full(self) -> str:
        """``name_namespace(uid)``, as the kubelet names a pod in back-off messages."""
        return f"{self.name}_{self.namespace}({self.uid})"


@dataclass
class _Pending:
    ts_ns: int
    order: int
    labels: dict[str, str]
    line: Line
    evidence: bool


@dataclass(frozen=True)
class Built:
    """A finished window: its logs in time order, the evidence indices and the formats used."""

    start: str
    end: str
    logs: list[GoldenLog]
    evidence: list[int]
    components: list[str]


@dataclass
class Window:
    """One example under construction; every random choice comes from ``rng``."""

    rng: random.Random
    duration_s: float = 0.0
    namespace: str = ""
    start_ns: int = 0
    nodes: list[str] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    _lines: list[_Pending] = field(default_factory=list)
    _quiet: dict[Pod, list[tuple[float, float]]] = field(default_factory=dict)
    _noisy: dict[Pod, float] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)
    _pids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = self.rng
        self.duration_s = self.duration_s or rng.uniform(300, 900)
        self.namespace = self.namespace or rng.choice(sorted(NAMESPACES))
        self.start_ns = BASE_NS + rng.randrange(SPREAD_DAYS * 86400) * 1_000_000_000 + rng.randrange(10**9)
        style = rng.choice(_NODE_STYLES)
        self.nodes = [style(rng, index) for index in range(rng.randint(3, 6))]

    # --- random helpers ---

    def pick(self, options: Sequence[_T]) -> _T:
        """One of ``options``."""
        return self.rng.choice(options)

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        return self.rng.random() < probability

    def hexid(self, digits: int = 16) -> str:
        """Random lowercase hex digits (request ids, container ids)."""
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def uuid(self) -> str:
        """A random UUID-shaped string."""
        raw = self.hexid(32)
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{'89ab'[int(raw[16], 16) % 4]}{raw[17:20]}-{raw[20:]}"

    def token_volume(self) -> str:
        """The name of a pod's projected service-account token volume (``kube-api-access-xxxxx``)."""
        return f"kube-api-access-{''.join(self.rng.choice(_SUFFIX_CHARS) for _ in range(5))}"

    def pod_ip(self) -> str:
        """An unused pod IP."""
        return self._unique(lambda: f"10.244.{self.rng.randint(0, 7)}.{self.rng.randint(2, 254)}")

    def client_ip(self) -> str:
        """An address outside the cluster, as the ingress controller sees a client."""
        return f"10.0.{self.rng.randint(0, 9)}.{self.rng.randint(2, 254)}"

    def service_ip(self) -> str:
        """An unused ClusterIP."""
        return self._unique(lambda: f"10.96.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}")

    def pid(self, process: str) -> int:
        """A stable process id per named process (klog prints the same one on every line)."""
        if process not in self._pids:
            self._pids[process] = self.rng.randint(700, 4000)
        return self._pids[process]

    def port(self) -> int:
        """An ephemeral client port."""
        return self.rng.randint(32768, 60999)

    def _unique(self, make: Callable[[], str]) -> str:
        while (value := make()) in self._used:
            pass
        self._used.add(value)
        return value

    def spread(self, start_s: float, end_s: float, count: int) -> list[float]:
        """``count`` random times between two points of the window, in order."""
        return sorted(self.rng.uniform(start_s, end_s) for _ in range(count))

    def clock(self, at_s: float) -> str:
        """The wall-clock time ``at_s`` into the window, to the second (for messages that quote it)."""
        return format_rfc3339_ns(self.start_ns + int(at_s) * 1_000_000_000)[:19] + "Z"

    def ensure_duration(self, seconds: float) -> None:
        """Make the window at least ``seconds`` long (scenarios whose cause precedes the symptom)."""
        self.duration_s = max(self.duration_s, seconds)

    # --- pods ---

    def app(
        self,
        runtime: str | None = None,
        *,
        app: str | None = None,
        namespace: str | None = None,
        container: str | None = None,
        replica_of: Pod | None = None,
    ) -> Pod:
        """A Deployment's pod (``<deploy>-<rs hash>-<suffix>``); ``replica_of`` shares its ReplicaSet."""
        namespace = namespace or (replica_of.namespace if replica_of else self.namespace)
        if replica_of is not None:
            app, runtime, container = replica_of.app, replica_of.runtime, replica_of.container
            rs_hash = replica_of.name.rsplit("-", 2)[1]
        else:
            taken = {pod.app for pod in self.pods}
            choices = [name for name in NAMESPACES.get(namespace, ()) if name not in taken]
            app = app or (self.pick(choices) if choices else f"{namespace}-svc{len(self.pods)}")
            runtime = runtime or self.pick(APP_RUNTIMES)
            container = container or (
                app if self.chance(0.6) else self.pick(("app", "api", "server", "main"))
            )
            rs_hash = "".join(self.rng.choice(_HASH_CHARS) for _ in range(self.rng.choice((9, 10, 10))))
        suffix = "".join(self.rng.choice(_SUFFIX_CHARS) for _ in range(5))
        return self._register(namespace, app, f"{app}-{rs_hash}-{suffix}", container, runtime)

    def stateful(self, runtime: str, *, app: str | None = None, namespace: str | None = None) -> Pod:
        """A StatefulSet's pod (``<name>-0``): postgres, redis, kafka."""
        app = app or {"postgres": "postgres", "redis": "redis-master", "kafka": "kafka"}.get(runtime, runtime)
        namespace = namespace or self.namespace
        for pod in self.pods:
            if (pod.namespace, pod.name) == (namespace, f"{app}-0"):
                return pod
        return self._register(namespace, app, f"{app}-0", runtime, runtime)

    def job(self, name: str, runtime: str = "python", *, container: str | None = None) -> Pod:
        """A Job's pod (``<job>-<suffix>``); a CronJob's Job is named ``<cronjob>-<scheduled minute>``."""
        suffix = "".join(self.rng.choice(_SUFFIX_CHARS) for _ in range(5))
        return self._register(self.namespace, name, f"{name}-{suffix}", container or name, runtime)

    def sidecar(self, pod: Pod, container: str, runtime: str) -> Pod:
        """Another container of the same pod (an Envoy sidecar, a log shipper)."""
        side = Pod(pod.namespace, pod.app, pod.name, container, pod.node, pod.ip, runtime, pod.uid)
        self.pods.append(side)
        return side

    def platform(self, runtime: str) -> Pod:
        """A platform pod: ingress-nginx, CoreDNS, cert-manager, a Flux controller or the scheduler."""
        namespace, app, container = _PLATFORM[runtime]
        for pod in self.pods:
            if pod.runtime == runtime:
                return pod
        if runtime == "kube-scheduler":
            # A static pod: named after its control-plane node.
            return self._register(namespace, app, f"kube-scheduler-{self.nodes[0]}", container, runtime)
        return self.app(runtime, app=app, namespace=namespace, container=container)

    def crowd(self, focus: Pod, low: int = 1, high: int = 3) -> list[Pod]:
        """Bystander pods around ``focus``: a replica, other services, a datastore or platform pods."""
        makers: list[Callable[[], Pod]] = [
            lambda: self.app(replica_of=focus),
            lambda: self.app(),
            lambda: self.app(),
            lambda: self.stateful(self.pick(("postgres", "redis"))),
            lambda: self.platform("ingress-nginx"),
            lambda: self.platform("coredns"),
        ]
        if focus.runtime not in APP_RUNTIMES:
            makers = makers[1:]
        self.rng.shuffle(makers)
        made: list[Pod] = []
        # Now and then one more neighbour than asked, so some windows interleave five pods.
        count = self.rng.randint(low, high) + (1 if self.chance(0.2) else 0)
        for make in makers[:count]:
            pod = make()
            if pod not in made:
                made.append(pod)
        return made

    def _register(self, namespace: str, app: str, name: str, container: str, runtime: str) -> Pod:
        pod = Pod(namespace, app, name, container, self.pick(self.nodes), self.pod_ip(), runtime, self.uuid())
        self.pods.append(pod)
        return pod

    # --- streams ---

    def kubelet(self, node: str) -> dict[str, str]:
        """The kubelet journal of a node, relabelled with the namespace it concerns."""
        return {"namespace": self.namespace, "node": node, "job": KUBELET_JOB}

    def kernel(self, node: str, level: str = "warn") -> dict[str, str]:
        """The kernel messages of a node; the collector labels each with its journal priority."""
        return {"namespace": self.namespace, "node": node, "job": KERNEL_JOB, "level": level}

    def runtime(self, node: str) -> dict[str, str]:
        """The containerd journal of a node."""
        return {"namespace": self.namespace, "node": node, "job": CONTAINERD_JOB}

    def events(self, namespace: str | None = None) -> dict[str, str]:
        """The event exporter's stream for a namespace."""
        return {"namespace": namespace or self.namespace, "job": EVENTS_JOB}

    # --- lines ---

    def add(
        self,
        at_s: float,
        source: Pod | dict[str, str],
        line: Line,
        *,
        evidence: bool = False,
        jitter: bool = True,
    ) -> float:
        """Place a line ``at_s`` seconds into the window (plus up to 0.1 ms of jitter); returns ``at_s``."""
        labels = source.labels if isinstance(source, Pod) else source
        ts_ns = self.start_ns + int(at_s * 1e9) + (self.rng.randrange(100_000) if jitter else 0)
        self._lines.append(_Pending(ts_ns, len(self._lines), dict(labels), line, evidence))
        return at_s

    def block(
        self,
        at_s: float,
        source: Pod | dict[str, str],
        lines: Sequence[Line],
        *,
        evidence: Sequence[int] = (),
    ) -> float:
        """A multi-line burst (stack trace, banner) logged microseconds apart, in order; returns its end."""
        at = at_s
        for index, line in enumerate(lines):
            self.add(at, source, line, evidence=index in evidence, jitter=False)
            at += self.rng.uniform(0.00002, 0.0002)
        return at + 0.001

    def event(
        self, at_s: float, pod: Pod, kind: str, reason: str, message: str, *, evidence: bool = False
    ) -> float:
        """A Kubernetes event about a pod."""
        line = kube_event(kind, reason, f"pod/{pod.name}", message)
        return self.add(at_s, self.events(pod.namespace), line, evidence=evidence)

    def quiet(self, pod: Pod, start_s: float, end_s: float = math.inf) -> None:
        """Keep background noise away from a pod between two times (it is down or not yet started)."""
        self._quiet.setdefault(pod, []).append((start_s, end_s))

    def is_quiet(self, pod: Pod, at_s: float) -> bool:
        """Whether ``pod`` should stay silent at ``at_s`` (see ``quiet``)."""
        return any(start <= at_s <= end for start, end in self._quiet.get(pod, ()))

    def noise_weight(self, pod: Pod, weight: float) -> None:
        """Make a pod chattier (> 1) or quieter (< 1) than the others."""
        self._noisy[pod] = weight

    def evidence_times(self) -> list[float]:
        """Seconds into the window of every line marked as evidence so far."""
        return [(pending.ts_ns - self.start_ns) / 1e9 for pending in self._lines if pending.evidence]

    @property
    def scenario_lines(self) -> int:
        """How many lines the scenario has placed so far."""
        return len(self._lines)

    def finish(self, noise: Callable[[Window, Pod], Line]) -> Built:
        """Add noise up to 20-120 lines, sort by time, and collect evidence indices and components."""
        placed = len(self._lines)
        if placed > MAX_LINES - 6:
            raise ValueError(f"scenario placed {placed} lines; at most {MAX_LINES - 6} leave room for noise")
        target = self.rng.randint(max(MIN_LINES, placed + 6), max(MIN_LINES, min(MAX_LINES, placed + 75)))
        # Every pod speaks at least twice, so each window really interleaves several pods.
        for pod in self.pods:
            self._add_noise(pod, noise, tries=20)
            self._add_noise(pod, noise, tries=20)
        # Windows interleave several pods: when the scenario's pods are mostly silent (Pending,
        # ContainerCreating), a neighbour in the namespace speaks too.
        while len({pending.labels.get("pod") for pending in self._lines} - {None}) < 2:
            neighbour = self.app()
            self._add_noise(neighbour, noise, tries=20)
            self._add_noise(neighbour, noise, tries=20)
        cum_weights = list(accumulate(self._noisy.get(pod, _default_weight(pod)) for pod in self.pods))
        attempts = 0
        while len(self._lines) < target and attempts < 50 * target:
            attempts += 1
            self._add_noise(self.rng.choices(self.pods, cum_weights=cum_weights)[0], noise, tries=1)
        ordered = sorted(self._lines, key=lambda pending: (pending.ts_ns, pending.order))
        end_ns = self.start_ns + int(self.duration_s * 1e9)
        if ordered[-1].ts_ns >= end_ns:
            raise ValueError("a scenario placed a line after the end of its window")
        # Built from format_rfc3339_ns, so valid by construction; GoldenExample still checks the window.
        logs = [
            GoldenLog.model_construct(
                ts=format_rfc3339_ns(pending.ts_ns),
                labels=pending.labels,
                line=pending.line.render(pending.ts_ns),
            )
            for pending in ordered
        ]
        return Built(
            start=format_rfc3339_ns(self.start_ns),
            end=format_rfc3339_ns(end_ns),
            logs=logs,
            evidence=[index for index, pending in enumerate(ordered) if pending.evidence],
            components=sorted({pending.line.component for pending in ordered}),
        )

    def _add_noise(self, pod: Pod, noise: Callable[[Window, Pod], Line], *, tries: int) -> None:
        for _ in range(tries):
            at = self.rng.uniform(0.5, self.duration_s - 0.5)
            if not self.is_quiet(pod, at):
                self.add(at, pod, noise(self, pod))
                return


def _default_weight(pod: Pod) -> float:
    # Apps log per request; databases and platform pods log far less.
    return 1.0 if pod.runtime in APP_RUNTIMES else 0.35
