"""REST: what the server knows of the caller: relationships, memories, Lumi, usage.

Every route acts on the authenticated user only; ids of another user's things are
'not found'.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Query

from miolumi.core.cost.usage import Group, parse_since, summarize
from miolumi.core.memory import Memory
from miolumi.db import conversations
from miolumi.forget import forget_user
from miolumi.lumi import store as lumi_store
from miolumi.server import schemas
from miolumi.server.state import State, UserId

router = APIRouter(prefix="/v1", tags=["user"])


@router.get("/me")
async def me(state: State, user_id: UserId) -> schemas.Me:
    """Who the token belongs to, and their age confirmation."""
    age = await asyncio.to_thread(state.runtime.services.relationships.age, user_id)
    return schemas.Me(user_id=user_id, age=age.value)


@router.delete("/me")
async def forget_me(state: State, user_id: UserId) -> schemas.ForgottenView:
    """Forget the user: threads, memories, relationships, Lumi, usage, flags and tokens.

    The token used here stops working with it.
    """
    return await forgotten_view(state, user_id)


async def forgotten_view(state: State, user_id: str) -> schemas.ForgottenView:
    """Forget ``user_id`` and say how much went."""
    gone = await forget_user(state.runtime, user_id)
    return schemas.ForgottenView(
        user_id=user_id,
        threads=gone.threads,
        memories=gone.memories,
        usage_rows=gone.usage_rows,
        flags=gone.flags,
    )


@router.post("/me/adult")
async def confirm_adult(state: State, user_id: UserId) -> schemas.Me:
    """Confirm the user is 18 or older (romantic stages stay closed until then)."""
    store = state.runtime.services.relationships
    await asyncio.to_thread(store.confirm_adult, user_id, source="confirmed through the API")
    return schemas.Me(user_id=user_id, age=(await asyncio.to_thread(store.age, user_id)).value)


def _relationship(state: State, user_id: str, agent_id: str) -> schemas.RelationshipView:
    persona = state.runtime.services.personas.get(agent_id)
    store = state.runtime.services.relationships
    relationship = store.load(user_id, persona.id, ladder=persona.relationship.ladder())
    stage = persona.relationship.stage(relationship.stage)
    return schemas.RelationshipView(
        agent_id=persona.id,
        stage=stage.id,
        label=stage.label,
        romantic=stage.romantic,
        axes=relationship.axes.as_dict(),
        turns=relationship.turns,
        visits=relationship.visits,
        last_contact=relationship.last_contact,
        history=[
            {
                "from": change.from_stage,
                "to": change.to_stage,
                "reason": change.reason,
                "at": change.at.isoformat(),
            }
            for change in store.history(user_id, persona.id)
        ],
    )


@router.get("/relationships")
async def list_relationships(state: State, user_id: UserId) -> list[schemas.RelationshipView]:
    """Where the user stands with every persona they have talked to."""
    found = await asyncio.to_thread(
        conversations.of_user, state.runtime.engine, user_id=user_id, product="mio"
    )
    agents = sorted({c.agent_id for c in found if c.agent_id})
    return [await asyncio.to_thread(_relationship, state, user_id, a) for a in agents]


@router.get("/relationships/{agent_id}")
async def get_relationship(
    agent_id: str, state: State, user_id: UserId
) -> schemas.RelationshipView:
    """Where the user stands with one persona: stage, axes, recent stage changes."""
    return await asyncio.to_thread(_relationship, state, user_id, agent_id)


def _memory(memory: Memory) -> schemas.MemoryView:
    return schemas.MemoryView(
        id=memory.id,
        agent_id=memory.agent_id,
        text=memory.text,
        timestamp=memory.timestamp,
        importance=memory.importance,
        slot=memory.slot,
    )


@router.get("/memories")
async def list_memories(
    state: State,
    user_id: UserId,
    agent_id: str | None = Query(default=None, description="A persona; unset: the global stream."),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[schemas.MemoryView]:
    """Memories of one scope, newest first."""
    manager = state.runtime.services.memory
    found = await asyncio.to_thread(manager.memories, user_id, agent_id=agent_id, limit=limit)
    return [_memory(m) for m in found]


@router.get("/memories/export")
async def export_memories(state: State, user_id: UserId) -> dict[str, Any]:
    """Every memory of the user, every scope, as one JSON document (importable by the CLI)."""
    return await asyncio.to_thread(state.runtime.services.memory.export, user_id)


@router.delete("/memories/{memory_id}")
async def forget_memory(
    memory_id: str,
    state: State,
    user_id: UserId,
    agent_id: str | None = Query(default=None, description="The memory's persona, if any."),
) -> schemas.Deleted:
    """Forget one memory."""
    await asyncio.to_thread(
        state.runtime.services.memory.delete, user_id, memory_id, agent_id=agent_id
    )
    return schemas.Deleted(deleted=1)


@router.delete("/memories")
async def forget_all_memories(state: State, user_id: UserId) -> schemas.Deleted:
    """Forget every memory of the user, with every persona."""
    count = await asyncio.to_thread(state.runtime.services.memory.delete_user, user_id)
    return schemas.Deleted(deleted=count)


def _snapshot(snap: lumi_store.Snapshot) -> schemas.SnapshotView:
    return schemas.SnapshotView(
        version=snap.version,
        reason=snap.reason,
        based_on=snap.based_on,
        drift=snap.drift,
        created_at=snap.created_at,
        personality=snap.personality.model_dump(mode="json"),
    )


@router.get("/lumi/seed")
async def lumi_seed(state: State, user_id: UserId) -> schemas.SeedView | None:
    """The personality seed Lumi took from the first exchanges (null until then)."""
    stored = await asyncio.to_thread(lumi_store.get_seed, state.runtime.engine, user_id)
    if stored is None:
        return None
    return schemas.SeedView(
        seed=stored.seed.model_dump(mode="json"),
        source=stored.source,
        exchanges=stored.exchanges,
        created_at=stored.created_at,
    )


@router.get("/lumi/snapshots")
async def lumi_snapshots(state: State, user_id: UserId) -> list[schemas.SnapshotView]:
    """Every version of Lumi's personality for the user, oldest first."""
    snaps = await asyncio.to_thread(lumi_store.snapshots, state.runtime.engine, user_id)
    return [_snapshot(s) for s in snaps]


@router.post("/lumi/snapshots/{version}/rollback")
async def lumi_rollback(version: int, state: State, user_id: UserId) -> schemas.SnapshotView:
    """Make an earlier personality current again (as a new version)."""
    snap = await asyncio.to_thread(
        lumi_store.rollback, state.runtime.engine, user_id=user_id, version=version
    )
    return _snapshot(snap)


@router.get("/usage")
async def usage(
    state: State,
    user_id: UserId,
    since: str = Query(default="30d", description="A span (7d, 24h) or a date."),
    by: Literal["day", "product", "persona", "kind", "model"] = "day",
) -> list[schemas.UsageLineView]:
    """What the user's conversations cost, grouped."""
    return await usage_lines(state, since=since, by=by, user_id=user_id)


async def usage_lines(
    state: State, *, since: str, by: Group, user_id: str | None
) -> list[schemas.UsageLineView]:
    """Usage grouped ``by`` since ``since`` (a span or date), of one user or everyone."""
    lines = await asyncio.to_thread(
        summarize, state.runtime.engine, by=by, since=parse_since(since), user_id=user_id
    )
    return [schemas.UsageLineView.model_validate(line.as_dict()) for line in lines]
