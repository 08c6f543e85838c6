"""``receive``: the first node; validates the user's message before anything is spent."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from miolumi.errors import EmptyMessageError, MessageTooLongError
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState
from miolumi.services import default_services


async def receive(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Strip the message; reject an empty or oversized one with an error naming the fix."""
    if runtime.context.services is None:
        # Built once per process from the environment (plugins, personas on disk): do that
        # off the event loop, which a server shares with every other conversation.
        await asyncio.to_thread(default_services)
    limit = runtime.context.resources().settings.max_message_chars
    text = state.user_input.strip()
    if not text:
        raise EmptyMessageError()
    if len(text) > limit:
        raise MessageTooLongError(length=len(text), limit=limit)
    return {"user_input": text, "reply": "", "model": "", "usage": None}
