"""Benign background lines for every kind of pod, and benign lines that merely look alarming.

Noise is what a model must read past: request and health-check logs, routine database and platform
chatter. ``herring`` lines contain scary words (error, failed, retrying, deprecated) but describe
nothing wrong; hard examples place them next to the real cause, and hard healthy windows are full
of them.
"""

from __future__ import annotations

from collections.abc import Callable

from app.golden.scenarios import formats as f
from app.golden.scenarios.formats import Line
from app.golden.scenarios.window import APP_RUNTIMES, NAMESPACES, Pod, Window

_PATHS: dict[str, tuple[str, ...]] = {
    "payments": ("/v1/payments", "/v1/payments/{id}", "/v1/refunds", "/v1/payment-methods"),
    "checkout": ("/api/cart", "/api/cart/items", "/api/checkout", "/api/prices/{id}"),
    "orders": ("/api/orders", "/api/orders/{id}", "/api/orders/{id}/status", "/api/shipments"),
    "auth": ("/oauth2/token", "/oauth2/userinfo", "/login", "/session/{id}"),
    "search": ("/search", "/suggest", "/v2/search", "/index/status"),
    "data": ("/jobs", "/jobs/{id}", "/datasets", "/runs/{id}"),
    "billing": ("/v1/invoices", "/v1/invoices/{id}", "/v1/usage", "/v1/plans"),
    "inventory": ("/stock/{id}", "/stock", "/warehouses", "/reservations"),
    "notifications": ("/v1/notify", "/v1/templates", "/v1/subscriptions/{id}", "/v1/push"),
    "catalog": ("/products", "/products/{id}", "/categories", "/recommendations/{id}"),
}
_PROBE_AGENT = "kube-probe/1.31"


def request_path(w: Window, namespace: str) -> str:
    """A plausible API path for a namespace's services, ids filled in."""
    path = w.pick(_PATHS.get(namespace, ("/api/items", "/api/items/{id}")))
    return path.replace("{id}", str(w.rng.randint(1000, 999999)))


def go_style(pod: Pod) -> str:
    """Which Go logging library the pod's binary uses; stable per pod."""
    return ("zap", "logrus", "slog")[int(pod.uid[0], 16) % 3]


def go_log(pod: Pod, level: str, caller: str, msg: str, **fields: object) -> Line:
    """A Go service line in the pod's own logging library."""
    style = go_style(pod)
    if style == "zap":
        return f.zap(level, caller, msg, **fields)
    if style == "logrus":
        return f.logrus("warning" if level == "warn" else level, msg, **fields)
    return f.slog(level.upper(), msg, **fields)


def app_log(w: Window, pod: Pod, level: str, msg: str, **fields: object) -> Line:
    """A line from an app pod in its runtime's format; ``level`` is info/warn/error."""
    if pod.runtime == "go":
        return go_log(
            pod, level, w.pick(("server/http.go:142", "app/worker.go:88", "store/pg.go:57")), msg, **fields
        )
    if pod.runtime == "jvm":
        logger = w.pick(
            ("c.e.app.web.RequestLoggingFilter", "c.e.app.service.SyncService", "c.e.app.Application")
        )
        extra = " ".join(f"{key}={value}" for key, value in fields.items())
        return f.spring(
            pod.app,
            {"warn": "WARN"}.get(level, level.upper()),
            w.pick(("main", "nio-8080-exec-3", "scheduling-1")),
            logger,
            f"{msg} {extra}".strip(),
        )
    if pod.runtime == "python":
        extra = " ".join(f"{key}={value}" for key, value in fields.items())
        return f.python_log(
            {"warn": "WARNING"}.get(level, level.upper()),
            f"{pod.app.replace('-', '_')}.app",
            f"{msg} {extra}".strip(),
        )
    return f.pino({"info": 30, "warn": 40, "error": 50}[level], msg, pod.name, **fields)


def _request(w: Window, pod: Pod) -> Line:
    path = request_path(w, pod.namespace)
    method = w.pick(("GET", "GET", "GET", "POST", "PUT"))
    status = w.pick((200, 200, 200, 200, 201, 204, 304, 404)) if method == "GET" else w.pick((200, 201, 204))
    millis = round(w.rng.lognormvariate(2.6, 0.7), 1)
    client = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}"
    if pod.runtime == "go":
        return go_log(
            pod,
            "info",
            "server/middleware.go:61",
            "request completed",
            method=method,
            path=path,
            status=status,
            duration_ms=millis,
            request_id=w.hexid(),
        )
    if pod.runtime == "jvm":
        return f.spring(
            pod.app,
            "INFO",
            f"nio-8080-exec-{w.rng.randint(1, 10)}",
            "c.e.app.web.RequestLoggingFilter",
            f"{method} {path} -> {status} ({int(millis)} ms)",
        )
    if pod.runtime == "python":
        return f.uvicorn_access(
            f"{client}:{w.port()}", f"{method} {path} HTTP/1.1", status if status != 304 else 200
        )
    return f.pino(
        30,
        "request completed",
        pod.name,
        req={"method": method, "url": path},
        res={"statusCode": status},
        responseTime=int(millis),
    )


