"""What the CLI prints: control characters neutralised, markup literal, JSON escaped for terminals."""

from __future__ import annotations

import io
import json

from rich.table import Table
from rich.text import Text

from app.cli.console import SafeConsole, printable, to_json


def render(*objects: object, terminal: bool = True) -> str:
    buffer = io.StringIO()
    console = SafeConsole(
        file=buffer, force_terminal=terminal, color_system="truecolor" if terminal else None, width=120,
        highlight=False, markup=False, emoji=False,
    )  # fmt: skip
    for item in objects:
        console.print(item)
    return buffer.getvalue()


HOSTILE = "boom\x1b[2J\x1b]0;pwned\x07 \x9b31m [bold]x[/bold] \u202egnp.exe \x00\x7f"


def test_escape_sequences_print_as_symbols_and_markup_as_written() -> None:
    output = render(Text(HOSTILE), HOSTILE, terminal=False)

    assert "\x1b" not in output
    assert "\x07" not in output
    assert "\x9b" not in output
    assert "\u202e" not in output
    assert "\x00" not in output
    assert "␛[2J" in output
    assert "␛]0;pwned" in output  # (rich itself drops BEL, BS, VT, FF and CR)
    assert "[bold]x[/bold]" in output


def test_styles_still_reach_a_terminal_and_untrusted_text_does_not() -> None:
    output = render(Text.assemble(("root cause: ", "bold red"), HOSTILE))
    table = Table("line")
    table.add_row(HOSTILE)
    output += render(table)

    escapes = output.count("\x1b[")
    assert escapes > 0  # rich's own styling
    assert "\x1b[2J" not in output
    assert "\x1b]0;" not in output
    assert output.count("␛[2J") == 2


def test_a_log_line_stays_one_line() -> None:
    assert printable("a\nb\tc\rd", one_line=True) == "a␊b\tc␍d"
    assert printable("a\nb") == "a\nb"


def test_json_escapes_what_a_terminal_could_act_on_and_round_trips() -> None:
    data = {"line": "x\x1b[2J\x9b\u2028\ud800 café ✓"}

    text = to_json(data)

    assert "\x1b" not in text
    assert "\x9b" not in text
    assert "\u2028" not in text
    assert "café ✓" in text  # readable text stays readable
    text.encode("utf-8")  # a lone surrogate is escaped, so stdout can always write it
    assert json.loads(text) == data
