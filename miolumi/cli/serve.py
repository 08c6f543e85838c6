"""``miolumi serve``: the server (REST, WebSocket, orb page); ``miolumi token``: its API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings

#: The transport refuses frames this many times larger than the protocol's own limit,
#: so a frame just over the limit gets an ``error`` frame rather than a closed socket.
_TRANSPORT_HEADROOM = 4


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (they share the database).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
) -> None:
    """Serve both products: REST under /v1, the WebSocket at /v1/ws, the orb page at /."""
    import uvicorn

    from miolumi.db.engine import open_database

    with cli_errors():
        settings = load_settings()
        # Migrate once here, before the workers start, so they never race to do it.
        open_database(settings.relational_url).dispose()
    uvicorn.run(
        "miolumi.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        ws_max_size=settings.ws_max_frame_bytes * _TRANSPORT_HEADROOM,
    )


token_app = typer.Typer(help="API tokens of the server's users.", no_args_is_help=True)


@token_app.command("create")
def create(
    user: Annotated[str, typer.Option("--user", "-u", help="The user the token acts as.")],
    label: Annotated[str, typer.Option(help="A note to tell tokens apart.")] = "",
) -> None:
    """Issue a token (printed once: store it, it cannot be shown again)."""
    from miolumi.db.engine import open_database
    from miolumi.server import tokens

    with cli_errors():
        engine = open_database(load_settings().relational_url)
        issued = tokens.issue(engine, user_id=user, label=label)
        engine.dispose()
    typer.echo(issued.token)


@token_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user's.")] = None,
) -> None:
    """List tokens (ids, users, labels; never the tokens themselves)."""
    from miolumi.db.engine import open_database
    from miolumi.server import tokens

    with cli_errors():
        engine = open_database(load_settings().relational_url)
        found = tokens.tokens(engine, user_id=user)
        engine.dispose()
    table = Table("id", "user", "label", "created", "state")
    for info in found:
        table.add_row(
            info.id,
            info.user_id,
            info.label,
            info.created_at.strftime("%Y-%m-%d %H:%M"),
            "revoked" if info.revoked else "live",
        )
    Console(highlight=False).print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see token list).")],
) -> None:
    """Revoke a token: the server refuses it from now on."""
    from miolumi.db.engine import open_database
    from miolumi.server import tokens

    with cli_errors():
        engine = open_database(load_settings().relational_url)
        info = tokens.revoke(engine, token_id)
        engine.dispose()
    typer.echo(f"Revoked {info.id} of {info.user_id}.")