def _health(w: Window, pod: Pod) -> Line:
    path = w.pick(
        ("/healthz", "/readyz", "/health", "/actuator/health/readiness" if pod.runtime == "jvm" else "/livez")
    )
    if pod.runtime == "python":
        return f.uvicorn_access(f"10.244.0.1:{w.port()}", f"GET {path} HTTP/1.1", 200)
    if pod.runtime == "node":
        return f.pino(
            30,
            "request completed",
            pod.name,
            req={"method": "GET", "url": path, "userAgent": _PROBE_AGENT},
            res={"statusCode": 200},
            responseTime=w.rng.randint(0, 3),
        )
    return app_log(w, pod, "info", "health check ok", path=path, agent=_PROBE_AGENT)


def _chatter(w: Window, pod: Pod) -> Line:
    choice = w.rng.randrange(6)
    if choice == 0:
        return app_log(
            w,
            pod,
            "info",
            "cache refreshed",
            entries=w.rng.randint(200, 90000),
            took_ms=w.rng.randint(3, 400),
        )
    if choice == 1:
        return app_log(
            w, pod, "info", "metrics flushed", errors_total=0, requests_total=w.rng.randint(10_000, 9_000_000)
        )
    if choice == 2:
        return app_log(
            w, pod, "info", "processed batch", batch=w.rng.randint(1, 9000), records=w.rng.randint(10, 5000)
        )
    if choice == 3:
        return app_log(
            w,
            pod,
            "info",
            "connection pool stats",
            active=w.rng.randint(0, 8),
            idle=w.rng.randint(2, 10),
            waiting=0,
        )
    if choice == 4:
        return app_log(
            w,
            pod,
            "info",
            "scheduled job finished",
            job=w.pick(("cleanup-sessions", "rebuild-index", "sync-rates", "expire-carts")),
            status="ok",
        )
    return app_log(
        w,
        pod,
        "info",
        "outbound call",
        target=w.pick(("pricing", "inventory", "accounts", "geo")),
        status=200,
        latency_ms=w.rng.randint(2, 90),
    )


def _postgres(w: Window, pod: Pod) -> Line:
    choice = w.rng.randrange(4)
    if choice == 0:
        return f.postgres(27, "LOG", "checkpoint starting: time")
    if choice == 1:
        buffers = w.rng.randint(20, 900)
        return f.postgres(
            27,
            "LOG",
            f"checkpoint complete: wrote {buffers} buffers ({buffers / 163.84:.1f}%); 0 WAL file(s) added, 0 removed, 1 recycled; write={w.rng.uniform(2, 27):.3f} s, sync={w.rng.uniform(0, 0.05):.3f} s, total={w.rng.uniform(27, 30):.3f} s",
        )
    if choice == 2:
        table = w.pick(("orders", "payments", "sessions", "events", "invoices"))
        return f.postgres(
            w.rng.randint(3000, 9000),
            "LOG",
            f'automatic vacuum of table "app.public.{table}": index scans: 1',
        )
    return f.postgres(
        w.rng.randint(3000, 9000),
        "LOG",
        f"duration: {w.rng.uniform(1000, 2400):.3f} ms  statement: SELECT id, status FROM orders WHERE updated_at > $1",
    )


def _redis(w: Window, pod: Pod) -> Line:
    return w.pick(
        (
            f.redis("*", "100 changes in 300 seconds. Saving..."),
            f.redis("*", f"Background saving started by pid {w.rng.randint(100, 9000)}"),
            f.redis("*", "DB saved on disk", role="C", pid=w.rng.randint(100, 9000)),
            f.redis("*", "Background saving terminated with success"),
            f.redis(
                "*",
                f"Fork CoW for RDB: current {w.rng.randint(0, 4)} MB, peak {w.rng.randint(1, 6)} MB, average 1 MB",
                role="C",
                pid=w.rng.randint(100, 9000),
            ),
        )
    )


