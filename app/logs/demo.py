"""A demo log source: a day of a small cluster's namespaces, with incidents in the last hour, ending now.

Built on the synthetic-log engine (``app.logs.synthetic``), so its lines, labels and events are
exactly what the golden set holds and what k8s/'s Alloy ships to Loki: each container's own output,
and Kubernetes events in Alloy's logfmt. Six namespaces, each with its services, jobs and datastores:

- payments: its PostgreSQL pod is moved to another node and its volume stays attached to the old one
  (Multi-Attach); the database never starts and payments-api's requests fail.
- checkout: a Spring Boot service's heap climbs with load until the kernel OOM-kills it, again and again.
- auth: the certificate of the identity provider the services call expired; every handshake fails.
- data: the cluster DNS stops answering; the ingest API and the workers cannot resolve Kafka or S3.
- ingress-nginx: the ingress controller, answering 5xx for the namespaces above during their incidents.
- catalog: nothing is wrong.

The same seed and the same minute always give the same lines; Loki's ``detected_level`` comes along
as structured metadata, as Loki 3 adds it.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from opentelemetry import trace

from app.logs.logql import check_label_name, parse_selector_and_filters, query_window_ns
from app.logs.models import LogEntry, LogQueryResult, detect_level
from app.logs.synthetic.cluster import Cluster, Container
from app.logs.synthetic.events import Reporter
from app.logs.synthetic.faults import CertDates, Target
from app.logs.synthetic.lifecycle import crash_loop, mount_failure_loop, reschedule_stateful_pod
from app.logs.synthetic.memory import memory_climb
from app.logs.synthetic.parts import Dep, Outage, Proc, Run
from app.logs.synthetic.proxies import IngressNginx
from app.logs.synthetic.scene import Scene
from app.logs.synthetic.stack import StackSpec, compose, finish
from app.logs.synthetic.timeline import Line
from app.logs.synthetic.traffic import serve_request
from app.telemetry.metrics import LOKI_QUERY_DURATION

DEMO_NAMESPACES = ("payments", "checkout", "auth", "data", "ingress-nginx", "catalog")
DAY_SECONDS = 24 * 3600
# Generation is cached per minute of "now": fresh enough for a demo, and cheap across reruns.
BUCKET_SECONDS = 60
# Minutes before now that each incident starts.
PAYMENTS_INCIDENT_MIN = 47
CHECKOUT_INCIDENT_MIN = 36
AUTH_INCIDENT_MIN = 55
DATA_INCIDENT_MIN = 28
# The demo's traffic is a fifth of the golden set's default rates: a day is ~30k lines.
_TRAFFIC = 0.2
_NS_PER_S = 1_000_000_000


def _scene(seed: int, cluster: Cluster, end_ns: int, namespace: str, spec: StackSpec) -> Scene:
    rng = random.Random(f"{seed}/{namespace}")
    domain = {"auth": "identity", "data": "analytics"}.get(namespace, namespace)
    scene = compose(
        rng,
        spec,
        start_ns=end_ns - DAY_SECONDS * _NS_PER_S,
        duration_s=DAY_SECONDS,
        namespace=namespace,
        cluster=cluster,
        domain=domain,
    )
    scene.traffic_scale = _TRAFFIC
    # Ticks counted from the end of the day, so moving "now" by whole minutes moves every line alike.
    scene.cron_epoch_ns = end_ns
    for workload in scene.workloads:
        workload.config.probes_logged = False
        workload.schedule_min = 60 if workload.kind == "CronJob" else 0
    return scene


def _ago(minutes: float) -> float:
    return DAY_SECONDS - minutes * 60


def _payments(seed: int, cluster: Cluster, end_ns: int) -> Scene:
    spec = StackSpec(apis=["go"], worker="go", postgres="namespace", redis="namespace", crons=["python"])
    scene = _scene(seed, cluster, end_ns, "payments", spec)
    database = scene.workload("postgres")
    assert database is not None
    start = _ago(PAYMENTS_INCIDENT_MIN)
    pod = reschedule_stateful_pod(scene, database, start)
    proc = next(item for item in scene.procs_of_pod(pod) if item.container is database.main)
    message = f'Multi-Attach error for volume "pvc-{seed:08x}-52a4-4f0e-9c57-2b1f7a4d8e21" Volume is already exclusively attached to one node and can\'t be attached to another'
    mount_failure_loop(
        scene,
        proc,
        pod.started_at + 1,
        message,
        volumes="data",
        reason="FailedAttachVolume",
        reporter=Reporter("attachdetach-controller"),
    )
    for api_proc in scene.procs_of(scene.with_role("api")[0]):
        at, attempt = start + 5, 1
        while at < DAY_SECONDS - 1:
            serve_request(scene, api_proc, at)
            # The pool's own reconnect loop, between the requests that fail.
            backoff = min(30_000, 500 * 2**attempt)
            scene.log(
                at + 2,
                api_proc,
                api_proc.logger.log(
                    "warn", "database connection lost, retrying", attempt=attempt, backoff_ms=backoff
                ),
            )
            attempt += 1
            at += scene.rng.uniform(40, 90)
    return scene


def _checkout(seed: int, cluster: Cluster, end_ns: int) -> Scene:
    spec = StackSpec(apis=["jvm"], redis="namespace", postgres="external", upstreams=1)
    scene = _scene(seed, cluster, end_ns, "checkout", spec)
    api = scene.with_role("api")[0]
    api.config.load = 2.0
    proc = scene.procs_of(api)[0]
    first = _ago(CHECKOUT_INCIDENT_MIN)
    interval = 420.0
    memory_climb(scene, proc, first - interval, first, warn=True, evidence=True)

    def climb_again(dying: Proc, run: Run, at: float) -> None:
        memory_climb(scene, dying, run.start + 20, at, warn=False, evidence=False)

    crash_loop(
        scene, proc, first, run_length=lambda _n: interval * scene.rng.uniform(0.8, 1.1), on_death=climb_again
    )
    return scene


def _auth(seed: int, cluster: Cluster, end_ns: int) -> Scene:
    spec = StackSpec(apis=["go", "node"], redis="namespace", postgres="namespace")
    scene = _scene(seed, cluster, end_ns, "auth", spec)
    host = "keycloak.auth.svc.cluster.local"
    keycloak = Dep(
        "keycloak",
        Target("http", host, cluster.service_ip(), 8443, scheme="https", san=(host, "keycloak.auth.svc")),
        use=0.6,
    )
    scene.add_dep(keycloak, users=scene.with_role("api"))
    expiry = end_ns - AUTH_INCIDENT_MIN * 60 * _NS_PER_S
    expiry -= expiry % _NS_PER_S
    keycloak.outages.append(
        Outage(
            _ago(AUTH_INCIDENT_MIN),
            DAY_SECONDS + 1,
            "tls_expired",
            cert=CertDates(expiry - 90 * 86400 * _NS_PER_S, expiry),
        )
    )
    return scene


def _data(seed: int, cluster: Cluster, end_ns: int) -> Scene:
    spec = StackSpec(apis=["go"], worker="python", kafka=True, s3=True, crons=["python"])
    scene = _scene(seed, cluster, end_ns, "data", spec)
    for dep in scene.deps.values():
        dep.outages.append(Outage(_ago(DATA_INCIDENT_MIN), DAY_SECONDS + 1, "dns_timeout", share=0.9))
    return scene


def _catalog(seed: int, cluster: Cluster, end_ns: int) -> Scene:
    spec = StackSpec(apis=["node", "python"], postgres="namespace", redis="namespace", crons=["go"], web=True)
    return _scene(seed, cluster, end_ns, "catalog", spec)


def _ingress(seed: int, cluster: Cluster, end_ns: int, upstreams: list[Scene]) -> list[Line]:
    """The ingress controller's day: requests routed to the other namespaces' APIs, failing with them."""
    rng = random.Random(f"{seed}/ingress-nginx")
    spec = StackSpec(apis=[])
    scene = compose(
        rng,
        spec,
        start_ns=end_ns - DAY_SECONDS * _NS_PER_S,
        duration_s=DAY_SECONDS,
        namespace="ingress-nginx",
        cluster=cluster,
    )
    image = "registry.k8s.io/ingress-nginx/controller:v1.11.3"
    controller = cluster.new_workload(
        "Deployment",
        "ingress-nginx-controller",
        "ingress",
        [Container("controller", "ingress-nginx", image, 512, 443)],
        replicas=2,
    )
    controller.app_label = "ingress-nginx"
    pods = [cluster.new_pod(controller, "ingress-nginx") for _ in range(2)]
    writers = {pod.name: IngressNginx(rng) for pod in pods}
    routes = [(other, api) for other in upstreams for api in other.with_role("api")]
    agents = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
        "okhttp/4.12.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
    )
    # A few Ingress changes a day: every controller syncs and reloads its nginx configuration.
    for change in sorted(rng.uniform(0, DAY_SECONDS) for _ in range(rng.randint(4, 9))):
        other = rng.choice(upstreams)
        for pod in pods:
            writer, labels = writers[pod.name], pod.labels(controller.main)
            sync = f'Event(v1.ObjectReference{{Kind:"Ingress", Namespace:"{other.namespace}", Name:"{other.namespace}", UID:"{other.uuid()}", APIVersion:"networking.k8s.io/v1", ResourceVersion:"{rng.randint(10**6, 10**8)}", FieldPath:""}}): type: \'Normal\' reason: \'Sync\' Scheduled for sync'
            scene.timeline.add(
                change + rng.uniform(0, 0.5),
                labels,
                writer.controller("I", "event.go:377", sync),
                writer.component,
            )
            scene.timeline.add(
                change + rng.uniform(0.5, 1),
                labels,
                writer.controller(
                    "I", "controller.go:190", '"Configuration changes detected, backend reload required"'
                ),
                writer.component,
            )
            scene.timeline.add(
                change + rng.uniform(1.5, 3),
                labels,
                writer.controller("I", "controller.go:210", '"Backend successfully reloaded"'),
                writer.component,
            )
    at = rng.expovariate(1 / 20)
    while at < DAY_SECONDS:
        pod = rng.choice(pods)
        writer = writers[pod.name]
        labels = pod.labels(controller.main)
        other, api = rng.choice(routes)
        procs = [proc for proc in other.procs_of(api) if proc.serving(at)]
        # Endpoints lag a pod's death by a few seconds: the controller still sends it requests.
        stale = [
            proc
            for proc in other.procs_of(api)
            if any(at - 5 <= run.end < at and not run.graceful for run in proc.runs)
        ]
        upstream = f"{other.namespace}-{api.name}-{api.main.port}"
        path = f"/{other.namespace}/v1/{rng.choice(other.domain)}"
        client = f"10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}"
        request_id = f"{rng.getrandbits(128):032x}"
        failing = any(
            other.call_failure(dep, at) is not None
            for dep in other.deps_of(api)
            if dep.target.kind != "redis"
        )
        if stale:
            dead = rng.choice(stale).pod
            address = f"{dead.ip}:{api.main.port}"
            reason = "connect() failed (111: Connection refused) while connecting to upstream"
            message = f'*{rng.randint(10**5, 10**7)} {reason}, client: {client}, server: _, request: "GET {path} HTTP/2.0", upstream: "http://{address}{path}", host: "shop.example.com"'
            scene.timeline.add(at, labels, writer.error("error", message), writer.component)
            scene.timeline.add(
                at + 0.001,
                labels,
                writer.access(
                    client, "GET", path, 502, 150, rng.choice(agents), upstream, address, 0.001, request_id
                ),
                writer.component,
            )
        elif not procs:
            scene.timeline.add(
                at,
                labels,
                writer.controller(
                    "W",
                    "controller.go:1214",
                    f'Service "{other.namespace}/{api.name}" does not have any active Endpoint.',
                ),
                writer.component,
            )
            scene.timeline.add(
                at + 0.001,
                labels,
                writer.access(
                    client, "GET", path, 503, 190, rng.choice(agents), upstream, "-", 0.0, request_id
                ),
                writer.component,
            )
        else:
            target = rng.choice(procs).pod
            status = 500 if failing and rng.random() < 0.8 else rng.choice((200, 200, 200, 201, 304, 404))
            took = rng.lognormvariate(math.log(0.03), 0.8)
            access = writer.access(
                client,
                rng.choice(("GET", "GET", "POST")),
                path,
                status,
                rng.randint(120, 25_000) if status < 400 else 150,
                rng.choice(agents),
                upstream,
                f"{target.ip}:{api.main.port}",
                took,
                request_id,
            )
            scene.timeline.add(at + took, labels, access, writer.component)
        at += rng.expovariate(1 / 20)
    return scene.timeline.finish()


_WRITERS: dict[str, Callable[[int, Cluster, int], Scene]] = {
    "payments": _payments,
    "checkout": _checkout,
    "auth": _auth,
    "data": _data,
    "catalog": _catalog,
}


class _DemoDay:
    """A generated day: all entries oldest first, and per namespace with their timestamps for bisecting."""

    def __init__(self, entries: list[LogEntry]) -> None:
        entries.sort(key=lambda e: e.ts_ns)
        self.entries = entries
        self.by_namespace: dict[str, list[LogEntry]] = {}
        for entry in entries:
            self.by_namespace.setdefault(entry.namespace, []).append(entry)
        self.stamps = {ns: [e.ts_ns for e in items] for ns, items in self.by_namespace.items()}
        self.all_stamps = [e.ts_ns for e in entries]


def _entry(line: Line) -> LogEntry:
    # Loki 3 derives detected_level for every line and returns it as structured metadata.
    return LogEntry(
        ts_ns=line.ts_ns,
        labels=line.labels,
        line=line.text,
        structured_metadata={"detected_level": detect_level(line.text)},
    )


@lru_cache(maxsize=4)
def _demo_day(seed: int, end_ns: int) -> _DemoDay:
    cluster = Cluster.create(random.Random(f"{seed}/cluster"), node_count=4)
    scenes = [write(seed, cluster, end_ns) for write in _WRITERS.values()]
    lines = [line for scene in scenes for line in finish(scene)]
    lines += _ingress(seed, cluster, end_ns, scenes)
    return _DemoDay([_entry(line) for line in lines])


def generate_demo_entries(seed: int, end: datetime) -> list[LogEntry]:
    """The demo's 24 hours of entries ending at ``end`` (oldest first); same seed and end, same entries."""
    return list(_demo_day(seed, _bucket_end_ns(end)).entries)


