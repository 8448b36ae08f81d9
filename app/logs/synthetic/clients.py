"""How client libraries word a failure, per runtime and per kind of dependency.

``client_error(family, target, failure, ...)`` returns the ``Err`` an application catches when it calls
``target`` (PostgreSQL, Redis, RabbitMQ, Kafka, an HTTP API, MongoDB or S3) and the call fails with
``failure``: a network failure (refused, timed out, reset, DNS, TLS) or a refusal by the server itself
(``auth_failed``, ``too_many_clients``, ``unavailable``, ``forbidden``). The libraries are the common
ones per runtime: pgx, go-redis, amqp091-go, franz-go, net/http, mongo-go, aws-sdk-go-v2 (Go);
PgJDBC+HikariCP, Lettuce, Spring AMQP, kafka-clients, Spring's RestClient, the MongoDB and AWS SDKs
(JVM); psycopg 3 under SQLAlchemy, redis-py, kombu, librdkafka, httpx, pymongo, botocore (Python);
node-postgres, ioredis, amqplib, KafkaJS, fetch, the MongoDB driver and AWS SDK v3 (Node.js).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.logs.synthetic.faults import (
    CertDates,
    Err,
    Frame,
    Target,
    go_net_error,
    java_net_error,
    node_net_error,
    python_net_error,
)

SERVER_FAILURES = ("auth_failed", "too_many_clients", "unavailable", "forbidden", "upstream_down")
_SITE = "/usr/local/lib/python3.12/site-packages"


@dataclass(frozen=True)
class Call:
    """What the failing call was doing (for messages that name the operation or the object)."""

    method: str = "POST"
    path: str = "/v1/items"
    table: str = "orders"
    topic: str = "orders"
    bucket: str = "exports"
    key: str = "reports/2026/11/daily.csv"


def client_error(
    family: str,
    target: Target,
    failure: str,
    *,
    local: str,
    now_ns: int,
    cert: CertDates | None = None,
    call: Call | None = None,
) -> Err:
    """The error an application of ``family`` catches when its call to ``target`` fails with ``failure``."""
    call = call or Call()
    builder = {"go": _go, "jvm": _jvm, "python": _python, "node": _node}[family]
    return builder(target, failure, local, now_ns, cert, call)


def _url(target: Target, call: Call) -> str:
    scheme = "https" if target.scheme == "https" else "http"
    port = "" if target.port in (80, 443) else f":{target.port}"
    return f"{scheme}://{target.host}{port}{call.path}"


def _server_text(target: Target, failure: str, call: Call) -> str:
    """The server's own words for a refusal, as PostgreSQL, Redis, RabbitMQ ... send it to the client."""
    texts = {
        "postgres": {
            "auth_failed": f'password authentication failed for user "{target.user}"',
            "too_many_clients": "sorry, too many clients already",
            "forbidden": f"permission denied for table {call.table}",
            # PgBouncer's answer when it cannot reach the server behind it.
            "upstream_down": "pgbouncer cannot connect to server",
        },
        "redis": {
            "auth_failed": "WRONGPASS invalid username-password pair or user is disabled.",
            "too_many_clients": "ERR max number of clients reached",
            "forbidden": f"NOPERM User {target.user} has no permissions to run the 'set' command",
        },
        "rabbitmq": {
            "auth_failed": "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
            "For details see the broker logfile.",
            "forbidden": f"ACCESS_REFUSED - access to vhost '/' refused for user '{target.user}'",
        },
        "mongodb": {
            "auth_failed": "Authentication failed.",
            "forbidden": f"not authorized on {target.database}",
        },
    }
    return texts.get(target.kind, {}).get(failure, failure)


# --- Go -------------------------------------------------------------------------------------------


def _go(target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call) -> Err:
    net = go_net_error(failure, target, local, now_ns, cert) if failure not in _SERVER_SIDE else ""
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
                + f"failed SASL auth: FATAL: {_server_text(target, failure, call)} (SQLSTATE 28P01)"
            )
        if failure in ("too_many_clients", "upstream_down"):
            code = "53300" if failure == "too_many_clients" else "08P01"
            return Err(
                prefix
                + where
                + f"server error: FATAL: {_server_text(target, failure, call)} (SQLSTATE {code})"
            )
        if failure == "forbidden":
            return Err(f"ERROR: {_server_text(target, failure, call)} (SQLSTATE 42501)")
        if failure == "reset":
            return Err(prefix + where + "failed to receive message: unexpected EOF")
        if failure == "read_timeout":
            return Err("timeout: context deadline exceeded")
        return Err(prefix + where + "dial error: " + net)
    if kind == "redis" and failure in _SERVER_SIDE:
        return Err(_server_text(target, failure, call))
    if kind == "rabbitmq":
        if failure == "auth_failed":
            return Err('Exception (403) Reason: "username or password not allowed"')
        if failure == "forbidden":
            return Err(f'Exception (403) Reason: "{_server_text(target, failure, call)}"')
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
        url = _url(target, call)
        if failure in _SERVER_SIDE:
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
        if failure in _SERVER_SIDE:
            return Err(
                f"operation error S3: PutObject, https response error StatusCode: 403, RequestID: "
                f"{_hex(now_ns, 16).upper()}, HostID: {_hex(now_ns + 7, 40)}, api error AccessDenied: Access Denied"
            )
        return Err(
            "operation error S3: PutObject, exceeded maximum number of attempts, 3, https response error "
            f'StatusCode: 0, RequestID: , HostID: , request send failed, Put "https://{call.bucket}.'
            f'{target.host}/{call.key}": {net}'
        )
    return Err(net)


