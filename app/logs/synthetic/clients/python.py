"""Python clients: psycopg 3 under SQLAlchemy, redis-py, kombu, librdkafka, httpx, pymongo and botocore."""

from __future__ import annotations

from app.logs.synthetic.clients.common import SERVER_SIDE, SITE, Call, hex_of, server_text, url_of
from app.logs.synthetic.faults import CertDates, Err, Frame, Target, python_net_error


def python_error(
    target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call
) -> Err:
    """What a Python application catches when its call to ``target`` fails with ``failure``."""
    kind = target.kind
    net_type, net_text = python_net_error(failure, target) if failure not in SERVER_SIDE else ("", "")
    if kind == "postgres":
        at = f'connection to server at "{target.ip}", port {target.port} failed: '
        if failure == "forbidden":
            psy = Err(
                server_text(target, failure, call), "psycopg.errors.InsufficientPrivilege", _PSYCOPG_EXEC
            )
        else:
            if failure in SERVER_SIDE:
                detail = at + f"FATAL:  {server_text(target, failure, call)}"
            elif failure in ("dns_nxdomain", "dns_timeout"):
                reason = (
                    "Name or service not known"
                    if failure == "dns_nxdomain"
                    else "Temporary failure in name resolution"
                )
                detail = f'could not translate host name "{target.host}" to address: {reason}'
            elif failure == "refused":
                detail = (
                    at
                    + "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?"
                )
            elif failure.startswith("tls_"):
                detail = at + "SSL error: certificate verify failed"
            elif failure == "reset":
                detail = "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n\tbefore or while processing the request."
            else:
                detail = at + "timeout expired"
            psy = Err(f"connection failed: {detail}", "psycopg.OperationalError", _PSYCOPG_CONNECT)
        return Err(
            f"({psy.type}) {psy.message}\n(Background on this error at: https://sqlalche.me/e/20/{'f405' if failure == 'forbidden' else 'e3q8'})",
            "sqlalchemy.exc.ProgrammingError"
            if failure == "forbidden"
            else "sqlalchemy.exc.OperationalError",
            _SQLALCHEMY,
            cause=psy,
        )
    if kind == "redis":
        if failure == "auth_failed":
            return Err(
                "invalid username-password pair or user is disabled.",
                "redis.exceptions.AuthenticationError",
                _REDIS_PY,
            )
        if failure in SERVER_SIDE:
            return Err(
                server_text(target, failure, call).removeprefix("ERR "),
                "redis.exceptions.ConnectionError",
                _REDIS_PY,
            )
        if failure in ("timeout", "read_timeout"):
            return Err("Timeout connecting to server", "redis.exceptions.TimeoutError", _REDIS_PY)
        errno = net_text.split("]")[0].removeprefix("[Errno ") if net_text.startswith("[Errno") else "1"
        text = net_text.split("] ", 1)[-1]
        return Err(
            f"Error {errno} connecting to {target.host}:{target.port}. {text}.",
            "redis.exceptions.ConnectionError",
            _REDIS_PY,
        )
    if kind == "rabbitmq":
        if failure in SERVER_SIDE:
            return Err(
                f"(0, 0): (403) {server_text(target, failure, call)}",
                "amqp.exceptions.AccessRefused",
                _KOMBU,
            )
        return Err(net_text, "kombu.exceptions.OperationalError", _KOMBU, cause=Err(net_text, net_type))
    if kind == "kafka":
        return Err(_librdkafka(target, failure, now_ns))
    if kind == "http":
        url = url_of(target, call)
        if failure in SERVER_SIDE:
            status = {
                "unavailable": "503 Service Unavailable",
                "forbidden": "403 Forbidden",
                "auth_failed": "401 Unauthorized",
            }[failure]
            side = "Server" if failure == "unavailable" else "Client"
            return Err(
                f"{side} error '{status}' for url '{url}'\nFor more information check: "
                f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status[:3]}",
                "httpx.HTTPStatusError",
                _HTTPX_RAISE,
            )
        exc = {
            "timeout": "httpx.ConnectTimeout",
            "read_timeout": "httpx.ReadTimeout",
            "reset": "httpx.RemoteProtocolError",
        }
        message = "Server disconnected without sending a response." if failure == "reset" else net_text
        return Err(message, exc.get(failure, "httpx.ConnectError"), _HTTPX, cause=Err(net_text, net_type))
    if kind == "mongodb":
        if failure == "auth_failed":
            return Err(
                "Authentication failed., full error: {'ok': 0.0, 'errmsg': 'Authentication failed.', 'code': 18, "
                "'codeName': 'AuthenticationFailed'}",
                "pymongo.errors.OperationFailure",
            )
        reason = f"{target.host}:{target.port}: {net_text} (configured timeouts: socketTimeoutMS: 20000.0ms, connectTimeoutMS: 20000.0ms)"
        return Err(
            f"{reason}, Timeout: 30s, Topology Description: <TopologyDescription id: {hex_of(now_ns, 24)}, "
            f"topology_type: Unknown, servers: [<ServerDescription ('{target.host}', {target.port}) server_type: "
            f"Unknown, rtt: None, error=AutoReconnect('{reason}')>]>",
            "pymongo.errors.ServerSelectionTimeoutError",
        )
    if kind == "s3":
        if failure in SERVER_SIDE:
            return Err(
                f"An error occurred (AccessDenied) when calling the {call.operation} operation: Access Denied",
                "botocore.exceptions.ClientError",
                _BOTOCORE,
            )
        if failure.startswith("tls_"):
            return Err(
                f"SSL validation failed for https://{call.bucket}.{target.host}/{call.key} {net_text}",
                "botocore.exceptions.SSLError",
                _BOTOCORE,
            )
        return Err(
            f'Could not connect to the endpoint URL: "https://{call.bucket}.{target.host}/{call.key}"',
            "botocore.exceptions.EndpointConnectionError",
            _BOTOCORE,
        )
    return Err(net_text, net_type)


