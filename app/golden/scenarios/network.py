"""Scenarios where something on the network path fails: dependencies, DNS and TLS."""

from __future__ import annotations

from app.golden.scenarios import formats as f
from app.golden.scenarios.formats import Line
from app.golden.scenarios.lifecycle import crashloop, probe_failed, probe_timeout_output, ready, startup
from app.golden.scenarios.noise import app_log, go_log, herring, request_path
from app.golden.scenarios.registry import Verdict, scenario
from app.golden.scenarios.window import Pod, Window

_COREDNS_IP = "10.96.0.10"
_EXTERNAL = ("api.stripe.com", "api.partner.example", "hooks.slack.com", "login.microsoftonline.com", "sqs.eu-central-1.amazonaws.com", "api.sendgrid.com")


def _client(w: Window) -> str:
    return f"10.0.{w.rng.randint(0, 9)}.{w.rng.randint(2, 254)}"


def _spread(w: Window, start: float, end: float, count: int) -> list[float]:
    """``count`` sorted times between ``start`` and ``end``."""
    return sorted(w.rng.uniform(start, end) for _ in range(count))


def service_host(w: Window, pod: Pod) -> str:
    """The cluster DNS name of a service in the pod's namespace (another deployment or a datastore)."""
    return f"{pod.app}.{pod.namespace}.svc.cluster.local"


# --- dependency_unavailable ------------------------------------------------------------------------


@scenario("dependency_unavailable")
def dep_node_redis_refused(w: Window) -> Verdict:
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    ip = w.service_ip()
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 5, w.rng.randint(3, 6)):
        w.block(at, pod, [
            f.node_plain(f"[ioredis] Unhandled error event: Error: connect ECONNREFUSED {ip}:6379"),
            f.node_plain("    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1610:16)"),
        ], evidence=(0,) if first else ())
        first = False
    w.add(w.duration_s - 3, pod, f.pino(50, "request errored", pod.name, err={"type": "MaxRetriesPerRequestError", "message": "Reached the max retries per request limit (which is 20). Refer to \"maxRetriesPerRequest\" option for details."}, res={"statusCode": 503}), evidence=True)
    return Verdict(f"{pod.name} cannot reach Redis at {ip}:6379 (connection refused) and fails requests with 503.", "critical")


@scenario("dependency_unavailable")
def dep_go_postgres_refused(w: Window) -> Verdict:
    pod = w.app("go")
    db = w.stateful("postgres", app=w.pick(("postgres", f"{w.namespace}-db", "pg")))
    w.crowd(pod, 0, 2)
    ip = w.service_ip()
    down = w.rng.uniform(20, w.duration_s * 0.4)
    w.block(down, db, [
        f.postgres(1, "LOG", "received fast shutdown request"),
        f.postgres(1, "LOG", "aborting any active transactions"),
    ])
    w.add(down + 0.6, db, f.postgres(1, "LOG", "database system is shut down"), evidence=True)
    w.quiet(db, down, w.duration_s)
    host = f"{db.app}.{db.namespace}.svc.cluster.local"
    first = True
    for at in _spread(w, down + 2, w.duration_s - 3, w.rng.randint(4, 7)):
        error = f"failed to connect to `host={host} user=app database={db.namespace}`: dial error (dial tcp {ip}:5432: connect: connection refused)"
        w.add(at, pod, go_log(pod, "error", "store/pg.go:57", "query failed", error=error, path=request_path(w, pod.namespace)), evidence=first)
        first = False
    return Verdict(f"{db.name} shut down; {pod.name} gets connection refused from {host}:5432 on every query.", "critical")


