"""Scenarios where something on the network path fails: dependencies and DNS."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.decoys import add_decoys, describe_decoys, old_oom_last_state
from app.golden.scenarios.formats import Line
from app.golden.scenarios.lifecycle import crashloop, probe_failed, probe_timeout_output, startup
from app.golden.scenarios.noise import app_log, go_log, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.symptoms import refused, timed_out
from app.golden.scenarios.window import CLUSTER_DNS_IP, EXTERNAL_HOSTS, Pod, Window

# --- dependency_unavailable ------------------------------------------------------------------------


@scenario("dependency_unavailable")
def dep_node_redis_refused(w: Window) -> Verdict:
    """A Node.js app gets ECONNREFUSED from Redis and fails requests."""
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    ip = w.service_ip()
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 5, w.rng.randint(3, 6)):
        w.block(
            at,
            pod,
            [
                f.node_plain(f"[ioredis] Unhandled error event: Error: connect ECONNREFUSED {ip}:6379"),
                f.node_plain("    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1610:16)"),
            ],
            evidence=(0,) if first else (),
        )
        first = False
    w.add(
        w.duration_s - 3,
        pod,
        f.pino(
            50,
            "request errored",
            pod.name,
            err={
                "type": "MaxRetriesPerRequestError",
                "message": 'Reached the max retries per request limit (which is 20). Refer to "maxRetriesPerRequest" option for details.',
            },
            res={"statusCode": 503},
        ),
        evidence=True,
    )
    return Verdict(
        f"{pod.name} cannot reach Redis at {ip}:6379 (connection refused) and fails requests with 503.",
        "critical",
    )


@scenario("dependency_unavailable")
def dep_go_postgres_refused(w: Window) -> Verdict:
    """PostgreSQL shuts down; a Go service's queries get connection refused."""
    pod = w.app("go")
    db = w.stateful("postgres", app=w.pick(("postgres", f"{w.namespace}-db", "pg")))
    w.crowd(pod, 0, 2)
    ip = w.service_ip()
    down = w.rng.uniform(20, w.duration_s * 0.4)
    w.block(
        down,
        db,
        [
            f.postgres(1, "LOG", "received fast shutdown request"),
            f.postgres(1, "LOG", "aborting any active transactions"),
        ],
    )
    w.add(down + 0.6, db, f.postgres(1, "LOG", "database system is shut down"), evidence=True)
    w.quiet(db, down, w.duration_s)
    host = f"{db.app}.{db.namespace}.svc.cluster.local"
    first = True
    for at in w.spread(down + 2, w.duration_s - 3, w.rng.randint(4, 7)):
        error = f"failed to connect to `host={host} user=app database={db.namespace}`: dial error (dial tcp {ip}:5432: connect: connection refused)"
        w.add(
            at,
            pod,
            go_log(
                pod,
                "error",
                "store/pg.go:57",
                "query failed",
                error=error,
                path=request_path(w, pod.namespace),
            ),
            evidence=first,
        )
        first = False
    return Verdict(
        f"{db.name} shut down; {pod.name} gets connection refused from {host}:5432 on every query.",
        "critical",
    )


