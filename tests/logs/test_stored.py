"""A stored window (a golden example) answering LogQL like a log source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.errors import InputError
from app.logs.models import LogEntry, datetime_to_ns
from app.logs.stored import StoredWindowSource

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def window() -> StoredWindowSource:
    """An auth incident's window: its own lines, the ingress in front and a node line with no namespace."""
    lines = [
        ({"namespace": "ingress-nginx", "pod": "ingress-1"}, "GET /oauth2/userinfo 502"),
        ({"namespace": "auth", "pod": "session-api-1"}, "TypeError: reading 'email' of undefined"),
        ({"node": "ip-10-0-1-2"}, "kubelet: Back-off restarting failed container"),
        ({"namespace": "auth", "pod": "session-api-1"}, "INFO listening on :8080"),
    ]
    entries = [
        LogEntry(ts_ns=datetime_to_ns(T0 + timedelta(seconds=i)), labels=labels, line=line)
        for i, (labels, line) in enumerate(lines)
    ]
    return StoredWindowSource(list(reversed(entries)), namespace="auth")


def test_the_windows_namespace_selects_every_line_of_it_in_time_order() -> None:
    result = window().query_range('{namespace="auth"}', T0, T0 + timedelta(minutes=1), limit=100)
    assert result.entries[0].line == "GET /oauth2/userinfo 502"
    assert len(result.entries) == 4
    assert result.source == "golden"
    assert not result.truncated
    # The lines keep their own labels.
    assert [e.labels.get("namespace") for e in result.entries] == ["ingress-nginx", "auth", None, "auth"]
    assert (
        window().query_range('{namespace="payments"}', T0, T0 + timedelta(minutes=1), limit=100).entries == []
    )


def test_filters_narrow_the_window_as_loki_would() -> None:
    source = window()
    errors = source.query_range(
        '{namespace="auth"} |~ "(?i)typeerror"', T0, T0 + timedelta(minutes=1), limit=10
    )
    assert [e.line for e in errors.entries] == ["TypeError: reading 'email' of undefined"]
    pod = source.query_range(
        '{namespace="auth", pod="session-api-1"}', T0, T0 + timedelta(minutes=1), limit=10
    )
    assert len(pod.entries) == 2
    newest = source.query_range('{namespace="auth"}', T0, T0 + timedelta(minutes=1), limit=3)
    assert newest.truncated
    assert [e.line for e in newest.entries][-1] == "INFO listening on :8080"
    first_two = source.query_range('{namespace="auth"}', T0, T0 + timedelta(seconds=2), limit=10)
    assert len(first_two.entries) == 2


def test_label_values_and_bad_input() -> None:
    assert window().label_values("pod", T0, T0 + timedelta(minutes=1)) == ["ingress-1", "session-api-1"]
    assert window().label_values("namespace", T0, T0 + timedelta(minutes=1)) == ["auth"]
    with pytest.raises(InputError):
        window().query_range('{namespace="auth"}', T0, T0, limit=10)
    with pytest.raises(InputError):
        window().label_values("pod name", T0, T0 + timedelta(minutes=1))
