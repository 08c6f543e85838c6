"""REST: personas, the user's conversations and their messages, and a turn without streaming."""

from __future__ import annotations

import asyncio
from typing import cast

from fastapi import APIRouter
from langchain_core.messages import AIMessage, HumanMessage

from miolumi.config import Product
from miolumi.db import conversations
from miolumi.errors import ConversationNotFoundError
from miolumi.events import Event
from miolumi.server import schemas
from miolumi.server.state import State, UserId

router = APIRouter(prefix="/v1", tags=["chat"])


@router.get("/personas")
def list_personas(state: State, user_id: UserId) -> list[schemas.PersonaSummary]:
    """Every Mio persona this server offers."""
    registry = state.runtime.services.personas
    return [
        schemas.PersonaSummary(
            id=persona.id,
            display_name=persona.display_name,
            tagline=persona.tagline,
            languages=list(persona.languages),
            stages=[stage.label for stage in persona.relationship.stages],
        )
        for persona in (registry.get(pid) for pid in registry.ids())
    ]


@router.get("/personas/{agent_id}")
def get_persona(agent_id: str, state: State, user_id: UserId) -> dict[str, object]:
    """One persona's whole card: personality, voice, backstory, style, relationship ladder."""
    persona = state.runtime.services.personas.get(agent_id)
    return cast(dict[str, object], persona.model_dump(mode="json"))


@router.get("/conversations")
async def list_conversations(
    state: State,
    user_id: UserId,
    product: Product | None = None,
    agent_id: str | None = None,
) -> list[schemas.Conversation]:
    """The user's conversations, most recent first."""
    found = await asyncio.to_thread(
        conversations.of_user, state.runtime.engine, user_id=user_id, product=product
    )
    return [
        schemas.Conversation(
            thread_id=c.thread_id,
            product=cast(Product, c.product),
            agent_id=c.agent_id,
            turns=c.turns,
            updated_at=c.updated_at,
        )
        for c in found
        if agent_id is None or c.agent_id == agent_id
    ]


@router.get("/conversations/{thread_id}/messages")
async def list_messages(thread_id: str, state: State, user_id: UserId) -> list[schemas.Message]:
    """The recent messages of one of the user's conversations, oldest first."""
    info = await asyncio.to_thread(conversations.get, state.runtime.engine, thread_id)
    if info is None or info.user_id != user_id:
        raise ConversationNotFoundError(
            f"No conversation {thread_id!r} of yours: list yours with GET /v1/conversations."
        )
    session = await state.session(
        user_id=user_id,
        product=cast(Product, info.product),
        agent_id=info.agent_id,
        thread_id=thread_id,
    )
    return [
        schemas.Message(role="user" if isinstance(m, HumanMessage) else "companion", text=m.text)
        for m in await session.history()
        if isinstance(m, HumanMessage | AIMessage)
    ]


@router.post("/turns")
async def run_turn(body: schemas.TurnRequest, state: State, user_id: UserId) -> schemas.TurnResult:
    """Run one whole turn and return its reply and events (the WebSocket streams them)."""
    session = await state.session(
        user_id=user_id,
        product=body.product,
        agent_id=body.agent_id,
        thread_id=body.thread_id,
        new_thread=body.new_thread,
        locale=body.locale,
    )
    collected: list[Event] = [event async for event in session.turn(body.text)]
    end = next(e for e in reversed(collected) if e["type"] == "turn_end")
    assert end["type"] == "turn_end"
    return schemas.TurnResult(
        thread_id=session.thread_id,
        reply=end["reply"],
        turn=end["turn"],
        events=[dict(e) for e in collected],
    )