@scenario("dependency_unavailable")
def dep_spring_hikari_refused(w: Window) -> Verdict:
    """A Spring app cannot initialise its Hikari pool (connection refused) and crashloops."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    db = w.pick(("orders-db", "postgres", "billing-postgresql", "pg-main"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.5, pod, startup(w, pod)) + w.rng.uniform(2, 6)
        lines = [
            f.spring(
                pod.app, "INFO", "main", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting..."
            ),
            f.spring(
                pod.app,
                "ERROR",
                "main",
                "com.zaxxer.hikari.pool.HikariPool",
                "HikariPool-1 - Exception during pool initialization.",
            ),
            f.jvm(""),
            f.jvm(
                f"org.postgresql.util.PSQLException: Connection to {db}:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections."
            ),
            f.jvm(
                "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:352)"
            ),
            f.jvm("\tat org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54)"),
            f.jvm("Caused by: java.net.ConnectException: Connection refused"),
            f.jvm("\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)"),
        ]
        return w.block(at, pod, lines, evidence=(1, 3, 6) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1, runs=w.rng.randint(2, 3))
    return Verdict(
        f"{pod.name} cannot open its connection pool: PostgreSQL at {db}:5432 refuses connections, so it exits at start-up.",
        "critical",
    )


@scenario("dependency_unavailable")
def dep_postgres_too_many_clients(w: Window) -> Verdict:
    """PostgreSQL is out of connection slots and refuses the app."""
    pod = w.app(w.pick(("go", "python")))
    db = w.stateful("postgres")
    w.crowd(pod, 1, 2)
    w.noise_weight(db, 0.2)
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(4, 7)):
        w.add(
            at,
            db,
            f.postgres(
                w.rng.randint(3000, 90000),
                "FATAL",
                w.pick(
                    (
                        "sorry, too many clients already",
                        "remaining connection slots are reserved for roles with the SUPERUSER attribute",
                    )
                ),
            ),
            evidence=first,
        )
        if pod.runtime == "go":
            line = go_log(
                pod,
                "error",
                "store/pg.go:57",
                "acquire connection",
                error="FATAL: sorry, too many clients already (SQLSTATE 53300)",
            )
        else:
            line = f.python_log(
                "ERROR",
                "app.db",
                'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "postgres" (10.96.0.1), port 5432 failed: FATAL:  sorry, too many clients already',
            )
        w.add(at + w.rng.uniform(0.01, 0.2), pod, line, evidence=first)
        first = False
    return Verdict(
        f"PostgreSQL ({db.name}) has run out of connection slots and refuses {pod.app}'s new connections.",
        "critical",
    )


@scenario("dependency_unavailable")
def dep_envoy_upstream_503(w: Window) -> Verdict:
    """Envoy sidecar logs 503 UF (connection failure) for calls to an upstream service."""
    pod = w.app()
    proxy = w.sidecar(pod, "istio-proxy", "envoy")
    target = w.pick(("inventory", "pricing", "accounts", "recommendations", "ledger"))
    w.crowd(pod, 1, 2)
    authority = f"{target}.{w.pick((pod.namespace, target))}.svc.cluster.local:8080"
    upstream = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:8080"
    start = w.rng.uniform(30, w.duration_s * 0.4)
    first = True
    for at in w.spread(start, w.duration_s - 3, w.rng.randint(5, 9)):
        w.add(
            at,
            proxy,
            f.envoy_access(
                f"GET /v1/{target}/{w.rng.randint(100, 9999)} HTTP/1.1",
                503,
                "UF",
                "upstream_reset_before_response_started{connection_failure}",
                91,
                w.rng.randint(0, 3),
                authority,
                upstream,
                w.uuid(),
            ),
            evidence=first,
        )
        if w.chance(0.5):
            w.add(
                at + 0.01,
                pod,
                app_log(
                    w,
                    pod,
                    "error",
                    f"call to {target} failed",
                    status=503,
                    error="upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                ),
                evidence=first,
            )
        first = False
    return Verdict(
        f"Calls from {pod.app} to {target} fail with 503 UF: Envoy cannot connect to the upstream.",
        "critical",
    )


@scenario("dependency_unavailable", "shared_symptom")
def dep_crashloop_database(w: Window) -> Verdict:
    """The shared CrashLoopBackOff symptom, caused by a database that refuses connections."""
    pod = w.app("python")
    w.crowd(pod, 2, 3)
    ip = w.service_ip()

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.4, pod, startup(w, pod))
        for tries in range(1, 4):
            at += w.rng.uniform(1, 3)
            w.add(at, pod, f.python_log("WARNING", "app.db", f"database not ready, retrying ({tries}/3)"))
        lines = [
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain('  File "/app/app/db.py", line 31, in connect'),
            f.python_plain("    engine.connect()"),
            f.python_plain(
                f'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "{ip}", port 5432 failed: Connection refused'
            ),
            f.python_plain("	Is the server running on that host and accepting TCP/IP connections?"),
        ]
        return w.block(at + 1, pod, lines, evidence=(3,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(
        f"{pod.name} crashloops because PostgreSQL at {ip}:5432 refuses connections at start-up.", "critical"
    )


@scenario("dependency_unavailable", "shared_symptom")
def dep_probe_slow_upstream(w: Window) -> Verdict:
    """A dependency times out; readiness probes that check it fail as a consequence."""
    pod = w.app("go")
    target = w.pick(("pricing", "inventory", "accounts", "geo"))
    w.crowd(pod, 1, 3)
    ip = w.service_ip()
    start = w.rng.uniform(20, w.duration_s * 0.3)
    first = True
    for at in w.spread(start, w.duration_s - 5, w.rng.randint(4, 6)):
        error = f'Get "http://{target}.{pod.namespace}.svc.cluster.local:8080/v1/quote": dial tcp {ip}:8080: i/o timeout'
        w.add(
            at,
            pod,
            go_log(pod, "error", f"clients/{target}.go:88", f"{target} request failed", error=error),
            evidence=first,
        )
        first = False
    # The readiness endpoint checks the dependency, so probes time out too: a symptom, not the cause.
    for at in w.spread(start + 20, w.duration_s - 3, w.rng.randint(3, 5)):
        probe_failed(w, pod, at, "Readiness", probe_timeout_output(pod, "/readyz"))
    return Verdict(
        f"{target} is unreachable from {pod.name} (dial timeouts); its readiness checks the dependency, so probes fail too.",
        "critical",
    )


@scenario("dependency_unavailable")
def dep_kafka_broker_down(w: Window) -> Verdict:
    """A Kafka consumer cannot reach any broker."""
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    group = f"{pod.app}-consumers"
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(4, 8)):
        broker = w.rng.randint(0, 2)
        message = f"[Consumer clientId=consumer-{group}-1, groupId={group}] Connection to node {broker} (kafka-{broker}.kafka-headless.data.svc.cluster.local/10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:9092) could not be established. Node may not be available."
        w.add(
            at,
            pod,
            f.spring(pod.app, "WARN", f"{group}-0-C-1", "org.apache.kafka.clients.NetworkClient", message),
            evidence=first,
        )
        first = False
    w.add(
        w.duration_s - 2,
        pod,
        f.spring(
            pod.app,
            "ERROR",
            f"{group}-0-C-1",
            "o.s.k.l.KafkaMessageListenerContainer",
            "Consumer exception: org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata",
        ),
        evidence=True,
    )
    return Verdict(
        f"{pod.name} cannot connect to any Kafka broker; consumption of {group} has stopped.", "critical"
    )


def _managed_db_host(w: Window, engine: str) -> str:
    """A database endpoint outside the cluster (a managed RDS or Cloud SQL instance)."""
    name = w.pick(("orders", "ledger", "core", "billing"))
    return w.pick(
        (
            f"{name}-{engine}.cluster-c{w.hexid(11)}.eu-central-1.rds.amazonaws.com",
            f"{name}-{engine}.db.internal.example",
        )
    )


@scenario("dependency_unavailable", "red_herring")
def dep_with_old_oomkilled_state(w: Window) -> Verdict:
    """The managed database stops answering; the restart watcher also lists an OOMKilled from days ago."""
    pod = w.app()
    twin = w.app(replica_of=pod)
    w.crowd(pod, 0, 1)
    host = _managed_db_host(w, "postgres")
    ip = f"10.{w.rng.randint(20, 40)}.{w.rng.randint(0, 255)}.{w.rng.randint(2, 254)}"
    start = w.rng.uniform(20, w.duration_s * 0.4)
    refuses = w.chance(0.5)
    make = refused if refuses else timed_out
    # spread() returns times in order, so the first failure is the earliest.
    failures = [(at, w.pick((pod, twin))) for at in w.spread(start, w.duration_s - 5, w.rng.randint(4, 7))]
    for index, (at, source) in enumerate(failures):
        w.add(at, source, make(w, source, "postgres", host, ip), evidence=index == 0)
    old_oom_last_state(w, w.rng.uniform(5, w.duration_s * 0.5))
    spoken = add_decoys(w, "dependency_unavailable", 1, prefer=("probe_failure", "node_resource_pressure"))
    how = "refuses connections" if refuses else "stopped answering (connect timeouts)"
    return Verdict(
        f"The managed PostgreSQL {host} {how}, so {pod.app}'s queries fail; the OOMKilled last state from days ago and {describe_decoys(spoken)} are not the cause.",
        "critical",
    )


@scenario("dependency_unavailable", "paraphrase")
def dep_timeout_paraphrase(w: Window) -> Verdict:
    """A dependency times out, in each client's own words (pgx, gRPC, pymongo, JDBC, MongoDB Node driver)."""
    pod = w.app()
    w.crowd(pod, 1, 3)
    ip = f"10.{w.rng.randint(20, 40)}.{w.rng.randint(0, 255)}.{w.rng.randint(2, 254)}"
    mongo = f"mongodb-0.mongodb-headless.{pod.namespace}.svc.cluster.local:27017"
    grpc = w.chance(0.5)
    what = {
        "go": f"inventory.{pod.namespace}.svc.cluster.local:50051"
        if grpc
        else _managed_db_host(w, "postgres"),
        "jvm": _managed_db_host(w, "mysql"),
    }.get(pod.runtime, mongo)
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 4, w.rng.randint(3, 5)):
        if pod.runtime == "go" and grpc:
            error = f'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp {w.service_ip()}:50051: i/o timeout"'
            lines = [go_log(pod, "error", "clients/inventory.go:77", "request failed", error=error)]
        elif pod.runtime == "go":
            error = f"failed to connect to `user=app database=app`: {ip}:5432 ({what}): dial error: timeout: context deadline exceeded"
            lines = [go_log(pod, "error", "store/pg.go:57", "query failed", error=error)]
        elif pod.runtime == "node":
            err = {
                "type": "MongoServerSelectionError",
                "message": "Server selection timed out after 30000 ms",
                "reason": {
                    "type": "TopologyDescription",
                    "servers": {what: {"error": "connection timed out"}},
                },
            }
            lines = [f.pino(50, "query failed", pod.name, err=err)]
        elif pod.runtime == "jvm":
            thread = f"nio-8080-exec-{w.rng.randint(1, 10)}"
            lines = [
                f.spring(
                    pod.app,
                    "ERROR",
                    thread,
                    "o.h.engine.jdbc.spi.SqlExceptionHelper",
                    "Communications link failure",
                ),
                f.jvm("Caused by: java.net.SocketTimeoutException: Connect timed out"),
            ]
        else:
            message = f"pymongo.errors.ServerSelectionTimeoutError: {what}: timed out (configured timeouts: socketTimeoutMS: 20000.0ms, connectTimeoutMS: 20000.0ms), Timeout: 30s, Topology Description: <TopologyDescription id: {w.hexid(24)}, topology_type: Unknown>"
            lines = [f.python_log("ERROR", "app.db", message)]
        w.block(at, pod, lines, evidence=tuple(range(len(lines))) if first else ())
        first = False
    return Verdict(f"{pod.name}'s calls to {what} time out: the dependency does not answer.", "critical")


