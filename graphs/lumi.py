"""Lumi's turn graph: one companion, one continuous stream per user.

``receive -> emotion -> budget -> generate -> finish -> record_age -> grow``: the prompt is
built from the user's current personality snapshot and the turn's emotions;
``record_age`` stores that the user is a minor when they say so (as Mio's relationship
step does); ``grow`` plants the personality seed after the first exchanges and takes
snapshots afterwards.
"""

from __future__ import annotations

from miolumi.core.emotion import EmotionState
from miolumi.core.memory.types import render_memories
from miolumi.graphs.build import turn_builder
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.age import record_age
from miolumi.graphs.nodes.growth import grow
from miolumi.graphs.state import TurnState
from miolumi.lumi import store
from miolumi.lumi.prompts import lumi_system_prompt


def system_prompt(state: TurnState, context: TurnContext) -> str:
    """Lumi's prompt (neutral and warm until a personality seed exists)."""
    engine = store.lumi_database(context.resources().settings.relational_url)
    snapshot = store.current(engine, context.user_id)
    return lumi_system_prompt(
        snapshot.personality if snapshot else None,
        mood=EmotionState.from_dict(state.companion_emotion) if state.companion_emotion else None,
        user_emotion=EmotionState.from_dict(state.user_emotion) if state.user_emotion else None,
        memories=render_memories(state.memories),
    )


builder = turn_builder(
    system_prompt, after_turn=[("record_age", record_age), ("grow", grow)], product="lumi"
)
graph = builder.compile(name="lumi")
