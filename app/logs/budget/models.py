"""What the budget returns: the lines the model sees, the report, and the prompt form of a line."""

from __future__ import annotations

import time
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from app.logs.budget.tokens import TokenCounterName
from app.logs.models import Level

LEVEL_TAGS: dict[Level, str] = {
    "critical": "CRIT",
    "error": "ERR",
    "warn": "WARN",
    "info": "",
    "debug": "",
    "unknown": "",
}
CONTINUATION_INDENT = "    "


class CompressedLine(BaseModel):
    """One numbered line as the model sees it; it may stand for many input entries."""

    model_config = ConfigDict(frozen=True)

    number: int = Field(description="1-based, as shown to the model and cited back as evidence.")
    ts_ns: int = Field(description="Timestamp of the first entry this line stands for.")
    last_ts_ns: int = Field(description="Timestamp of the last record this line stands for.")
    namespace: str = ""
    pod: str = Field(description="The first entry's pod (full name).")
    pod_count: int = Field(default=1, description="Pods of one ReplicaSet the line's records came from.")
    container: str
    level: Level
    text: str = Field(
        description="The text as shown, in the compact form; a multi-line record has one line per entry"
        " (joined with newlines), and repeated records show value ranges where numbers vary."
    )
    count: int = Field(description="How many input entries this line stands for.")
    repeats: int = Field(
        default=1, description="How many records (a line, or a line and its trace) it stands for."
    )
    variants: int = Field(
        default=1, description="Distinct wordings among those records (1: all alike but numbers)."
    )
    template_id: int | None = Field(description="drain3 template (cluster) id of the line.")
    source_indices: list[int] = Field(description="Indices into the input entries, ascending.")
    source: str = Field(default="", description="The short name shown for where the line came from.")
    origin_ns: int = Field(default=0, description="Times are shown relative to this instant (0: absolute).")


class BudgetReport(BaseModel):
    """What the budget kept and what it cost, in lines and tokens."""

    model_config = ConfigDict(frozen=True)

    total_lines: int
    kept_lines: int = Field(description="Input lines represented by the output lines.")
    output_lines: int
    merged_lines: int = Field(default=0, description="Kept input lines folded into a repeated line's count.")
    joined_lines: int = Field(default=0, description="Kept input lines shown inside a multi-line record.")
    folded_lines: int = Field(
        default=0, description="Output lines folded under another's number to keep the output within 1.2x."
    )
    tokens_before: int = Field(
        description="Tokens of the input lines' own text. With the server's counter this is scaled from"
        " the tokens per character of the lines it counted, to spare a request per chunk."
    )
    tokens_after: int
    max_tokens: int
    error_warn_total: int
    error_warn_kept: int
    templates: int = Field(description="drain3 templates mined from the input.")
    token_counter: TokenCounterName
    origin_ns: int = Field(default=0, description="The instant the lines' +m:ss times count from.")
    pods: dict[str, str] = Field(default_factory=dict, description="Short source name -> full pod name.")

    def summary(self) -> str:
        """One line for people and the prompt, e.g. '5,000 lines -> 212 shown (4,788 merged into repeats), ...'."""
        folded = []
        if self.merged_lines:
            folded.append(f"{self.merged_lines:,} merged into repeats")
        if self.joined_lines:
            folded.append(f"{self.joined_lines:,} joined into multi-line records")
        if self.folded_lines:
            folded.append(f"{self.folded_lines:,} folded under shared numbers")
        left_out = self.total_lines - self.kept_lines
        if left_out:
            folded.append(f"{left_out:,} left out")
        detail = f" ({', '.join(folded)})" if folded else ""
        origin = (
            f", times are +m:ss after {clock(self.origin_ns)}Z"
            if self.origin_ns and self.output_lines
            else ""
        )
        return (
            f"{self.total_lines:,} lines -> {self.output_lines:,} shown{detail}, "
            f"{self.tokens_before:,} -> {self.tokens_after:,} tokens; "
            f"{self.error_warn_kept:,} of {self.error_warn_total:,} error/warn lines kept, "
            f"{self.templates:,} templates{origin}, tokens counted by {self.token_counter}"
        )


class BudgetResult(BaseModel):
    """The lines that fit, in time order, and the report."""

    lines: list[CompressedLine]
    report: BudgetReport

    def render(self) -> str:
        """The lines in prompt form."""
        return "\n".join(render_line(line) for line in self.lines)


@lru_cache(maxsize=65_536)
def clock(ts_ns: int) -> str:
    """HH:MM:SS in UTC; cached because neighbouring lines share seconds."""
    return time.strftime("%H:%M:%S", time.gmtime(ts_ns // 1_000_000_000))


def relative_time(ts_ns: int, origin_ns: int) -> str:
    """``+m:ss`` (or ``+h:mm:ss``) after ``origin_ns``; absolute ``HH:MM:SSZ`` when there is no origin."""
    if not origin_ns:
        return clock(ts_ns) + "Z"
    seconds = max(ts_ns - origin_ns, 0) // 1_000_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"+{hours}:{minutes:02d}:{seconds:02d}" if hours else f"+{minutes}:{seconds:02d}"


def render_parts(
    number: int,
    ts_ns: int,
    last_ts_ns: int,
    origin_ns: int,
    source: str,
    level: Level,
    text: str,
    repeats: int,
    pod_count: int,
    variants: int = 1,
) -> str:
    """The prompt form from its parts; shared by output lines and cost estimates."""
    head, _, rest = text.partition("\n")
    parts = [f"[{number}]", relative_time(ts_ns, origin_ns)]
    if source:
        parts.append(source)
    if LEVEL_TAGS[level]:
        parts.append(LEVEL_TAGS[level])
    parts.append(head)
    if repeats > 1:
        times = f"x{repeats} on {pod_count} pods" if pod_count > 1 else f"x{repeats}"
        if variants > 1:
            times += f" in {variants} variants"
        last = relative_time(last_ts_ns, origin_ns)
        parts.append(
            f"({times} until {last})"
            if last_ts_ns // 1_000_000_000 != ts_ns // 1_000_000_000
            else f"({times})"
        )
    line = " ".join(parts)
    if rest:
        line += "".join(f"\n{CONTINUATION_INDENT}{part}" for part in rest.split("\n"))
    return line


def render_line(line: CompressedLine) -> str:
    """The prompt form: ``[12] +4:05 api#2 ERR connection refused (x37 until +9:12)``.

    A multi-line record continues on indented lines under its number.
    """
    return render_parts(
        line.number,
        line.ts_ns,
        line.last_ts_ns,
        line.origin_ns,
        line.source,
        line.level,
        line.text,
        line.repeats,
        line.pod_count,
        line.variants,
    )