_SERVER_SIDE = frozenset(SERVER_FAILURES)


def _hex(seed: int, digits: int) -> str:
    return f"{(seed * 2654435761) % (16**digits):0{digits}x}"


# --- JVM ------------------------------------------------------------------------------------------

_PGJDBC = (
    Frame("org.postgresql.core.v3.ConnectionFactoryImpl", "openConnectionImpl", 346),
    Frame("org.postgresql.core.ConnectionFactory", "openConnection", 54),
    Frame("org.postgresql.jdbc.PgConnection", "<init>", 273),
    Frame("org.postgresql.Driver", "makeConnection", 446),
    Frame("com.zaxxer.hikari.pool.PoolBase", "newConnection", 359),
    Frame("com.zaxxer.hikari.pool.HikariPool", "createPoolEntry", 477),
)
_HIKARI = (
    Frame("com.zaxxer.hikari.pool.HikariPool", "createTimeoutException", 686),
    Frame("com.zaxxer.hikari.pool.HikariPool", "getConnection", 179),
    Frame("com.zaxxer.hikari.HikariDataSource", "getConnection", 128),
    Frame("org.springframework.jdbc.datasource.DataSourceUtils", "fetchConnection", 160),
)
_LETTUCE = (
    Frame("io.lettuce.core.RedisConnectionException", "create", 78),
    Frame("io.lettuce.core.AbstractRedisClient", "getConnection", 350),
    Frame("io.lettuce.core.RedisClient", "connect", 215),
    Frame(
        "org.springframework.data.redis.connection.lettuce.StandaloneConnectionProvider", "getConnection", 112
    ),
)
_REST = (
    Frame("org.springframework.web.client.RestTemplate", "createResourceAccessException", 915),
    Frame("org.springframework.web.client.RestTemplate", "doExecute", 895),
    Frame("org.springframework.web.client.RestTemplate", "execute", 790),
)