def _librdkafka(target: Target, failure: str, now_ns: int) -> str:
    broker = f"{target.host}:{target.port}/bootstrap"
    states = {
        "refused": f"Connect to ipv4#{target.address} failed: Connection refused (after 0ms in state CONNECT)",
        "timeout": "Connection setup timed out in state CONNECT (after 30029ms in state CONNECT)",
        "dns_nxdomain": f"Failed to resolve '{target.host}:{target.port}': Name or service not known (after 4ms in state CONNECT)",
        "dns_timeout": f"Failed to resolve '{target.host}:{target.port}': Temporary failure in name resolution (after 5003ms in state CONNECT)",
        "auth_failed": "SASL authentication error: Authentication failed during authentication due to invalid credentials "
        "with SASL mechanism SCRAM-SHA-512 (after 301ms in state AUTH_REQ)",
    }
    text = states.get(failure)
    if text is None and failure.startswith("tls_"):
        reason = {
            "tls_expired": "broker certificate has expired",
            "tls_hostname": "Broker: Certificate hostname mismatch",
        }.get(
            failure,
            "broker certificate could not be verified, verify that ssl.ca.location is correctly configured",
        )
        text = f"SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: {reason} (after 12ms in state SSL_HANDSHAKE)"
    if text is None:
        text = "Disconnected (after 41ms in state UP)"
    return f"%3|{now_ns / 1e9:.3f}|FAIL|rdkafka#producer-1| [thrd:{broker}]: {broker}: {text}"


_PSYCOPG_CONNECT = (
    Frame(f"{SITE}/psycopg/connection.py", "connect", 119, "raise last_ex.with_traceback(None)"),
)
_PSYCOPG_EXEC = (Frame(f"{SITE}/psycopg/cursor.py", "execute", 97, "raise ex.with_traceback(None)"),)
_SQLALCHEMY = (
    Frame(f"{SITE}/sqlalchemy/engine/base.py", "_execute_context", 1843, "return self._exec_single_context("),
    Frame(
        f"{SITE}/sqlalchemy/engine/base.py",
        "_handle_dbapi_exception",
        2355,
        "raise sqlalchemy_exception.with_traceback(exc_info[2]) from e",
    ),
)
_REDIS_PY = (
    Frame(f"{SITE}/redis/connection.py", "connect", 363, "raise ConnectionError(self._error_message(e))"),
)
_KOMBU = (
    Frame(
        f"{SITE}/kombu/connection.py",
        "_reraise_as_library_errors",
        450,
        "raise ConnectionError(str(exc)) from exc",
    ),
)
_HTTPX = (
    Frame(
        f"{SITE}/httpx/_transports/default.py",
        "map_httpcore_exceptions",
        118,
        "raise mapped_exc(message) from exc",
    ),
)
_HTTPX_RAISE = (
    Frame(
        f"{SITE}/httpx/_models.py",
        "raise_for_status",
        829,
        "raise HTTPStatusError(message, request=request, response=self)",
    ),
)
_BOTOCORE = (
    Frame(
        f"{SITE}/botocore/client.py",
        "_make_api_call",
        1023,
        "raise error_class(parsed_response, operation_name)",
    ),
)