@scenario("dependency_unavailable", "paraphrase")
def dep_no_healthy_upstream(w: Window) -> Verdict:
    """KEDA scales a dependency to zero; callers get 'no healthy upstream' and the ingress finds no endpoint."""
    pod = w.app()
    proxy = w.sidecar(pod, "istio-proxy", "envoy")
    ingress = w.platform("ingress-nginx")
    w.crowd(pod, 0, 1)
    target = w.pick(("inventory", "pricing", "recommendations", "ledger"))
    at = w.rng.uniform(20, w.duration_s * 0.4)
    w.add(
        at,
        w.events(),
        f.kube_event(
            "Normal",
            "KEDAScaleTargetDeactivated",
            f"scaledobject/{target}",
            f"Deactivated apps/v1.Deployment {pod.namespace}/{target} from 1 to 0",
        ),
    )
    w.add(
        at + 0.5,
        w.events(),
        f.kube_event(
            "Normal",
            "ScalingReplicaSet",
            f"deployment/{target}",
            f"Scaled down replica set {target}-{w.hexid(10)[:9]} to 0 from 1",
        ),
    )
    first = True
    authority = f"{target}.{pod.namespace}.svc.cluster.local:8080"
    for moment in w.spread(at + 30, w.duration_s - 4, w.rng.randint(3, 5)):
        w.add(
            moment,
            proxy,
            f.envoy_access(
                f"GET /v1/{target}/{w.rng.randint(100, 9999)} HTTP/1.1",
                503,
                "UH",
                "no_healthy_upstream",
                19,
                0,
                authority,
                "-",
                w.uuid(),
            ),
            evidence=first,
        )
        w.add(
            moment + 0.002,
            pod,
            app_log(w, pod, "error", f"call to {target} failed", status=503, body="no healthy upstream"),
            evidence=first,
        )
        first = False
    controller = f.klog(
        "W",
        "controller.go:1214",
        f'Service "{pod.namespace}/{target}" does not have any active Endpoint.',
        component="ingress-nginx",
        pid=7,
    )
    w.add(w.rng.uniform(at + 20, w.duration_s - 3), ingress, controller, evidence=True)
    return Verdict(
        f"KEDA scaled {target} to zero; {pod.app}'s calls to it fail with 503 'no healthy upstream' and the ingress has no endpoint for it.",
        "critical",
    )


