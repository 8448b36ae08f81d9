"""nginx in front of an app, the ingress-nginx controller, and Envoy as an Istio sidecar.

nginx writes the ``combined`` access format and its error log (``2026/11/26 10:00:00 [error] 29#29:
*1234 ...``); an upstream that stops answering ends in ``upstream timed out`` after
``proxy_read_timeout`` (60 s), so a 504 is logged a minute after its request began. Envoy writes
Istio's default access format, with response flags (``UF``, ``UH``, ``UT``, ``URX``), response code
details and the upstream transport failure reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from app.logs.synthetic.formats import Render, clf_time, fixed, iso_ms, iso_us, klog, utc

NGINX_VERSION = "1.27.3"


@dataclass
class Nginx:
    """The official nginx image serving a front end and proxying ``/api`` to a Service."""

    rng: random.Random
    server_name: str
    worker_pid: int = 29

    component = "nginx"

    def error(self, level: str, message: str, *, pid: int | None = None) -> Render:
        """An error-log line."""
        worker = pid or self.worker_pid
        return lambda ts: f"{utc(ts):%Y/%m/%d %H:%M:%S} [{level}] {worker}#{worker}: {message}"

    def access(
        self, client: str, method: str, path: str, status: int, size: int, agent: str, referer: str = "-"
    ) -> Render:
        """A ``combined`` access line."""
        return lambda ts: (
            f'{client} - - [{clf_time(ts)}] "{method} {path} HTTP/1.1" {status} {size} "{referer}" "{agent}"'
        )

    def upstream_error(self, reason: str, client: str, method: str, path: str, upstream: str) -> Render:
        """The error line for a proxied request whose upstream failed."""
        connection = self.rng.randint(1000, 9_000_000)
        return self.error(
            "error",
            f'*{connection} {reason}, client: {client}, server: {self.server_name}, request: "{method} {path} HTTP/1.1", '
            f'upstream: "http://{upstream}{path}", host: "{self.server_name}"',
        )

    def startup(self) -> list[Render]:
        """The image's entrypoint, then the master and its workers starting."""
        entry = [
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
            "10-listen-on-ipv6-by-default.sh: info: Getting the checksum of /etc/nginx/conf.d/default.conf",
            "10-listen-on-ipv6-by-default.sh: info: /etc/nginx/conf.d/default.conf differs from the packaged version",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/20-envsubst-on-templates.sh",
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
        ]
        master = [
            'using the "epoll" event method',
            f"nginx/{NGINX_VERSION}",
            "built by gcc 12.2.0 (Debian 12.2.0-14)",
            "OS: Linux 6.1.0-28-cloud-amd64",
            "getrlimit(RLIMIT_NOFILE): 1048576:1048576",
            "start worker processes",
            f"start worker process {self.worker_pid}",
        ]
        return [fixed(line) for line in entry] + [self.error("notice", line, pid=1) for line in master]

    def shutdown(self) -> list[Render]:
        """SIGQUIT (the image's STOPSIGNAL): a graceful stop."""
        worker = self.worker_pid
        return [
            self.error("notice", "signal 3 (SIGQUIT) received, shutting down", pid=1),
            self.error("notice", "gracefully shutting down"),
            self.error("notice", "exiting"),
            self.error("notice", "exit"),
            self.error("notice", f"signal 17 (SIGCHLD) received from {worker}", pid=1),
            self.error("notice", f"worker process {worker} exited with code 0", pid=1),
            self.error("notice", "exit", pid=1),
        ]


@dataclass(frozen=True)
class EnvoyHop:
    """Where an Envoy access line's request went: its upstream host, cluster and addresses."""

    authority: str
    upstream_host: str
    cluster: str
    local: str
    downstream_local: str
    downstream_remote: str
    server_name: str = "-"
    route: str = "default"


