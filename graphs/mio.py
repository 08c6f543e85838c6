"""Mio's turn graph: a persona (``context.agent_id``) talks with the user."""

from __future__ import annotations

from miolumi.graphs.build import turn_builder
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState
from miolumi.mio.prompts import persona_system_prompt
from miolumi.mio.registry import DEFAULT_PERSONA


def system_prompt(state: TurnState, context: TurnContext) -> str:
    """The persona's prompt; without ``agent_id`` the default persona speaks."""
    persona = context.resources().personas.get(context.agent_id or DEFAULT_PERSONA)
    return persona_system_prompt(persona)


builder = turn_builder(system_prompt)
graph = builder.compile(name="mio")