@scenario("dependency_unavailable", "subtle")
def dep_sync_job_gave_up(w: Window) -> Verdict:
    """One line among noise: a periodic sync gives up because a partner API refuses connections."""
    pod = w.app()
    w.crowd(pod, 2, 3)
    w.noise_weight(pod, 1.5)
    host = w.pick(EXTERNAL_HOSTS)
    ip = f"{w.pick(('52.28', '3.64', '104.18', '34.120'))}.{w.rng.randint(0, 255)}.{w.rng.randint(2, 254)}"
    at = w.rng.uniform(w.duration_s * 0.3, w.duration_s - 20)
    job = w.pick(("partner-sync", "settlement-export", "rates-refresh", "catalog-feed"))
    w.add(at - w.rng.uniform(30, 60), pod, app_log(w, pod, "info", "sync started", job=job, target=host))
    error = f"dial tcp {ip}:443: connect: connection refused"
    if pod.runtime == "node":
        error = f"connect ECONNREFUSED {ip}:443"
    elif pod.runtime == "python":
        error = f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v2/sync (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f{w.hexid(10)}>: Failed to establish a new connection: [Errno 111] Connection refused'))"
    elif pod.runtime == "jvm":
        error = f"java.net.ConnectException: Connection refused (connecting to {host}/{ip}:443)"
    w.add(
        at,
        pod,
        app_log(
            w, pod, "error", "sync aborted after 5 attempts, will run again in 15m", job=job, error=error
        ),
        evidence=True,
    )
    return Verdict(
        f"The {job} sync in {pod.name} gave up: {host} refuses connections; the rest of {w.namespace} is healthy.",
        "warning",
    )


# --- dns_resolution_failure -------------------------------------------------------------------------


def _coredns_timeout(w: Window, dns: Pod, name: str, qtype: str = "A") -> Line:
    """CoreDNS failing to reach its upstream resolver (one per CoreDNS pod) for ``name``."""
    upstream = ("10.0.0.2", "169.254.169.253", "8.8.8.8")[int(dns.uid[0], 16) % 3]
    return f.coredns(
        f"[ERROR] plugin/errors: 2 {name}. {qtype}: read udp {dns.ip}:{w.port()}->{upstream}:53: i/o timeout"
    )


def _query(w: Window, client: Pod, name: str, rcode: str, qtype: str = "A") -> Line:
    flags = "qr,rd,ra" if rcode == "SERVFAIL" else "qr,aa,rd"
    return f.coredns(
        f'[INFO] {client.ip}:{w.port()} - {w.rng.randint(1, 65535)} "{qtype} IN {name}. udp {w.rng.randint(40, 90)} false 512" {rcode} {flags} {w.rng.randint(90, 180)} {w.rng.uniform(1.5, 4.0) if rcode == "SERVFAIL" else w.rng.uniform(0.00005, 0.0009):.6f}s'
    )


@scenario("dns_resolution_failure")
def dns_coredns_upstream_timeout(w: Window) -> Verdict:
    """CoreDNS times out forwarding an external name; the app's lookups fail."""
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 4, w.rng.randint(3, 6)):
        w.add(at, dns, _coredns_timeout(w, dns, host), evidence=first)
        error = f'Post "https://{host}/v1/events": dial tcp: lookup {host} on {CLUSTER_DNS_IP}:53: read udp {pod.ip}:{w.port()}->{CLUSTER_DNS_IP}:53: i/o timeout'
        w.add(
            at + w.rng.uniform(1.5, 5),
            pod,
            go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error),
            evidence=first,
        )
        first = False
    return Verdict(
        f"Cluster DNS times out forwarding queries for {host}; {pod.name} cannot resolve it.", "critical"
    )


