"""``miolumi personas``: list, show, import and export Mio personas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from miolumi.cli.errors import cli_errors, err_console
from miolumi.config import load_settings
from miolumi.mio.cards import Spec
from miolumi.mio.library import export_persona, import_persona
from miolumi.mio.persona import Persona
from miolumi.mio.registry import DEFAULT_PERSONA, USER_PERSONAS_DIR
from miolumi.services import Services

app = typer.Typer(help="Mio's personas: list, show, import and export.", no_args_is_help=True)


def _services() -> Services:
    with cli_errors():
        return Services.create(settings=load_settings())


def _report_problems(services: Services) -> None:
    for problem in services.personas.problems:
        err_console.print(f"[bold yellow]warning:[/] {problem}", markup=True)


def _ladder(persona: Persona) -> str:
    return " -> ".join(s.id for s in persona.relationship.stages)


@app.command("list")
def list_personas(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every persona: presets, plugins' and your imported ones."""
    services = _services()
    registry = services.personas
    if as_json:
        rows = [
            {
                "id": p.id,
                "display_name": p.display_name,
                "languages": list(p.languages),
                "tagline": p.tagline,
                "ladder": [s.id for s in p.relationship.stages],
                "source": registry.sources[p.id],
                "default": p.id == DEFAULT_PERSONA,
            }
            for p in (registry.get(i) for i in registry.ids())
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        table = Table("id", "name", "languages", "ladder", "tagline", title="Mio personas")
        for pid in registry.ids():
            p = registry.get(pid)
            mark = " *" if pid == DEFAULT_PERSONA else ""
            table.add_row(pid + mark, p.display_name, ", ".join(p.languages), _ladder(p), p.tagline)
        Console(soft_wrap=True).print(table)
    _report_problems(services)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Persona id, e.g. mio.")],
    as_toml: Annotated[
        bool, typer.Option("--toml", help="Print the persona file (TOML) instead.")
    ] = False,
) -> None:
    """Show one persona in full."""
    services = _services()
    with cli_errors():
        persona = services.personas.get(name)
    if as_toml:
        typer.echo(persona.to_toml(), nl=False)
        return
    console = Console(highlight=False, soft_wrap=True)
    out = console.print
    out(f"[bold]{persona.display_name}[/] ({persona.id}, version {persona.version})")
    if persona.tagline:
        out(f"[italic]{persona.tagline}[/]")
    out(f"languages: {', '.join(persona.languages)}   source: {services.personas.sources[name]}")
    if persona.age:
        out(f"age: {persona.age}")
    if persona.personality:
        out("\n[bold]personality[/]")
        for trait, level in sorted(persona.personality.items(), key=lambda kv: -kv[1]):
            out(f"  {trait:<18} {'█' * round(level * 10):<10} {level:.2f}", markup=False)
    if persona.voice:
        out("\n[bold]voice[/]")
        for lang, hint in persona.voice.items():
            extra = f", {hint.accent}" if hint.accent else ""
            voices = f" [{', '.join(hint.voices)}]" if hint.voices else ""
            out(
                f"  {lang}: {hint.gender}, {hint.age}, {hint.pitch} pitch, {hint.pace} pace"
                f"{extra}; {hint.timbre}{voices}",
                markup=False,
            )
    if persona.backstory:
        out(f"\n[bold]backstory[/]\n{persona.backstory.strip()}")
    out(f"\n[bold]style[/]\n{persona.style.description}")
    for quirk in persona.style.quirks:
        out(f"  · {quirk}", markup=False)
    if persona.style.example_lines:
        out("\n[bold]sounds like[/]")
        for line in persona.style.example_lines:
            out(f"  “{line}”", markup=False)
    if persona.boundaries:
        out("\n[bold]boundaries[/]")
        for rule in persona.boundaries:
            out(f"  - {rule}", markup=False)
    out("\n[bold]relationship ladder[/]")
    for stage in persona.relationship.stages:
        needs = ", ".join(f"{k} ≥ {v:.2f}" for k, v in stage.requires.items()) or "start"
        heart = " ♥" if stage.romantic else ""
        out(f"  {stage.label} ({stage.id}){heart}: {needs}", markup=False)
    if persona.greeting:
        out(f"\n[bold]greeting[/]\n{persona.greeting}")


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="A Character Card V2/V3 (.json or .png) or a persona .toml.")
    ],
    persona_id: Annotated[
        str | None, typer.Option("--id", help="Id for the persona (default: from its name).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a persona you imported before.")
    ] = False,
) -> None:
    """Import a character card into your data dir as a validated persona."""
    services = _services()
    user_dir = services.settings.home / USER_PERSONAS_DIR
    with cli_errors():
        result = import_persona(
            file,
            registry=services.personas,
            user_dir=user_dir,
            persona_id=persona_id,
            force=force,
        )
    typer.echo(
        f"Imported {result.persona.display_name} as {result.persona.id!r} "
        f"({result.source_format}) into {result.path}"
    )
    if result.ignored:
        typer.echo(f"Not imported (a persona has no place for them): {', '.join(result.ignored)}")
    typer.echo(f"Chat with: miolumi chat --persona {result.persona.id}")


@app.command("export")
def export_command(
    name: Annotated[str, typer.Argument(help="Persona id to export.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File to write; .png embeds the card in an image."),
    ] = None,
    spec: Annotated[
        str, typer.Option("--spec", help="Card version: v2 or v3.", case_sensitive=False)
    ] = "v2",
    png: Annotated[
        bool, typer.Option("--png", help="Write a PNG (default name NAME.png).")
    ] = False,
) -> None:
    """Export a persona as a Character Card (JSON, or PNG with the card embedded)."""
    if spec.lower() not in ("v2", "v3"):
        raise typer.BadParameter("use --spec v2 or --spec v3.", param_hint="--spec")
    card_spec: Spec = "v3" if spec.lower() == "v3" else "v2"
    services = _services()
    with cli_errors():
        persona = services.personas.get(name)
        target = out or Path(f"{persona.id}.{'png' if png else 'json'}")
        written = export_persona(persona, target, spec=card_spec)
    typer.echo(f"Exported {persona.display_name} ({card_spec} card) to {written}")
