"""``miolumi forget``: remove everything kept of one user."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings


def forget(
    user: Annotated[str, typer.Option("--user", "-u", help="The user to forget.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a user: threads, memories, relationships, Lumi, usage, flags and API tokens."""
    from miolumi.forget import forget_user
    from miolumi.services import Services
    from miolumi.session import Runtime

    if not yes:
        typer.confirm(f"Forget everything of {user!r}? This cannot be undone", abort=True)

    async def run() -> str:
        async with Runtime.open(services) as runtime:
            gone = await forget_user(runtime, user)
        return (
            f"Forgot {user}: {gone.threads} threads, {gone.memories} memories, "
            f"{gone.usage_rows} usage rows, {gone.flags} guardrail flags."
        )

    with cli_errors():
        services = Services.create(settings=load_settings())
        typer.echo(asyncio.run(run()))