@scenario("dns_resolution_failure")
def dns_nxdomain_service_name(w: Window) -> Verdict:
    """A Node.js app calls a service name that does not exist (NXDOMAIN, ENOTFOUND)."""
    pod = w.app("node")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    target = w.pick(("payment-api", "inventroy", "user-svc", "pricing-v2", "catalog-api"))
    name = f"{target}.{pod.namespace}.svc.cluster.local"
    first = True
    for at in w.spread(10, w.duration_s - 4, w.rng.randint(3, 6)):
        w.add(at, dns, _query(w, pod, name, "NXDOMAIN"))
        w.block(
            at + 0.003,
            pod,
            [
                f.node_plain(f"Error: getaddrinfo ENOTFOUND {name}"),
                f.node_plain("    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:120:26) {"),
                f.node_plain("  errno: -3008,"),
                f.node_plain("  code: 'ENOTFOUND',"),
            ],
            evidence=(0,) if first else (),
        )
        first = False
    return Verdict(f"{pod.name} calls {name}, which does not exist (NXDOMAIN from CoreDNS).", "critical")


@scenario("dns_resolution_failure")
def dns_python_gaierror(w: Window) -> Verdict:
    """requests fails with 'Temporary failure in name resolution'."""
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(2, 4)):
        lines = [
            f.python_log("ERROR", f"{pod.app.replace('-', '_')}.sync", "sync failed"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain(
                '  File "/usr/local/lib/python3.12/site-packages/urllib3/connection.py", line 198, in _new_conn'
            ),
            f.python_plain("socket.gaierror: [Errno -3] Temporary failure in name resolution"),
            f.python_plain(
                f"requests.exceptions.ConnectionError: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v1/rates (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f{w.hexid(10)}>: Failed to resolve '{host}' ([Errno -3] Temporary failure in name resolution)\"))"
            ),
        ]
        w.block(at, pod, lines, evidence=(3, 4) if first else ())
        first = False
    return Verdict(f"{pod.name} cannot resolve {host} (temporary failure in name resolution).", "critical")


@scenario("dns_resolution_failure")
def dns_java_unknown_host(w: Window) -> Verdict:
    """A Java client gets UnknownHostException while CoreDNS lookups time out."""
    pod = w.app("jvm")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    target = w.pick(("inventory", "ledger", "accounts", "search-api"))
    name = f"{target}.{w.pick((w.namespace, target))}.svc.cluster.local"
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(2, 4)):
        w.add(at - 2.5, dns, _coredns_timeout(w, dns, name), evidence=first)
        lines = [
            f.spring(
                pod.app,
                "ERROR",
                f"nio-8080-exec-{w.rng.randint(1, 10)}",
                f"c.e.{pod.namespace}.client.{target.capitalize()}Client",
                f"Call to {target} failed",
            ),
            f.jvm(f"java.net.UnknownHostException: {name}: Temporary failure in name resolution"),
            f.jvm("\tat java.base/java.net.Inet6AddressImpl.lookupAllHostAddr(Native Method)"),
            f.jvm("\tat java.base/java.net.InetAddress$PlatformResolver.lookupByName(InetAddress.java:1211)"),
        ]
        w.block(at, pod, lines, evidence=(1,) if first else ())
        first = False
    return Verdict(f"{pod.name} cannot resolve {name}: CoreDNS lookups time out.", "critical")


