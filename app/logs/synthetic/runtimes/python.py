"""Python services: FastAPI under uvicorn, Django under gunicorn, Celery workers, and tracebacks.

Application lines use a common logging format (``%(asctime)s %(levelname)s [%(name)s] %(message)s``);
uvicorn and gunicorn write their own server and access lines; Celery writes
``[%(asctime)s: %(levelname)s/%(processName)s]``. A traceback prints chained causes first, then "The
above exception was the direct cause of the following exception:", then the outer one.
"""

from __future__ import annotations

from http import HTTPStatus

from app.logs.synthetic.code import snake
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, clf_time, fixed, millis, utc
from app.logs.synthetic.runtimes.base import AppLogger, Level, Request

_BUILTINS = frozenset(
    {"ConnectionRefusedError", "ConnectionResetError", "TimeoutError", "KeyError", "ValueError", "TypeError",
     "AttributeError", "ZeroDivisionError", "IndexError", "RuntimeError", "MemoryError", "OSError",
     "PermissionError", "FileNotFoundError", "RecursionError", "AssertionError"}
)  # fmt: skip


def traceback_lines(err: Err, app_frames: tuple[Frame, ...] = ()) -> list[str]:
    """An exception with its causes as CPython prints it (frames outermost first)."""
    chain = err.chain()
    lines: list[str] = []
    for depth, current in enumerate(reversed(chain)):
        outermost = depth == len(chain) - 1
        if depth:
            lines.append("The above exception was the direct cause of the following exception:")
        lines.append("Traceback (most recent call last):")
        # App frames arrive innermost first; a traceback lists the outermost call first.
        frames = (*reversed(app_frames), *current.frames) if outermost else current.frames
        for frame in frames:
            lines.append(f'  File "{frame.where}", line {frame.line}, in {frame.function}')
            if frame.code:
                lines.append(f"    {frame.code}")
        text = current.message.split("\n")
        lines.append(f"{current.type}: {text[0]}" if current.type and text[0] else current.type or text[0])
        lines.extend(text[1:])
    return lines


def _log_time(ts: int) -> str:
    return f"{utc(ts):%Y-%m-%d %H:%M:%S},{millis(ts):03d}"