@scenario("dependency_unavailable")
def dep_spring_hikari_refused(w: Window) -> Verdict:
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    db = w.pick(("orders-db", "postgres", "billing-postgresql", "pg-main"))

    def run(at: float, attempt: int) -> float:
        at = w.block(at + 0.5, pod, startup(w, pod)) + w.rng.uniform(2, 6)
        lines = [
            f.spring(pod.app, "INFO", "main", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting..."),
            f.spring(pod.app, "ERROR", "main", "com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Exception during pool initialization."),
            f.jvm(""),
            f.jvm(f"org.postgresql.util.PSQLException: Connection to {db}:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections."),
            f.jvm("\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:352)"),
            f.jvm("\tat org.postgresql.core.ConnectionFactory.openConnection(ConnectionFactory.java:54)"),
            f.jvm("Caused by: java.net.ConnectException: Connection refused"),
            f.jvm("\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)"),
        ]
        return w.block(at, pod, lines, evidence=(1, 3, 6) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1, runs=w.rng.randint(2, 3))
    return Verdict(f"{pod.name} cannot open its connection pool: PostgreSQL at {db}:5432 refuses connections, so it exits at start-up.", "critical")


@scenario("dependency_unavailable")
def dep_postgres_too_many_clients(w: Window) -> Verdict:
    pod = w.app(w.pick(("go", "python")))
    db = w.stateful("postgres")
    w.crowd(pod, 1, 2)
    w.noise_weight(db, 0.2)
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(4, 7)):
        w.add(at, db, f.postgres(w.rng.randint(3000, 90000), "FATAL", w.pick(("sorry, too many clients already", "remaining connection slots are reserved for roles with the SUPERUSER attribute"))), evidence=first)
        if pod.runtime == "go":
            line = go_log(pod, "error", "store/pg.go:57", "acquire connection", error="FATAL: sorry, too many clients already (SQLSTATE 53300)")
        else:
            line = f.python_log("ERROR", "app.db", 'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "postgres" (10.96.0.1), port 5432 failed: FATAL:  sorry, too many clients already')
        w.add(at + w.rng.uniform(0.01, 0.2), pod, line, evidence=first)
        first = False
    return Verdict(f"PostgreSQL ({db.name}) has run out of connection slots and refuses {pod.app}'s new connections.", "critical")


@scenario("dependency_unavailable")
def dep_envoy_upstream_503(w: Window) -> Verdict:
    pod = w.app()
    proxy = w.sidecar(pod, "istio-proxy", "envoy")
    target = w.pick(("inventory", "pricing", "accounts", "recommendations", "ledger"))
    w.crowd(pod, 1, 2)
    authority = f"{target}.{w.pick((pod.namespace, target))}.svc.cluster.local:8080"
    upstream = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:8080"
    start = w.rng.uniform(30, w.duration_s * 0.4)
    first = True
    for at in _spread(w, start, w.duration_s - 3, w.rng.randint(5, 9)):
        w.add(at, proxy, f.envoy_access(f"GET /v1/{target}/{w.rng.randint(100, 9999)} HTTP/1.1", 503, "UF", "upstream_reset_before_response_started{connection_failure}", 91, w.rng.randint(0, 3), authority, upstream, w.uuid()), evidence=first)
        if w.chance(0.5):
            w.add(at + 0.01, pod, app_log(w, pod, "error", f"call to {target} failed", status=503, error="upstream connect error or disconnect/reset before headers. reset reason: connection failure"), evidence=first)
        first = False
    return Verdict(f"Calls from {pod.app} to {target} fail with 503 UF: Envoy cannot connect to the upstream.", "critical")


@scenario("dependency_unavailable", "hard")
def dep_crashloop_database(w: Window) -> Verdict:
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
            f.python_plain(f'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "{ip}", port 5432 failed: Connection refused'),
            f.python_plain("	Is the server running on that host and accepting TCP/IP connections?"),
        ]
        return w.block(at + 1, pod, lines, evidence=(3,) if attempt == 0 else ())

    crashloop(w, pod, run, exit_code=1)
    return Verdict(f"{pod.name} crashloops because PostgreSQL at {ip}:5432 refuses connections at start-up.", "critical")


