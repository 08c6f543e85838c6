"""Forget a user: everything miolumi keeps of them, in every store, in one call.

Threads (checkpoints) go first, then memories (Chroma and their registry), then one
database transaction removes the relational rows: the user, and by cascade their
conversations, relationships, stage history, stated age, Lumi seed and snapshots and
API tokens; and the rows keyed by user id without a foreign key: the usage ledger, the
per-user spending totals, budget reservations and guardrail flags. Totals across all
users keep what was spent (they hold no user id). A failure part-way can be repeated:
each step removes only what is still there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Engine, delete
from sqlalchemy.orm import Session

from miolumi.db import conversations
from miolumi.db.schema_core import ThreadLease, User
from miolumi.db.schema_cost import ReservationRow, TotalRow, UsageRow
from miolumi.db.schema_guard import GuardFlag
from miolumi.session import Runtime


@dataclass(frozen=True, kw_only=True)
class Forgotten:
    """How much of a user was removed."""

    threads: int
    memories: int
    usage_rows: int
    flags: int
    user: bool
    """Whether the user's own row existed (and with it their tokens, relationships, Lumi)."""


def _deleted(session: Session, statement: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return max(result.rowcount, 0)


def _forget_rows(engine: Engine, user_id: str, threads: list[str]) -> tuple[int, int, bool]:
    with Session(engine) as session, session.begin():
        usage = _deleted(session, delete(UsageRow).where(UsageRow.user_id == user_id))
        _deleted(session, delete(TotalRow).where(TotalRow.scope == f"u:{user_id}"))
        _deleted(session, delete(ReservationRow).where(ReservationRow.user_id == user_id))
        flags = _deleted(session, delete(GuardFlag).where(GuardFlag.user_id == user_id))
        if threads:
            _deleted(session, delete(ThreadLease).where(ThreadLease.thread_id.in_(threads)))
        user = _deleted(session, delete(User).where(User.id == user_id))
        return usage, flags, user == 1


async def forget_user(runtime: Runtime, user_id: str) -> Forgotten:
    """Remove everything of ``user_id``; see the module's docstring for what and in which order."""
    services = runtime.services
    await services.memory_writer.drain()  # nothing of theirs still on its way in
    await services.cost.aflush()
    found = await asyncio.to_thread(conversations.of_user, runtime.engine, user_id=user_id)
    threads = [c.thread_id for c in found]
    for thread_id in threads:
        await runtime.saver.adelete_thread(thread_id)
    memories = await asyncio.to_thread(services.memory.delete_user, user_id)
    usage, flags, user = await asyncio.to_thread(_forget_rows, runtime.engine, user_id, threads)
    return Forgotten(
        threads=len(threads), memories=memories, usage_rows=usage, flags=flags, user=user
    )