def _jvm(target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call) -> Err:
    kind = target.kind
    net = java_net_error(failure, target, now_ns, cert) if failure not in _SERVER_SIDE else None
    if kind == "postgres":
        if failure in _SERVER_SIDE:
            level = "ERROR" if failure == "forbidden" else "FATAL"
            psql = Err(
                f"{level}: {_server_text(target, failure, call)}",
                "org.postgresql.util.PSQLException",
                _PGJDBC[:3],
            )
        elif failure == "refused":
            psql = Err(
                f"Connection to {target.host}:{target.port} refused. Check that the hostname and port are correct "
                "and that the postmaster is accepting TCP/IP connections.",
                "org.postgresql.util.PSQLException",
                _PGJDBC,
                cause=net,
            )
        elif failure.startswith("tls_") and net:
            psql = Err(f"SSL error: {net.message}", "org.postgresql.util.PSQLException", _PGJDBC, cause=net)
        else:
            psql = Err(
                "The connection attempt failed.", "org.postgresql.util.PSQLException", _PGJDBC, cause=net
            )
        if failure == "forbidden":
            return Err(
                f"PreparedStatementCallback; bad SQL grammar [select * from {call.table} where id = ?]",
                "org.springframework.jdbc.BadSqlGrammarException",
                (
                    Frame(
                        "org.springframework.jdbc.support.SQLStateSQLExceptionTranslator", "doTranslate", 116
                    ),
                ),
                cause=psql,
            )
        hikari = Err(
            "HikariPool-1 - Connection is not available, request timed out after 30000ms (total=0, active=0, "
            "idle=0, waiting=2)",
            "java.sql.SQLTransientConnectionException",
            _HIKARI,
            cause=psql,
        )
        return Err(
            "Failed to obtain JDBC Connection",
            "org.springframework.jdbc.CannotGetJdbcConnectionException",
            (),
            cause=hikari,
        )
    if kind == "redis":
        if failure in _SERVER_SIDE:
            return Err(
                _server_text(target, failure, call),
                "io.lettuce.core.RedisCommandExecutionException",
                _LETTUCE[:1],
            )
        annotated = Err(
            f"{net.message if net else failure}: {target.host}/{target.ip}:{target.port}",
            "io.netty.channel.AbstractChannel$AnnotatedConnectException",
            cause=net,
        )
        lettuce = Err(
            f"Unable to connect to {target.host}/<unresolved>:{target.port}",
            "io.lettuce.core.RedisConnectionException",
            _LETTUCE,
            cause=annotated if failure == "refused" else net,
        )
        return Err(
            "Unable to connect to Redis",
            "org.springframework.data.redis.RedisConnectionFailureException",
            (),
            cause=lettuce,
        )
    if kind == "rabbitmq":
        if failure in _SERVER_SIDE:
            inner = Err(
                _server_text(target, failure, call), "com.rabbitmq.client.AuthenticationFailureException"
            )
            return Err(
                f"com.rabbitmq.client.AuthenticationFailureException: {inner.message}",
                "org.springframework.amqp.AmqpAuthenticationException",
                cause=inner,
            )
        assert net is not None
        return Err(f"{net.type}: {net.message}", "org.springframework.amqp.AmqpConnectException", cause=net)
    if kind == "kafka":
        # kafka-clients logs these itself, at WARN from NetworkClient, rather than throwing.
        if failure in ("dns_nxdomain", "dns_timeout"):
            return Err(
                f"Couldn't resolve server {target.host}:{target.port} from bootstrap.servers as DNS resolution failed for {target.host}"
            )
        if failure.startswith("tls_"):
            return Err(
                f"[Producer clientId=producer-1] Failed authentication with {target.host}/{target.ip} (SSL handshake failed)"
            )
        if failure == "auth_failed":
            return Err(
                f"[Consumer clientId=consumer-1, groupId=app] Failed authentication with {target.host}/{target.ip} "
                "(Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512)"
            )
        if failure == "forbidden":
            return Err(
                f"Not authorized to access topics: [{call.topic}]",
                "org.apache.kafka.common.errors.TopicAuthorizationException",
            )
        return Err(
            f"[Producer clientId=producer-1] Connection to node -1 ({target.host}/{target.ip}:{target.port}) "
            "could not be established. Node may not be available."
        )
    if kind == "http":
        url = _url(target, call)
        if failure in _SERVER_SIDE:
            exc = {
                "unavailable": ("ServiceUnavailable", "503 Service Unavailable"),
                "forbidden": ("Forbidden", "403 Forbidden"),
                "auth_failed": ("Unauthorized", "401 Unauthorized"),
            }
            name, status = exc[failure]
            family = "HttpServerErrorException" if failure == "unavailable" else "HttpClientErrorException"
            return Err(f"{status}: [no body]", f"org.springframework.web.client.{family}${name}", _REST[1:])
        assert net is not None
        return Err(
            f'I/O error on {call.method} request for "{url}": {net.root().message}',
            "org.springframework.web.client.ResourceAccessException",
            _REST,
            cause=net,
        )
    if kind == "mongodb":
        if failure == "auth_failed":
            command = Err(
                f"Command failed with error 18 (AuthenticationFailed): 'Authentication failed.' on server {target.host}:{target.port}.",
                "com.mongodb.MongoCommandException",
            )
            return Err(
                f"Exception authenticating MongoCredential{{mechanism=SCRAM-SHA-256, userName='{target.user}', "
                "source='admin', password=<hidden>, mechanismProperties=<hidden>}",
                "com.mongodb.MongoSecurityException",
                cause=command,
            )
        root = net.root() if net else Err(failure)
        return Err(
            "Timed out while waiting for a server that matches ReadPreferenceServerSelector{readPreference=primary}. "
            f"Client view of cluster state is {{type=REPLICA_SET, servers=[{{address={target.host}:{target.port}, "
            "type=UNKNOWN, state=CONNECTING, exception={com.mongodb.MongoSocketOpenException: Exception opening socket}, "
            f"caused by {{{root.type}: {root.message}}}}}]",
            "com.mongodb.MongoTimeoutException",
        )
    if kind == "s3":
        if failure in _SERVER_SIDE:
            return Err(
                f"Access Denied (Service: S3, Status Code: 403, Request ID: {_hex(now_ns, 16).upper()}, "
                f"Extended Request ID: {_hex(now_ns + 3, 56)})",
                "software.amazon.awssdk.services.s3.model.S3Exception",
            )
        assert net is not None
        return Err(
            f"Unable to execute HTTP request: {net.root().message}",
            "software.amazon.awssdk.core.exception.SdkClientException",
            cause=net,
        )
    assert net is not None
    return net


# --- Python ---------------------------------------------------------------------------------------


