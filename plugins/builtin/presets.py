"""The built-in presets plugin: registers every persona file in ``presets/``."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from miolumi.errors import PluginError
from miolumi.hookspecs import hookimpl
from miolumi.mio.persona import Persona, load_persona_file


def preset_files() -> list[Path]:
    """The persona files shipped with miolumi, sorted by name."""
    root = Path(str(files("miolumi") / "presets"))
    return sorted(root.glob("*.toml"))


def register_files(paths: list[Path], register: Callable[[Persona], None]) -> None:
    """Register every valid file; then raise one `PluginError` naming each invalid one."""
    broken: list[str] = []
    for path in paths:
        try:
            persona = load_persona_file(path)
        except PluginError as exc:
            broken.append(str(exc))
            continue
        register(persona)
    if broken:
        raise PluginError(" | ".join(broken))


@hookimpl(trylast=True)
def register_personas(register: Callable[[Persona], None]) -> None:
    """Register the shipped presets; third-party personas are registered first."""
    register_files(preset_files(), register)
