"""Application log formats: one module per runtime family, one class per logging stack.

Every stack implements ``AppLogger`` (``base``): ordinary log lines at a level, the access line of a served
request (where the stack writes one), start-up, ready and shutdown lines, an error with its cause
and stack in the runtime's own rendering, and the crash of an uncaught error. ``make_logger`` picks
the class for a container's ``component``.
"""

from __future__ import annotations

from app.logs.synthetic.runtimes.base import AppContext, AppLogger, Level, Request
from app.logs.synthetic.runtimes.go import Logrus, Slog, Zap
from app.logs.synthetic.runtimes.jvm import SpringBoot
from app.logs.synthetic.runtimes.node import Pino, Winston
from app.logs.synthetic.runtimes.python import Celery, Gunicorn, Uvicorn

__all__ = ["AppContext", "AppLogger", "Level", "Request", "components_of", "make_logger"]

# Every logging stack by its component name.
_LOGGERS: dict[str, type[AppLogger]] = {
    stack.component: stack
    for stack in (Zap, Slog, Logrus, SpringBoot, Pino, Winston, Uvicorn, Gunicorn, Celery)
}


def make_logger(component: str, ctx: AppContext) -> AppLogger:
    """The logger for a container that logs in ``component``'s format."""
    return _LOGGERS[component](ctx)


def components_of(family: str) -> list[str]:
    """The logging stacks of a runtime family."""
    return sorted(name for name, cls in _LOGGERS.items() if getattr(cls, "family", "") == family)
