"""Errors as runtimes report them: the ``Err`` model and the network-level failures of each runtime.

An ``Err`` is what a caught error carries: its message (Go's ``err.Error()``, an exception's text),
its type (the exception class), the library frames it was raised in and its cause. Runtimes render
it in their own way (a Go ``"error"`` field, a Java ``Caused by:`` chain, a Python traceback, a
Node.js ``err`` object). ``clients`` wraps these network failures the way each client library does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

from app.logs.synthetic.formats import utc

Family = Literal["go", "jvm", "python", "node"]
FAMILIES: tuple[Family, ...] = ("go", "jvm", "python", "node")
NetFailure = Literal[
    "refused",
    "timeout",
    "read_timeout",
    "reset",
    "dns_nxdomain",
    "dns_timeout",
    "tls_expired",
    "tls_unknown_ca",
    "tls_hostname",
    "tls_not_yet_valid",
    "tls_client_rejected",
]
NET_FAILURES: tuple[str, ...] = get_args(NetFailure)
CLUSTER_DNS = "10.96.0.10"


@dataclass(frozen=True)
class Frame:
    """One stack frame: a Java ``at`` line, a Python ``File ...`` pair, a Node.js ``at`` line."""

    where: str
    function: str
    line: int
    code: str = ""


@dataclass(frozen=True)
class Err:
    """A caught error: message, class, where it was raised, what caused it, extra fields (Node.js)."""

    message: str
    type: str = ""
    frames: tuple[Frame, ...] = ()
    cause: Err | None = None
    extra: tuple[tuple[str, object], ...] = field(default=())

    def chain(self) -> list[Err]:
        """This error and its causes, outermost first."""
        errs: list[Err] = [self]
        cause = self.cause
        while cause is not None:
            errs.append(cause)
            cause = cause.cause
        return errs

    def root(self) -> Err:
        """The innermost cause."""
        return self.chain()[-1]


@dataclass(frozen=True)
class Target:
    """Something an application connects to: how it names it, where it answers, and with which user."""

    kind: str
    host: str
    ip: str
    port: int
    user: str = "app"
    database: str = "app"
    scheme: str = "http"
    # Subject alternative names of its certificate, for hostname-mismatch errors.
    san: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """``ip:port``."""
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class CertDates:
    """The validity of a certificate a client was shown."""

    not_before_ns: int
    not_after_ns: int


def _go_time(ts_ns: int) -> str:
    return f"{utc(ts_ns):%Y-%m-%dT%H:%M:%S}Z"


def _java_date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def go_net_error(failure: str, target: Target, local: str, now_ns: int, cert: CertDates | None) -> str:
    """What Go's net, crypto/tls and x509 packages say for a failure."""
    if failure == "refused":
        return f"dial tcp {target.address}: connect: connection refused"
    if failure == "timeout":
        return f"dial tcp {target.address}: i/o timeout"
    if failure == "read_timeout":
        return f"read tcp {local}->{target.address}: i/o timeout"
    if failure == "reset":
        return f"read tcp {local}->{target.address}: read: connection reset by peer"
    if failure == "dns_nxdomain":
        return f"dial tcp: lookup {target.host} on {CLUSTER_DNS}:53: no such host"
    if failure == "dns_timeout":
        dns_port = local.rsplit(":", 1)[1]
        return (
            f"dial tcp: lookup {target.host} on {CLUSTER_DNS}:53: read udp "
            f"{local.rsplit(':', 1)[0]}:{dns_port}->{CLUSTER_DNS}:53: i/o timeout"
        )
    verify = "tls: failed to verify certificate: x509: "
    if failure == "tls_expired" and cert:
        return (
            f"{verify}certificate has expired or is not yet valid: current time {_go_time(now_ns)} "
            f"is after {_go_time(cert.not_after_ns)}"
        )
    if failure == "tls_not_yet_valid" and cert:
        return (
            f"{verify}certificate has expired or is not yet valid: current time {_go_time(now_ns)} "
            f"is before {_go_time(cert.not_before_ns)}"
        )
    if failure == "tls_hostname":
        return f"{verify}certificate is valid for {', '.join(target.san)}, not {target.host}"
    if failure == "tls_client_rejected":
        return "remote error: tls: expired certificate"
    return f"{verify}certificate signed by unknown authority"