def _python(target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call) -> Err:
    kind = target.kind
    net_type, net_text = python_net_error(failure, target) if failure not in _SERVER_SIDE else ("", "")
    if kind == "postgres":
        at = f'connection to server at "{target.ip}", port {target.port} failed: '
        if failure == "forbidden":
            psy = Err(
                _server_text(target, failure, call), "psycopg.errors.InsufficientPrivilege", _PSYCOPG_EXEC
            )
        else:
            if failure in _SERVER_SIDE:
                detail = at + f"FATAL:  {_server_text(target, failure, call)}"
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
        if failure in _SERVER_SIDE:
            return Err(
                _server_text(target, failure, call).removeprefix("ERR "),
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
        if failure in _SERVER_SIDE:
            return Err(
                f"(0, 0): (403) {_server_text(target, failure, call)}",
                "amqp.exceptions.AccessRefused",
                _KOMBU,
            )
        return Err(net_text, "kombu.exceptions.OperationalError", _KOMBU, cause=Err(net_text, net_type))
    if kind == "kafka":
        return Err(_librdkafka(target, failure, now_ns))
    if kind == "http":
        url = _url(target, call)
        if failure in _SERVER_SIDE:
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
            f"{reason}, Timeout: 30s, Topology Description: <TopologyDescription id: {_hex(now_ns, 24)}, "
            f"topology_type: Unknown, servers: [<ServerDescription ('{target.host}', {target.port}) server_type: "
            f"Unknown, rtt: None, error=AutoReconnect('{reason}')>]>",
            "pymongo.errors.ServerSelectionTimeoutError",
        )
    if kind == "s3":
        if failure in _SERVER_SIDE:
            return Err(
                "An error occurred (AccessDenied) when calling the PutObject operation: Access Denied",
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
    Frame(f"{_SITE}/psycopg/connection.py", "connect", 119, "raise last_ex.with_traceback(None)"),
)
_PSYCOPG_EXEC = (Frame(f"{_SITE}/psycopg/cursor.py", "execute", 97, "raise ex.with_traceback(None)"),)
_SQLALCHEMY = (
    Frame(
        f"{_SITE}/sqlalchemy/engine/base.py", "_execute_context", 1843, "return self._exec_single_context("
    ),
    Frame(
        f"{_SITE}/sqlalchemy/engine/base.py",
        "_handle_dbapi_exception",
        2355,
        "raise sqlalchemy_exception.with_traceback(exc_info[2]) from e",
    ),
)
_REDIS_PY = (
    Frame(f"{_SITE}/redis/connection.py", "connect", 363, "raise ConnectionError(self._error_message(e))"),
)
_KOMBU = (
    Frame(
        f"{_SITE}/kombu/connection.py",
        "_reraise_as_library_errors",
        450,
        "raise ConnectionError(str(exc)) from exc",
    ),
)
_HTTPX = (
    Frame(
        f"{_SITE}/httpx/_transports/default.py",
        "map_httpcore_exceptions",
        118,
        "raise mapped_exc(message) from exc",
    ),
)
_HTTPX_RAISE = (
    Frame(
        f"{_SITE}/httpx/_models.py",
        "raise_for_status",
        829,
        "raise HTTPStatusError(message, request=request, response=self)",
    ),
)
_BOTOCORE = (
    Frame(
        f"{_SITE}/botocore/client.py",
        "_make_api_call",
        1023,
        "raise error_class(parsed_response, operation_name)",
    ),
)


# --- Node.js --------------------------------------------------------------------------------------


def _node(target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call) -> Err:
    kind = target.kind
    net = node_net_error(failure, target) if failure not in _SERVER_SIDE else None
    pg_codes = {
        "auth_failed": "28P01",
        "too_many_clients": "53300",
        "forbidden": "42501",
        "upstream_down": "08P01",
    }
    if kind == "postgres":
        if failure in _SERVER_SIDE:
            frames = (Frame("/app/node_modules/pg/lib/client.js", "Parser.<anonymous>", 535),)
            severity = "ERROR" if failure == "forbidden" else "FATAL"
            return Err(
                _server_text(target, failure, call),
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
    if kind == "redis" and failure in _SERVER_SIDE:
        text = _server_text(target, failure, call)
        return Err(
            text, "ReplyError", (Frame("/app/node_modules/redis-parser/lib/parser.js", "parseError", 179),)
        )
    if kind == "rabbitmq" and failure in _SERVER_SIDE:
        return Err(
            f'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "{_server_text(target, failure, call)}"',
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
        if failure in _SERVER_SIDE:
            status = {"unavailable": 503, "forbidden": 403, "auth_failed": 401}[failure]
            return Err(
                f"{call.method} {_url(target, call)} responded {status}",
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
    if kind == "s3" and failure in _SERVER_SIDE:
        return Err(
            "Access Denied",
            "AccessDenied",
            extra=(("$fault", "client"), ("$metadata", {"httpStatusCode": 403})),
        )
    assert net is not None
    return net
