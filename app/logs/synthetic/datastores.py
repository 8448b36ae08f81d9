"""PostgreSQL, Redis, PgBouncer and RabbitMQ: their log formats and what they log on their own.

Periodic lines follow the servers' real rules, so a window never contradicts itself: PostgreSQL
checkpoints every ``checkpoint_timeout`` (300 s) from the previous checkpoint's start and skips one
when nothing was written; Redis saves by its ``save`` rules (3600 s/1 change, 300 s/100, 60 s/10000)
counted from the previous save; PgBouncer prints stats every ``stats_period`` (60 s).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from app.logs.synthetic.formats import MONTHS, Render, fixed, millis, utc

Timed = tuple[float, list[Render]]


def _pg_time(ts: int) -> str:
    return f"{utc(ts):%Y-%m-%d %H:%M:%S}.{millis(ts):03d} UTC"


@dataclass
class Postgres:
    """PostgreSQL 16 from the official image: ``log_line_prefix = '%m [%p] '``, ``log_checkpoints = on``."""

    rng: random.Random
    version: str = "16.4"
    slow_ms: int = 0
    checkpointer_pid: int = 27

    component = "postgresql"

    def line(self, pid: int, severity: str, message: str) -> Render:
        """One server line (``LOG:  ...``, ``ERROR:  ...``; two spaces after the severity, as PostgreSQL writes)."""
        return lambda ts: f"{_pg_time(ts)} [{pid}] {severity}:  {message}"

    def startup(self, *, crashed_before: bool, last_up_ns: int) -> list[Render]:
        """An official-image container starting on an existing data directory."""
        startup_pid = self.rng.randint(26, 40)
        lines: list[Render] = [
            fixed("PostgreSQL Database directory appears to contain a database; Skipping initialization"),
            self.line(
                1,
                "LOG",
                f"starting PostgreSQL {self.version} (Debian {self.version}-1.pgdg120+2) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit",
            ),
            self.line(1, "LOG", 'listening on IPv4 address "0.0.0.0", port 5432'),
            self.line(1, "LOG", 'listening on IPv6 address "::", port 5432'),
            self.line(1, "LOG", 'listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"'),
        ]
        if crashed_before:
            lines += self.recovery(startup_pid, last_up_ns)
        else:
            lines.append(
                lambda ts: (
                    f"{_pg_time(ts)} [{startup_pid}] LOG:  database system was shut down at {_pg_time(last_up_ns)[:19]} UTC"
                )
            )
        lines.append(self.line(1, "LOG", "database system is ready to accept connections"))
        return lines

    def recovery(self, pid: int, last_up_ns: int) -> list[Render]:
        """Crash recovery after an unclean stop (a killed postmaster or backend)."""
        lsn = self.rng.randint(0x1000000, 0x9FFFFFF)
        return [
            lambda ts: (
                f"{_pg_time(ts)} [{pid}] LOG:  database system was interrupted; last known up at {_pg_time(last_up_ns)[:19]} UTC"
            ),
            self.line(
                pid, "LOG", "database system was not properly shut down; automatic recovery in progress"
            ),
            self.line(pid, "LOG", f"redo starts at 0/{lsn:X}"),
            self.line(
                pid, "LOG", f"invalid record length at 0/{lsn + 0x4A20:X}: expected at least 24, got 0"
            ),
            self.line(
                pid,
                "LOG",
                f"redo done at 0/{lsn + 0x49E8:X} system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.01 s",
            ),
            self.line(self.checkpointer_pid, "LOG", "checkpoint starting: end-of-recovery immediate wait"),
            self.checkpoint_complete(self.rng.randint(20, 300), immediate=True),
        ]

    def shutdown(self) -> list[Render]:
        """A fast shutdown: the image's STOPSIGNAL is SIGINT, which containerd sends on stop."""
        return [
            self.line(1, "LOG", "received fast shutdown request"),
            self.line(1, "LOG", "aborting any active transactions"),
            self.line(
                1,
                "LOG",
                f'background worker "logical replication launcher" (PID {self.checkpointer_pid + 5}) exited with exit code 1',
            ),
            self.line(self.checkpointer_pid, "LOG", "shutting down"),
            self.line(self.checkpointer_pid, "LOG", "checkpoint starting: shutdown immediate"),
            self.checkpoint_complete(self.rng.randint(5, 200), immediate=True),
            self.line(1, "LOG", "database system is shut down"),
        ]

    def checkpoint_complete(self, buffers: int, *, immediate: bool = False) -> Render:
        """``checkpoint complete: ...`` with PostgreSQL 16's fields; writes are paced, 0.1 s per buffer."""
        write = 0.0 if immediate else min(buffers * 0.1 + self.rng.uniform(0.001, 0.05), 269.9)
        sync = self.rng.uniform(0.001, 0.02)
        files = max(1, buffers // 9)
        lsn = self.rng.randint(0x1000000, 0xFFFFFFF)
        text = (
            f"checkpoint complete: wrote {buffers} buffers ({buffers / 163.84:.1f}%); 0 WAL file(s) added, "
            f"0 removed, {self.rng.randint(0, 2)} recycled; write={write:.3f} s, sync={sync:.3f} s, "
            f"total={write + sync + 0.004:.3f} s; sync files={files}, longest={sync * 0.6:.3f} s, "
            f"average={sync / files:.3f} s; distance={buffers * 8 + self.rng.randint(0, 900)} kB, "
            f"estimate={buffers * 9 + 1200} kB; lsn=0/{lsn:X}, redo lsn=0/{lsn - 0x28:X}"
        )
        return self.line(self.checkpointer_pid, "LOG", text)

    def background(self, start_s: float, end_s: float, writes_per_s: float) -> list[Timed]:
        """Time-driven checkpoints over a run; none when the database sees no writes."""
        out: list[Timed] = []
        if writes_per_s <= 0:
            return out
        # A fresh server checkpoints checkpoint_timeout after start; one running before the window is
        # somewhere in its cycle.
        at = start_s + 300 + self.rng.uniform(0, 0.5) if start_s > -1 else start_s + self.rng.uniform(30, 300)
        while at < end_s:
            buffers = max(1, int(writes_per_s * 300 * self.rng.uniform(0.02, 0.06)))
            started = [self.line(self.checkpointer_pid, "LOG", "checkpoint starting: time")]
            out.append((at, started))
            done_at = at + min(buffers * 0.1, 269.9) + self.rng.uniform(0.05, 0.3)
            out.append((done_at, [self.checkpoint_complete(buffers)]))
            at += 300
        return out

    def slow_statement(
        self, pid: int, duration_ms: float, statement: str, params: list[str], named: str = "<unnamed>"
    ) -> list[Render]:
        """A statement over ``log_min_duration_statement``, as the extended protocol logs it."""
        lines = [self.line(pid, "LOG", f"duration: {duration_ms:.3f} ms  execute {named}: {statement}")]
        if params:
            lines.append(
                self.line(
                    pid,
                    "DETAIL",
                    "Parameters: " + ", ".join(f"${i} = '{value}'" for i, value in enumerate(params, 1)),
                )
            )
        return lines


_REDIS_RULES = ((3600, 1), (300, 100), (60, 10_000))


def _redis_time(ts: int) -> str:
    moment = utc(ts)
    return f"{moment.day:02d} {MONTHS[moment.month - 1]} {moment.year} {moment:%H:%M:%S}.{millis(ts):03d}"


@dataclass
class Redis:
    """Redis 7.2 from the official image (no config file, default ``save`` rules)."""

    rng: random.Random
    version: str = "7.2.5"
    persistence: bool = True

    component = "redis"

    def line(self, role: str, marker: str, message: str, pid: int = 1) -> Render:
        """``pid:role dd Mon yyyy hh:mm:ss.mmm marker message``; ``*`` notice, ``#`` warning."""
        return lambda ts: f"{pid}:{role} {_redis_time(ts)} {marker} {message}"

    def startup(self, *, keys: int) -> list[Render]:
        """A container starting, loading its RDB file when it has one."""
        lines = [
            self.line("C", "*", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"),
            self.line(
                "C",
                "*",
                f"Redis version={self.version}, bits=64, commit=00000000, modified=0, pid=1, just started",
            ),
            self.line(
                "C",
                "#",
                "Warning: no config file specified, using the default config. In order to specify a config file use redis-server /path/to/redis.conf",
            ),
            self.line("M", "*", "monotonic clock: POSIX clock_gettime"),
            self.line("M", "*", "Running mode=standalone, port=6379."),
            self.line(
                "M",
                "#",
                "WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition. Being disabled, it can also cause failures without low memory condition, see https://github.com/jemalloc/jemalloc/issues/1328. To fix this issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf and then reboot or run the command 'sysctl vm.overcommit_memory=1' for this to take effect.",
            ),
            self.line("M", "*", "Server initialized"),
        ]
        if self.persistence and keys:
            lines += [
                self.line("M", "*", f"Loading RDB produced by version {self.version}"),
                self.line("M", "*", f"RDB age {self.rng.randint(2, 400)} seconds"),
                self.line("M", "*", f"RDB memory usage when created {keys * 0.0009:.2f} Mb"),
                self.line(
                    "M",
                    "*",
                    f"Done loading RDB, keys loaded: {keys}, keys expired: {self.rng.randint(0, keys // 50 + 1)}.",
                ),
                self.line("M", "*", f"DB loaded from disk: {self.rng.uniform(0.001, 0.4):.3f} seconds"),
            ]
        lines.append(self.line("M", "*", "Ready to accept connections tcp"))
        return lines

    def shutdown(self, ts_hint_s: int) -> list[Render]:
        """SIGTERM: a final save when persistence is on, then exit."""
        lines = [
            fixed(f"1:signal-handler ({ts_hint_s}) Received SIGTERM scheduling shutdown..."),
            self.line("M", "*", "User requested shutdown..."),
        ]
        if self.persistence:
            lines += [
                self.line("M", "*", "Saving the final RDB snapshot before exiting."),
                self.line("M", "*", "DB saved on disk"),
            ]
        return [
            *lines,
            self.line("M", "*", "Removing the pid file."),
            self.line("M", "#", "Redis is now ready to exit, bye bye..."),
        ]

    def background(self, start_s: float, end_s: float, changes_per_s: float) -> list[Timed]:
        """Background saves by the ``save`` rules, each counted from the previous save."""
        out: list[Timed] = []
        if not self.persistence or changes_per_s <= 0:
            return out
        last = start_s - self.rng.uniform(0, 300)
        while True:
            best: tuple[float, int, int] | None = None
            for seconds, changes in _REDIS_RULES:
                due = last + max(seconds, changes / changes_per_s)
                if best is None or due < best[0]:
                    best = (due, seconds, changes)
            assert best is not None
            at, seconds, changes = best
            at += self.rng.uniform(0.0, 0.1)
            if at >= end_s:
                return out
            child = self.rng.randint(20, 30000)
            took = self.rng.uniform(0.005, 0.2)
            out.append(
                (
                    at,
                    [
                        self.line("M", "*", f"{changes} changes in {seconds} seconds. Saving..."),
                        self.line("M", "*", f"Background saving started by pid {child}"),
                    ],
                )
            )
            cow = self.rng.randint(0, 4)
            out.append(
                (
                    at + took,
                    [
                        self.line("C", "*", "DB saved on disk", child),
                        self.line(
                            "C",
                            "*",
                            f"Fork CoW for RDB: current {cow} MB, peak {cow} MB, average {cow // 2} MB",
                            child,
                        ),
                    ],
                )
            )
            out.append((at + took + 0.1, [self.line("M", "*", "Background saving terminated with success")]))
            last = at


@dataclass
class PgBouncer:
    """PgBouncer 1.22: ``%Y-%m-%d %H:%M:%S.mmm UTC [pid] LEVEL message``, stats every 60 s."""

    rng: random.Random
    database: str
    user: str = "app"

    component = "pgbouncer"

    def line(self, level: str, message: str) -> Render:
        """One PgBouncer line."""
        return lambda ts: f"{_pg_time(ts)} [1] {level} {message}"

    def client(self, ip: str, port: int) -> str:
        """A client connection's prefix: ``C-0x...: db/user@ip:port``."""
        return f"C-0x{self.rng.getrandbits(44):x}: {self.database}/{self.user}@{ip}:{port}"

    def server(self, ip: str) -> str:
        """A server connection's prefix: ``S-0x...: db/user@ip:5432``."""
        return f"S-0x{self.rng.getrandbits(44):x}: {self.database}/{self.user}@{ip}:5432"

    def startup(self) -> list[Render]:
        """Start-up lines."""
        return [
            self.line(
                "LOG",
                "kernel file descriptor limit: 1048576 (hard: 1048576); max_client_conn: 500, max expected fd use: 652",
            ),
            self.line("LOG", "listening on 0.0.0.0:6432"),
            self.line("LOG", "listening on unix:/tmp/.s.PGSQL.6432"),
            self.line(
                "LOG",
                "process up: PgBouncer 1.22.1, libevent 2.1.12-stable (epoll), adns: c-ares 1.19.1, tls: OpenSSL 3.0.13 30 Jan 2024",
            ),
        ]

    def background(self, start_s: float, end_s: float, qps: Callable[[float], float]) -> list[Timed]:
        """The stats line every ``stats_period`` (60 s), with the traffic of the last minute."""
        out: list[Timed] = []
        at = start_s + 60 - (start_s % 60)
        while at < end_s:
            queries = max(0, int(qps(at)))
            xacts = max(0, int(queries * self.rng.uniform(0.4, 0.9)))
            text = (
                f"stats: {xacts} xacts/s, {queries} queries/s, 0 client parses/s, 0 server parses/s, 0 binds/s, "
                f"in {queries * self.rng.randint(90, 180)} B/s, out {queries * self.rng.randint(200, 900)} B/s, "
                f"xact {self.rng.randint(400, 9000)} us, query {self.rng.randint(200, 4000)} us, wait {self.rng.randint(0, 90)} us"
            )
            out.append((at, [self.line("LOG", text)]))
            at += 60
        return out


def _rabbit_time(ts: int) -> str:
    return f"{utc(ts):%Y-%m-%d %H:%M:%S}.{ts % 1_000_000_000 // 1000:06d}+00:00"


@dataclass
class RabbitMQ:
    """RabbitMQ 3.13's console format: ``time [level] <erlang pid> message``."""

    rng: random.Random
    ip: str

    component = "rabbitmq"

    def line(self, level: str, message: str, process: str = "") -> Render:
        """One RabbitMQ line."""
        erlang = process or f"<0.{self.rng.randint(600, 9000)}.0>"
        return lambda ts: f"{_rabbit_time(ts)} [{level}] {erlang} {message}"

    def connection(self, client: str, user: str = "app") -> list[Render]:
        """A client connecting and authenticating."""
        process = f"<0.{self.rng.randint(600, 90000)}.0>"
        link = f"{client} -> {self.ip}:5672"
        return [
            self.line("info", f"accepting AMQP connection {link}", process),
            self.line(
                "info",
                f"connection {link}: user '{user}' authenticated and granted access to vhost '/'",
                process,
            ),
        ]

    def closed(self, client: str, user: str = "app", *, clean: bool = True) -> list[Render]:
        """A client connection ending."""
        link = f"{client} -> {self.ip}:5672"
        if clean:
            return [self.line("info", f"closing AMQP connection ({link}, vhost: '/', user: '{user}')")]
        process = f"<0.{self.rng.randint(600, 90000)}.0>"
        return [
            self.line(
                "warning", f"closing AMQP connection {process} ({link}, vhost: '/', user: '{user}'):", process
            ),
            fixed("client unexpectedly closed TCP connection"),
        ]

    def refused_login(self, client: str, user: str = "app") -> list[Render]:
        """A failed PLAIN login."""
        process = f"<0.{self.rng.randint(600, 90000)}.0>"
        return [
            self.line("info", f"accepting AMQP connection {client} -> {self.ip}:5672", process),
            self.line(
                "error",
                f"Error on AMQP connection {process} ({client} -> {self.ip}:5672, state: starting):",
                process,
            ),
            fixed(f"PLAIN login refused: user '{user}' - invalid credentials"),
        ]

    def startup(self, node: str) -> list[Render]:
        """The last lines of a broker start."""
        return [
            self.line("info", "Starting RabbitMQ 3.13.7 on Erlang 26.2.5.4 [jit]", "<0.230.0>"),
            self.line("info", f"node           : rabbit@{node}", "<0.230.0>"),
            self.line("info", "Ready to start client connection listeners", "<0.740.0>"),
            self.line("info", "started TCP listener on [::]:5672", "<0.750.0>"),
            self.line("info", "Server startup complete; 5 plugins started.", "<0.740.0>"),
        ]
