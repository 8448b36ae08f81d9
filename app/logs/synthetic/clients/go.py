"""Go clients: pgx, go-redis, amqp091-go, franz-go, net/http, mongo-go and aws-sdk-go-v2."""

from __future__ import annotations

from app.logs.synthetic.clients.common import SERVER_SIDE, Call, hex_of, server_text, url_of
from app.logs.synthetic.faults import CertDates, Err, Target, go_net_error


def go_error(
    target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call
) -> Err:
    """What a Go application catches when its call to ``target`` fails with ``failure``."""
    net = go_net_error(failure, target, local, now_ns, cert) if failure not in SERVER_SIDE else ""
    kind = target.kind
    if kind == "postgres":
        prefix = f"failed to connect to `user={target.user} database={target.database}`: "
        where = f"{target.address} ({target.host}): "
        if failure in ("dns_nxdomain", "dns_timeout"):
            return Err(prefix + "hostname resolving error: " + net.removeprefix("dial tcp: "))
        if failure.startswith("tls_"):
            return Err(prefix + where + "tls error: " + net)
        if failure == "auth_failed":
            return Err(
                prefix
                + where
                + f"failed SASL auth: FATAL: {server_text(target, failure, call)} (SQLSTATE 28P01)"
            )
        if failure in ("too_many_clients", "upstream_down"):
            code = "53300" if failure == "too_many_clients" else "08P01"
            return Err(
                prefix
                + where
                + f"server error: FATAL: {server_text(target, failure, call)} (SQLSTATE {code})"
            )
        if failure == "forbidden":
            return Err(f"ERROR: {server_text(target, failure, call)} (SQLSTATE 42501)")
        if failure == "reset":
            return Err(prefix + where + "failed to receive message: unexpected EOF")
        if failure == "read_timeout":
            return Err("timeout: context deadline exceeded")
        return Err(prefix + where + "dial error: " + net)
    if kind == "redis" and failure in SERVER_SIDE:
        return Err(server_text(target, failure, call))
    if kind == "rabbitmq":
        if failure == "auth_failed":
            return Err('Exception (403) Reason: "username or password not allowed"')
        if failure == "forbidden":
            return Err(f'Exception (403) Reason: "{server_text(target, failure, call)}"')
        return Err(net)
    if kind == "kafka":
        if failure == "auth_failed":
            return Err("SASL_AUTHENTICATION_FAILED: SASL Authentication failed.")
        if failure == "forbidden":
            return Err(
                "TOPIC_AUTHORIZATION_FAILED: Not authorized to access topics: [Topic authorization failed.]"
            )
        return Err(f"unable to dial: {net}")
    if kind == "http":
        url = url_of(target, call)
        if failure in SERVER_SIDE:
            status = {
                "unavailable": "503 Service Unavailable",
                "forbidden": "403 Forbidden",
                "auth_failed": "401 Unauthorized",
            }
            return Err(
                f"{call.method} {url}: unexpected status {status.get(failure, '503 Service Unavailable')}"
            )
        if failure == "read_timeout":
            return Err(
                f'{call.method.title()} "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
            )
        return Err(f'{call.method.title()} "{url}": {net}')
    if kind == "mongodb":
        if failure == "auth_failed":
            return Err(
                "connection() error occurred during connection handshake: auth error: sasl conversation error: "
                'unable to authenticate using mechanism "SCRAM-SHA-256": (AuthenticationFailed) Authentication failed.'
            )
        return Err(
            "server selection error: server selection timeout, current topology: { Type: ReplicaSetNoPrimary, "
            f"Servers: [{{ Addr: {target.host}:{target.port}, Type: Unknown, Last error: {net} }}, ] }}"
        )
    if kind == "s3":
        if failure in SERVER_SIDE:
            return Err(
                f"operation error S3: {call.operation}, https response error StatusCode: 403, RequestID: "
                f"{hex_of(now_ns, 16).upper()}, HostID: {hex_of(now_ns + 7, 40)}, api error AccessDenied: Access Denied"
            )
        return Err(
            f"operation error S3: {call.operation}, exceeded maximum number of attempts, 3, https response error "
            f'StatusCode: 0, RequestID: , HostID: , request send failed, Put "https://{call.bucket}.'
            f'{target.host}/{call.key}": {net}'
        )
    return Err(net)