def python_net_error(failure: str, target: Target) -> tuple[str, str]:
    """``(exception class, message)`` of CPython's socket and ssl modules for a failure."""
    ssl = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
    table = {
        "refused": ("ConnectionRefusedError", "[Errno 111] Connection refused"),
        "timeout": ("TimeoutError", "timed out"),
        "read_timeout": ("TimeoutError", "The read operation timed out"),
        "reset": ("ConnectionResetError", "[Errno 104] Connection reset by peer"),
        "dns_nxdomain": ("socket.gaierror", "[Errno -2] Name or service not known"),
        "dns_timeout": ("socket.gaierror", "[Errno -3] Temporary failure in name resolution"),
        "tls_expired": ("ssl.SSLCertVerificationError", f"{ssl}certificate has expired (_ssl.c:1000)"),
        "tls_not_yet_valid": (
            "ssl.SSLCertVerificationError",
            f"{ssl}certificate is not yet valid (_ssl.c:1000)",
        ),
        "tls_unknown_ca": (
            "ssl.SSLCertVerificationError",
            f"{ssl}unable to get local issuer certificate (_ssl.c:1000)",
        ),
        "tls_client_rejected": (
            "ssl.SSLError",
            "[SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (_ssl.c:2580)",
        ),
        "tls_hostname": (
            "ssl.SSLCertVerificationError",
            f"{ssl}Hostname mismatch, certificate is not valid for '{target.host}'. (_ssl.c:1000)",
        ),
    }
    return table[failure]


def java_net_error(failure: str, target: Target, now_ns: int, cert: CertDates | None) -> Err:
    """The JDK's exception for a failure (with its cause, for certificate checks)."""
    if failure == "refused":
        return Err("Connection refused", "java.net.ConnectException", _JDK_CONNECT)
    if failure == "timeout":
        return Err("Connect timed out", "java.net.SocketTimeoutException", _JDK_CONNECT)
    if failure == "read_timeout":
        return Err("Read timed out", "java.net.SocketTimeoutException", _JDK_READ)
    if failure == "reset":
        return Err("Connection reset", "java.net.SocketException", _JDK_READ)
    if failure == "dns_nxdomain":
        return Err(f"{target.host}: Name or service not known", "java.net.UnknownHostException", _JDK_DNS)
    if failure == "dns_timeout":
        return Err(
            f"{target.host}: Temporary failure in name resolution", "java.net.UnknownHostException", _JDK_DNS
        )
    if failure in ("tls_expired", "tls_not_yet_valid") and cert:
        if failure == "tls_expired":
            inner = Err(
                f"NotAfter: {_java_date(cert.not_after_ns)}", "java.security.cert.CertificateExpiredException"
            )
        else:
            inner = Err(
                f"NotBefore: {_java_date(cert.not_before_ns)}",
                "java.security.cert.CertificateNotYetValidException",
            )
        validator = Err(
            "validity check failed", "java.security.cert.CertPathValidatorException", _JDK_PKIX, cause=inner
        )
        return Err(
            "PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
            "javax.net.ssl.SSLHandshakeException",
            _JDK_TLS,
            cause=validator,
        )
    if failure == "tls_client_rejected":
        return Err(
            "Received fatal alert: certificate_expired", "javax.net.ssl.SSLHandshakeException", _JDK_TLS
        )
    if failure == "tls_hostname":
        inner = Err(
            f"No subject alternative DNS name matching {target.host} found.",
            "java.security.cert.CertificateException",
        )
        return Err(
            f"No subject alternative DNS name matching {target.host} found.",
            "javax.net.ssl.SSLHandshakeException",
            _JDK_TLS,
            cause=inner,
        )
    builder = Err(
        "unable to find valid certification path to requested target",
        "sun.security.provider.certpath.SunCertPathBuilderException",
        _JDK_PKIX,
    )
    return Err(
        "PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: "
        "unable to find valid certification path to requested target",
        "javax.net.ssl.SSLHandshakeException",
        _JDK_TLS,
        cause=builder,
    )


