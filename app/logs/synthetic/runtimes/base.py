"""What every application logging stack implements (``AppLogger``), and what it is given and logs.

Each runtime family's module (``go``, ``jvm``, ``node``, ``python``) builds on this; the package picks a
stack for a container's ``component``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from app.logs.synthetic.code import CodeBase
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render

Level = Literal["debug", "info", "warn", "error", "fatal"]


@dataclass(frozen=True)
class Request:
    """One served HTTP request."""

    method: str
    path: str
    status: int
    duration_ms: float
    size: int
    client: str
    client_port: int
    agent: str
    request_id: str


@dataclass
class AppContext:
    """What a logger needs to know about its container: names, code layout and a random stream."""

    rng: random.Random
    code: CodeBase
    pod: str
    container: str
    app: str
    version: str
    port: int


class AppLogger:
    """The lines one application container writes, in its stack's format."""

    family = "go"
    component = "app"
    logs_probes = False
    logs_access = True

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        """One ordinary log line (with fields where the format has them)."""
        raise NotImplementedError

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        """A caught error logged with its cause: one line or a line and its stack trace."""
        raise NotImplementedError

    def crash(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        """What the process prints when an uncaught error kills it."""
        raise NotImplementedError

    def access(self, request: Request) -> list[Render]:
        """The access line of a served request (empty when the stack logs none)."""
        return []

    def startup(self) -> list[Render]:
        """The lines of a starting process, before it serves."""
        return []

    def ready(self) -> list[Render]:
        """The line that says the process is serving."""
        return []

    def shutdown(self) -> list[Render]:
        """The lines of a graceful stop after SIGTERM."""
        return []

    def library_line(self, level: Level, logger: str, msg: str) -> list[Render]:
        """A line a client library logs itself (Kafka clients, drivers), in the app's format."""
        return self.log(level, msg, logger=logger)
