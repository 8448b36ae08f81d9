"""Log line formats of real Kubernetes components, each rendered at the instant it is logged.

Every builder returns a ``Line``: the name of the format (recorded in an example's ``components``) and
a function from the line's Unix-nanosecond timestamp to its text, so a line's own timestamp always
matches the one Loki stores for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.logs.models import format_rfc3339_ns

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Line:
    """A log line waiting for its timestamp, and the name of the format that writes it."""

    component: str
    render: Callable[[int], str]


def quote(value: object) -> str:
    """A value quoted the way Go's %q (klog, logfmt) quotes it."""
    return json.dumps(str(value), ensure_ascii=False)


def _utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC)


def _ms(ts_ns: int) -> int:
    return ts_ns % 1_000_000_000 // 1_000_000


def iso_ms(ts_ns: int) -> str:
    """RFC3339 with milliseconds, as most application loggers write it."""
    return f"{_utc(ts_ns):%Y-%m-%dT%H:%M:%S}.{_ms(ts_ns):03d}Z"


def iso_seconds(ts_ns: int) -> str:
    """RFC3339 to the second, as Go's time.Time prints in x509 and cert-manager messages."""
    return f"{_utc(ts_ns):%Y-%m-%dT%H:%M:%S}Z"


def plain(component: str, text: str) -> Line:
    """A line with no timestamp of its own (stack frames, kernel messages, CoreDNS, uvicorn)."""
    return Line(component, lambda _ts: text)


def _json(fields: dict[str, object]) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


# --- Kubernetes -----------------------------------------------------------------------------------


def klog(
    severity: str, source: str, message: str, *, component: str = "kubelet", pid: int = 1, **fields: object
) -> Line:
    """A klog line (kubelet, scheduler, controllers): structured ``"msg" key="value"`` when fields are given."""
    text = quote(message) + "".join(f" {key}={quote(value)}" for key, value in fields.items())
    if not fields:
        text = message

    def render(ts_ns: int) -> str:
        micros = ts_ns % 1_000_000_000 // 1000
        return f"{severity}{_utc(ts_ns):%m%d %H:%M:%S}.{micros:06d} {pid:>7} {source}] {text}"

    return Line(component, render)


def logr(severity: str, source: str, logger: str, msg: str, *, pid: int = 1, **fields: object) -> Line:
    """A klog line in the older logr style cert-manager writes: ``logger "msg"="..." "key"="..."``."""
    pairs = "".join(f" {quote(key)}={quote(value)}" for key, value in fields.items())
    return klog(severity, source, f'{logger} "msg"={quote(msg)}{pairs}', component="cert-manager", pid=pid)


def kube_event(kind: str, reason: str, obj: str, message: str) -> Line:
    """A Kubernetes event as an event exporter (Alloy, eventrouter) ships it: logfmt on one line."""
    return plain("kube-events", f"type={kind} reason={reason} object={obj} message={quote(message)}")


def containerd(level: str, msg: str, **fields: object) -> Line:
    """A containerd (logrus text) line."""
    pairs = "".join(f" {key}={quote(value)}" for key, value in fields.items())
    return Line(
        "containerd", lambda ts: f'time="{format_rfc3339_ns(ts)}" level={level} msg={quote(msg)}{pairs}'
    )


def kernel(message: str) -> Line:
    """A kernel message as the node journal ships it."""
    return plain("kernel", message)


def flux(level: str, controller: str, kind: str, name: str, msg: str, **fields: object) -> Line:
    """A Flux controller (kustomize-controller, helm-controller) JSON line."""
    group = "kustomize.toolkit.fluxcd.io" if kind == "Kustomization" else "helm.toolkit.fluxcd.io"
    component = "kustomize-controller" if kind == "Kustomization" else "helm-controller"

    def render(ts_ns: int) -> str:
        return _json(
            {
                "level": level,
                "ts": iso_ms(ts_ns),
                "msg": msg,
                "controller": controller,
                "controllerGroup": group,
                "controllerKind": kind,
                kind: {"name": name, "namespace": "flux-system"},
                "namespace": "flux-system",
                "name": name,
                **fields,
            }
        )

    return Line(component, render)