def _kafka(w: Window, pod: Pod) -> Line:
    partition = w.rng.randint(0, 11)
    return f.kafka_client(
        "INFO",
        "kafka.log.LogCleaner",
        f"[LocalLog partition=orders-{partition}, dir=/bitnami/kafka/data] Rolled new log segment at offset {w.rng.randint(10**5, 10**8)} in {w.rng.randint(1, 9)} ms.",
    )


def _ingress(w: Window, pod: Pod) -> Line:
    namespace = w.namespace
    path = request_path(w, namespace)
    service = w.pick(NAMESPACES.get(namespace, ("web",)))
    upstream_addr = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:8080"
    return f.nginx_access(
        w.client_ip(),
        f"GET {path} HTTP/1.1",
        w.pick((200, 200, 200, 304, 404)),
        w.rng.randint(80, 9000),
        f"{namespace}-{service}-8080",
        upstream_addr,
        w.rng.uniform(0.002, 0.2),
        w.hexid(32),
    )


def _nginx(w: Window, pod: Pod) -> Line:
    asset = w.pick(("/", "/index.html", "/assets/app.js", "/assets/app.css", "/favicon.ico", "/healthz"))
    client = f"10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}"
    return f.nginx_combined(
        client, f"GET {asset} HTTP/1.1", w.pick((200, 200, 304)), w.rng.randint(200, 90000)
    )


def _coredns(w: Window, pod: Pod) -> Line:
    name = f"{w.pick(NAMESPACES.get(w.namespace, ('web',)))}.{w.namespace}.svc.cluster.local."
    qtype = w.pick(("A", "A", "AAAA"))
    return f.coredns(
        f'[INFO] 10.244.{w.rng.randint(0, 7)}.{w.rng.randint(2, 254)}:{w.port()} - {w.rng.randint(1, 65535)} "{qtype} IN {name} udp {w.rng.randint(40, 90)} false 512" NOERROR qr,aa,rd {w.rng.randint(90, 180)} {w.rng.uniform(0.00005, 0.0009):.6f}s'
    )


def _envoy(w: Window, pod: Pod) -> Line:
    millis = w.rng.randint(1, 80)
    return f.envoy_access(
        f"GET {request_path(w, pod.namespace)} HTTP/1.1",
        200,
        "-",
        "via_upstream",
        w.rng.randint(100, 6000),
        millis,
        f"{pod.app}.{pod.namespace}.svc.cluster.local:8080",
        f"{pod.ip}:8080",
        w.uuid(),
    )


def _cert_manager(w: Window, pod: Pod) -> Line:
    return f.logr(
        "I",
        "controller.go:162",
        "cert-manager/certificates-trigger",
        "Certificate does not require re-issuance",
        key=f"{w.namespace}/{w.pick(('web-tls', 'api-tls', 'internal-tls'))}",
        message="Certificate is up to date and has not expired",
    )


def _flux(w: Window, pod: Pod) -> Line:
    name = w.pick(("apps", "infrastructure", w.namespace))
    return f.flux(
        "info",
        "kustomization",
        "Kustomization",
        name,
        f"Reconciliation finished in {w.rng.uniform(0.4, 9):.1f}s, next run in 10m0s",
        revision=f"main@sha1:{w.hexid(40)}",
    )


def _helm_controller(w: Window, pod: Pod) -> Line:
    name = w.pick(NAMESPACES.get(w.namespace, ("web",)))
    return f.flux("info", "helmrelease", "HelmRelease", name, "release in-sync with desired state")


def _scheduler(w: Window, pod: Pod) -> Line:
    return f.klog(
        "I",
        "schedule_one.go:286",
        "Successfully bound pod to node",
        component="kube-scheduler",
        # Other workloads' pods (a CronJob's, a scaled Deployment's) get bound while this one waits.
        pod=f"{w.namespace}/{w.pick(NAMESPACES.get(w.namespace, ('web',)))}-{w.rng.randint(29_000_000, 29_999_999)}-{w.hexid(5)}",
        node=w.pick(w.nodes),
        evaluatedNodes=len(w.nodes),
        feasibleNodes=len(w.nodes),
    )


def _app(w: Window, pod: Pod) -> Line:
    roll = w.rng.random()
    if roll < 0.5:
        return _request(w, pod)
    if roll < 0.7:
        return _health(w, pod)
    if roll < 0.96:
        return _chatter(w, pod)
    return herring(w, pod)


def _restart_watcher(w: Window, pod: Pod) -> Line:
    return f.zap(
        "info",
        "watcher/informer.go:64",
        "resync complete",
        pods=w.rng.randint(40, 400),
        namespaces=w.rng.randint(8, 30),
    )


