"""What every CLI command shares: consoles, JSON output, the --json option and the services.

Everything the CLI prints may carry untrusted text (log lines, label values, Loki's error bodies, model
output), so the consoles neutralise control characters in every segment they render: an escape sequence
in a log line prints as ``␛[2J`` instead of clearing the screen, and rich markup is off, so ``[bold]``
prints as written. ``--json`` output is JSON-encoded instead, with the characters a terminal could act on
written as ``\\uXXXX`` escapes.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from app.config import get_settings
from app.errors import one_line, redact
from app.services import Services, build_services

# C0 controls except tab and newline, DEL, C1 controls (U+009B is CSI on many terminals), the bidi
# overrides and isolates that reorder what is shown, and lone surrogates (which no terminal can encode).
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_UNSAFE_OR_NEWLINE = re.compile(_UNSAFE.pattern[:-1] + r"\n]")
# The same set for JSON, plus the two line separators JavaScript treats as newlines.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match[0])
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode's Control Pictures: ␛ for ESC, ␍ for CR, ␊ for LF
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` safe for a terminal: control characters shown as symbols (newlines too when ``one_line``)."""
    pattern = _UNSAFE_OR_NEWLINE if one_line else _UNSAFE
    return pattern.sub(_picture, text) if pattern.search(text) else text


class SafeConsole(Console):
    """A rich Console that never lets a rendered string reach the terminal with control characters in it."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """Rich's rendering, with every text segment passed through ``printable``."""
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:
                yield segment  # cursor movement of Live displays: rich's own, not text from anywhere
                continue
            cleaned = printable(segment.text)
            yield segment if cleaned is segment.text else Segment(cleaned, segment.style, segment.control)


out = SafeConsole(highlight=False, soft_wrap=True, markup=False, emoji=False)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def services() -> Services:
    """The services for this process's settings."""
    return build_services(get_settings())


def to_json(data: Any) -> str:
    """``data`` as indented JSON; characters a terminal or a JavaScript parser could act on are escaped."""
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def emit_json(data: Any) -> None:
    """Print JSON to stdout."""
    sys.stdout.write(to_json(data) + "\n")


def write_text(text: str) -> None:
    """Write trusted multi-line text (a prompt file, a diff) to stdout with control characters neutralised."""
    sys.stdout.write(printable(text))


def reconfigure_streams() -> None:
    """Never fail on printing: characters stdout/stderr cannot encode are escaped, not raised."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


class _ConsoleLogHandler(logging.Handler):
    """Library warnings as one ``warning:`` line each on stderr: redacted, no tracebacks."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(one_line(record.getMessage()))
        except Exception:  # a malformed log call must not break the command
            message = redact(one_line(str(record.msg)))
        err.print(Text(f"{record.levelname.lower()}: {message}", style="yellow"))


def install_log_handler() -> None:
    """Route WARNING and above from the library's loggers to stderr (once per process)."""
    root = logging.getLogger()
    if not any(isinstance(handler, _ConsoleLogHandler) for handler in root.handlers):
        root.addHandler(_ConsoleLogHandler(logging.WARNING))
        root.setLevel(min(root.level, logging.WARNING) if root.level else logging.WARNING)