def flux_applied(name: str, output: dict[str, str], revision: str) -> Line:
    """kustomize-controller's line after applying a Kustomization: each object and what changed."""
    return flux(
        "info",
        "kustomization",
        "Kustomization",
        name,
        "server-side apply completed",
        output=output,
        revision=revision,
    )


# --- Network components ---------------------------------------------------------------------------


def coredns(text: str) -> Line:
    """A CoreDNS line (``[INFO]`` query log or ``[ERROR] plugin/errors``)."""
    return plain("coredns", text)


def _nginx_time(ts_ns: int) -> str:
    moment = _utc(ts_ns)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def nginx_access(
    client: str,
    request: str,
    status: int,
    size: int,
    upstream: str,
    upstream_addr: str,
    seconds: float,
    request_id: str,
    agent: str = "Mozilla/5.0 (X11; Linux x86_64)",
) -> Line:
    """An ingress-nginx controller access line (its default log format)."""
    upstream_status = "-" if upstream_addr == "-" else str(status)
    return Line(
        "ingress-nginx",
        lambda ts: (
            f'{client} - - [{_nginx_time(ts)}] "{request}" {status} {size} "-" "{agent}" '
            f"{len(request) + 180} {seconds:.3f} [{upstream}] [] {upstream_addr} {size} {seconds:.3f} "
            f"{upstream_status} {request_id}"
        ),
    )


def nginx_combined(client: str, request: str, status: int, size: int, component: str = "nginx") -> Line:
    """An nginx access line in the default ``combined`` format (a plain nginx container)."""
    return Line(
        component,
        lambda ts: f'{client} - - [{_nginx_time(ts)}] "{request}" {status} {size} "-" "Mozilla/5.0"',
    )


def nginx_error(level: str, message: str, *, worker: int = 31, component: str = "ingress-nginx") -> Line:
    """An nginx error-log line (the ingress controller's, or a plain nginx container's)."""
    return Line(component, lambda ts: f"{_utc(ts):%Y/%m/%d %H:%M:%S} [{level}] {worker}#{worker}: {message}")


def envoy_access(
    request: str,
    status: int,
    flags: str,
    details: str,
    sent: int,
    duration_ms: int,
    authority: str,
    upstream_host: str,
    request_id: str,
    transport_failure: str = "-",
) -> Line:
    """An Envoy (Istio sidecar) access line; ``transport_failure`` is the upstream TLS failure reason."""
    upstream_ms = "-" if flags != "-" else str(max(duration_ms - 1, 0))
    return Line(
        "envoy",
        lambda ts: (
            f'[{iso_ms(ts)}] "{request}" {status} {flags} {details} - "{transport_failure}" 0 {sent} {duration_ms} '
            f'{upstream_ms} "-" "Go-http-client/1.1" "{request_id}" "{authority}" "{upstream_host}"'
        ),
    )


def otelcol(level: str, caller: str, message: str, **fields: object) -> Line:
    """An OpenTelemetry Collector console line: tab-separated, fields as a JSON object at the end."""
    extra = f"\t{_json(fields)}" if fields else ""
    return Line("otel-collector", lambda ts: f"{iso_ms(ts)}\t{level}\t{caller}\t{message}{extra}")


# --- Data stores ----------------------------------------------------------------------------------


def postgres(pid: int, level: str, message: str) -> Line:
    """A PostgreSQL server line (default log_line_prefix ``%m [%p] ``)."""
    return Line(
        "postgresql", lambda ts: f"{_utc(ts):%Y-%m-%d %H:%M:%S}.{_ms(ts):03d} UTC [{pid}] {level}:  {message}"
    )


def pgbouncer(level: str, message: str, *, pid: int = 1) -> Line:
    """A PgBouncer line (``%Y-%m-%d %H:%M:%S.mmm UTC [pid] LEVEL message``)."""
    return Line(
        "pgbouncer", lambda ts: f"{_utc(ts):%Y-%m-%d %H:%M:%S}.{_ms(ts):03d} UTC [{pid}] {level} {message}"
    )


