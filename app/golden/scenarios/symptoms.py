"""What clients write when something they call goes away: refused connections, timeouts, 502s.

Causal chains use these as the symptoms downstream of their cause (a database OOM-killed, stuck on a
volume or unschedulable; a name that stopped resolving), so they read like ``dependency_unavailable``
while the label is the earliest cause.
"""

from __future__ import annotations

from typing import Literal

from app.golden.scenarios import formats as f
from app.golden.scenarios.formats import Line
from app.golden.scenarios.noise import go_log, request_path
from app.golden.scenarios.window import Pod, Window

Store = Literal["redis", "postgres"]
_PORTS: dict[str, int] = {"redis": 6379, "postgres": 5432}


def refused(w: Window, pod: Pod, store: Store, host: str, ip: str) -> Line:
    """The client's error when ``store`` at ``host`` (``ip``) refuses the connection, in its runtime's words."""
    port = _PORTS[store]
    if pod.runtime == "go":
        if store == "postgres":
            error = f"failed to connect to `host={host} user=app database=app`: dial error (dial tcp {ip}:{port}: connect: connection refused)"
            return go_log(pod, "error", "store/pg.go:57", "query failed", error=error)
        return go_log(
            pod,
            "error",
            "cache/redis.go:52",
            "cache get failed",
            error=f"dial tcp {ip}:{port}: connect: connection refused",
        )
    if pod.runtime == "node":
        err = {
            "code": "ECONNREFUSED",
            "message": f"connect ECONNREFUSED {ip}:{port}",
            "address": ip,
            "port": port,
        }
        return f.pino(50, f"{store} query failed", pod.name, err=err)
    if pod.runtime == "python":
        if store == "postgres":
            return f.python_log(
                "ERROR",
                "app.db",
                f'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "{host}" ({ip}), port {port} failed: Connection refused',
            )
        return f.python_log(
            "ERROR",
            "app.cache",
            f"redis.exceptions.ConnectionError: Error 111 connecting to {host}:{port}. Connection refused.",
        )
    if store == "postgres":
        return f.spring(
            pod.app,
            "WARN",
            "HikariPool-1 housekeeper",
            "com.zaxxer.hikari.pool.HikariPool",
            f"HikariPool-1 - Pool is empty, failed to create/setup connection: Connection to {host}:{port} refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
        )
    return f.spring(
        pod.app,
        "WARN",
        "lettuce-eventExecutorLoop-1-2",
        "i.l.core.protocol.ConnectionWatchdog",
        f"Cannot reconnect to [{host}/<unresolved>:{port}]: Connection refused: {host}/{ip}:{port}",
    )


def timed_out(w: Window, pod: Pod, store: Store, host: str, ip: str) -> Line:
    """The client's error when connecting to ``store`` at ``host`` (``ip``) times out, in its runtime's words."""
    port = _PORTS[store]
    if pod.runtime == "go":
        error = f"failed to connect to `host={host} user=app database=app`: dial error (timeout: dial tcp {ip}:{port}: i/o timeout)"
        if store == "redis":
            error = f"dial tcp {ip}:{port}: i/o timeout"
        return go_log(pod, "error", "store/conn.go:40", f"{store} unavailable", error=error)
    if pod.runtime == "node":
        err = {"code": "ETIMEDOUT", "message": f"connect ETIMEDOUT {ip}:{port}", "syscall": "connect"}
        return f.pino(50, f"{store} query failed", pod.name, err=err)
    if pod.runtime == "python":
        if store == "postgres":
            return f.python_log(
                "ERROR",
                "app.db",
                f'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at "{host}" ({ip}), port {port} failed: timeout expired',
            )
        return f.python_log(
            "ERROR", "app.cache", "redis.exceptions.TimeoutError: Timeout connecting to server"
        )
    if store == "postgres":
        return f.spring(
            pod.app,
            "ERROR",
            f"nio-8080-exec-{w.rng.randint(1, 10)}",
            "o.h.engine.jdbc.spi.SqlExceptionHelper",
            "HikariPool-1 - Connection is not available, request timed out after 30000ms (total=0, active=0, idle=0, waiting=4)",
        )
    return f.spring(
        pod.app,
        "ERROR",
        f"nio-8080-exec-{w.rng.randint(1, 10)}",
        "c.e.app.cache.CacheService",
        f"io.lettuce.core.RedisConnectionException: Unable to connect to {host}/<unresolved>:{port}: connection timed out after 10 second(s): {host}/{ip}:{port}",
    )


def reconnected(w: Window, pod: Pod, store: Store, host: str) -> Line:
    """The client's line once ``store`` answers again."""
    if pod.runtime == "jvm":
        if store == "postgres":
            return f.spring(
                pod.app,
                "INFO",
                "HikariPool-1 housekeeper",
                "com.zaxxer.hikari.pool.HikariPool",
                "HikariPool-1 - Added connection org.postgresql.jdbc.PgConnection@" + w.hexid(8),
            )
        return f.spring(
            pod.app,
            "INFO",
            "lettuce-nioEventLoop-4-1",
            "i.l.core.protocol.ReconnectionHandler",
            f"Reconnected to {host}/<unresolved>:{_PORTS[store]}",
        )
    if pod.runtime == "node":
        return f.pino(30, f"{store} connection ready", pod.name, host=host)
    if pod.runtime == "python":
        return f.python_log(
            "INFO", "app.cache" if store == "redis" else "app.db", f"connected to {host}:{_PORTS[store]}"
        )
    return go_log(
        pod, "info", "store/conn.go:48", f"{store} connection established", addr=f"{host}:{_PORTS[store]}"
    )


def ingress_failure(
    w: Window,
    ingress: Pod,
    pod: Pod,
    at: float,
    reason: str,
    *,
    status: int = 502,
    https: bool = False,
    evidence: bool = False,
) -> None:
    """ingress-nginx's error-log line for an upstream that failed, and the access line with its status."""
    path = request_path(w, pod.namespace)
    client = w.client_ip()
    scheme, port = ("https", 8443) if https else ("http", 8080)
    message = f'*{w.rng.randint(10**5, 10**7)} {reason}, client: {client}, server: {pod.app}.example.com, request: "GET {path} HTTP/1.1", upstream: "{scheme}://{pod.ip}:{port}{path}", host: "{pod.app}.example.com"'
    w.add(at, ingress, f.nginx_error("error", message), evidence=evidence)
    w.add(
        at + 0.001,
        ingress,
        f.nginx_access(
            client,
            f"GET {path} HTTP/1.1",
            status,
            150,
            f"{pod.namespace}-{pod.app}-{port}",
            f"{pod.ip}:{port}",
            w.rng.uniform(0.001, 0.05),
            w.hexid(32),
        ),
    )