@scenario("dependency_unavailable", "hard")
def dep_probe_slow_upstream(w: Window) -> Verdict:
    pod = w.app("go")
    target = w.pick(("pricing", "inventory", "accounts", "geo"))
    w.crowd(pod, 1, 3)
    ip = w.service_ip()
    start = w.rng.uniform(20, w.duration_s * 0.3)
    first = True
    for at in _spread(w, start, w.duration_s - 5, w.rng.randint(4, 6)):
        error = f'Get "http://{target}.{pod.namespace}.svc.cluster.local:8080/v1/quote": dial tcp {ip}:8080: i/o timeout'
        w.add(at, pod, go_log(pod, "error", f"clients/{target}.go:88", f"{target} request failed", error=error), evidence=first)
        first = False
    # The readiness endpoint checks the dependency, so probes time out too: a symptom, not the cause.
    for at in _spread(w, start + 20, w.duration_s - 3, w.rng.randint(3, 5)):
        probe_failed(w, pod, at, "Readiness", probe_timeout_output(pod, "/readyz"))
    return Verdict(f"{target} is unreachable from {pod.name} (dial timeouts); its readiness checks the dependency, so probes fail too.", "critical")


@scenario("dependency_unavailable")
def dep_kafka_broker_down(w: Window) -> Verdict:
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    group = f"{pod.app}-consumers"
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(4, 8)):
        broker = w.rng.randint(0, 2)
        message = f"[Consumer clientId=consumer-{group}-1, groupId={group}] Connection to node {broker} (kafka-{broker}.kafka-headless.data.svc.cluster.local/10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:9092) could not be established. Node may not be available."
        w.add(at, pod, f.spring(pod.app, "WARN", f"{group}-0-C-1", "org.apache.kafka.clients.NetworkClient", message), evidence=first)
        first = False
    w.add(w.duration_s - 2, pod, f.spring(pod.app, "ERROR", f"{group}-0-C-1", "o.s.k.l.KafkaMessageListenerContainer", "Consumer exception: org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata"), evidence=True)
    return Verdict(f"{pod.name} cannot connect to any Kafka broker; consumption of {group} has stopped.", "critical")


# --- dns_resolution_failure -------------------------------------------------------------------------


def _coredns_timeout(w: Window, name: str, qtype: str = "A") -> Line:
    return f.coredns(f"[ERROR] plugin/errors: 2 {name}. {qtype}: read udp 10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:{w.port()}->{w.pick(('10.0.0.2', '169.254.169.253', '8.8.8.8'))}:53: i/o timeout")


def _query(w: Window, client: Pod, name: str, rcode: str, qtype: str = "A") -> Line:
    flags = "qr,rd,ra" if rcode == "SERVFAIL" else "qr,aa,rd"
    return f.coredns(f'[INFO] {client.ip}:{w.port()} - {w.rng.randint(1, 65535)} "{qtype} IN {name}. udp {w.rng.randint(40, 90)} false 512" {rcode} {flags} {w.rng.randint(90, 180)} {w.rng.uniform(0.00005, 2.5):.6f}s')


@scenario("dns_resolution_failure")
def dns_coredns_upstream_timeout(w: Window) -> Verdict:
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    host = w.pick(_EXTERNAL)
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 4, w.rng.randint(3, 6)):
        w.add(at, dns, _coredns_timeout(w, host), evidence=first)
        error = f'Post "https://{host}/v1/events": dial tcp: lookup {host} on {_COREDNS_IP}:53: read udp {pod.ip}:{w.port()}->{_COREDNS_IP}:53: i/o timeout'
        w.add(at + w.rng.uniform(1.5, 5), pod, go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error), evidence=first)
        first = False
    return Verdict(f"Cluster DNS times out forwarding queries for {host}; {pod.name} cannot resolve it.", "critical")


