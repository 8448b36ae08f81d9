"""What every runtime's client wording shares: the server-side refusals, the call, the server's own words."""

from __future__ import annotations

from dataclasses import dataclass

from app.logs.synthetic.faults import Target

SERVER_FAILURES = ("auth_failed", "too_many_clients", "unavailable", "forbidden", "upstream_down")
SERVER_SIDE = frozenset(SERVER_FAILURES)
# Where a Python image installs its packages (the frames of library code in a traceback).
SITE = "/usr/local/lib/python3.12/site-packages"


@dataclass(frozen=True)
class Call:
    """What the failing call was doing (for messages that name the operation or the object)."""

    method: str = "POST"
    path: str = "/v1/items"
    table: str = "orders"
    topic: str = "orders"
    bucket: str = "exports"
    key: str = "reports/2026/11/daily.csv"
    operation: str = "PutObject"


def url_of(target: Target, call: Call) -> str:
    """The URL an HTTP client requested."""
    scheme = "https" if target.scheme == "https" else "http"
    port = "" if target.port in (80, 443) else f":{target.port}"
    return f"{scheme}://{target.host}{port}{call.path}"


def server_text(target: Target, failure: str, call: Call) -> str:
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


def hex_of(seed: int, digits: int) -> str:
    """A request id of ``digits`` hex digits that follows from ``seed`` (the same call, the same id)."""
    return f"{(seed * 2654435761) % (16**digits):0{digits}x}"
