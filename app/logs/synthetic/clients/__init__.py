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

from app.logs.synthetic.clients.common import SERVER_FAILURES, SERVER_SIDE, Call
from app.logs.synthetic.clients.go import go_error
from app.logs.synthetic.clients.jvm import jvm_error
from app.logs.synthetic.clients.node import node_error
from app.logs.synthetic.clients.python import python_error
from app.logs.synthetic.faults import CertDates, Err, Target

__all__ = ["SERVER_FAILURES", "Call", "client_error"]

# The refusals each kind of server makes.
_REFUSALS: dict[str, frozenset[str]] = {
    "postgres": frozenset(SERVER_FAILURES),
    "redis": frozenset({"auth_failed", "too_many_clients", "forbidden"}),
    "rabbitmq": frozenset({"auth_failed", "forbidden"}),
    "kafka": frozenset({"auth_failed", "forbidden"}),
    "http": frozenset({"unavailable", "forbidden", "auth_failed"}),
    "mongodb": frozenset({"auth_failed"}),
    "s3": frozenset({"forbidden", "auth_failed"}),
}


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
    if failure in SERVER_SIDE and failure not in _REFUSALS.get(target.kind, ()):
        # A server of this kind has no such refusal; what the client sees is the connection dropping.
        failure = "reset"
    builder = {"go": go_error, "jvm": jvm_error, "python": python_error, "node": node_error}[family]
    return builder(target, failure, local, now_ns, cert, call)
