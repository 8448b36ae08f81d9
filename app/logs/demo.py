"""A demo log source: a day of realistic Kubernetes logs, with incidents, re-timed to end now.

Six namespaces, each with healthy background pods and (except ``monitoring``) a failure in the last
hour, written in the formats real clusters produce: Go JSON (zap) and slog, klog from the kubelet and
controllers, Kubernetes events as an event exporter ships them (logfmt), Spring Boot and Kafka
(log4j) JVM lines, Python logging with tracebacks, librdkafka, ingress-nginx access and error lines,
PostgreSQL and Redis. The same seed and the same minute always give the same lines.

Incidents:
- payments: the Postgres volume fills up, Postgres panics, the API crashloops (connection refused,
  readiness probes failing, BackOff events) and the worker's queries fail.
- checkout: one JVM pod's heap outgrows its memory limit; the kernel OOM-kills it (exit 137), again
  and again.
- auth: Keycloak's TLS certificate expired; token introspection and logins fail with x509 errors.
- ingress-nginx: 502/503/504 for the checkout and payments upstreams during their incidents.
- data: cluster DNS times out; Kafka and MinIO names cannot be resolved.
"""

from __future__ import annotations

import bisect
import json
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar

from opentelemetry import trace

from app.logs.logql import check_label_name, parse_selector_and_filters, query_window_ns
from app.logs.models import LogEntry, LogQueryResult
from app.telemetry.metrics import LOKI_QUERY_DURATION

DEMO_NAMESPACES = ("payments", "checkout", "auth", "ingress-nginx", "data", "monitoring")
DAY_SECONDS = 24 * 3600
# Generation is cached per minute of "now": fresh enough for a demo, and cheap across reruns.
BUCKET_SECONDS = 60

# Minutes before now that each incident starts; ingress-nginx follows payments and checkout.
PAYMENTS_INCIDENT_MIN = 47
CHECKOUT_INCIDENT_MIN = 36
AUTH_INCIDENT_MIN = 55
DATA_INCIDENT_MIN = 28

_T = TypeVar("_T")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EVENTS_JOB = "integrations/kubernetes/eventhandler"
_KUBELET_JOB = "integrations/kubernetes/kubelet"
_KERNEL_JOB = "integrations/node_exporter/journal"


# --- Timestamp formats -------------------------------------------------------------------------


def _utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)


def _ms(ts_ns: int) -> int:
    return ts_ns % 1_000_000_000 // 1_000_000


def _iso(ts_ns: int) -> str:
    return f"{_utc(ts_ns):%Y-%m-%dT%H:%M:%S}.{_ms(ts_ns):03d}Z"


def _klog(severity: str, ts_ns: int, source: str, message: str, thread: int = 1) -> str:
    micros = ts_ns % 1_000_000_000 // 1000
    return f"{severity}{_utc(ts_ns):%m%d %H:%M:%S}.{micros:06d} {thread:>7} {source}] {message}"


def _python_time(ts_ns: int) -> str:
    return f"{_utc(ts_ns):%Y-%m-%d %H:%M:%S},{_ms(ts_ns):03d}"


def _nginx_access_time(ts_ns: int) -> str:
    moment = _utc(ts_ns)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def _postgres_time(ts_ns: int) -> str:
    return f"{_utc(ts_ns):%Y-%m-%d %H:%M:%S}.{_ms(ts_ns):03d} UTC"


def _zap(ts_ns: int, level: str, caller: str, msg: str, **fields: object) -> str:
    return json.dumps(
        {"level": level, "ts": _iso(ts_ns), "caller": caller, "msg": msg, **fields}, separators=(",", ":")
    )


def _spring(ts_ns: int, level: str, thread: str, logger_name: str, msg: str) -> str:
    return f"{_iso(ts_ns)} {level:>5} 1 --- [checkout] [{thread:>15}] {logger_name:<40} : {msg}"


def _event(
    kind: str, name: str, kind_type: str, reason: str, msg: str, count: int, source: str, host: str
) -> str:
    escaped = msg.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f"type={kind_type} reason={reason} kind={kind} name={name} objectAPIversion=v1 "
        f'sourcecomponent={source} sourcehost={host} count={count} msg="{escaped}"'
    )


# --- The generator -------------------------------------------------------------------------------