def redis(marker: str, message: str, *, role: str = "M", pid: int = 1) -> Line:
    """A Redis server line; ``marker`` is ``*`` notice, ``#`` warning, ``-`` verbose."""

    def render(ts_ns: int) -> str:
        moment = _utc(ts_ns)
        stamp = (
            f"{moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year} {moment:%H:%M:%S}.{_ms(ts_ns):03d}"
        )
        return f"{pid}:{role} {stamp} {marker} {message}"

    return Line("redis", render)


def kafka_client(level: str, logger: str, message: str) -> Line:
    """A Kafka Java client line as a plain log4j pattern writes it."""
    return Line(
        "kafka-client",
        lambda ts: f"[{_utc(ts):%Y-%m-%d %H:%M:%S},{_ms(ts):03d}] {level} {message} ({logger})",
    )


# --- Application runtimes ---------------------------------------------------------------------------


def spring(app: str, level: str, thread: str, logger: str, message: str) -> Line:
    """A Spring Boot 3 console line."""
    return Line(
        "spring-boot",
        lambda ts: f"{iso_ms(ts)} {level:>5} 1 --- [{app}] [{thread:>15}] {logger:<40} : {message}",
    )


def jvm(text: str) -> Line:
    """A raw JVM line: a stack frame, ``Caused by``, or a banner line printed outside the logger."""
    return plain("jvm", text)


def zap(level: str, caller: str, msg: str, **fields: object) -> Line:
    """A Go zap production JSON line (epoch-seconds ``ts``)."""
    return Line(
        "go-zap",
        lambda ts: _json({"level": level, "ts": round(ts / 1e9, 6), "caller": caller, "msg": msg, **fields}),
    )


def logrus(level: str, msg: str, **fields: object) -> Line:
    """A Go logrus JSON line."""
    return Line(
        "go-logrus", lambda ts: _json({"level": level, "msg": msg, "time": iso_seconds(ts), **fields})
    )


def slog(level: str, msg: str, **fields: object) -> Line:
    """A Go log/slog JSON line."""
    return Line("go-slog", lambda ts: _json({"time": iso_ms(ts), "level": level, "msg": msg, **fields}))


def go_stdlog(text: str) -> Line:
    """A line from Go's standard ``log`` package (``2006/01/02 15:04:05 message``), as net/http writes."""
    return Line("go-runtime", lambda ts: f"{_utc(ts):%Y/%m/%d %H:%M:%S} {text}")


def go_plain(text: str) -> Line:
    """A raw Go runtime line: panic messages, ``goroutine N [running]:`` and frames."""
    return plain("go-runtime", text)


def python_log(level: str, logger: str, message: str) -> Line:
    """A Python logging line (``%(asctime)s %(levelname)s [%(name)s] %(message)s``)."""
    return Line(
        "python", lambda ts: f"{_utc(ts):%Y-%m-%d %H:%M:%S},{_ms(ts):03d} {level} [{logger}] {message}"
    )


def python_plain(text: str) -> Line:
    """A raw Python line: traceback frames and the exception line."""
    return plain("python", text)


def gunicorn(pid: int, level: str, message: str) -> Line:
    """A gunicorn server line."""
    return Line("gunicorn", lambda ts: f"[{_utc(ts):%Y-%m-%d %H:%M:%S} +0000] [{pid}] [{level}] {message}")


def uvicorn_access(client: str, request: str, status: int) -> Line:
    """A uvicorn access line (no timestamp of its own)."""
    reasons = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found", 500: "Internal Server Error"}
    return plain("uvicorn", f'INFO:     {client} - "{request}" {status} {reasons.get(status, "")}'.rstrip())


def pino(level: int, msg: str, hostname: str, **fields: object) -> Line:
    """A Node.js pino JSON line (numeric levels: 30 info, 40 warn, 50 error, 60 fatal)."""
    return Line(
        "node-pino",
        lambda ts: _json(
            {"level": level, "time": ts // 1_000_000, "pid": 1, "hostname": hostname, **fields, "msg": msg}
        ),
    )


def node_plain(text: str) -> Line:
    """A raw Node.js line written to stderr: uncaught errors, stack frames, warnings."""
    return plain("node", text)
