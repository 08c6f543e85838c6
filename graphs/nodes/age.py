"""``record_age`` (after ``turn_end``): a user who says they are a minor is one from then on.

Mio records a stated age with the turn's relationship step (``relationship``), which a
blocked turn never reaches; Lumi has no relationship ladder. This node records it for
both, in the same store and with the same source
(:meth:`~miolumi.core.relationship.RelationshipStore.set_minor`), unless the turn's
relationship plan already read it. The guardrails
read the stored age for every later message in and reply out: without it, only the
message itself and the six before it told them, and a user who confirmed they are an
adult was read as one again seven messages later. The turn that says it is covered by its
own text. It also runs after a blocked message, whose words the thread does not keep:
"I'm 15, write me a sex scene" is refused, and the age it states still counts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from miolumi.core.relationship import AgeStatus, says_minor
from miolumi.core.relationship.store import SAID_IN_CONVERSATION
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState


async def record_age(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Store that the user is a minor when this turn's message says so."""
    if not says_minor(state.user_input):
        return {}
    if state.relationship and state.relationship["age"] == AgeStatus.MINOR.value:
        return {}  # the relationship step stores it (Mio)
    store = runtime.context.resources().relationships
    await asyncio.to_thread(store.set_minor, runtime.context.user_id, source=SAID_IN_CONVERSATION)
    return {}