class _Namespace:
    """Writes one namespace's entries, timed in seconds before the end of the day being generated."""

    def __init__(self, namespace: str, end_ns: int, seed: int) -> None:
        self.namespace = namespace
        self.end_ns = end_ns
        self.rng = random.Random(f"{seed}/{namespace}")
        self.entries: list[LogEntry] = []
        self.events = {"namespace": namespace, "job": _EVENTS_JOB}
        self._event_counts: dict[tuple[str, str], int] = {}

    def pod(self, app: str, pod: str, container: str, node: str) -> dict[str, str]:
        """The stream labels of a pod's container, as the Kubernetes log collector sets them."""
        return {
            "namespace": self.namespace,
            "pod": pod,
            "container": container,
            "app": app,
            "node": node,
            "job": f"{self.namespace}/{app}",
        }

    def node(self, node: str, job: str = _KUBELET_JOB) -> dict[str, str]:
        """Node journal lines (kubelet, kernel), relabelled with the namespace of the pod they concern."""
        return {"namespace": self.namespace, "node": node, "job": job}

    def add(
        self,
        ago_s: float,
        labels: dict[str, str],
        render: Callable[[int], str],
        metadata: dict[str, str] | None = None,
    ) -> None:
        """One line ``ago_s`` seconds before the end, with optional structured metadata."""
        if ago_s <= 0 or ago_s >= DAY_SECONDS:
            return
        ts_ns = self.end_ns - int(ago_s * 1e9) - self.rng.randrange(1_000_000)
        self.entries.append(
            LogEntry(ts_ns=ts_ns, labels=labels, line=render(ts_ns), structured_metadata=metadata or {})
        )

    def every(
        self,
        labels: dict[str, str],
        mean_s: float,
        render: Callable[[int], str],
        start_ago: float,
        stop_ago: float = 0,
    ) -> None:
        """Lines at random (Poisson) times from ``start_ago`` until ``stop_ago`` seconds before the end."""
        ago = start_ago
        while True:
            ago -= self.rng.expovariate(1 / mean_s)
            if ago <= stop_ago:
                return
            self.add(ago, labels, render)

    def event(
        self, ago_s: float, kind: str, name: str, reason: str, msg: str, *, host: str, warning: bool = True
    ) -> None:
        """A Kubernetes event as the event exporter ships it; repeated events count up like the API's."""
        count = self._event_counts[(name, reason)] = self._event_counts.get((name, reason), 0) + 1
        kind_type = "Warning" if warning else "Normal"
        source = "kubelet" if kind == "Pod" else "cert-manager-certificates-issuing"
        self.add(
            ago_s, self.events, lambda ts: _event(kind, name, kind_type, reason, msg, count, source, host)
        )

    def python_errors(
        self,
        labels: dict[str, str],
        message: str,
        traceback: Sequence[str],
        start_ago: float,
        *,
        every_s: float,
    ) -> None:
        """A Python ERROR line and its traceback, repeated about every ``every_s`` seconds until the end.

        Each traceback line is its own entry, as container runtimes split a process's output by line.
        """
        ago = start_ago
        while ago > 1:
            self.add(ago, labels, lambda ts: f"{_python_time(ts)} ERROR {message}")
            for offset, text in enumerate(traceback, start=1):
                self.add(ago - 0.001 * offset, labels, lambda ts, text=text: text)
            ago -= every_s * self.rng.uniform(0.97, 1.03)

    def pick(self, options: Sequence[_T]) -> _T:
        """One of ``options``, drawn from this namespace's random stream."""
        return self.rng.choice(options)

    def request_id(self) -> str:
        """A 16-hex-digit request id."""
        return f"{self.rng.getrandbits(64):016x}"