@scenario("dns_resolution_failure")
def dns_nxdomain_service_name(w: Window) -> Verdict:
    pod = w.app("node")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    target = w.pick(("payment-api", "inventroy", "user-svc", "pricing-v2", "catalog-api"))
    name = f"{target}.{pod.namespace}.svc.cluster.local"
    first = True
    for at in _spread(w, 10, w.duration_s - 4, w.rng.randint(3, 6)):
        w.add(at, dns, _query(w, pod, name, "NXDOMAIN"))
        w.block(at + 0.003, pod, [
            f.node_plain(f"Error: getaddrinfo ENOTFOUND {name}"),
            f.node_plain("    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:120:26) {"),
            f.node_plain("  errno: -3008,"),
            f.node_plain("  code: 'ENOTFOUND',"),
        ], evidence=(0,) if first else ())
        first = False
    return Verdict(f"{pod.name} calls {name}, which does not exist (NXDOMAIN from CoreDNS).", "critical")


@scenario("dns_resolution_failure")
def dns_python_gaierror(w: Window) -> Verdict:
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    host = w.pick(_EXTERNAL)
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(2, 4)):
        lines = [
            f.python_log("ERROR", f"{pod.app.replace('-', '_')}.sync", "sync failed"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain('  File "/usr/local/lib/python3.12/site-packages/urllib3/connection.py", line 198, in _new_conn'),
            f.python_plain("socket.gaierror: [Errno -3] Temporary failure in name resolution"),
            f.python_plain(f"requests.exceptions.ConnectionError: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v1/rates (Caused by NameResolutionError(\"<urllib3.connection.HTTPSConnection object at 0x7f{w.hexid(10)}>: Failed to resolve '{host}' ([Errno -3] Temporary failure in name resolution)\"))"),
        ]
        w.block(at, pod, lines, evidence=(3, 4) if first else ())
        first = False
    return Verdict(f"{pod.name} cannot resolve {host} (temporary failure in name resolution).", "critical")


@scenario("dns_resolution_failure")
def dns_java_unknown_host(w: Window) -> Verdict:
    pod = w.app("jvm")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    target = w.pick(("inventory", "ledger", "accounts", "search-api"))
    name = f"{target}.{w.pick((w.namespace, target))}.svc.cluster.local"
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(2, 4)):
        w.add(at - 2.5, dns, _coredns_timeout(w, name), evidence=first)
        lines = [
            f.spring(pod.app, "ERROR", f"nio-8080-exec-{w.rng.randint(1, 10)}", f"c.e.{pod.namespace}.client.{target.capitalize()}Client", f"Call to {target} failed"),
            f.jvm(f"java.net.UnknownHostException: {name}: Temporary failure in name resolution"),
            f.jvm("\tat java.base/java.net.Inet6AddressImpl.lookupAllHostAddr(Native Method)"),
            f.jvm("\tat java.base/java.net.InetAddress$PlatformResolver.lookupByName(InetAddress.java:1211)"),
        ]
        w.block(at, pod, lines, evidence=(1,) if first else ())
        first = False
    return Verdict(f"{pod.name} cannot resolve {name}: CoreDNS lookups time out.", "critical")


@scenario("dns_resolution_failure")
def dns_servfail(w: Window) -> Verdict:
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 0, 2)
    host = w.pick(_EXTERNAL)
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(3, 6)):
        w.add(at, dns, _query(w, pod, host, "SERVFAIL"), evidence=first)
        error = f'Get "https://{host}/": dial tcp: lookup {host} on {_COREDNS_IP}:53: server misbehaving'
        w.add(at + 0.01, pod, go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error), evidence=first)
        first = False
    return Verdict(f"CoreDNS answers SERVFAIL for {host}; {pod.name}'s requests fail with 'server misbehaving'.", "critical")


