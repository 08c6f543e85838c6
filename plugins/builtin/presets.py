"""The built-in presets plugin: registers every persona file in ``presets/``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from miolumi.hookspecs import hookimpl
from miolumi.mio.persona import Persona, load_persona_file


def preset_files() -> list[Path]:
    """The persona files shipped with miolumi, sorted by name."""
    root = Path(str(files("miolumi") / "presets"))
    return sorted(root.glob("*.toml"))


@hookimpl(trylast=True)
def register_personas(register: Callable[[Persona], None]) -> None:
    """Register the shipped presets; third-party personas are registered first."""
    for path in preset_files():
        register(load_persona_file(path))