@scenario("dns_resolution_failure")
def dns_servfail(w: Window) -> Verdict:
    """CoreDNS answers SERVFAIL; Go reports 'server misbehaving'."""
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(3, 6)):
        w.add(at, dns, _query(w, pod, host, "SERVFAIL"), evidence=first)
        error = f'Get "https://{host}/": dial tcp: lookup {host} on {CLUSTER_DNS_IP}:53: server misbehaving'
        w.add(
            at + 0.01,
            pod,
            go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error),
            evidence=first,
        )
        first = False
    return Verdict(
        f"CoreDNS answers SERVFAIL for {host}; {pod.name}'s requests fail with 'server misbehaving'.",
        "critical",
    )


@scenario("dns_resolution_failure", "causal_chain")
def dns_before_probes(w: Window) -> Verdict:
    """DNS fails first; four minutes later readiness probes fail as a consequence."""
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 1, 2)
    w.ensure_duration(w.rng.uniform(560, 800))
    db_host = f"{w.pick(('postgres', 'redis-master', 'mongodb'))}.{pod.namespace}.svc.cluster.local"
    start = w.rng.uniform(30, 90)
    first = True
    for at in w.spread(start, start + 60, w.rng.randint(3, 5)):
        w.add(at, dns, _coredns_timeout(w, dns, db_host), evidence=first)
        error = f"dial tcp: lookup {db_host} on {CLUSTER_DNS_IP}:53: read udp {pod.ip}:{w.port()}->{CLUSTER_DNS_IP}:53: i/o timeout"
        w.add(
            at + 2,
            pod,
            go_log(pod, "warn", "store/conn.go:40", "reconnect failed", error=error),
            evidence=first,
        )
        first = False
    # Four minutes later the readiness probe (which pings the store) starts failing.
    for at in w.spread(start + 240, w.duration_s - 5, w.rng.randint(3, 5)):
        probe_failed(w, pod, at, "Readiness", probe_timeout_output(pod, "/readyz"))
    return Verdict(
        f"Cluster DNS stopped resolving {db_host}; minutes later {pod.name}'s readiness probe failed as a consequence.",
        "critical",
    )


@scenario("dns_resolution_failure", "other_words")
def dns_masked_as_dependency(w: Window) -> Verdict:
    """The app says it cannot connect to Redis; the error is 'no such host' (NXDOMAIN)."""
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 1, 2)
    name = f"redis-master.{w.pick(('cache', 'redis', pod.namespace))}.svc.cluster.local"
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(3, 5)):
        w.add(at, dns, _query(w, pod, name, "NXDOMAIN"), evidence=first)
        w.add(
            at + 0.005,
            pod,
            go_log(
                pod,
                "error",
                "cache/redis.go:52",
                "cannot connect to redis, serving from local cache",
                error=f"dial tcp: lookup {name} on {CLUSTER_DNS_IP}:53: no such host",
            ),
            evidence=first,
        )
        first = False
    return Verdict(
        f"{pod.name} reports it cannot connect to Redis, but the cause is DNS: {name} does not resolve (NXDOMAIN).",
        "warning",
    )


@scenario("dns_resolution_failure", "causal_chain")
def dns_pgbouncer_lookup_failed(w: Window) -> Verdict:
    """PgBouncer cannot resolve the database host; the app only says 'pgbouncer cannot connect to server'."""
    pod = w.app(w.pick(("go", "python")))
    bouncer = w.sidecar(pod, "pgbouncer", "pgbouncer")
    # A namespace-scoped query often lacks kube-system's CoreDNS; PgBouncer's own line must do then.
    dns = w.platform("coredns") if w.chance(0.5) else None
    w.crowd(pod, 0, 2)
    host = _managed_db_host(w, "postgres")
    start = w.rng.uniform(20, w.duration_s * 0.4)
    first = True
    for at in w.spread(start, w.duration_s - 5, w.rng.randint(3, 4)):
        if dns is not None:
            w.add(at - 1.5, dns, _coredns_timeout(w, dns, host), evidence=first)
        w.add(at, bouncer, f.pgbouncer("WARNING", f"DNS lookup failed: {host}: result=-4"), evidence=first)
        w.add(
            at + 0.001,
            bouncer,
            f.pgbouncer(
                "LOG",
                f"S-0x{w.hexid(12)}: app/app@(bad-af):0 closing because: server DNS lookup failed (age=0s)",
            ),
        )
        client = f"C-0x{w.hexid(12)}: app/app@127.0.0.1:{w.port()}"
        w.add(
            at + 0.3,
            bouncer,
            f.pgbouncer("WARNING", f"{client} pooler error: pgbouncer cannot connect to server"),
        )
        if pod.runtime == "go":
            line = go_log(
                pod,
                "error",
                "store/pg.go:57",
                "query failed",
                error="failed to connect to `host=127.0.0.1 user=app database=app`: server error (ERROR: pgbouncer cannot connect to server (SQLSTATE 08P01))",
            )
        else:
            line = f.python_log(
                "ERROR",
                "app.db",
                'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "127.0.0.1", port 6432 failed: ERROR:  pgbouncer cannot connect to server',
            )
        w.add(at + 0.31, pod, line)
        first = False
    return Verdict(
        f"Cluster DNS times out resolving {host}, so PgBouncer cannot reach the database; {pod.app}'s 'cannot connect to server' errors are the consequence.",
        "critical",
    )


