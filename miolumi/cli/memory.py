"""``miolumi memory``: list, search, forget, export and import what companions remember."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors
from miolumi.config import load_settings
from miolumi.errors import MemoryInputError
from miolumi.services import Services

app = typer.Typer(help="What companions remember of a user.", no_args_is_help=True)

User = Annotated[str, typer.Option("--user", help="The user whose memories these are.")]
Persona = Annotated[
    str | None,
    typer.Option("--persona", help="A Mio persona's memories; omit for the global stream (Lumi)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _services() -> Services:
    return Services.create(settings=load_settings())


def _agent(services: Services, persona: str | None) -> str | None:
    return services.personas.get(persona).id if persona else None


def _table(rows: list[dict[str, Any]], *, title: str, score: bool = False) -> None:
    table = Table("id", "date", *(["score"] if score else []), "memory", title=title)
    for row in rows:
        cells = [row["id"], row["date"], *([f"{row['score']:.3f}"] if score else []), row["text"]]
        table.add_row(*cells)
    Console().print(table)


@app.command("list")
def list_memories(
    user: User,
    persona: Persona = None,
    limit: Annotated[int, typer.Option(help="Most memories shown, newest first.", min=1)] = 50,
    as_json: AsJson = False,
) -> None:
    """List a user's memories, newest first."""
    with cli_errors():
        services = _services()
        agent = _agent(services, persona)
        memories = services.memory.memories(user, agent_id=agent, limit=limit)
    rows = [
        {"id": m.id, "date": m.timestamp.date().isoformat(), "text": m.text, **m.metadata}
        for m in memories
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    _table(rows, title=f"memories of {user} with {agent or 'the global stream'}")


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    user: User,
    persona: Persona = None,
    k: Annotated[int, typer.Option("-k", help="Number of hits.", min=1, max=1000)] = 10,
    as_json: AsJson = False,
) -> None:
    """Search a user's memories by relevance."""
    with cli_errors():
        services = _services()
        hits = services.memory.search(user, query, agent_id=_agent(services, persona), k=k)
    rows = [
        {
            "id": h.id,
            "date": h.timestamp.date().isoformat(),
            "score": h.score,
            "text": h.text,
            "metadata": h.metadata,
        }
        for h in hits
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    _table(rows, title=f"{len(rows)} memories for {query!r}", score=True)


@app.command("forget")
def forget(
    user: User,
    memory_id: Annotated[
        str | None, typer.Argument(help="The memory to forget (see `memory list`).")
    ] = None,
    persona: Persona = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Forget every memory of the user, all personas.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --all.")] = False,
) -> None:
    """Forget one memory, or with --all --yes everything the companions know of a user."""
    with cli_errors():
        services = _services()
        if everything:
            if memory_id or persona:
                raise MemoryInputError("--all forgets the whole user: drop MEMORY_ID/--persona.")
            if not yes:
                raise MemoryInputError(f"--all forgets everything of {user!r}: add --yes.")
            count = services.memory.delete_user(user)
            typer.echo(f"Forgot {count} memories of {user}.")
            return
        if not memory_id:
            raise MemoryInputError("Name the memory to forget (see `miolumi memory list`).")
        services.memory.delete(user, memory_id, agent_id=_agent(services, persona))
    typer.echo(f"Forgot {memory_id}.")


@app.command("export")
def export(
    user: User,
    persona: Persona = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Export a user's memories as JSON (all personas, or only --persona's)."""
    with cli_errors():
        services = _services()
        dump = services.memory.export(user)
        if persona:
            agent = _agent(services, persona)
            dump["memories"] = [m for m in dump["memories"] if m["agent_id"] == agent]
    text = json.dumps(dump, ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"Exported {len(dump['memories'])} memories of {user} to {output}.")


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="A file written by `miolumi memory export`.")],
    user: Annotated[
        str | None, typer.Option("--user", help="Import as this user (default: the file's).")
    ] = None,
) -> None:
    """Import memories from an export (ids are kept, so importing twice changes nothing)."""
    with cli_errors():
        try:
            dump = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MemoryInputError(
                f"Cannot read {path}: {exc}. Pass a file written by `miolumi memory export`."
            ) from exc
        count = _services().memory.import_(dump, user_id=user)
    typer.echo(f"Imported {count} memories.")


@app.command("retry")
def retry() -> None:
    """Write again the memories of turns whose background write failed."""
    with cli_errors():
        written, failed = asyncio.run(_services().memory_writer.replay())
    typer.echo(f"Wrote the memories of {written} turns; {failed} still failing.")
    if failed:
        raise typer.Exit(1)