class _PythonLogger(AppLogger):
    family = "python"

    def _logger_name(self, logger: str) -> str:
        return logger or f"{snake(self.ctx.code.package)}.service"

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        name = {"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper())
        text = msg + "".join(f" {key}={value}" for key, value in fields.items())
        first, *rest = text.split("\n")
        prefix = f"{name} [{self._logger_name(logger)}] {first}"
        return [lambda ts: f"{_log_time(ts)} {prefix}", *(fixed(line) for line in rest)]

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        return self.log(level, msg, logger=logger) + [
            fixed(line) for line in traceback_lines(err, app_frames)
        ]

    def crash(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        return [fixed(line) for line in traceback_lines(err, app_frames)]


def _server_prefix(level: Level) -> str:
    name = {"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper())
    return f"{name + ':':<10}"


class Uvicorn(_PythonLogger):
    """FastAPI under uvicorn: uvicorn's own ``INFO:     `` lines and access log, the app's logging lines."""

    component = "python-uvicorn"
    logs_probes = True

    def server(self, level: Level, msg: str) -> list[Render]:
        """A line of uvicorn's own logger."""
        return [fixed(f"{_server_prefix(level)}{msg}")]

    def access(self, request: Request) -> list[Render]:
        phrase = HTTPStatus(request.status).phrase
        return self.server(
            "info",
            f'{request.client}:{request.client_port} - "{request.method} {request.path} HTTP/1.1" {request.status} {phrase}',
        )

    def unhandled(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        """uvicorn's report of an exception that escaped the application."""
        return self.server("error", "Exception in ASGI application") + [
            fixed(line) for line in traceback_lines(err, app_frames)
        ]

    def startup(self) -> list[Render]:
        return self.server("info", "Started server process [1]") + self.server(
            "info", "Waiting for application startup."
        )

    def ready(self) -> list[Render]:
        return self.server("info", "Application startup complete.") + self.server(
            "info", f"Uvicorn running on http://0.0.0.0:{self.ctx.port} (Press CTRL+C to quit)"
        )

    def shutdown(self) -> list[Render]:
        lines = (
            "Shutting down",
            "Waiting for application shutdown.",
            "Application shutdown complete.",
            "Finished server process [1]",
        )
        return [render for line in lines for render in self.server("info", line)]


class Gunicorn(_PythonLogger):
    """Django under gunicorn (sync workers): gunicorn's error log, its access log, Django's loggers."""

    component = "python-gunicorn"
    logs_probes = True

    def server(self, level: Level, msg: str, pid: int = 1) -> list[Render]:
        """A line of gunicorn's error log."""
        name = {"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper())
        return [lambda ts: f"[{utc(ts):%Y-%m-%d %H:%M:%S} +0000] [{pid}] [{name}] {msg}"]

    def access(self, request: Request) -> list[Render]:
        size = request.size if request.size else "-"
        text = f'"{request.method} {request.path} HTTP/1.1" {request.status} {size} "-" "{request.agent}"'
        return [lambda ts: f"{request.client} - - [{clf_time(ts)}] {text}"]

    def unhandled(self, err: Err, app_frames: tuple[Frame, ...], path: str = "/") -> list[Render]:
        """Django's ``Internal Server Error: <path>`` and the traceback."""
        return self.log("error", f"Internal Server Error: {path}", logger="django.request") + [
            fixed(line) for line in traceback_lines(err, app_frames)
        ]

    def startup(self) -> list[Render]:
        return [
            *self.server("info", "Starting gunicorn 22.0.0"),
            *self.server("info", f"Listening at: http://0.0.0.0:{self.ctx.port} (1)"),
            *self.server("info", "Using worker: sync"),
        ]

    def ready(self) -> list[Render]:
        return [
            render
            for pid in (7, 8, 9, 10)[: self.rng.randint(2, 4)]
            for render in self.server("info", f"Booting worker with pid: {pid}", pid)
        ]

    def shutdown(self) -> list[Render]:
        return [*self.server("info", "Handling signal: term"), *self.server("info", "Shutting down: Master")]


class Celery(_PythonLogger):
    """A Celery worker: ``[time: LEVEL/Process] message``, task received and succeeded lines."""

    component = "python-celery"
    logs_access = False
    broker_url = "amqp://app:**@rabbitmq:5672//"

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        """A worker line; a ``process`` field names the pool process instead of ``MainProcess``."""
        process = str(fields.pop("process", "MainProcess"))
        name = {"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper())
        text = msg + "".join(f" {key}={value}" for key, value in fields.items())
        first, *rest = text.split("\n")
        return [lambda ts: f"[{_log_time(ts)}: {name}/{process}] {first}", *(fixed(line) for line in rest)]

    def task_received(self, task: str, task_id: str) -> list[Render]:
        """The main process accepting a task from the broker."""
        return self.log("info", f"Task {task}[{task_id}] received")

    def task_succeeded(self, task: str, task_id: str, seconds: float, worker: int) -> list[Render]:
        """A pool worker finishing a task."""
        return self.log(
            "info",
            f"Task {task}[{task_id}] succeeded in {seconds:.4f}s: None",
            process=f"ForkPoolWorker-{worker}",
        )

    def task_failed(
        self, task: str, task_id: str, err: Err, app_frames: tuple[Frame, ...], worker: int
    ) -> list[Render]:
        """A task that raised: Celery's line and the traceback."""
        short = f"{err.type.rsplit('.', 1)[-1]}({(err.message.splitlines() or [''])[0]!r})"
        head = self.log(
            "error", f"Task {task}[{task_id}] raised unexpected: {short}", process=f"ForkPoolWorker-{worker}"
        )
        return head + [fixed(line) for line in traceback_lines(err, app_frames)]

    def startup(self) -> list[Render]:
        return self.log("info", f"Connected to {self.broker_url}") + self.log(
            "info", "mingle: searching for neighbors"
        )

    def ready(self) -> list[Render]:
        return self.log("info", "mingle: all alone") + self.log("info", f"celery@{self.ctx.pod} ready.")

    def shutdown(self) -> list[Render]:
        return self.log("warn", "worker: Warm shutdown (MainProcess)")