@scenario("dns_resolution_failure", "hard")
def dns_before_probes(w: Window) -> Verdict:
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 1, 2)
    w.ensure_duration(w.rng.uniform(560, 800))
    db_host = f"{w.pick(('postgres', 'redis-master', 'mongodb'))}.{pod.namespace}.svc.cluster.local"
    start = w.rng.uniform(30, 90)
    first = True
    for at in _spread(w, start, start + 60, w.rng.randint(3, 5)):
        w.add(at, dns, _coredns_timeout(w, db_host), evidence=first)
        error = f"dial tcp: lookup {db_host} on {_COREDNS_IP}:53: read udp {pod.ip}:{w.port()}->{_COREDNS_IP}:53: i/o timeout"
        w.add(at + 2, pod, go_log(pod, "warn", "store/conn.go:40", "reconnect failed", error=error), evidence=first)
        first = False
    # Four minutes later the readiness probe (which pings the store) starts failing.
    for at in _spread(w, start + 240, w.duration_s - 5, w.rng.randint(3, 5)):
        probe_failed(w, pod, at, "Readiness", probe_timeout_output(pod, "/readyz"))
    return Verdict(f"Cluster DNS stopped resolving {db_host}; minutes later {pod.name}'s readiness probe failed as a consequence.", "critical")


@scenario("dns_resolution_failure", "hard")
def dns_masked_as_dependency(w: Window) -> Verdict:
    pod = w.app("go")
    dns = w.platform("coredns")
    w.crowd(pod, 1, 2)
    name = f"redis-master.{w.pick(('cache', 'redis', pod.namespace))}.svc.cluster.local"
    first = True
    for at in _spread(w, w.duration_s * 0.2, w.duration_s - 3, w.rng.randint(3, 5)):
        w.add(at, dns, _query(w, pod, name, "NXDOMAIN"), evidence=first)
        w.add(at + 0.005, pod, go_log(pod, "error", "cache/redis.go:52", "cannot connect to redis, serving from local cache", error=f"dial tcp: lookup {name} on {_COREDNS_IP}:53: no such host"), evidence=first)
        first = False
    return Verdict(f"{pod.name} reports it cannot connect to Redis, but the cause is DNS: {name} does not resolve (NXDOMAIN).", "warning")


# --- tls_certificate_error -------------------------------------------------------------------------


@scenario("tls_certificate_error")
def tls_expired_go_client(w: Window) -> Verdict:
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    host = w.pick(_EXTERNAL)
    expired = w.clock(-w.rng.uniform(600, 86400 * 3))
    first = True
    for at in _spread(w, 10, w.duration_s - 3, w.rng.randint(3, 6)):
        error = f'Post "https://{host}/v1/charge": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time {w.clock(at)} is after {expired}'
        w.add(at, pod, go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=error), evidence=first)
        first = False
    return Verdict(f"{host}'s certificate expired at {expired}; {pod.name}'s TLS handshakes fail.", "critical")


@scenario("tls_certificate_error")
def tls_unknown_authority(w: Window) -> Verdict:
    pod = w.app("go")
    w.crowd(pod, 1, 3)
    target = w.pick(("vault.vault.svc:8200", "keycloak.auth.svc:8443", "ledger.payments.svc:9443", "minio.storage.svc:9000"))
    ca = w.pick(("acme-internal-ca", "cluster-issuer-ca", "corp-root-ca-2026"))
    first = True
    for at in _spread(w, 10, w.duration_s - 3, w.rng.randint(3, 6)):
        error = f'Get "https://{target}/v1/health": tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error" while trying to verify candidate authority certificate "{ca}")'
        w.add(at, pod, go_log(pod, "error", "clients/tls.go:33", "request failed", error=error), evidence=first)
        first = False
    return Verdict(f"{pod.name} does not trust the CA that signed {target}'s certificate ({ca}).", "critical")


