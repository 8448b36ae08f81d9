"""Go services: zap's production JSON, log/slog's JSON handler and logrus's text format, and panics.

The three share Go's error strings (``faults.go_net_error``); they differ in the envelope. zap's
production config adds a ``stacktrace`` field to errors, as it really does. A panic is printed raw by
the runtime: ``panic: ...``, ``goroutine N [running]:`` and frame/location pairs; one recovered by
net/http is logged through the standard logger as ``http: panic serving ...`` and the process lives on.
"""

from __future__ import annotations

from app.logs.synthetic.code import stable_int
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, compact_json, fixed, logfmt, utc
from app.logs.synthetic.runtimes.base import AppLogger, Level, Request

_GO = "go1.23.4"


def _offset(frame: Frame) -> str:
    return f"+0x{(frame.line * 37) % 0x3FF + 0x1A:x}"


def _stacktrace(frames: tuple[Frame, ...]) -> str:
    return "\n".join(f"{frame.function}\n\t{frame.where}:{frame.line}" for frame in frames)


class _GoLogger(AppLogger):
    family = "go"

    def _fields(self, level: Level, msg: str, fields: dict[str, object]) -> dict[str, object]:
        raise NotImplementedError

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        payload = {key: value for key, value in fields.items() if value is not None}
        return [lambda ts, payload=payload: self._render(ts, level, msg, payload)]

    def _render(self, ts: int, level: Level, msg: str, fields: dict[str, object]) -> str:
        raise NotImplementedError

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        return self.log(level, msg, error=err.message)

    def access(self, request: Request) -> list[Render]:
        return self.log(
            "info",
            "request completed",
            method=request.method,
            path=request.path,
            status=request.status,
            duration_ms=round(request.duration_ms, 1),
            bytes=request.size,
            remote_addr=f"{request.client}:{request.client_port}",
            request_id=request.request_id,
        )

    def startup(self) -> list[Render]:
        return self.log(
            "info", "starting service", service=self.ctx.app, version=self.ctx.version, go_version=_GO
        )

    def ready(self) -> list[Render]:
        return self.log("info", "http server listening", addr=f":{self.ctx.port}")

    def shutdown(self) -> list[Render]:
        return [
            *self.log("info", "shutdown signal received", signal="terminated"),
            *self.log("info", "http server stopped", drained=True),
        ]

    def crash(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        """An unrecovered panic: the runtime's own lines, then exit status 2."""
        goroutine = self.rng.randint(1, 400)
        lines = [f"panic: {err.message}"]
        if err.type == "nil":
            lines.append(
                f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x{self.rng.choice((0x8, 0x10, 0x18, 0x28, 0x30)):x} pc=0x{self.rng.getrandbits(24):x}]"
            )
        lines.append(f"goroutine {goroutine} [running]:")
        for frame in app_frames:
            lines.append(f"{frame.function}(...)")
            lines.append(f"\t{frame.where}:{frame.line} {_offset(frame)}")
        lines += [
            "main.main()",
            f"\t/app/cmd/{self.ctx.code.service}/main.go:{40 + len(self.ctx.code.service)} +0x2a5",
        ]
        return [fixed(line) for line in lines]

    def recovered_panic(self, err: Err, app_frames: tuple[Frame, ...], client: str) -> list[Render]:
        """A handler panic recovered by net/http: logged by the standard logger, the server keeps running."""
        goroutine = self.rng.randint(100, 90_000)
        head = f"http: panic serving {client}: {err.message}"
        lines = [
            f"goroutine {goroutine} [running]:",
            "net/http.(*conn).serve.func1()",
            "\t/usr/local/go/src/net/http/server.go:1947 +0xbe",
            "panic({0x9a5e20?, 0xe2b8f0?})",
            "\t/usr/local/go/src/runtime/panic.go:785 +0x132",
        ]
        for frame in app_frames:
            lines.append(f"{frame.function}(...)")
            lines.append(f"\t{frame.where}:{frame.line} {_offset(frame)}")
        first: Render = lambda ts: f"{utc(ts):%Y/%m/%d %H:%M:%S} {head}"  # noqa: E731
        return [first, *(fixed(line) for line in lines)]


class Zap(_GoLogger):
    """go.uber.org/zap, production config: epoch-seconds ``ts``, ``caller``, stack traces on errors."""

    component = "go-zap"

    def _render(self, ts: int, level: Level, msg: str, fields: dict[str, object]) -> str:
        caller = fields.pop("caller", None) or f"{self._caller(msg)}"
        head: dict[str, object] = {
            "level": "warn" if level == "warn" else level,
            "ts": round(ts / 1e9, 6),
            "caller": caller,
            "msg": msg,
        }
        return compact_json({**head, **fields})

    def _caller(self, msg: str) -> str:
        files = (
            "http/middleware.go",
            "server/server.go",
            "service/service.go",
            "store/store.go",
            "worker/worker.go",
        )
        index = stable_int(self.ctx.app, msg, low=0, high=len(files) - 1)
        return f"{files[index]}:{stable_int(self.ctx.app, msg, 'line', low=30, high=260)}"

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        trace = _stacktrace(app_frames) if app_frames else None
        return self.log(level, msg, error=err.message, stacktrace=trace)


class Slog(_GoLogger):
    """log/slog's JSONHandler: RFC3339 ``time`` with nanoseconds, upper-case ``level``."""

    component = "go-slog"

    def _render(self, ts: int, level: Level, msg: str, fields: dict[str, object]) -> str:
        name = {"warn": "WARN", "fatal": "ERROR"}.get(level, level.upper())
        stamp = f"{utc(ts):%Y-%m-%dT%H:%M:%S}.{ts % 1_000_000_000:09d}Z"
        return compact_json({"time": stamp, "level": name, "msg": msg, **fields})

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        return self.log(level, msg, err=err.message)


class Logrus(_GoLogger):
    """sirupsen/logrus's TextFormatter writing to a pipe: ``time="..." level=info msg="..." key=value``."""

    component = "go-logrus"

    def _render(self, ts: int, level: Level, msg: str, fields: dict[str, object]) -> str:
        name = {"warn": "warning"}.get(level, level)
        return logfmt({"time": f"{utc(ts):%Y-%m-%dT%H:%M:%S}Z", "level": name, "msg": msg, **fields})

    def startup(self) -> list[Render]:
        return self.log("info", f"{self.ctx.app} {self.ctx.version} starting", go_version=_GO)