@scenario("dns_resolution_failure", "paraphrase")
def dns_resolver_paraphrase(w: Window) -> Verdict:
    """A name does not resolve, in other words: EAI_AGAIN, psycopg2, an nginx resolver or curl (6)."""
    kind = w.pick(("node", "python", "nginx", "curl"))
    if kind == "nginx":
        pod = w.app("nginx", app=w.pick(("storefront", "web", "docs")), container="nginx")
    elif kind == "curl":
        job = w.pick(("partner-sync", "export-upload", "rates-fetch"))
        pod = w.job(f"{job}-{w.rng.randint(29_000_000, 29_999_999)}", container=job)
        w.quiet(pod, 0)
    else:
        pod = w.app(kind)
    w.crowd(pod, 1, 3)
    host = w.pick(EXTERNAL_HOSTS)
    if kind == "python":
        host = _managed_db_host(w, "postgres")
    first = True
    for at in w.spread(w.duration_s * 0.15, w.duration_s - 4, w.rng.randint(3, 5) if kind != "curl" else 2):
        if kind == "node":
            line = f.pino(
                50,
                "webhook delivery failed",
                pod.name,
                err={
                    "code": "EAI_AGAIN",
                    "message": f"getaddrinfo EAI_AGAIN {host}",
                    "syscall": "getaddrinfo",
                    "hostname": host,
                },
            )
        elif kind == "python":
            line = f.python_log(
                "ERROR",
                "app.db",
                f'psycopg2.OperationalError: could not translate host name "{host}" to address: Temporary failure in name resolution',
            )
        elif kind == "nginx":
            message = f'*{w.rng.randint(1000, 90000)} {host} could not be resolved ({w.pick(("2: Server failure", "110: Operation timed out"))}), client: {w.client_ip()}, server: {pod.app}.example.com, request: "GET /api/{w.pick(("rates", "checkout", "track"))} HTTP/1.1"'
            line = f.nginx_error("error", message, worker=24, component="nginx")
        else:
            line = f.plain("curl", f"curl: (6) Could not resolve host: {host}")
        w.add(at, pod, line, evidence=first)
        first = False
    where = {
        "node": "getaddrinfo EAI_AGAIN",
        "python": "could not translate host name",
        "nginx": "nginx's resolver fails",
        "curl": "curl exit 6",
    }[kind]
    return Verdict(f"{pod.name} cannot resolve {host} ({where}).", "critical")


@scenario("dns_resolution_failure", "red_herring")
def dns_with_cross_class_decoys(w: Window) -> Verdict:
    """CoreDNS answers SERVFAIL for an external name next to a refused-then-reconnected cache and other decoys."""
    pod = w.app(w.pick(("go", "python")))
    dns = w.platform("coredns")
    w.crowd(pod, 1, 2)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(w.duration_s * 0.2, w.duration_s - 4, w.rng.randint(2, 4)):
        w.add(at, dns, _query(w, pod, host, "SERVFAIL"), evidence=first)
        if pod.runtime == "go":
            error = f'Post "https://{host}/v1/notify": dial tcp: lookup {host} on {CLUSTER_DNS_IP}:53: server misbehaving'
            line = go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error)
        else:
            line = f.python_log(
                "ERROR",
                f"{pod.app.replace('-', '_')}.client",
                f"call to {host} failed: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v1/notify (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f{w.hexid(10)}>: Failed to resolve '{host}' ([Errno -2] Name or service not known)\"))",
            )
        w.add(at + w.rng.uniform(0.01, 0.3), pod, line, evidence=first)
        first = False
    spoken = add_decoys(
        w, "dns_resolution_failure", w.rng.randint(2, 3), prefer=("dependency_unavailable", "probe_failure")
    )
    return Verdict(
        f"CoreDNS answers SERVFAIL for {host}, so {pod.name}'s calls fail; {describe_decoys(spoken)} are not the cause.",
        "critical",
    )


