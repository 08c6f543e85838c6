"""The persona model: what a Mio persona is, validated at the edge (files, plugins)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from miolumi.errors import PluginError

PersonaId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class Style(BaseModel):
    """How a persona talks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1)
    example_lines: tuple[str, ...] = ()


class Persona(BaseModel):
    """A Mio persona's identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PersonaId
    display_name: str = Field(min_length=1)
    languages: tuple[str, ...] = Field(default=("en",), min_length=1)
    tagline: str = ""
    personality: dict[str, float] = Field(default_factory=dict)
    """Trait name to intensity in 0..1."""
    backstory: str = ""
    style: Style
    boundaries: tuple[str, ...] = ()
    greeting: str = ""


def load_persona_file(path: Path) -> Persona:
    """Read and validate a persona TOML file, raising `PluginError` naming file and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PluginError(f"Cannot read persona file {path}: {exc}. Fix the file.") from exc
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = re.sub(r"\s+", " ", first["msg"])
        raise PluginError(f"Invalid persona file {path}: key {key!r}: {msg}.") from exc
