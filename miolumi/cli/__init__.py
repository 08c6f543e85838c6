"""The ``miolumi`` command line: one module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from miolumi import __version__
from miolumi.cli import (
    chat,
    config,
    forget,
    lumi,
    memory,
    personas,
    plugins,
    serve,
    usage,
    voice,
)

app = typer.Typer(
    name="miolumi",
    help="AI companions: Mio, a circle of personas, and Lumi, an orb of light.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command(name="chat")(chat.chat)
app.command(name="usage")(usage.usage)
app.add_typer(config.app, name="config")
app.add_typer(lumi.app, name="lumi")
app.add_typer(memory.app, name="memory")
app.add_typer(personas.app, name="personas")
app.command(name="say")(voice.say)
app.add_typer(voice.app, name="voice")
app.command(name="plugins")(plugins.plugins_command)
app.command(name="serve")(serve.serve)
app.command(name="forget")(forget.forget)
app.add_typer(serve.token_app, name="token")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"miolumi {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """AI companions: Mio, a circle of personas, and Lumi, an orb of light."""


def main() -> None:
    """Console-script entry point."""
    app()