def _payments(ns: _Namespace) -> None:
    api_pods = ("payments-api-7d9f8b6c4-x2k9p", "payments-api-7d9f8b6c4-q8w4n")
    api_ips = {"payments-api-7d9f8b6c4-x2k9p": "10.244.2.31", "payments-api-7d9f8b6c4-q8w4n": "10.244.1.17"}
    db = ns.pod("payments-db", "payments-db-0", "postgres", "node-1")
    worker = ns.pod("payments-worker", "payments-worker-5c8d7f9b6-m3j7t", "worker", "node-3")
    incident = PAYMENTS_INCIDENT_MIN * 60
    paths = ("/v1/payments", "/v1/payments/{id}", "/v1/refunds", "/v1/payment-methods", "/healthz")

    for pod in api_pods:
        labels = ns.pod("payments-api", pod, "api", "node-2" if pod.endswith("x2k9p") else "node-1")

        def served(ts: int) -> str:
            path = ns.pick(paths)
            status = ns.pick((200, 200, 200, 201, 200, 404, 200, 409)) if path != "/healthz" else 200
            return _zap(
                ts,
                "info",
                "httpapi/middleware.go:61",
                "request completed",
                method="GET" if "{id}" in path or path == "/healthz" else "POST",
                path=path.replace("{id}", f"pay_{ns.rng.getrandbits(40):010x}"),
                status=status,
                duration_ms=round(ns.rng.lognormvariate(3.0, 0.6), 1),
                request_id=ns.request_id(),
            )

        ns.every(labels, 75, served, DAY_SECONDS, incident + 60)
        ns.every(
            labels,
            3600,
            lambda ts: _zap(
                ts,
                "warn",
                "store/payments.go:214",
                "slow query",
                query="UPDATE payments SET status=$1 WHERE id=$2",
                duration_ms=round(ns.rng.uniform(520, 1400), 1),
            ),
            DAY_SECONDS,
            incident + 60,
        )

    # Postgres: routine checkpoints, then the WAL volume fills up.
    def checkpoint_done(ts: int) -> str:
        buffers = ns.rng.randint(40, 900)
        return (
            f"{_postgres_time(ts)} [27] LOG:  checkpoint complete: wrote {buffers} buffers "
            f"({buffers / 163.84:.1f}%); 0 WAL file(s) added, 0 removed, 1 recycled; "
            f"write={ns.rng.uniform(2, 27):.3f} s, sync={ns.rng.uniform(0, 0.1):.3f} s, total={ns.rng.uniform(27, 30):.3f} s"
        )

    ns.every(
        db,
        300,
        lambda ts: f"{_postgres_time(ts)} [27] LOG:  checkpoint starting: time",
        DAY_SECONDS,
        incident + 300,
    )
    ns.every(db, 300, checkpoint_done, DAY_SECONDS, incident + 300)
    ns.every(
        db,
        5400,
        lambda ts: (
            f"{_postgres_time(ts)} [{ns.rng.randint(3000, 9000)}] LOG:  duration: {ns.rng.uniform(1000, 2500):.3f} ms  "
            "statement: SELECT p.id, p.amount FROM payments p JOIN refunds r ON r.payment_id = p.id WHERE r.created_at > $1"
        ),
        DAY_SECONDS,
        incident,
    )
    pid = 4121
    ns.add(incident + 95, db, lambda ts: f"{_postgres_time(ts)} [27] LOG:  checkpoint starting: wal")
    ns.add(
        incident + 4,
        db,
        lambda ts: (
            f'{_postgres_time(ts)} [{pid}] ERROR:  could not extend file "base/16384/24611": No space left on device'
        ),
    )
    ns.add(incident + 4, db, lambda ts: f"{_postgres_time(ts)} [{pid}] HINT:  Check free disk space.")
    ns.add(
        incident + 2,
        db,
        lambda ts: (
            f'{_postgres_time(ts)} [27] PANIC:  could not write to file "pg_wal/xlogtemp.27": No space left on device'
        ),
    )
    ns.add(
        incident + 1.5,
        db,
        lambda ts: (
            f"{_postgres_time(ts)} [1] LOG:  checkpointer process (PID 27) was terminated by signal 6: Aborted"
        ),
    )
    ns.add(
        incident + 1.4,
        db,
        lambda ts: f"{_postgres_time(ts)} [1] LOG:  terminating any other active server processes",
    )
    db_restart = incident
    restart = 0
    while db_restart > 30:
        ns.add(
            db_restart,
            db,
            lambda ts: f"{_postgres_time(ts)} [1] LOG:  starting PostgreSQL 16.4 on x86_64-pc-linux-gnu",
        )
        ns.add(
            db_restart - 0.2,
            db,
            lambda ts: f'{_postgres_time(ts)} [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432',
        )
        ns.add(
            db_restart - 0.4,
            db,
            lambda ts: (
                f"{_postgres_time(ts)} [9] LOG:  database system was interrupted; last known up at "
                f"{_postgres_time(ns.end_ns - incident * 1_000_000_000)}"
            ),
        )
        ns.add(
            db_restart - 0.9,
            db,
            lambda ts: (
                f'{_postgres_time(ts)} [9] FATAL:  could not write to file "pg_wal/xlogtemp.9": No space left on device'
            ),
        )
        ns.add(
            db_restart - 1.0,
            db,
            lambda ts: f"{_postgres_time(ts)} [1] LOG:  startup process (PID 9) exited with exit code 1",
        )
        ns.add(
            db_restart - 1.1,
            db,
            lambda ts: f"{_postgres_time(ts)} [1] LOG:  aborting startup due to startup process failure",
        )
        ns.add(
            db_restart - 1.2, db, lambda ts: f"{_postgres_time(ts)} [1] LOG:  database system is shut down"
        )
        if restart >= 2:
            ns.event(
                db_restart - 3,
                "Pod",
                "payments-db-0",
                "BackOff",
                "Back-off restarting failed container postgres in pod payments-db-0_payments(6c1d0b3e-52a4-4f0e-9c57-2b1f7a4d8e21)",
                host="node-1",
            )
        restart += 1
        db_restart -= min(300, 10 * 2**restart) + 2 + ns.rng.random()

    # The API: every start tries the database five times, then exits; the kubelet backs off.
    for index, pod in enumerate(api_pods):
        labels = ns.pod("payments-api", pod, "api", "node-2" if index == 0 else "node-1")
        node = "node-2" if index == 0 else "node-1"
        ip = api_ips[pod]
        uid = ("0f1e2d3c-4b5a-4697-8877-66554433aa01", "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c02")[index]
        ns.add(
            incident - 1 - index,
            labels,
            lambda ts: _zap(
                ts,
                "error",
                "httpapi/handlers.go:118",
                "request failed",
                path="/v1/payments",
                status=500,
                error="pq: the database system is shutting down",
                request_id=ns.request_id(),
            ),
        )
        start = incident - 5 - 7 * index
        restart = 0
        while start > 20:
            if restart:
                ns.event(
                    start + 0.5, "Pod", pod, "Started", "Started container api", host=node, warning=False
                )
            ns.add(
                start,
                labels,
                lambda ts: _zap(
                    ts,
                    "info",
                    "cmd/api/main.go:48",
                    "starting payments-api",
                    version="2.14.3",
                    commit="9f2c1ab",
                ),
            )
            ns.add(
                start - 0.1,
                labels,
                lambda ts: _zap(
                    ts,
                    "info",
                    "store/pool.go:52",
                    "connecting to postgres",
                    host="payments-db.payments.svc.cluster.local:5432",
                ),
            )
            for attempt in range(1, 6):
                ns.add(
                    start - 0.2 - 2 * attempt,
                    labels,
                    lambda ts, attempt=attempt: _zap(
                        ts,
                        "error",
                        "store/pool.go:88",
                        "database ping failed, retrying",
                        attempt=attempt,
                        error="dial tcp 10.96.14.7:5432: connect: connection refused",
                    ),
                )
            if start - 8 > 0:
                ns.event(
                    start - 8,
                    "Pod",
                    pod,
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503",
                    host=node,
                )
                ns.add(
                    start - 8.01,
                    ns.node(node),
                    lambda ts, pod=pod, uid=uid: _klog(
                        "I",
                        ts,
                        "prober.go:107",
                        f'"Probe failed" probeType="Readiness" pod="payments/{pod}" podUID="{uid}" containerName="api" '
                        'probeResult="failure" output="HTTP probe failed with statuscode: 503"',
                        thread=2381,
                    ),
                )
            ns.add(
                start - 10.5,
                labels,
                lambda ts: _zap(
                    ts,
                    "fatal",
                    "cmd/api/main.go:63",
                    "cannot start without database",
                    error="dial tcp 10.96.14.7:5432: connect: connection refused",
                ),
            )
            restart += 1
            backoff = min(300, 10 * 2 ** (restart - 1))
            if restart >= 2:
                ns.event(
                    start - 11,
                    "Pod",
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container api in pod {pod}_payments({uid})",
                    host=node,
                )
                ns.add(
                    start - 11.01,
                    ns.node(node),
                    lambda ts, pod=pod, uid=uid, backoff=backoff: _klog(
                        "E",
                        ts,
                        "pod_workers.go:1301",
                        f'"Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"api\\" with '
                        f'CrashLoopBackOff: \\"back-off {backoff // 60}m{backoff % 60}s restarting failed container=api '
                        f'pod={pod}_payments({uid})\\"" pod="payments/{pod}" podUID="{uid}"',
                        thread=2381,
                    ),
                )
            if restart == 3:
                ns.event(
                    start - 11.5,
                    "Pod",
                    pod,
                    "Unhealthy",
                    f'Liveness probe failed: Get "http://{ip}:8080/livez": dial tcp {ip}:8080: connect: connection refused',
                    host=node,
                )
            start -= 11 + backoff + ns.rng.random()

    # The worker (Python) keeps running but every settlement batch fails.
    ns.every(
        worker,
        120,
        lambda ts: (
            f"{_python_time(ts)} INFO payments.worker.settlement: settled batch of {ns.rng.randint(20, 400)} payments"
        ),
        DAY_SECONDS,
        incident,
    )
    traceback = (
        "Traceback (most recent call last):",
        '  File "/app/payments/worker/settlement.py", line 77, in run_batch',
        "    with db.connect() as conn:",
        '  File "/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py", line 122, in connect',
        "    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
        'psycopg2.OperationalError: connection to server at "payments-db.payments.svc.cluster.local" (10.96.14.7), '
        "port 5432 failed: Connection refused",
        "\tIs the server running on that host and accepting TCP/IP connections?",
    )
    ns.python_errors(
        worker, "payments.worker.settlement: settlement batch failed", traceback, incident - 20, every_s=120
    )


