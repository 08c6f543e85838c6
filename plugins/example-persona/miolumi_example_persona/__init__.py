"""Example miolumi plugin: registers Wren, a lighthouse keeper, as a Mio persona."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from miolumi.hookspecs import hookimpl
from miolumi.mio.persona import Persona, load_persona_file


@hookimpl
def register_personas(register: Callable[[Persona], None]) -> None:
    """Register the persona in ``wren.toml``."""
    register(load_persona_file(Path(str(files(__name__) / "wren.toml"))))
