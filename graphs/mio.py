"""Mio's turn graph: a persona (``context.agent_id``) talks with the user.

``receive -> plan_relationship -> generate -> relationship -> finish -> record_age``: the
persona is played at the turn's relationship stage, and the stage is stored once the reply
exists; ``record_age`` stores a minor age said in a blocked message.
"""

from __future__ import annotations

from collections.abc import Sequence

from miolumi.core.memory.types import render_memories
from miolumi.core.relationship import AgeStatus
from miolumi.graphs.build import turn_builder
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.age import record_age
from miolumi.graphs.nodes.relationship import (
    emotion_signal,
    plan_relationship,
    relationship,
    speaking_persona,
)
from miolumi.graphs.state import TurnState
from miolumi.mio.prompts import persona_facts, persona_system_prompt


def system_prompt(state: TurnState, context: TurnContext) -> str:
    """The persona's prompt at this turn's stage; without ``agent_id`` the default persona."""
    persona = speaking_persona(context)
    planned = state.relationship
    return persona_system_prompt(
        persona,
        user_id=context.user_id,
        stage=planned["stage"] if planned else None,
        romance_allowed=planned["romance_allowed"] if planned else False,
        age=AgeStatus(planned["age"]) if planned else AgeStatus.UNKNOWN,
        emotion=emotion_signal(state),
        memories=render_memories(state.memories),
        plugins=context.resources().plugins,
    )


def prompt_facts(state: TurnState, context: TurnContext) -> Sequence[str]:
    """What the persona's prompt says of who it is: its replies may say it too."""
    return persona_facts(speaking_persona(context))


builder = turn_builder(
    system_prompt,
    before_generate=[("plan_relationship", plan_relationship)],
    after_generate=[("relationship", relationship)],
    after_turn=[("record_age", record_age)],
    product="mio",
    prompt_facts=prompt_facts,
)
graph = builder.compile(name="mio")
