"""Who the paid calls of a turn are billed to."""

from __future__ import annotations

from langgraph.config import get_config

from miolumi.core.cost import Attribution
from miolumi.core.cost.callback import PRODUCT, TURN
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState


def turn_attribution(state: TurnState, context: TurnContext) -> Attribution:
    """Who a paid call of this turn is billed to: user, product, persona, thread, turn."""
    config = get_config()
    metadata = config.get("metadata") or {}
    thread = (config.get("configurable") or {}).get("thread_id")
    return Attribution(
        user_id=context.user_id,
        product=metadata.get(PRODUCT),
        agent_id=context.agent_id,
        thread_id=str(thread) if thread else None,
        turn=int(metadata.get(TURN, state.turn + 1)),
    )