def _checkout(ns: _Namespace) -> None:
    pods = ("checkout-service-6f8b9c7d5-h2j4k", "checkout-service-6f8b9c7d5-p9r2s")
    redis = ns.pod("checkout-redis", "checkout-redis-0", "redis", "node-1")
    incident = CHECKOUT_INCIDENT_MIN * 60
    loggers = (
        ("c.e.checkout.web.CartController", "cart {cart} updated: {items} items"),
        ("c.e.checkout.web.OrderController", "order {order} placed, total {amount} EUR"),
        ("c.e.checkout.pricing.PriceClient", "price lookup for {items} skus took {ms} ms"),
    )
    for index, pod in enumerate(pods):
        labels = ns.pod("checkout-service", pod, "checkout", "node-3" if index == 0 else "node-2")

        def business(ts: int) -> str:
            logger_name, template = ns.pick(loggers)
            message = template.format(
                cart=f"c-{ns.rng.getrandbits(32):08x}",
                order=f"o-{ns.rng.getrandbits(32):08x}",
                items=ns.rng.randint(1, 9),
                amount=f"{ns.rng.uniform(5, 480):.2f}",
                ms=ns.rng.randint(3, 90),
            )
            return _spring(ts, "INFO", f"nio-8080-exec-{ns.rng.randint(1, 10)}", logger_name, message)

        ns.every(labels, 80, business, DAY_SECONDS, incident if index == 0 else 0)
        ns.every(
            labels,
            1800,
            lambda ts: _spring(
                ts,
                "WARN",
                "pool-2-thread-1",
                "c.e.checkout.pricing.PriceClient",
                f"price service slow to answer ({ns.rng.randint(800, 1900)} ms), serving cached prices",
            ),
            DAY_SECONDS,
        )

    # Pod h2j4k: the cart cache grows until the JVM outgrows its 2Gi limit and is OOM-killed; again.
    labels = ns.pod("checkout-service", pods[0], "checkout", "node-3")
    node = "node-3"
    uid = "3b2a1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c09"
    kills = 0
    start = incident
    # The journal's priority ("err") reaches Loki as the line's detected level.
    kernel_error = {"detected_level": "error"}
    ns.add(
        9 * 3600, ns.node(node, _KERNEL_JOB), lambda ts: _oom_line(ns, uid), kernel_error
    )  # long recovered
    while start > 60:
        ns.add(
            start,
            labels,
            lambda ts: _spring(
                ts,
                "INFO",
                "main",
                "c.e.checkout.CheckoutApplication",
                "Starting CheckoutApplication v3.8.1 using Java 21.0.4 with PID 1",
            ),
        )
        ns.add(
            start - 14,
            labels,
            lambda ts: _spring(
                ts,
                "INFO",
                "main",
                "c.e.checkout.CheckoutApplication",
                f"Started CheckoutApplication in {ns.rng.uniform(12, 16):.3f} seconds (process running for {ns.rng.uniform(13, 17):.2f})",
            ),
        )
        lifetime = ns.rng.uniform(240, 420)
        steps = 8
        for step in range(1, steps + 1):
            used = 1.2 + 0.8 * step / steps
            ago = start - 14 - lifetime * step / steps
            ns.add(
                ago,
                labels,
                lambda ts, used=used: _spring(
                    ts,
                    "WARN",
                    "scheduling-1",
                    "c.e.checkout.cache.CartCache",
                    f"cart cache holds {int(used * 410_000)} entries (heap used {used:.2f} GiB of 2.00 GiB)",
                ),
            )
            if step >= 6:
                # Full GCs stall the JVM long enough for probes and the connection pool to notice.
                probe = (
                    'Readiness probe failed: Get "http://10.244.3.45:8080/actuator/health/readiness": '
                    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                )
                probe_output = probe.removeprefix("Readiness probe failed: ").replace('"', '\\"')
                ns.event(ago - 2, "Pod", pods[0], "Unhealthy", probe, host=node)
                ns.add(
                    ago - 2.01,
                    ns.node(node),
                    lambda ts, probe_output=probe_output: _klog(
                        "I",
                        ts,
                        "prober.go:107",
                        f'"Probe failed" probeType="Readiness" pod="checkout/{pods[0]}" podUID="{uid}" '
                        f'containerName="checkout" probeResult="failure" output="{probe_output}"',
                        thread=1893,
                    ),
                )
                ns.add(
                    ago - 3,
                    labels,
                    lambda ts: _spring(
                        ts,
                        "WARN",
                        "l-1 housekeeper",
                        "com.zaxxer.hikari.pool.HikariPool",
                        f"HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta={ns.rng.randint(31, 70)}s).",
                    ),
                )
            if step >= 5:
                ns.add(
                    ago - 1,
                    labels,
                    lambda ts, used=used: (
                        f"[{ns.rng.uniform(200, 400):.3f}s][info][gc] GC({ns.rng.randint(800, 990)}) "
                        f"Pause Full (G1 Compaction Pause) {int(used * 1024)}M->{int(used * 1024) - 3}M(2048M) "
                        f"{ns.rng.uniform(900, 2100):.3f}ms"
                    ),
                )
        killed = start - 14 - lifetime - 2
        if killed <= 0:
            break
        ns.add(killed, ns.node(node, _KERNEL_JOB), lambda ts: _oom_line(ns, uid), kernel_error)
        ns.add(
            killed - 0.3,
            ns.node(node),
            lambda ts: _klog(
                "I",
                ts,
                "kubelet.go:2458",
                f'"SyncLoop (PLEG): event for pod" pod="checkout/{pods[0]}" event={{"ID":"{uid}","Type":"ContainerDied",'
                f'"Data":"{ns.rng.getrandbits(128):032x}"}}',
                thread=1893,
            ),
        )
        kills += 1
        if kills >= 2:
            ns.event(
                killed - 1,
                "Pod",
                pods[0],
                "BackOff",
                f"Back-off restarting failed container checkout in pod {pods[0]}_checkout({uid})",
                host=node,
            )
        start = killed - min(300, 10 * 2 ** (kills - 1)) - 1

    # Redis: background saves.
    ns.every(
        redis,
        300,
        lambda ts: (
            f"1:M {_utc(ts).day:02d} {_MONTHS[_utc(ts).month - 1]} {_utc(ts).year} {_utc(ts):%H:%M:%S}.{_ms(ts):03d} "
            "* 100 changes in 300 seconds. Saving..."
        ),
        DAY_SECONDS,
    )
    ns.every(
        redis,
        300,
        lambda ts: (
            f"1:M {_utc(ts).day:02d} {_MONTHS[_utc(ts).month - 1]} {_utc(ts).year} {_utc(ts):%H:%M:%S}.{_ms(ts):03d} "
            "* Background saving terminated with success"
        ),
        DAY_SECONDS,
    )


