"""JVM services: Spring Boot 3's console format, Java stack traces, and the unified GC log.

A console line is ``<time> <level:5> <pid> --- [<app>] [<thread:15>] <logger:40> : <message>``, with the
thread cut to its last 15 characters and the logger abbreviated to 39 the way logback does. An
exception prints its class and message, ``\\tat`` frames, and each cause after ``Caused by:``; every
printed line is its own log entry, as the container runtime splits them. Spring Boot logs no access
lines by default.
"""

from __future__ import annotations

from app.logs.synthetic.code import camel
from app.logs.synthetic.faults import Err, Frame
from app.logs.synthetic.formats import Render, fixed, iso_ms
from app.logs.synthetic.runtimes.base import AppLogger, Level

_FRAMEWORK = (
    Frame("org.springframework.web.servlet.FrameworkServlet", "processRequest", 1014),
    Frame("org.springframework.web.servlet.FrameworkServlet", "doPost", 914),
    Frame("jakarta.servlet.http.HttpServlet", "service", 590),
    Frame("org.springframework.web.servlet.FrameworkServlet", "service", 885),
)
_MAX_FRAMES = 9


def abbreviate(name: str, width: int = 39) -> str:
    """A logger name shortened as logback's ``%logger{39}`` does: packages to initials, left first."""
    if len(name) <= width:
        return name
    parts = name.split(".")
    for index in range(len(parts) - 1):
        parts[index] = parts[index][:1]
        if len(".".join(parts)) <= width:
            break
    return ".".join(parts)


def frame_line(frame: Frame) -> str:
    """A Java ``\\tat`` line."""
    if frame.line < 0:
        return f"\tat {frame.where}.{frame.function}(Native Method)"
    simple = frame.where.rsplit(".", 1)[-1].split("$")[0]
    return f"\tat {frame.where}.{frame.function}({simple}.java:{frame.line})"


def throwable_lines(err: Err, app_frames: tuple[Frame, ...] = (), *, framework: bool = True) -> list[str]:
    """An exception and its causes as ``printStackTrace`` writes them."""
    lines: list[str] = []
    for depth, current in enumerate(err.chain()):
        head = f"{current.type}: {current.message}" if current.message else current.type
        head_lines = head.split("\n")
        lines.append(head_lines[0] if depth == 0 else f"Caused by: {head_lines[0]}")
        lines.extend(head_lines[1:])
        frames = list(current.frames)
        if depth == 0:
            frames += [*app_frames, *(_FRAMEWORK if framework else ())]
        shown = frames[:_MAX_FRAMES]
        lines.extend(frame_line(frame) for frame in shown)
        hidden = len(frames) - len(shown) + (0 if depth == 0 else 40 + 3 * depth)
        if hidden > 0:
            lines.append(f"\t... {hidden} more" if depth == 0 else f"\t... {hidden} common frames omitted")
    return lines


