"""``finish``: records the turn in the thread and announces its end.

A blocked message is recorded as :data:`~miolumi.graphs.nodes.guard.WITHHELD_MESSAGE`,
never as its text: the user's transcript shows a message was withheld, followed by the
refusal, and the model sees the same in later turns ("answer my previous question"
cannot bring the blocked text back).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, RemoveMessage
from langgraph.runtime import Runtime

from miolumi.events import TurnEndEvent
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.guard import WITHHELD_MESSAGE
from miolumi.graphs.pace import stream_writer
from miolumi.graphs.state import TurnState


def overflow(messages: list[AnyMessage], *, window: int, adding: int) -> list[AnyMessage]:
    """The oldest messages to drop so that ``adding`` more fit in ``window``."""
    excess = len(messages) + adding - window
    return messages[:excess] if excess > 0 else []


async def finish(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Append the exchange, trim the window, emit ``turn_end``; forget the turn's documents.

    A blocked message is appended as :data:`WITHHELD_MESSAGE` (see the module docs).
    """
    window = runtime.context.resources().settings.history_messages
    blocked = (state.guard or {}).get("action") == "block"
    said = WITHHELD_MESSAGE if blocked else state.user_input
    new: list[BaseMessage] = [HumanMessage(said), AIMessage(state.reply)]
    dropped = overflow(state.messages, window=window, adding=len(new))
    removals: list[BaseMessage] = [RemoveMessage(id=m.id) for m in dropped if m.id]
    turn = state.turn + 1
    event: TurnEndEvent = {
        "type": "turn_end",
        "reply": state.reply,
        "turn": turn,
        "model": state.model,
    }
    if state.usage:
        event["usage"] = state.usage
    stream_writer(runtime)(event)
    return {"messages": removals + new, "turn": turn, "documents": [], "quoted": []}
