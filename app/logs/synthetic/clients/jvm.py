"""JVM clients: PgJDBC with HikariCP, Lettuce, Spring AMQP, kafka-clients, Spring's RestClient, the MongoDB and AWS SDKs."""

from __future__ import annotations

from app.logs.synthetic.clients.common import SERVER_SIDE, Call, hex_of, server_text, url_of
from app.logs.synthetic.faults import CertDates, Err, Frame, Target, java_net_error

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


def jvm_error(
    target: Target, failure: str, local: str, now_ns: int, cert: CertDates | None, call: Call
) -> Err:
    """What a JVM application catches when its call to ``target`` fails with ``failure``."""
    kind = target.kind
    net = java_net_error(failure, target, now_ns, cert) if failure not in SERVER_SIDE else None
    if kind == "postgres":
        if failure in SERVER_SIDE:
            level = "ERROR" if failure == "forbidden" else "FATAL"
            psql = Err(
                f"{level}: {server_text(target, failure, call)}",
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
        if failure in SERVER_SIDE:
            return Err(
                server_text(target, failure, call),
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
        if failure in SERVER_SIDE:
            inner = Err(
                server_text(target, failure, call), "com.rabbitmq.client.AuthenticationFailureException"
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
        url = url_of(target, call)
        if failure in SERVER_SIDE:
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
        if failure in SERVER_SIDE:
            return Err(
                f"Access Denied (Service: S3, Status Code: 403, Request ID: {hex_of(now_ns, 16).upper()}, "
                f"Extended Request ID: {hex_of(now_ns + 3, 56)})",
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
