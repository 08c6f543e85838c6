"""``miolumi config``: inspect the effective settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings, secrets masked."""
    with cli_errors():
        data = load_settings().masked()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("setting", "value", title="miolumi settings")
    for key, value in data.items():
        table.add_row(key, "(unset)" if value is None else str(value))
    Console().print(table)