def _oom_line(ns: _Namespace, uid: str) -> str:
    pid = ns.rng.randint(2000, 9000)
    return (
        f"Memory cgroup out of memory: Killed process {pid} (java) total-vm:5123456kB, anon-rss:2093872kB, "
        f"file-rss:18236kB, shmem-rss:0kB, UID:1000 pgtables:4644kB oom_score_adj:985 "
        f"oom_memcg=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid.replace('-', '_')}.slice"
    )


def _auth(ns: _Namespace) -> None:
    server = ns.pod("auth-server", "auth-server-7c9d8e6f5-t4v8x", "auth-server", "node-2")
    proxy = ns.pod("oauth2-proxy", "oauth2-proxy-5d6c7b8a9-z3x7c", "oauth2-proxy", "node-1")
    keycloak = ns.pod("keycloak", "keycloak-0", "keycloak", "node-3")
    incident = AUTH_INCIDENT_MIN * 60
    expired_at = f"{_utc(ns.end_ns - incident * 1_000_000_000):%Y-%m-%dT%H:%M:%S}Z"

    def slog(ts: int, level: str, msg: str, **fields: object) -> str:
        rest = " ".join(
            f"{k}={json.dumps(v) if isinstance(v, str) and ' ' in v else v}" for k, v in fields.items()
        )
        return f"time={_iso(ts)} level={level} msg={json.dumps(msg)} {rest}".rstrip()

    ns.every(
        server,
        60,
        lambda ts: slog(
            ts, "INFO", "token issued", client=ns.pick(("checkout", "payments", "web")), ttl="15m"
        ),
        DAY_SECONDS,
        incident,
    )
    ns.every(
        server,
        45,
        lambda ts: slog(ts, "INFO", "token introspected", active="true", latency_ms=ns.rng.randint(2, 30)),
        DAY_SECONDS,
        incident,
    )
    ns.every(
        keycloak,
        240,
        lambda ts: (
            f"{_python_time(ts)} INFO  [org.keycloak.events] (executor-thread-{ns.rng.randint(1, 30)}) "
            f"type=LOGIN, realmId=main, clientId=web, userId={ns.rng.getrandbits(64):016x}, ipAddress=10.0.3.{ns.rng.randint(2, 250)}"
        ),
        DAY_SECONDS,
        incident,
    )
    ns.every(
        proxy,
        90,
        lambda ts: (
            f"10.0.3.{ns.rng.randint(2, 250)}:{ns.rng.randint(30000, 60000)} - {ns.request_id()} - user@example.com "
            f'[{_utc(ts):%Y/%m/%d %H:%M:%S}] shop.example.com GET / "/" HTTP/1.1 "Mozilla/5.0" 200 {ns.rng.randint(400, 9000)} 0.00{ns.rng.randint(1, 9)}'
        ),
        DAY_SECONDS,
    )
    # cert-manager could not renew the certificate days ago; today it expired.
    for hours in (20, 14, 8, 2):
        ns.event(
            hours * 3600,
            "Certificate",
            "keycloak-tls",
            "Failed",
            'The certificate request has failed to complete and will be retried: issuer "internal-ca" not ready: '
            'secret "internal-ca-key-pair" not found',
            host="cert-manager-6d4f8c7b9-2kq5m",
        )
    x509 = (
        "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
        f"current time {{now}} is after {expired_at}"
    )
    ns.every(
        server,
        12,
        lambda ts: slog(
            ts,
            "ERROR",
            "token introspection failed",
            err='Post "https://keycloak.auth.svc.cluster.local:8443/realms/main/protocol/openid-connect/token/introspect": '
            + x509.format(now=f"{_utc(ts):%Y-%m-%dT%H:%M:%S}Z"),
        ),
        incident,
    )
    ns.every(
        keycloak,
        20,
        lambda ts: (
            f"{_python_time(ts)} WARN  [io.vertx.core.net.impl.ConnectionBase] (vert.x-eventloop-thread-{ns.rng.randint(0, 3)}) "
            "javax.net.ssl.SSLHandshakeException: Received fatal alert: certificate_expired"
        ),
        incident,
    )
    ns.every(
        proxy,
        30,
        lambda ts: (
            f"[{_utc(ts):%Y/%m/%d %H:%M:%S}] [oauthproxy.go:909] Error redeeming code during OAuth2 callback: "
            'token exchange failed: Post "https://keycloak.auth.svc.cluster.local:8443/realms/main/protocol/openid-connect/token": '
            + x509.format(now=f"{_utc(ts):%Y-%m-%dT%H:%M:%S}Z")
        ),
        incident,
    )