@scenario("tls_certificate_error")
def tls_hostname_mismatch(w: Window) -> Verdict:
    pod = w.app(w.pick(("go", "node")))
    w.crowd(pod, 1, 3)
    good, bad = w.pick((("*.shop.example", "api.shop.internal"), ("payments.example.com", "pay.example.com"), ("keycloak.auth.svc", "keycloak.auth.svc.cluster.local"), ("*.eu.example.net", "api.us.example.net")))
    first = True
    for at in _spread(w, 10, w.duration_s - 3, w.rng.randint(3, 6)):
        if pod.runtime == "go":
            line = go_log(pod, "error", "clients/http.go:71", "outbound request failed", error=f'Get "https://{bad}/": tls: failed to verify certificate: x509: certificate is valid for {good}, not {bad}')
        else:
            line = f.pino(50, "outbound request failed", pod.name, err={"type": "Error", "message": f"Hostname/IP does not match certificate's altnames: Host: {bad}. is not in the cert's altnames: DNS:{good}", "code": "ERR_TLS_CERT_ALTNAME_INVALID"})
        w.add(at, pod, line, evidence=first)
        first = False
    return Verdict(f"{pod.name} connects to {bad} but the certificate is only valid for {good}.", "critical")


@scenario("tls_certificate_error", "hard")
def tls_cert_expired_then_502(w: Window) -> Verdict:
    ingress = w.platform("ingress-nginx")
    pod = w.app()
    cm = w.platform("cert-manager")
    w.crowd(pod, 0, 1)
    w.ensure_duration(w.rng.uniform(600, 840))
    secret = f"{pod.app}-tls"
    expired_at = w.rng.uniform(40, 120)
    w.add(expired_at - w.rng.uniform(10, 30), cm, f.logr("E", "sync.go:190", "cert-manager/challenges", "propagation check failed", err=f"wrong status code '404', expected '200'", key=f"{pod.namespace}/{secret}-1-{w.rng.randint(10**9, 4 * 10**9)}-0", dnsName=f"{pod.app}.example.com", type="HTTP-01"))
    w.add(expired_at, cm, f.logr("E", "readiness_controller.go:136", "cert-manager/certificates-readiness", "certificate has expired", key=f"{pod.namespace}/{secret}", notAfter=w.clock(expired_at - 1)), evidence=True)
    first = True
    for at in _spread(w, expired_at + 300, w.duration_s - 3, w.rng.randint(4, 7)):
        message = f'*{w.rng.randint(10**5, 10**7)} SSL_do_handshake() failed (SSL: error:0A000086:SSL routines::certificate verify failed) while SSL handshaking to upstream, client: {_client(w)}, server: {pod.app}.example.com, request: "GET {request_path(w, pod.namespace)} HTTP/2.0", upstream: "https://{pod.ip}:8443/", host: "{pod.app}.example.com"'
        w.add(at, ingress, f.nginx_error("error", message), evidence=first)
        w.add(at + 0.001, ingress, f.nginx_access(_client(w), f"GET {request_path(w, pod.namespace)} HTTP/2.0", 502, 150, f"{pod.namespace}-{pod.app}-8443", f"{pod.ip}:8443", w.rng.uniform(0.003, 0.02), w.hexid(32)))
        first = False
    return Verdict(f"The certificate in {secret} expired (renewal failed its HTTP-01 check); five minutes later the ingress gets 502s because upstream TLS verification fails.", "critical")


@scenario("tls_certificate_error")
def tls_java_pkix(w: Window) -> Verdict:
    pod = w.app("jvm")
    w.crowd(pod, 1, 3)
    host = w.pick(_EXTERNAL)
    first = True
    for at in _spread(w, 10, w.duration_s - 3, w.rng.randint(2, 3)):
        lines = [
            f.spring(pod.app, "ERROR", f"nio-8080-exec-{w.rng.randint(1, 10)}", "c.e.app.client.PartnerClient", f"Request to https://{host} failed"),
            f.jvm("javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"),
            f.jvm("\tat java.base/sun.security.ssl.Alert.createSSLException(Alert.java:130)"),
            f.jvm("\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:383)"),
            f.jvm("Caused by: sun.security.validator.ValidatorException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target"),
        ]
        w.block(at, pod, lines, evidence=(0, 1) if first else ())
        first = False
    return Verdict(f"{pod.name} does not trust {host}'s certificate chain (PKIX path building failed).", "critical")