def node_net_error(failure: str, target: Target) -> Err:
    """Node.js's system or TLS error for a failure, with the properties it carries."""
    address = (("address", target.ip), ("port", target.port))
    at_connect = (Frame("node:net", "TCPConnectWrap.afterConnect [as oncomplete]", 1611),)
    at_dns = (Frame("node:dns", "GetAddrInfoReqWrap.onlookupall [as oncomplete]", 120),)
    at_tls = (Frame("node:_tls_wrap", "TLSSocket.onConnectSecure", 1674),)
    if failure == "refused":
        extra = (("errno", -111), ("code", "ECONNREFUSED"), ("syscall", "connect"), *address)
        return Err(f"connect ECONNREFUSED {target.address}", "Error", at_connect, extra=extra)
    if failure == "timeout":
        extra = (("errno", -110), ("code", "ETIMEDOUT"), ("syscall", "connect"), *address)
        return Err(f"connect ETIMEDOUT {target.address}", "Error", at_connect, extra=extra)
    if failure in ("reset", "read_timeout"):
        extra = (("errno", -104), ("code", "ECONNRESET"), ("syscall", "read"))
        return Err(
            "read ECONNRESET",
            "Error",
            (Frame("node:internal/stream_base_commons", "TCP.onStreamRead", 218),),
            extra=extra,
        )
    if failure == "dns_nxdomain":
        extra = (
            ("errno", -3008),
            ("code", "ENOTFOUND"),
            ("syscall", "getaddrinfo"),
            ("hostname", target.host),
        )
        return Err(f"getaddrinfo ENOTFOUND {target.host}", "Error", at_dns, extra=extra)
    if failure == "dns_timeout":
        extra = (
            ("errno", -3001),
            ("code", "EAI_AGAIN"),
            ("syscall", "getaddrinfo"),
            ("hostname", target.host),
        )
        return Err(f"getaddrinfo EAI_AGAIN {target.host}", "Error", at_dns, extra=extra)
    tls = {
        "tls_expired": ("certificate has expired", "CERT_HAS_EXPIRED"),
        "tls_not_yet_valid": ("certificate is not yet valid", "CERT_NOT_YET_VALID"),
        "tls_unknown_ca": ("self-signed certificate in certificate chain", "SELF_SIGNED_CERT_IN_CHAIN"),
        "tls_client_rejected": (
            "C0B7B9D6E07F0000:error:0A000415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1586:SSL alert number 45",
            "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
        ),
        "tls_hostname": (
            f"Hostname/IP does not match certificate's altnames: Host: {target.host}. is not in the cert's "
            f"altnames: {', '.join('DNS:' + name for name in target.san)}",
            "ERR_TLS_CERT_ALTNAME_INVALID",
        ),
    }
    message, code = tls[failure]
    return Err(message, "Error", at_tls, extra=(("code", code),))


_JDK_CONNECT = (
    Frame("java.base/sun.nio.ch.Net", "pollConnect", -2),
    Frame("java.base/sun.nio.ch.Net", "pollConnectNow", 672),
    Frame("java.base/sun.nio.ch.NioSocketImpl", "timedFinishConnect", 547),
    Frame("java.base/sun.nio.ch.NioSocketImpl", "connect", 602),
    Frame("java.base/java.net.Socket", "connect", 633),
)
_JDK_READ = (
    Frame("java.base/sun.nio.ch.NioSocketImpl", "timedRead", 288),
    Frame("java.base/sun.nio.ch.NioSocketImpl", "implRead", 314),
    Frame("java.base/sun.nio.ch.NioSocketImpl", "read", 355),
)
_JDK_DNS = (
    Frame("java.base/java.net.Inet6AddressImpl", "lookupAllHostAddr", -2),
    Frame("java.base/java.net.InetAddress$PlatformResolver", "lookupByName", 1211),
    Frame("java.base/java.net.InetAddress", "getAddressesFromNameService", 1828),
    Frame("java.base/java.net.InetAddress", "getAllByName0", 1139),
)
_JDK_TLS = (
    Frame("java.base/sun.security.ssl.Alert", "createSSLException", 130),
    Frame("java.base/sun.security.ssl.TransportContext", "fatal", 383),
    Frame("java.base/sun.security.ssl.CertificateMessage$T13CertificateConsumer", "checkServerCerts", 1318),
    Frame(
        "java.base/sun.security.ssl.CertificateMessage$T13CertificateConsumer", "onConsumeCertificate", 1195
    ),
)
_JDK_PKIX = (
    Frame("java.base/sun.security.validator.PKIXValidator", "doValidate", 369),
    Frame("java.base/sun.security.validator.PKIXValidator", "engineValidate", 275),
    Frame("java.base/sun.security.validator.Validator", "validate", 264),
)