def _ingress(ns: _Namespace) -> None:
    controllers = ("ingress-nginx-controller-5f7d8c9b6-k8m2n", "ingress-nginx-controller-5f7d8c9b6-w7n5p")
    routes = (
        ("GET", "/", "web-web-frontend-80", "10.244.1.12:8080"),
        ("GET", "/static/app.3f9c1.js", "web-web-frontend-80", "10.244.1.12:8080"),
        ("POST", "/api/v1/checkout", "checkout-checkout-service-8080", "10.244.3.45:8080"),
        ("GET", "/api/v1/cart", "checkout-checkout-service-8080", "10.244.2.46:8080"),
        ("POST", "/v1/payments", "payments-payments-api-8080", "10.244.2.31:8080"),
        ("GET", "/oauth2/callback", "auth-oauth2-proxy-4180", "10.244.1.40:4180"),
    )
    agents = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "okhttp/4.12.0",
    )
    checkout_from = CHECKOUT_INCIDENT_MIN * 60
    payments_from = PAYMENTS_INCIDENT_MIN * 60

    for pod in controllers:
        labels = ns.pod("ingress-nginx", pod, "controller", "node-1" if pod.endswith("k8m2n") else "node-2")

        def access(ts: int) -> str:
            method, path, upstream, addr = ns.pick(routes)
            ago = (ns.end_ns - ts) / 1e9
            status, upstream_status, took = (
                ns.pick((200, 200, 200, 200, 304, 404)),
                None,
                ns.rng.uniform(0.002, 0.12),
            )
            if upstream.startswith("payments") and ago < payments_from:
                status, upstream_status, addr, took = 503, "-", "-", 0.0
            elif upstream.startswith("checkout") and ago < checkout_from and ns.rng.random() < 0.35:
                status = ns.pick((502, 504))
                took = 60.0 if status == 504 else ns.rng.uniform(0.001, 0.01)
            upstream_status = upstream_status or str(status)
            size = ns.rng.randint(120, 25000) if status < 400 else 150
            return (
                f'10.0.3.{ns.rng.randint(2, 250)} - - [{_nginx_access_time(ts)}] "{method} {path} HTTP/2.0" {status} {size} '
                f'"-" "{ns.pick(agents)}" {ns.rng.randint(40, 900)} {took:.3f} [{upstream}] [] {addr} {size} '
                f"{took:.3f} {upstream_status} {ns.request_id()}{ns.request_id()}"
            )

        ns.every(labels, 25, access, DAY_SECONDS)
        ns.every(
            labels,
            4 * 3600,
            lambda ts: _klog(
                "I", ts, "controller.go:190", '"Configuration changes detected, backend reload required"', 7
            ),
            DAY_SECONDS,
        )
        ns.every(
            labels,
            4 * 3600,
            lambda ts: _klog("I", ts, "controller.go:210", '"Backend successfully reloaded"', 7),
            DAY_SECONDS,
        )
        ns.every(
            labels,
            40,
            lambda ts: (
                f"{_utc(ts):%Y/%m/%d %H:%M:%S} [error] 31#31: *{ns.rng.randint(10**6, 10**7)} connect() failed "
                "(111: Connection refused) while connecting to upstream, client: 10.0.3.17, server: shop.example.com, "
                'request: "POST /api/v1/checkout HTTP/2.0", upstream: "http://10.244.3.45:8080/api/v1/checkout", '
                'host: "shop.example.com"'
            ),
            checkout_from,
        )
        ns.every(
            labels,
            90,
            lambda ts: (
                f"{_utc(ts):%Y/%m/%d %H:%M:%S} [error] 32#32: *{ns.rng.randint(10**6, 10**7)} upstream timed out "
                "(110: Operation timed out) while reading response header from upstream, client: 10.0.3.88, "
                'server: shop.example.com, request: "POST /api/v1/checkout HTTP/2.0", '
                'upstream: "http://10.244.3.45:8080/api/v1/checkout", host: "shop.example.com"'
            ),
            checkout_from,
        )
        ns.every(
            labels,
            60,
            lambda ts: _klog(
                "W",
                ts,
                "controller.go:1214",
                'Service "payments/payments-api" does not have any active Endpoint.',
                7,
            ),
            payments_from - 30,
        )


