"""``miolumi plugins``: which plugins are loaded, what they implement, and what failed."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings
from miolumi.plugins import DEFAULT_PLUGINS, ENTRY_POINT_GROUP
from miolumi.services import Services


def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List loaded plugins with their hooks, then plugins and personas that failed to load."""
    with cli_errors():
        services = Services.create(settings=load_settings())
    manager = services.plugins.manager
    packages = {
        ep.name: f"{ep.dist.name} {ep.dist.version}"
        for ep in entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None
    }
    rows: list[dict[str, Any]] = []
    for name, plugin in manager.list_name_plugin():
        hooks = sorted(h.name for h in manager.get_hookcallers(plugin) or [])
        kind = "built-in" if name in DEFAULT_PLUGINS else "entry point"
        version = packages.get(name, "") if kind == "entry point" else ""
        rows.append({"name": name, "kind": kind, "package": version, "hooks": hooks})
    failures = [{"name": f.name, "error": f.error} for f in services.plugins.failures]
    problems = list(services.personas.problems)
    if as_json:
        data = {"plugins": rows, "failures": failures, "persona_problems": problems}
        typer.echo(json.dumps(data, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    table = Table(title="miolumi plugins")
    for column in ("plugin", "kind", "package", "hooks"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["kind"], row["package"], ", ".join(row["hooks"]))
    console.print(table)
    for failure in failures:
        console.print(f"[bold red]failed:[/] {failure['name']}: {failure['error']}")
    for problem in problems:
        console.print(f"[bold yellow]persona problem:[/] {problem}")
    if not failures and not problems:
        console.print("No failures.")