class SpringBoot(AppLogger):
    """Spring Boot 3 on Tomcat, logback's default console pattern."""

    family = "jvm"
    component = "spring-boot"
    logs_access = False

    def _main_class(self) -> str:
        return f"com.{self.ctx.code.org}.{self.ctx.code.package}.{camel(self.ctx.app)}Application"

    def _line(self, level: Level, thread: str, logger: str, msg: str) -> Render:
        name = {"warn": "WARN", "fatal": "ERROR"}.get(level, level.upper())
        head = f"{name:>5} 1 --- [{self.ctx.app}] [{thread[-15:]:>15}] {abbreviate(logger)[-40:]:<40} : "
        return lambda ts: f"{iso_ms(ts)} {head}{msg}"

    def _thread(self) -> str:
        return f"http-nio-{self.ctx.port}-exec-{self.rng.randint(1, 10)}"

    def log(self, level: Level, msg: str, *, logger: str = "", **fields: object) -> list[Render]:
        """A logback line; a ``thread`` field names the thread instead of an HTTP worker's."""
        thread = str(fields.pop("thread", ""))
        text = msg + (
            "" if not fields else " " + ", ".join(f"{key}={value}" for key, value in fields.items())
        )
        logger = (
            logger or f"com.{self.ctx.code.org}.{self.ctx.code.package}.service.{camel(self.ctx.app)}Service"
        )
        first, *rest = text.split("\n")
        return [self._line(level, thread or self._thread(), logger, first), *(fixed(line) for line in rest)]

    def error(
        self, level: Level, msg: str, err: Err, *, logger: str = "", app_frames: tuple[Frame, ...] = ()
    ) -> list[Render]:
        lines = self.log(level, msg, logger=logger)
        return lines + [fixed(line) for line in throwable_lines(err, app_frames)]

    def unhandled(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        """Tomcat's line for an exception a controller did not handle, then the root cause's trace."""
        outer = f"{err.type}: {err.message.splitlines()[0]}" if err.message else err.type
        msg = (
            "Servlet.service() for servlet [dispatcherServlet] in context with path [] threw exception "
            f"[Request processing failed: {outer}] with root cause"
        )
        chain = err.chain()
        root = chain[-1]
        # The root cause prints where it was thrown; a cause without frames of its own was raised
        # inside the frames of the exception that wraps it.
        frames = next((item.frames for item in reversed(chain) if item.frames), ())
        lines = self.log(
            "error",
            msg,
            logger="org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/].[dispatcherServlet]",
        )
        shown = Err(root.message, root.type, frames)
        return lines + [
            fixed(line)
            for line in throwable_lines(shown, app_frames if root is err else (), framework=root is err)
        ]

    def crash(self, err: Err, app_frames: tuple[Frame, ...]) -> list[Render]:
        lines = self.log(
            "error",
            "Application run failed",
            logger="org.springframework.boot.SpringApplication",
            thread="main",
        )
        return lines + [fixed(line) for line in throwable_lines(err, app_frames)]

    def failure_analysis(self, description: list[str], action: list[str]) -> list[Render]:
        """Spring Boot's APPLICATION FAILED TO START report (blank lines are not shipped)."""
        head = self.log(
            "error",
            "",
            logger="org.springframework.boot.diagnostics.LoggingFailureAnalysisReporter",
            thread="main",
        )
        body = [
            "***************************",
            "APPLICATION FAILED TO START",
            "***************************",
            "Description:",
        ]
        body += [*description, "Action:", *action]
        return head + [fixed(line) for line in body]

    def startup(self) -> list[Render]:
        main = self._main_class()
        app = camel(self.ctx.app) + "Application"
        return [
            self._line(
                "info",
                "main",
                main,
                f"Starting {app} v{self.ctx.version.lstrip('v')} using Java 21.0.5 with PID 1 (/app/app.jar started by app in /app)",
            ),
            self._line("info", "main", main, 'The following 1 profile is active: "prod"'),
            self._line(
                "info",
                "main",
                "org.springframework.boot.web.embedded.tomcat.TomcatWebServer",
                f"Tomcat initialized with port {self.ctx.port} (http)",
            ),
            self._line(
                "info", "main", "org.apache.catalina.core.StandardService", "Starting service [Tomcat]"
            ),
            self._line(
                "info",
                "main",
                "org.apache.catalina.core.StandardEngine",
                "Starting Servlet engine: [Apache Tomcat/10.1.33]",
            ),
            self._line("info", "main", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Starting..."),
        ]

    def ready(self) -> list[Render]:
        app = camel(self.ctx.app) + "Application"
        seconds = self.rng.uniform(6, 24)
        return [
            self._line(
                "info", "main", "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Start completed."
            ),
            self._line(
                "info",
                "main",
                "org.springframework.boot.web.embedded.tomcat.TomcatWebServer",
                f"Tomcat started on port {self.ctx.port} (http) with context path '/'",
            ),
            self._line(
                "info",
                "main",
                self._main_class(),
                f"Started {app} in {seconds:.3f} seconds (process running for {seconds + 0.8:.3f})",
            ),
        ]

    def shutdown(self) -> list[Render]:
        hook = "SpringApplicationShutdownHook"
        graceful = "org.springframework.boot.web.embedded.tomcat.GracefulShutdown"
        return [
            self._line(
                "info",
                hook,
                graceful,
                "Commencing graceful shutdown. Waiting for active requests to complete",
            ),
            self._line("info", "tomcat-shutdown", graceful, "Graceful shutdown complete"),
            self._line(
                "info", hook, "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Shutdown initiated..."
            ),
            self._line(
                "info", hook, "com.zaxxer.hikari.HikariDataSource", "HikariPool-1 - Shutdown completed."
            ),
        ]

    def gc(
        self,
        number: int,
        uptime_s: float,
        kind: str,
        before_mb: int,
        after_mb: int,
        heap_mb: int,
        pause_ms: float,
    ) -> list[Render]:
        """One line of ``-Xlog:gc`` with its default decorations: ``[uptime][level][tags]``."""
        causes = {
            "young": "Pause Young (Normal) (G1 Evacuation Pause)",
            "mixed": "Pause Young (Mixed) (G1 Evacuation Pause)",
            "full": "Pause Full (G1 Compaction Pause)",
            "remark": "Pause Remark",
        }
        text = f"[{uptime_s:.3f}s][info][gc] GC({number}) {causes[kind]} {before_mb}M->{after_mb}M({heap_mb}M) {pause_ms:.3f}ms"
        return [fixed(text)]
