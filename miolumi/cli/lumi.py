"""``miolumi lumi``: Lumi's personality seed and its versioned snapshots."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings
from miolumi.errors import SnapshotNotFoundError

if TYPE_CHECKING:  # storage and the graph stack load when a command runs, not for --help
    from sqlalchemy import Engine

    from miolumi.services import Services

app = typer.Typer(help="Lumi's personality: seed, snapshots, diff, rollback.", no_args_is_help=True)

User = Annotated[str, typer.Option("--user", "-u", help="The user whose Lumi this is.")]


def _open() -> tuple[Services, Engine]:
    from miolumi.lumi import store
    from miolumi.services import Services

    with cli_errors():
        services = Services.create(settings=load_settings())
        return services, store.lumi_database(services.settings.relational_url)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@app.command("seed")
def seed(user: User = "local") -> None:
    """Show the personality seed extracted from your first exchanges with Lumi."""
    from miolumi.lumi import store

    _, engine = _open()
    with cli_errors():
        stored = store.get_seed(engine, user)
        if stored is None:
            raise SnapshotNotFoundError(
                f"User {user!r} has no Lumi seed yet: it appears after the first exchanges "
                f"(miolumi chat --lumi --user {user})."
            )
    data = {
        "user": stored.user_id,
        "source": stored.source,
        "exchanges": stored.exchanges,
        "created_at": stored.created_at.isoformat(),
        "seed": stored.seed.model_dump(),
    }
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command("snapshots")
def snapshots(user: User = "local") -> None:
    """List your Lumi's personality snapshots; the last one is current."""
    from miolumi.lumi import store

    _, engine = _open()
    with cli_errors():
        rows = store.snapshots(engine, user)
    table = Table("version", "reason", "based on", "drift", "created", "top traits")
    for snap in rows:
        top = sorted(snap.personality.traits.items(), key=lambda kv: -kv[1])[:3]
        table.add_row(
            str(snap.version),
            snap.reason,
            str(snap.based_on or ""),
            f"{snap.drift:.3f}",
            snap.created_at.strftime("%Y-%m-%d %H:%M"),
            ", ".join(f"{name} {value:.2f}" for name, value in top),
        )
    if not rows:
        _console().print(f"No snapshots for {user!r} yet.")
        return
    _console().print(table)


@app.command("diff")
def diff(
    a: Annotated[int, typer.Argument(help="The older version.")],
    b: Annotated[int, typer.Argument(help="The newer version.")],
    user: User = "local",
) -> None:
    """Show what changed between snapshots A and B."""
    from miolumi.lumi import store

    _, engine = _open()
    with cli_errors():
        first = store.get_snapshot(engine, user, a)
        second = store.get_snapshot(engine, user, b)
    changes = store.diff(first.personality, second.personality)
    if not changes:
        _console().print(f"Snapshots {a} and {b} are the same.")
        return
    for name, old, new in changes:
        _console().print(f"{name}: {old} -> {new}", markup=False)


@app.command("rollback")
def rollback(
    version: Annotated[int, typer.Argument(help="The version to make current again.")],
    user: User = "local",
) -> None:
    """Make snapshot N current again (stored as a new version; history is kept)."""
    from miolumi.lumi import store

    _, engine = _open()
    with cli_errors():
        snap = store.rollback(engine, user_id=user, version=version)
    _console().print(f"Snapshot {snap.version} now holds version {version}'s personality.")


@app.command("snapshot")
def snapshot(user: User = "local") -> None:
    """Take a snapshot now: re-derive the personality from the seed and recent messages."""
    from miolumi.graphs.nodes.guard import user_texts
    from miolumi.lumi import store
    from miolumi.lumi.personality import rederive
    from miolumi.session import ChatSession

    services, engine = _open()

    async def recent() -> list[str]:
        async with ChatSession.open(user_id=user, product="lumi", services=services) as chat:
            return user_texts(await chat.history())  # not the withheld ones

    with cli_errors():
        stored = store.get_seed(engine, user)
        latest = store.current(engine, user)
        if stored is None or latest is None:
            raise SnapshotNotFoundError(
                f"User {user!r} has no Lumi personality yet: it appears after the first "
                f"exchanges (miolumi chat --lumi --user {user})."
            )
        texts = asyncio.run(recent())
        settings = services.settings
        personality = rederive(
            stored.seed,
            texts[-settings.lumi_snapshot_every :],
            latest.personality,
            engine=services.emotion,
            max_drift=settings.lumi_max_drift,
        )
        snap = store.add_snapshot(engine, user_id=user, personality=personality, reason="manual")
    _console().print(f"Snapshot {snap.version} taken (drift {snap.drift:.3f}).")