def _data(ns: _Namespace) -> None:
    etl = ns.pod("etl-worker", "etl-worker-6b7c8d9e0f-f5g6h", "etl", "node-2")
    ingest = ns.pod("ingest-api", "ingest-api-84d5f6c7b8-j8k9l", "ingest-api", "node-3")
    kafka = ns.pod("kafka", "kafka-0", "kafka", "node-1")
    incident = DATA_INCIDENT_MIN * 60
    kafka_host = "kafka-0.kafka-headless.data.svc.cluster.local"

    ns.every(
        etl,
        150,
        lambda ts: (
            f"{_python_time(ts)} INFO etl.pipeline: loaded {ns.rng.randint(1000, 90000)} rows into "
            f"warehouse.{ns.pick(('orders', 'payments', 'sessions'))} in {ns.rng.uniform(0.4, 9):.2f}s"
        ),
        DAY_SECONDS,
        incident,
    )
    ns.every(
        ingest,
        70,
        lambda ts: _zap(
            ts,
            "info",
            "ingest/handler.go:77",
            "batch accepted",
            events=ns.rng.randint(10, 500),
            topic="clickstream",
        ),
        DAY_SECONDS,
        incident,
    )
    ns.every(
        kafka,
        600,
        lambda ts: (
            f"[{_python_time(ts)}] INFO [LocalLog partition=clickstream-{ns.rng.randint(0, 11)}, dir=/var/lib/kafka/data] "
            f"Rolled new log segment at offset {ns.rng.randint(10**6, 10**8)} in {ns.rng.randint(1, 9)} ms. (kafka.log.LocalLog)"
        ),
        DAY_SECONDS,
    )
    ns.every(
        kafka,
        900,
        lambda ts: (
            f"[{_python_time(ts)}] INFO [GroupCoordinator 0]: Member etl-{ns.request_id()[:8]} in group etl has "
            "left, removing it from the group (kafka.coordinator.group.GroupCoordinator)"
        ),
        DAY_SECONDS,
        incident,
    )
    # The incident: lookups to the cluster DNS time out.
    ns.every(
        etl,
        15,
        lambda ts: (
            f"%3|{ts / 1e9:.3f}|FAIL|rdkafka#consumer-1| [thrd:{kafka_host}:9092/0]: {kafka_host}:9092/0: "
            f"Failed to resolve '{kafka_host}:9092': Temporary failure in name resolution "
            f"(after {ns.rng.randint(5000, 5020)}ms in state CONNECT)"
        ),
        incident,
    )
    traceback = (
        "Traceback (most recent call last):",
        '  File "/usr/local/lib/python3.12/site-packages/urllib3/connection.py", line 199, in _new_conn',
        "    sock = connection.create_connection(",
        '  File "/usr/local/lib/python3.12/socket.py", line 963, in getaddrinfo',
        "    for res in _socket.getaddrinfo(host, port, family, type, proto, flags):",
        "socket.gaierror: [Errno -3] Temporary failure in name resolution",
        "urllib3.exceptions.NameResolutionError: <urllib3.connection.HTTPConnection object at 0x7f3a2c1b4d90>: "
        "Failed to resolve 'minio.data.svc.cluster.local' ([Errno -3] Temporary failure in name resolution)",
    )
    ns.python_errors(
        etl, "etl.sinks.s3: upload of part file failed, will retry", traceback, incident - 40, every_s=180
    )
    ns.every(
        ingest,
        10,
        lambda ts: _zap(
            ts,
            "error",
            "ingest/producer.go:131",
            "publish failed",
            topic="clickstream",
            error=f"dial tcp: lookup {kafka_host} on 10.96.0.10:53: read udp "
            f"10.244.3.18:{ns.rng.randint(30000, 60000)}->10.96.0.10:53: i/o timeout",
        ),
        incident,
    )
    ns.every(
        ingest,
        45,
        lambda ts: _zap(
            ts,
            "warn",
            "ingest/producer.go:98",
            "buffer filling up, applying backpressure",
            buffered=ns.rng.randint(40000, 100000),
        ),
        incident,
    )


