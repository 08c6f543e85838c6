"""The persona registry: personas from plugins and the user's data dir, problems reported.

Each plugin's ``register_personas`` runs on its own, so a plugin that raises, a broken
preset file or a duplicate id is recorded in :attr:`PersonaRegistry.problems` with the
plugin or file named, and every other persona still loads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from miolumi.errors import MiolumiError, PluginError, UnknownPersonaError
from miolumi.mio.persona import Persona, load_persona_file
from miolumi.plugins import Plugins

log = logging.getLogger(__name__)

DEFAULT_PERSONA = "mio"
#: Sub-directory of the data dir holding the user's own personas (imported cards).
USER_PERSONAS_DIR = "personas"


@dataclass
class PersonaRegistry:
    """Personas by id, where each came from, and the problems met while registering them."""

    personas: dict[str, Persona] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """Persona id to the plugin name or file that registered it."""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_plugins(cls, plugins: Plugins, *, user_dir: Path | None = None) -> PersonaRegistry:
        """Ask every plugin for its personas, then read ``user_dir``; duplicates keep the first."""
        registry = cls()
        current = {"source": "?"}

        def register(persona: Persona) -> None:
            registry.add(persona, source=current["source"])

        for name in plugins.implementers("register_personas"):
            current["source"] = name
            try:
                plugins.call_one("register_personas", name, register=register)
            except Exception as exc:  # one broken plugin must not hide the other personas
                registry._problem(
                    f"Plugin {name!r} failed while registering personas: "
                    f"{exc if isinstance(exc, MiolumiError) else f'{type(exc).__name__}: {exc}'}"
                )
        if user_dir is not None:
            registry.load_dir(user_dir)
        return registry

    def load_dir(self, directory: Path) -> None:
        """Register every ``*.toml`` persona in ``directory``; bad files become problems."""
        if not directory.is_dir():
            return
        for path in sorted(directory.glob("*.toml")):
            try:
                self.add(load_persona_file(path), source=str(path))
            except MiolumiError as exc:
                self._problem(str(exc))

    def add(self, persona: Persona, *, source: str = "?") -> None:
        """Register one persona; a duplicate id is recorded as a problem naming both sources."""
        if not isinstance(persona, Persona):
            raise PluginError(
                f"register() needs a miolumi.mio.persona.Persona, got {type(persona).__name__}: "
                "build one with Persona.model_validate(...)."
            )
        if persona.id in self.personas:
            self._problem(
                f"Two personas have the id {persona.id!r} ({self.sources[persona.id]} and "
                f"{source}): the first one registered is kept."
            )
            return
        self.personas[persona.id] = persona
        self.sources[persona.id] = source

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        log.warning(message)

    def get(self, persona_id: str) -> Persona:
        """Return the persona, or raise `UnknownPersonaError` listing the known ids."""
        try:
            return self.personas[persona_id]
        except KeyError:
            raise UnknownPersonaError(persona_id, list(self.personas)) from None

    def ids(self) -> list[str]:
        """Known persona ids, sorted."""
        return sorted(self.personas)
