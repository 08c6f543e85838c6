"""The user's own personas: import cards or persona files into the data dir, export them.

Imported personas are TOML files in ``<data dir>/personas/``, validated like the
presets and loaded with them. A file is written whole (to a temporary name, checked,
then renamed), so a failed import leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from miolumi.errors import CardError, MiolumiError, PersonaExistsError
from miolumi.mio.cards import Imported, Spec, card_json, card_png, card_to_persona, read_card
from miolumi.mio.persona import Persona, load_persona_file
from miolumi.mio.registry import PersonaRegistry


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    """What an import produced."""

    persona: Persona
    path: Path
    source_format: str
    """``card v2``, ``card v3`` or ``persona toml``."""
    ignored: tuple[str, ...]


def read_import(path: Path, *, persona_id: str | None = None) -> Imported | Persona:
    """Read a card (JSON/PNG) or, for ``.toml``, a persona file."""
    if path.suffix.lower() == ".toml":
        persona = load_persona_file(path)
        return persona.model_copy(update={"id": persona_id}) if persona_id else persona
    card, _spec = read_card(path)
    return card_to_persona(card, persona_id=persona_id)


def import_persona(
    path: Path,
    *,
    registry: PersonaRegistry,
    user_dir: Path,
    persona_id: str | None = None,
    force: bool = False,
) -> ImportResult:
    """Import ``path`` into ``user_dir`` as a persona file.

    An id already taken is refused; ``force`` replaces only the user's own imported
    persona, never a preset's or a plugin's.
    """
    read = read_import(path, persona_id=persona_id)
    if isinstance(read, Imported):
        persona, fmt, ignored = read.persona, f"card {read.spec}", read.ignored
    else:
        persona, fmt, ignored = Persona.model_validate(read.model_dump()), "persona toml", ()
    target = user_dir / f"{persona.id}.toml"
    source = registry.sources.get(persona.id)
    if source is not None and Path(source) != target:
        raise PersonaExistsError(
            f"The id {persona.id!r} is taken by {source}: import under another id with --id NAME."
        )
    if target.exists() and not force:
        raise PersonaExistsError(
            f"You already imported {persona.id!r} ({target}): add --force to replace it, "
            "or import under another id with --id NAME."
        )
    write_persona(persona, target)
    return ImportResult(persona=persona, path=target, source_format=fmt, ignored=ignored)


def write_persona(persona: Persona, target: Path) -> None:
    """Write a persona TOML file atomically, checking that it reads back identically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{persona.id}.", suffix=".toml", dir=target.parent)
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(persona.to_toml())
        if load_persona_file(tmp_path) != persona:
            raise CardError(f"Persona {persona.id!r} does not survive a TOML round trip.")
        tmp_path.replace(target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def export_persona(persona: Persona, target: Path, *, spec: Spec = "v2") -> Path:
    """Write ``persona`` as a card: PNG when ``target`` ends in ``.png``, else JSON."""
    data = (
        card_png(persona, spec=spec)
        if target.suffix.lower() == ".png"
        else card_json(persona, spec=spec).encode("utf-8")
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise MiolumiError(f"Cannot write {target}: {exc.strerror}. Choose another --out.") from exc
    return target
