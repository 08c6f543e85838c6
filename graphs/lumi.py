"""Lumi's turn graph: one companion, one continuous stream per user."""

from __future__ import annotations

from miolumi.graphs.build import turn_builder
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState
from miolumi.lumi.prompts import lumi_system_prompt


def system_prompt(state: TurnState, context: TurnContext) -> str:
    """Lumi's prompt (neutral and warm until a personality seed exists)."""
    return lumi_system_prompt()


builder = turn_builder(system_prompt)
graph = builder.compile(name="lumi")