@dataclass
class Envoy:
    """Istio's sidecar (``istio-proxy``): pilot-agent lines and Envoy's default access log."""

    rng: random.Random

    component = "envoy"

    def access(
        self,
        method: str,
        path: str,
        status: int,
        hop: EnvoyHop,
        *,
        flags: str = "-",
        details: str = "via_upstream",
        transport_failure: str = "-",
        received: int = 0,
        sent: int = 0,
        duration_ms: int = 1,
        forwarded_for: str = "-",
        agent: str = "-",
        request_id: str = "-",
    ) -> Render:
        """One access line in Istio's default TEXT format."""
        upstream_ms = "-" if flags != "-" else str(max(duration_ms - 1, 0))
        text = (
            f'"{method} {path} HTTP/1.1" {status} {flags} {details} - "{transport_failure}" {received} {sent} '
            f'{duration_ms} {upstream_ms} "{forwarded_for}" "{agent}" "{request_id}" "{hop.authority}" '
            f'"{hop.upstream_host}" {hop.cluster} {hop.local} {hop.downstream_local} {hop.downstream_remote} '
            f"{hop.server_name} {hop.route}"
        )
        return lambda ts: f"[{iso_ms(ts)}] {text}"

    def agent(self, level: str, scope: str, message: str) -> Render:
        """A pilot-agent line: ``time\\tlevel\\tscope\\tmessage``."""
        return lambda ts: f"{iso_us(ts)}\t{level}\t{scope}\t{message}"

    def startup(self, pod: str, namespace: str) -> list[Render]:
        """The sidecar starting and becoming ready (before the app container starts)."""
        return [
            self.agent("info", "FLAG", '--concurrency="2"'),
            self.agent("info", "sds", "Starting SDS grpc server"),
            self.agent(
                "info",
                "xdsproxy",
                'Initializing with upstream address "istiod.istio-system.svc:15012" and cluster "Kubernetes"',
            ),
            self.agent(
                "info",
                "cache",
                f"generated new workload certificate resourceName=default latency={self.rng.randint(40, 180)}.{self.rng.randint(100000, 999999)}ms ttl=23h59m59.{self.rng.randint(100000, 999999)}s",
            ),
            self.agent("info", "ads", f"ADS: new connection for node:{pod}.{namespace}-1"),
            self.agent(
                "info",
                "ads",
                f"SDS: PUSH request for node:{pod}.{namespace} resources:1 size:4.0kB resource:default",
            ),
            self.agent("info", "", "Readiness succeeded in 1.2s"),
            self.agent("info", "", "Envoy proxy is ready"),
        ]

    def xds_reconnect(self) -> list[Render]:
        """istiod closes the XDS stream every ~30 minutes; the agent reconnects."""
        return [
            self.agent(
                "info", "xdsproxy", "connected to delta upstream XDS server: istiod.istio-system.svc:15012"
            ),
            self.agent("info", "ads", 'ADS: "@" 1 terminated'),
        ]

    def shutdown(self) -> list[Render]:
        """The sidecar draining after the app exits."""
        return [
            self.agent("info", "", "Agent draining Proxy for termination"),
            self.agent("info", "status", "server has shutdown"),
            self.agent("warn", "", "Aborted proxy instance"),
        ]


@dataclass
class IngressNginx:
    """The ingress-nginx controller: its access format, nginx's error log and the controller's klog lines."""

    rng: random.Random
    worker_pid: int = 31

    component = "ingress-nginx"

    def access(
        self,
        client: str,
        method: str,
        path: str,
        status: int,
        size: int,
        agent: str,
        upstream_name: str,
        upstream_addr: str,
        seconds: float,
        request_id: str,
    ) -> Render:
        """The controller's default access line: the client part, then the upstream's name, address, size, time and status."""
        answered = upstream_addr != "-"
        upstream = f"{upstream_addr} {size if answered else '-'} {f'{seconds:.3f}' if answered else '-'} {status if answered else '-'}"
        length = self.rng.randint(40, 900)
        text = (
            f'"{method} {path} HTTP/2.0" {status} {size} "-" "{agent}" {length} {seconds:.3f} [{upstream_name}] [] '
            f"{upstream} {request_id}"
        )
        return lambda ts: f"{client} - - [{clf_time(ts)}] {text}"

    def error(self, level: str, message: str) -> Render:
        """An nginx error-log line of a worker."""
        worker = self.worker_pid
        return lambda ts: f"{utc(ts):%Y/%m/%d %H:%M:%S} [{level}] {worker}#{worker}: {message}"

    def controller(self, severity: str, source: str, message: str) -> Render:
        """A line of the controller process itself (klog)."""
        return klog(severity, 7, source, message)
