"""Datastores log on their own schedule, and that schedule follows their real rules."""

from __future__ import annotations

import itertools
import random

import pytest

from app.logs.synthetic.datastores import PgBouncer, Postgres, Redis
from tests.logs.synthetic import first_group

TS = 1_795_000_000_000_000_000


@pytest.mark.parametrize("changes_per_s", [0.01, 0.5, 40.0, 400.0])
def test_redis_saves_by_its_save_rules_counted_from_the_previous_save(changes_per_s: float) -> None:
    redis = Redis(random.Random(2))
    saves = [
        (at, lines[0](TS))
        for at, lines in redis.background(0, 7200, changes_per_s)
        if "Saving..." in lines[0](TS)
    ]

    for (before, _), (at, text) in itertools.pairwise(saves):
        seconds = int(first_group(r"in (\d+) seconds", text))
        changes = int(first_group(r"(\d+) changes", text))
        assert at - before >= seconds - 0.01, text
        assert changes_per_s * (at - before) >= changes - 1e-6, text


def test_redis_without_persistence_writes_nothing_on_its_own() -> None:
    assert Redis(random.Random(2), persistence=False).background(0, 7200, 100.0) == []


def test_postgres_checkpoints_are_at_least_checkpoint_timeout_apart_and_skip_idle_databases() -> None:
    postgres = Postgres(random.Random(3))
    starts = [
        at
        for at, lines in postgres.background(-1000.0, 7200, 2.0)
        if lines[0](TS).endswith("checkpoint starting: time")
    ]

    assert len(starts) >= 20
    assert all(b - a >= 299.99 for a, b in itertools.pairwise(starts))
    assert postgres.background(-1000.0, 7200, 0.0) == []


def test_postgres_logs_extended_protocol_statements_as_execute() -> None:
    line = Postgres(random.Random(1)).slow_statement(
        412, 1234.5, "SELECT * FROM orders WHERE id = $1", ["42"]
    )

    assert line[0](TS).endswith(
        "LOG:  duration: 1234.500 ms  execute <unnamed>: SELECT * FROM orders WHERE id = $1"
    )
    assert line[1](TS).endswith("DETAIL:  Parameters: $1 = '42'")


def test_pgbouncer_prints_stats_once_a_minute() -> None:
    stats = PgBouncer(random.Random(4), database="orders").background(0, 600, lambda _t: 12)

    assert [round(at) for at, _ in stats] == list(range(60, 600, 60))