def _pgbouncer(w: Window, pod: Pod) -> Line:
    xacts = w.rng.randint(5, 400)
    return f.pgbouncer(
        "LOG",
        f"stats: {xacts} xacts/s, {xacts * w.rng.randint(2, 6)} queries/s, in {w.rng.randint(2000, 90000)} B/s, out {w.rng.randint(9000, 400000)} B/s, xact {w.rng.randint(300, 9000)} us, query {w.rng.randint(80, 2000)} us, wait 0 us",
    )


def _otel(w: Window, pod: Pod) -> Line:
    return f.otelcol(
        "info",
        "memorylimiter/memorylimiter.go:132",
        "Memory usage is below soft limit",
        kind="processor",
        name="memory_limiter",
        cur_mem_mib=w.rng.randint(20, 90),
    )


_BY_RUNTIME: dict[str, Callable[[Window, Pod], Line]] = {
    "go": _app,
    "jvm": _app,
    "python": _app,
    "node": _app,
    "postgres": _postgres,
    "redis": _redis,
    "kafka": _kafka,
    "ingress-nginx": _ingress,
    "coredns": _coredns,
    "nginx": _nginx,
    "envoy": _envoy,
    "cert-manager": _cert_manager,
    "flux": _flux,
    "helm-controller": _helm_controller,
    "kube-scheduler": _scheduler,
    "restart-watcher": _restart_watcher,
    "pgbouncer": _pgbouncer,
    "otel": _otel,
}


def background(w: Window, pod: Pod) -> Line:
    """One benign line from ``pod``, in its runtime's format."""
    return _BY_RUNTIME[pod.runtime](w, pod)


def herring(w: Window, pod: Pod) -> Line:
    """A benign line from an app pod that contains alarming words but reports nothing wrong."""
    roll = w.rng.randrange(7)
    target = w.pick(("redis", "pricing", "kafka", "accounts-api"))
    if roll == 0:
        return app_log(
            w,
            pod,
            "warn",
            f"request to {target} failed, retrying in 1s",
            attempt=1,
            error="context deadline exceeded",
        )
    if roll == 1:
        return app_log(w, pod, "info", f"request to {target} succeeded after retry", attempt=2)
    if roll == 2:
        return app_log(w, pod, "info", "error budget report", errors_total=0, error_rate="0.00", slo="99.9")
    if roll == 3 and pod.runtime == "jvm":
        return f.spring(
            pod.app,
            "WARN",
            "main",
            "org.hibernate.orm.deprecation",
            "HHH90000025: PostgreSQLDialect does not need to be specified explicitly using 'hibernate.dialect' (remove the property setting and it will be selected by default)",
        )
    if roll == 3 and pod.runtime == "node":
        return f.node_plain(
            "(node:1) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland alternative instead."
        )
    if roll == 3 and pod.runtime == "python":
        return f.python_log(
            "WARNING",
            "py.warnings",
            "/usr/local/lib/python3.11/site-packages/pydantic/_internal/_config.py:295: PydanticDeprecatedSince20: Support for class-based `config` is deprecated, use ConfigDict instead.",
        )
    if roll == 3:
        return go_log(
            pod,
            "warn",
            "grpc/dial.go:93",
            "grpc.WithInsecure is deprecated: use WithTransportCredentials and insecure.NewCredentials() instead",
        )
    if roll == 4:
        return app_log(
            w,
            pod,
            "warn",
            "client closed connection before response was written",
            path=request_path(w, pod.namespace),
            error="context canceled",
        )
    if roll == 5:
        return app_log(
            w, pod, "info", "validation failed for request", status=400, reason="missing field 'email'"
        )
    return app_log(
        w,
        pod,
        "warn",
        "slow request",
        path=request_path(w, pod.namespace),
        duration_ms=w.rng.randint(1100, 2600),
        threshold_ms=1000,
    )


def add_red_herrings(w: Window, count: int) -> None:
    """Benign alarming lines from app pods, next to the evidence (or anywhere when there is none)."""
    speakers = [pod for pod in w.pods if pod.runtime in APP_RUNTIMES]
    if not speakers:
        return
    near = w.evidence_times()
    placed = 0
    for _ in range(20 * count):
        pod = w.pick(speakers)
        at = w.pick(near) + w.rng.uniform(-12, 12) if near else w.rng.uniform(1, w.duration_s - 1)
        at = min(max(at, 0.5), w.duration_s - 0.5)
        if w.is_quiet(pod, at):
            continue
        w.add(at, pod, herring(w, pod))
        placed += 1
        if placed == count:
            return