def _monitoring(ns: _Namespace) -> None:
    prometheus = ns.pod("prometheus", "prometheus-server-0", "prometheus", "node-1")
    grafana = ns.pod("grafana", "grafana-6c9d7b8f5-r2t6y", "grafana", "node-2")
    ns.every(
        prometheus,
        7200,
        lambda ts: (
            f'ts={_iso(ts)} caller=compact.go:580 level=info component=tsdb msg="write block" '
            f"mint={ts // 10**6 - 7_200_000} maxt={ts // 10**6} ulid=01J{ns.rng.getrandbits(115):023X} "
            f"duration={ns.rng.uniform(0.5, 3):.3f}s"
        ),
        DAY_SECONDS,
    )
    ns.every(
        prometheus,
        7200,
        lambda ts: (
            f'ts={_iso(ts)} caller=head.go:1355 level=info component=tsdb msg="Head GC completed" '
            f"caller=truncateMemory duration={ns.rng.uniform(50, 400):.3f}ms"
        ),
        DAY_SECONDS,
    )
    ns.every(
        grafana,
        50,
        lambda ts: (
            f'logger=context userId=1 orgId=1 uname=admin t={_iso(ts)} level=info msg="Request Completed" '
            f"method=GET path=/api/dashboards/uid/{ns.pick(('k8s-overview', 'logtriage', 'loki-ops'))} status=200 "
            f"remote_addr=10.0.3.{ns.rng.randint(2, 250)} time_ms={ns.rng.randint(3, 60)} size={ns.rng.randint(800, 9000)} referer="
        ),
        DAY_SECONDS,
    )
    ns.every(
        grafana,
        3600,
        lambda ts: (
            f'logger=cleanup t={_iso(ts)} level=info msg="Completed cleanup jobs" duration={ns.rng.uniform(5, 40):.2f}ms'
        ),
        DAY_SECONDS,
    )


_WRITERS: dict[str, Callable[[_Namespace], None]] = {
    "payments": _payments,
    "checkout": _checkout,
    "auth": _auth,
    "ingress-nginx": _ingress,
    "data": _data,
    "monitoring": _monitoring,
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


@lru_cache(maxsize=4)
def _demo_day(seed: int, end_ns: int) -> _DemoDay:
    entries: list[LogEntry] = []
    for namespace, write in _WRITERS.items():
        ns = _Namespace(namespace, end_ns, seed)
        write(ns)
        entries.extend(ns.entries)
    return _DemoDay(entries)


def generate_demo_entries(seed: int, end: datetime) -> list[LogEntry]:
    """The demo's 24 hours of entries ending at ``end`` (oldest first); same seed and end, same entries."""
    return list(_demo_day(seed, _bucket_end_ns(end)).entries)


def _bucket_end_ns(now: datetime) -> int:
    seconds = int(now.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return seconds * 1_000_000_000


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
