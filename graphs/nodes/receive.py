"""``receive``: the first node; validates the user's message before anything is spent."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from miolumi.errors import EmptyMessageError, MessageTooLongError
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState


async def receive(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Strip the message; reject an empty or oversized one with an error naming the fix."""
    limit = runtime.context.resources().settings.max_message_chars
    text = state.user_input.strip()
    if not text:
        raise EmptyMessageError()
    if len(text) > limit:
        raise MessageTooLongError(length=len(text), limit=limit)
    return {"user_input": text, "reply": "", "model": "", "usage": None}
