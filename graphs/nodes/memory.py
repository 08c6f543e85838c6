"""``retrieve_memories`` (before ``generate``) and ``write_memories`` (after ``turn_end``).

Both are scoped by ``context.agent_id``: a Mio persona reads and writes only its own
memories of the user; Lumi (no persona) the user's global stream.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

from miolumi import events
from miolumi.core.guardrails import ATTACK_CATEGORIES
from miolumi.core.memory.types import recalled
from miolumi.core.memory.writer import WriteJob
from miolumi.errors import MiolumiError
from miolumi.graphs.context import TurnContext
from miolumi.graphs.pace import stream_writer
from miolumi.graphs.state import TurnState

#: Memories recalled into one turn's prompt.
RECALL = 6


async def retrieve_memories(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Recall the memories most relevant to the user's message.

    A memory store that cannot be read becomes an ``error`` event and a turn without
    memories, not a failed turn; nothing is written from an empty recall.
    """
    context = runtime.context
    memory = context.resources().memory
    try:
        hits = await asyncio.to_thread(
            memory.search, context.user_id, state.user_input, agent_id=context.agent_id, k=RECALL
        )
    except MiolumiError as exc:
        stream_writer(runtime)(events.error("memory_unavailable", str(exc)))
        return {"memories": []}
    return {"memories": [recalled(hit) for hit in hits]}


def _previous_reply(messages: list[AnyMessage]) -> str | None:
    """The companion's message before this turn's exchange (the last two messages)."""
    for message in reversed(messages[:-2]):
        if isinstance(message, AIMessage):
            return message.text or None
    return None


def _episode() -> str | None:
    try:
        thread = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        return None
    return str(thread) if thread else None


def _untrusted(guard: dict[str, Any] | None) -> bool:
    """Whether the guard's verdict keeps the turn out of memory.

    It does when the message was blocked, or flagged as an attack: what it says would
    otherwise come back in every later prompt.
    """
    if not guard:
        return False
    attack = set(ATTACK_CATEGORIES) & set(guard.get("categories", ()))
    return guard.get("action") == "block" or bool(attack)


async def write_memories(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Hand the finished exchange to the background memory writer and return at once.

    Nothing is written from a blocked turn, nor from a message flagged as an attack on
    the companion's instructions.
    """
    services = runtime.context.resources()
    mode = services.settings.memory_extraction
    if mode == "off" or _untrusted(state.guard) or not state.reply or state.budget_action == "stop":
        return {}
    chat = None
    if mode in ("auto", "llm"):
        model = services.models.resolve(state.model or runtime.context.model)
        if mode == "llm" or not model.provider.local:
            chat = model.chat
    now = datetime.now(UTC)
    episode = _episode()
    job = WriteJob(
        user_id=runtime.context.user_id,
        agent_id=runtime.context.agent_id,
        user_text=state.user_input,
        reply=state.reply,
        previous=_previous_reply(state.messages),
        when=now,
        episode=f"{episode}:{now:%Y-%m-%d}" if episode else None,
    )
    services.memory_writer.submit(job, chat=chat)
    return {}
