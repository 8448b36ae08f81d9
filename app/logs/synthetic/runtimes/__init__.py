"""Application log formats: one module per runtime family, one class per logging stack.

Every stack implements ``AppLogger``: ordinary log lines at a level, the access line of a served
request (where the stack writes one), start-up, ready and shutdown lines, an error with its cause
and stack in the runtime's own rendering, and the crash of an uncaught error. ``make_logger`` picks
the class for a container's ``component``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

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


_LOGGERS: dict[str, Callable[[AppContext], AppLogger]] = {}


_Stack = TypeVar("_Stack", bound="AppLogger")


def register(cls: type[_Stack]) -> type[_Stack]:
    """Make a logging stack available to ``make_logger`` under its ``component`` name."""
    _LOGGERS[cls.component] = cls
    return cls


def make_logger(component: str, ctx: AppContext) -> AppLogger:
    """The logger for a container that logs in ``component``'s format."""
    _load()
    return _LOGGERS[component](ctx)


def components_of(family: str) -> list[str]:
    """The logging stacks of a runtime family."""
    _load()
    return sorted(name for name, cls in _LOGGERS.items() if getattr(cls, "family", "") == family)


def _load() -> None:
    # The stacks register themselves on import; importing here avoids a cycle with this module.
    from app.logs.synthetic.runtimes import go, jvm, node, python  # noqa: F401