def _bucket_end_ns(now: datetime) -> int:
    seconds = int(now.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return seconds * _NS_PER_S


class DemoLogSource:
    """A log source that needs no cluster: realistic logs with incidents, ending at ``now``."""

    name = "demo"

    def __init__(self, now: Callable[[], datetime] | None = None, seed: int = 7) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self.seed = seed

    def _day(self) -> _DemoDay:
        return _demo_day(self.seed, _bucket_end_ns(self._now()))

    def query_range(self, query: str, start: datetime, end: datetime, *, limit: int) -> LogQueryResult:
        """Lines matching ``query`` in [start, end), up to ``limit``, newest kept, returned oldest first."""
        start_ns, end_ns = query_window_ns(start, end, limit)
        began = time.perf_counter()
        with trace.get_tracer("logtriage.logs").start_as_current_span(
            "demo.query_range", attributes={"loki.query": query, "loki.limit": limit}
        ) as span:
            parsed = parse_selector_and_filters(query)
            day = self._day()
            namespace = parsed.selector_value("namespace")
            candidates = day.by_namespace.get(namespace, []) if namespace is not None else day.entries
            stamps = day.stamps.get(namespace, []) if namespace is not None else day.all_stamps
            window = candidates[bisect.bisect_left(stamps, start_ns) : bisect.bisect_left(stamps, end_ns)]
            matching = [e for e in window if parsed.matches(e)]
            entries = matching[-limit:]
            span.set_attribute("loki.entries", len(entries))
            duration = time.perf_counter() - began
            LOKI_QUERY_DURATION.labels(source=self.name).observe(duration)
        return LogQueryResult(
            query=query,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            entries=entries,
            truncated=len(matching) > limit,
            source=self.name,
            requests=0,
            duration_s=duration,
        )

    def label_values(
        self, label: str, start: datetime, end: datetime, *, query: str | None = None
    ) -> list[str]:
        """Values of ``label`` seen in [start, end), sorted; only in streams ``query`` selects, when given."""
        check_label_name(label)
        start_ns, end_ns = query_window_ns(start, end)
        matchers = parse_selector_and_filters(query).matchers if query is not None else []
        day = self._day()
        window = day.entries[
            bisect.bisect_left(day.all_stamps, start_ns) : bisect.bisect_left(day.all_stamps, end_ns)
        ]
        return sorted(
            {
                e.labels[label]
                for e in window
                if label in e.labels and all(m.matches(e.labels) for m in matchers)
            }
        )