@scenario("dns_resolution_failure", "causal_chain")
def dns_lookup_behind_client_timeouts(w: Window) -> Verdict:
    """The app only reports request timeouts; CoreDNS shows the lookups of that host timing out upstream."""
    pod = w.app(w.pick(("go", "node")))
    dns = w.platform("coredns")
    w.crowd(pod, 1, 2)
    host = w.pick(EXTERNAL_HOSTS)
    first = True
    for at in w.spread(w.duration_s * 0.15, w.duration_s - 12, w.rng.randint(3, 5)):
        w.add(at, dns, _coredns_timeout(w, dns, host), evidence=first)
        if w.chance(0.5):
            w.add(at + 2, dns, _coredns_timeout(w, dns, host, "AAAA"))
        if pod.runtime == "go":
            line = go_log(
                pod,
                "error",
                "clients/http.go:71",
                "outbound request failed",
                error=f'Post "https://{host}/v1/events": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            )
        else:
            line = f.pino(
                50,
                "outbound request failed",
                pod.name,
                url=f"https://{host}/v1/events",
                err={"type": "TimeoutError", "message": "The operation was aborted due to timeout"},
            )
        w.add(at + w.rng.uniform(9.5, 10.5), pod, line, evidence=first)
        first = False
    return Verdict(
        f"Cluster DNS times out forwarding lookups of {host}; {pod.name}'s requests to it time out as a consequence.",
        "critical",
    )


@scenario("dns_resolution_failure", "other_words")
def dns_unresolvable_at_startup(w: Window) -> Verdict:
    """A name does not resolve at start-up, in config words: Kafka's bootstrap or nginx's upstream host."""
    kafka = w.chance(0.5)
    pod = (
        w.app("jvm")
        if kafka
        else w.app("nginx", app=w.pick(("storefront", "web", "gateway")), container="nginx")
    )
    w.crowd(pod, 1, 3)
    name = (
        f"{w.pick(('kafka-0.kafka-headless', 'kafka-bootstrap', 'events-kafka'))}.data.svc.cluster.local"
        if kafka
        else f"{w.pick(('auth-api', 'catalog-api', 'session-api'))}.{pod.namespace}.svc.cluster.local"
    )

    def run(at: float, attempt: int) -> float:
        first = attempt == 0
        if kafka:
            at = w.block(at + 0.3, pod, startup(w, pod)) + w.rng.uniform(1, 3)
            lines = [
                f.spring(
                    pod.app,
                    "WARN",
                    "main",
                    "org.apache.kafka.clients.ClientUtils",
                    f"Couldn't resolve server {name}:9092 from bootstrap.servers as DNS resolution failed for {name}",
                ),
                f.spring(pod.app, "ERROR", "main", "o.s.boot.SpringApplication", "Application run failed"),
                f.jvm("org.apache.kafka.common.KafkaException: Failed to construct kafka consumer"),
                f.jvm(
                    "Caused by: org.apache.kafka.common.config.ConfigException: No resolvable bootstrap urls given in bootstrap.servers"
                ),
            ]
            return w.block(at, pod, lines, evidence=(0, 3) if first else ())
        message = f'host not found in upstream "{name}:8080" in /etc/nginx/conf.d/default.conf:{w.rng.randint(8, 30)}'
        w.add(
            at + 0.2,
            pod,
            f.plain("nginx", "/docker-entrypoint.sh: Configuration complete; ready for start up"),
        )
        w.add(at + 0.25, pod, f.nginx_error("emerg", message, worker=1, component="nginx"), evidence=first)
        return at + 0.3

    crashloop(w, pod, run, exit_code=1)
    how = (
        "Kafka finds no resolvable bootstrap server"
        if kafka
        else "nginx refuses to start: host not found in upstream"
    )
    return Verdict(f"{pod.name} cannot start because {name} does not resolve ({how}).", "critical")


@scenario("dns_resolution_failure", "subtle")
def dns_single_failed_delivery(w: Window) -> Verdict:
    """One line among noise: a webhook delivery gives up because the partner's host name does not exist."""
    pod = w.app(w.pick(("go", "python", "node")))
    w.crowd(pod, 2, 3)
    w.noise_weight(pod, 1.5)
    host = f"hooks.{w.pick(('partner-a', 'acme-logistics', 'shopify-bridge'))}.example"
    at = w.rng.uniform(w.duration_s * 0.2, w.duration_s - 10)
    delivery = w.hexid(12)
    if pod.runtime == "go":
        error = f'Post "https://{host}/events": dial tcp: lookup {host} on {CLUSTER_DNS_IP}:53: no such host'
    elif pod.runtime == "node":
        error = f"getaddrinfo ENOTFOUND {host}"
    else:
        error = f"HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /events (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f{w.hexid(10)}>: Failed to resolve '{host}' ([Errno -2] Name or service not known)\"))"
    w.add(
        at,
        pod,
        app_log(
            w, pod, "error", "webhook delivery abandoned after 8 attempts", delivery=delivery, error=error
        ),
        evidence=True,
    )
    return Verdict(
        f"{pod.name} gave up delivering webhook {delivery}: the partner host {host} does not resolve.",
        "warning",
    )
