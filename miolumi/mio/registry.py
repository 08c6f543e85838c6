"""The persona registry: every persona registered by plugins, with duplicates reported."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from miolumi.errors import UnknownPersonaError
from miolumi.mio.persona import Persona
from miolumi.plugins import Plugins

log = logging.getLogger(__name__)

DEFAULT_PERSONA = "mio"


@dataclass
class PersonaRegistry:
    """Personas by id, and the problems met while registering them."""

    personas: dict[str, Persona] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_plugins(cls, plugins: Plugins) -> PersonaRegistry:
        """Ask every plugin for its personas; a duplicate id keeps the first."""
        registry = cls()
        plugins.hook.register_personas(register=registry.add)
        return registry

    def add(self, persona: Persona) -> None:
        """Register one persona; a duplicate id is recorded as a problem, not raised."""
        if persona.id in self.personas:
            problem = f"Two personas have the id {persona.id!r}: the first one registered is kept."
            self.problems.append(problem)
            log.warning(problem)
            return
        self.personas[persona.id] = persona

    def get(self, persona_id: str) -> Persona:
        """Return the persona, or raise `UnknownPersonaError` listing the known ids."""
        try:
            return self.personas[persona_id]
        except KeyError:
            raise UnknownPersonaError(persona_id, list(self.personas)) from None

    def ids(self) -> list[str]:
        """Known persona ids, sorted."""
        return sorted(self.personas)
