"""Node.js clients: node-postgres, ioredis, amqplib, KafkaJS, fetch, the MongoDB driver and AWS SDK v3."""

from __future__ import annotations

from app.logs.synthetic.clients.common import SERVER_SIDE, Call, server_text, url_of
from app.logs.synthetic.faults import CertDates, Err, Frame, Target, node_net_error


def node_error(
    target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call
) -> Err:
    """What a Node.js application catches when its call to ``target`` fails with ``failure``."""
    kind = target.kind
    net = node_net_error(failure, target) if failure not in SERVER_SIDE else None
    pg_codes = {
        "auth_failed": "28P01",
        "too_many_clients": "53300",
        "forbidden": "42501",
        "upstream_down": "08P01",
    }
    if kind == "postgres":
        if failure in SERVER_SIDE:
            frames = (Frame("/app/node_modules/pg/lib/client.js", "Parser.<anonymous>", 535),)
            severity = "ERROR" if failure == "forbidden" else "FATAL"
            return Err(
                server_text(target, failure, call),
                "error",
                frames,
                extra=(("severity", severity), ("code", pg_codes.get(failure, "XX000"))),
            )
        if failure in ("timeout", "read_timeout"):
            return Err(
                "Connection terminated due to connection timeout",
                "Error",
                (Frame("/app/node_modules/pg-pool/index.js", "<anonymous>", 45),),
            )
    if kind == "redis" and failure in SERVER_SIDE:
        text = server_text(target, failure, call)
        return Err(
            text, "ReplyError", (Frame("/app/node_modules/redis-parser/lib/parser.js", "parseError", 179),)
        )
    if kind == "rabbitmq" and failure in SERVER_SIDE:
        return Err(
            f'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "{server_text(target, failure, call)}"',
            "Error",
        )
    if kind == "kafka":
        if failure == "auth_failed":
            return Err(
                "SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid "
                "credentials with SASL mechanism SCRAM-SHA-512",
                "KafkaJSSASLAuthenticationError",
            )
        if failure == "forbidden":
            return Err(
                "Not authorized to access topics: [Topic authorization failed]",
                "KafkaJSProtocolError",
                extra=(("type", "TOPIC_AUTHORIZATION_FAILED"),),
            )
        assert net is not None
        return Err(f"[Connection] Connection error: {net.message}", "KafkaJSConnectionError", cause=net)
    if kind == "http":
        if failure in SERVER_SIDE:
            status = {"unavailable": 503, "forbidden": 403, "auth_failed": 401}[failure]
            return Err(
                f"{call.method} {url_of(target, call)} responded {status}",
                "HTTPError",
                extra=(("statusCode", status),),
            )
        if failure == "read_timeout":
            return Err("The operation was aborted due to timeout", "TimeoutError", extra=(("code", 23),))
        return Err(
            "fetch failed",
            "TypeError",
            (Frame("node:internal/deps/undici/undici", "fetch", 13502),),
            cause=net,
        )
    if kind == "mongodb":
        if failure == "auth_failed":
            return Err(
                "Authentication failed.",
                "MongoServerError",
                extra=(("code", 18), ("codeName", "AuthenticationFailed")),
            )
        assert net is not None
        return Err(
            net.message,
            "MongoServerSelectionError",
            (Frame("/app/node_modules/mongodb/lib/sdam/topology.js", "Timeout._onTimeout", 278),),
        )
    if kind == "s3" and failure in SERVER_SIDE:
        return Err(
            "Access Denied",
            "AccessDenied",
            extra=(("$fault", "client"), ("$metadata", {"httpStatusCode": 403})),
        )
    assert net is not None
    return net
