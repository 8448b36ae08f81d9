"""Every runtime's words for every failure of every kind of dependency."""

from __future__ import annotations

import pytest

from app.logs.synthetic.clients import SERVER_FAILURES, client_error
from app.logs.synthetic.faults import FAMILIES, NET_FAILURES, CertDates, Target

NOW = 1_795_000_000_000_000_000
CERT = CertDates(NOW - 90 * 86_400 * 10**9, NOW - 3600 * 10**9)
KINDS = ("postgres", "redis", "rabbitmq", "kafka", "http", "mongodb", "s3")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_combination_has_words(family: str, kind: str) -> None:
    target = Target(kind, f"{kind}.shop.svc.cluster.local", "10.96.4.7", 5432, san=("a.svc", "b.svc"))
    for failure in (*NET_FAILURES, *SERVER_FAILURES):
        err = client_error(family, target, failure, local="10.244.1.5:51234", now_ns=NOW, cert=CERT)
        assert err.message or err.type, (family, kind, failure)


def test_go_net_errors_are_gos_own_strings() -> None:
    pg = Target("postgres", "postgres", "10.96.4.7", 5432, "app", "orders")
    http = Target("http", "ledger.payments.svc", "10.96.9.9", 8080)

    refused = client_error("go", pg, "refused", local="10.244.1.5:51234", now_ns=NOW).message
    nxdomain = client_error("go", http, "dns_nxdomain", local="10.244.1.5:51234", now_ns=NOW).message
    expired = client_error("go", http, "tls_expired", local="10.244.1.5:51234", now_ns=NOW, cert=CERT).message

    assert (
        refused
        == "failed to connect to `user=app database=orders`: 10.96.4.7:5432 (postgres): dial error: dial tcp 10.96.4.7:5432: connect: connection refused"
    )
    assert (
        nxdomain
        == 'Post "http://ledger.payments.svc:8080/v1/items": dial tcp: lookup ledger.payments.svc on 10.96.0.10:53: no such host'
    )
    assert "x509: certificate has expired or is not yet valid: current time 2026-11-18T" in expired
    assert expired.endswith("is after 2026-11-18T10:06:40Z")


def test_the_jvm_wraps_the_driver_error_in_the_pool_and_spring_exceptions() -> None:
    err = client_error(
        "jvm", Target("postgres", "postgres", "10.96.4.7", 5432), "refused", local="x:1", now_ns=NOW
    )

    assert [item.type for item in err.chain()] == [
        "org.springframework.jdbc.CannotGetJdbcConnectionException",
        "java.sql.SQLTransientConnectionException",
        "org.postgresql.util.PSQLException",
        "java.net.ConnectException",
    ]


def test_node_errors_carry_code_and_errno() -> None:
    err = client_error(
        "node", Target("redis", "redis", "10.96.4.7", 6379), "refused", local="x:1", now_ns=NOW
    )

    assert err.message == "connect ECONNREFUSED 10.96.4.7:6379"
    assert dict(err.extra)["code"] == "ECONNREFUSED"
    assert dict(err.extra)["errno"] == -111


def test_python_postgres_failure_is_libpqs_two_line_message_under_sqlalchemy() -> None:
    err = client_error(
        "python", Target("postgres", "postgres", "10.96.4.7", 5432), "refused", local="x:1", now_ns=NOW
    )

    assert err.type == "sqlalchemy.exc.OperationalError"
    assert err.cause is not None
    assert err.cause.type == "psycopg.OperationalError"
    assert "Is the server running on that host and accepting TCP/IP connections?" in err.cause.message