@scenario("tls_certificate_error")
def tls_node_expired(w: Window) -> Verdict:
    pod = w.app("node")
    w.crowd(pod, 1, 3)
    host = w.pick(_EXTERNAL)
    code, text = w.pick((("CERT_HAS_EXPIRED", "certificate has expired"), ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"), ("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain")))
    first = True
    for at in _spread(w, 10, w.duration_s - 3, w.rng.randint(2, 4)):
        w.block(at, pod, [
            f.node_plain(f"Error: {text}"),
            f.node_plain("    at TLSSocket.onConnectSecure (node:_tls_wrap:1674:34)"),
            f.node_plain("    at TLSSocket.emit (node:events:519:28)"),
            f.node_plain(f"  code: '{code}'"),
        ], evidence=(0, 3) if first else ())
        w.add(at + 0.01, pod, f.pino(50, f"webhook delivery to {host} failed", pod.name, err={"code": code}))
        first = False
    return Verdict(f"{pod.name}'s TLS connections to {host} fail: {text} ({code}).", "critical")


@scenario("tls_certificate_error")
def tls_python_requests(w: Window) -> Verdict:
    pod = w.app("python")
    w.crowd(pod, 1, 3)
    host = w.pick(_EXTERNAL)
    first = True
    for at in _spread(w, 10, w.duration_s - 3, w.rng.randint(2, 4)):
        lines = [
            f.python_log("ERROR", f"{pod.app.replace('-', '_')}.client", f"call to {host} failed"),
            f.python_plain("Traceback (most recent call last):"),
            f.python_plain('  File "/usr/local/lib/python3.12/site-packages/urllib3/connectionpool.py", line 466, in _make_request'),
            f.python_plain("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)"),
            f.python_plain(f"requests.exceptions.SSLError: HTTPSConnectionPool(host='{host}', port=443): Max retries exceeded with url: /v2/token (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)')))"),
        ]
        w.block(at, pod, lines, evidence=(3, 4) if first else ())
        first = False
    return Verdict(f"{pod.name} cannot call {host}: its certificate has expired (CERTIFICATE_VERIFY_FAILED).", "critical")


@scenario("tls_certificate_error", "hard")
def tls_webhook_unknown_ca(w: Window) -> Verdict:
    pod = w.app()
    flux = w.platform("flux")
    w.crowd(pod, 1, 2)
    name = w.pick(("apps", "infrastructure", pod.namespace))
    webhook = w.pick((("webhook.cert-manager.io", "cert-manager-webhook.cert-manager.svc:443/validate"), ("validate.kyverno.svc-fail", "kyverno-svc.kyverno.svc:443/validate/fail"), ("vingress.elbv2.k8s.aws", "aws-load-balancer-webhook-service.kube-system.svc:443/validate-networking-v1-ingress")))
    first = True
    for at in _spread(w, 20, w.duration_s - 5, w.rng.randint(2, 3)):
        error = f'{pod.app.capitalize()} "{pod.app}" is invalid: Internal error occurred: failed calling webhook "{webhook[0]}": failed to call webhook: Post "https://{webhook[1]}?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority'
        w.add(at, flux, f.flux("error", "kustomization", "Kustomization", name, f"Reconciliation failed after {w.rng.uniform(1, 9):.1f}s, next try in 5m0s", error=error, revision=f"main@sha1:{w.hexid(40)}"), evidence=first)
        first = False
    w.add(w.rng.uniform(10, w.duration_s - 10), pod, herring(w, pod))
    return Verdict(f"Flux cannot apply {name}: the {webhook[0]} admission webhook's certificate is signed by an unknown authority.", "warning")
