"""``logtriage prompts``: list, show and diff the stored prompt versions."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from app.cli.console import JsonOpt, emit_json, err, out, services, write_text

prompts_cli = typer.Typer(help="List, show and diff prompt versions.", no_args_is_help=True)


@prompts_cli.command("list")
def prompts_list(as_json: JsonOpt = False) -> None:
    """List prompts and every stored version."""
    versions = services().prompts.all_versions()
    if as_json:
        emit_json(
            [
                {
                    "ref": v.ref,
                    "name": v.name,
                    "sha256": v.sha256,
                    "description": v.description,
                    "params": v.params,
                    "first_seen": v.first_seen,
                    "current": v.is_current,
                }
                for v in versions
            ]
        )
        return
    table = Table("version", "current", "first seen", "description")
    for v in versions:
        table.add_row(
            Text(v.ref), "yes" if v.is_current else "", str(v.first_seen or "")[:19], Text(v.description)
        )
    out.print(table)


@prompts_cli.command("show")
def prompts_show(
    ref: Annotated[str, typer.Argument(help="name, name@latest or name@<hash>")], as_json: JsonOpt = False
) -> None:
    """Show one prompt version's file."""
    version = services().prompts.resolve(ref)
    if as_json:
        emit_json(version.model_dump(mode="json") | {"ref": version.ref})
        return
    err.print(Text(f"{version.ref}  {version.source_path}", style="dim"))
    write_text(version.template)


@prompts_cli.command("diff")
def prompts_diff(
    ref_a: Annotated[str, typer.Argument(help="First version")],
    ref_b: Annotated[str, typer.Argument(help="Second version")],
    as_json: JsonOpt = False,
) -> None:
    """Unified diff between two prompt versions."""
    diff = services().prompts.diff(ref_a, ref_b)
    if as_json:
        emit_json({"a": ref_a, "b": ref_b, "diff": diff})
        return
    write_text(diff or "(identical)\n")
