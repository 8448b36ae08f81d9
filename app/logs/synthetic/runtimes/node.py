"""Node.js services: pino with pino-http, winston with morgan, and what Node prints when it dies.

pino writes numeric levels and ``msg`` last; its error serializer joins causes into ``message`` and
``stack`` ("caused by: ..."). winston's JSON format writes ``level``, ``message`` and ``timestamp``;
morgan writes the combined access format. An uncaught error prints the source line with a caret,
the error and its stack (``util.inspect``, properties in braces), then ``Node.js v20.18.1``.
"""

from __future__ import annotations

import re

from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, clf_time, compact_json, fixed, iso_ms
from app.logs.synthetic.runtimes.base import AppLogger, Level, Request

NODE_VERSION = "v20.18.1"
_PINO_LEVELS = {"debug": 20, "info": 30, "warn": 40, "error": 50, "fatal": 60}


def _frame_line(frame: Frame) -> str:
    # App frames carry ``file:line:column``; runtime frames (``node:net``) get theirs here.
    where = frame.where if frame.where.startswith("/") else f"{frame.where}:{frame.line}:16"
    return f"    at {frame.function} ({where})"


def stack_text(err: Err, app_frames: tuple[Frame, ...] = (), *, with_causes: bool = False) -> str:
    """``err.stack``: the error line and its ``at`` lines (and its causes when pino serializes them)."""
    parts: list[str] = []
    for depth, current in enumerate(err.chain() if with_causes else [err]):
        frames = (*current.frames, *(app_frames if depth == 0 else ()))
        head = f"{current.type}: {current.message}" if current.type else current.message
        block = "\n".join([head, *(_frame_line(frame) for frame in frames)])
        parts.append(block if depth == 0 else f"caused by: {block}")
    return "\n".join(parts)


def inspect_lines(err: Err, app_frames: tuple[Frame, ...] = ()) -> list[str]:
    """``console.error(err)``: the stack, then own properties in braces (``util.inspect``)."""
    lines = stack_text(err, app_frames).split("\n")
    extra = [(key, value) for key, value in err.extra if not isinstance(value, dict)]
    if err.cause is not None:
        cause_lines = inspect_lines(err.cause)
        lines[-1] += " {"
        lines.append(f"  [cause]: {cause_lines[0]}")
        lines.extend("  " + line for line in cause_lines[1:])
        lines.append("}")
    elif extra:
        lines[-1] += " {"
        for index, (key, value) in enumerate(extra):
            rendered = f"'{value}'" if isinstance(value, str) else str(value)
            lines.append(f"  {key}: {rendered}{',' if index < len(extra) - 1 else ''}")
        lines.append("}")
    return lines


def _serialized(err: Err, app_frames: tuple[Frame, ...]) -> dict[str, object]:
    message = ": ".join(current.message for current in err.chain())
    return {
        "type": err.type or "Error",
        "message": message,
        "stack": stack_text(err, app_frames, with_causes=True),
        **dict(err.extra),
    }


class _NodeLogger(AppLogger):
    family = "node"

    def crash(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        if app_frames:
            frame = app_frames[0]
            location = frame.where.rsplit(":", 1)[0]
            column = int(frame.where.rsplit(":", 1)[1])
            # Node prints the offending source line with a caret under the failing property access.
            found = re.search(r"reading '(\w+)'", err.message)
            prop = found.group(1) if found else "length"
            code = " " * max(0, column - 16) + f"const {prop} = record.parent.{prop};"
            source = [code, "^".rjust(code.index(f".{prop}") + 1)]
        else:
            location = "node:internal/process/promises:391"
            source = ["    triggerUncaughtException(err, true /* fromPromise */);", "    ^"]
        lines = [location, *source, *inspect_lines(err, app_frames), f"Node.js {NODE_VERSION}"]
        return [fixed(line) for line in lines]


class Pino(_NodeLogger):
    """pino (JSON, numeric levels) with pino-http's ``request completed`` lines."""

    component = "node-pino"
    logs_probes = True

    def _render(self, ts: int, level: Level, fields: dict[str, object], msg: str) -> str:
        head = {"level": _PINO_LEVELS[level], "time": ts // 1_000_000, "pid": 1, "hostname": self.ctx.pod}
        return compact_json({**head, **fields, "msg": msg})

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        return [lambda ts: self._render(ts, level, fields, msg)]

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        return self.log(level, msg, err=_serialized(err, app_frames))

    def access(self, request: Request) -> list[Render]:
        req = {
            "id": request.request_id,
            "method": request.method,
            "url": request.path,
            "remoteAddress": f"::ffff:{request.client}",
            "remotePort": request.client_port,
        }
        return self.log(
            "error" if request.status >= 500 else "info",
            "request errored" if request.status >= 500 else "request completed",
            req=req,
            res={"statusCode": request.status},
            responseTime=round(request.duration_ms),
        )

    def startup(self) -> list[Render]:
        return self.log(
            "info", f"starting {self.ctx.app}", version=self.ctx.version, node=NODE_VERSION, env="production"
        )

    def ready(self) -> list[Render]:
        return self.log("info", f"Server listening at http://0.0.0.0:{self.ctx.port}")

    def shutdown(self) -> list[Render]:
        return self.log("info", "SIGTERM received, closing server") + self.log("info", "server closed")


class Winston(_NodeLogger):
    """winston's JSON format for application lines, morgan's combined format for access lines."""

    component = "node-winston"
    logs_probes = True

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        name = "error" if level == "fatal" else level
        return [
            lambda ts: compact_json(
                {"level": name, "message": msg, "service": self.ctx.app, **fields, "timestamp": iso_ms(ts)}
            )
        ]

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        serialized = _serialized(err, app_frames)
        return self.log(level, f"{msg}: {serialized['message']}", stack=serialized["stack"])

    def access(self, request: Request) -> list[Render]:
        text = f'"{request.method} {request.path} HTTP/1.1" {request.status} {request.size} "-" "{request.agent}"'
        return [lambda ts: f"::ffff:{request.client} - - [{clf_time(ts)}] {text}"]

    def uncaught(self, err: Err, app_frames: tuple[Frame, ...] = ()) -> list[Render]:
        """``console.error(err)`` of an error the app caught but only printed."""
        return [fixed(line) for line in inspect_lines(err, app_frames)]

    def startup(self) -> list[Render]:
        return self.log("info", f"{self.ctx.app} {self.ctx.version} starting (node {NODE_VERSION})")

    def ready(self) -> list[Render]:
        return self.log("info", f"listening on port {self.ctx.port}")

    def shutdown(self) -> list[Render]:
        return self.log("info", "received SIGTERM, shutting down gracefully") + self.log(
            "info", "http server closed"
        )
