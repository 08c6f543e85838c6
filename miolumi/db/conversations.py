"""Conversation records: which user owns a thread, with whom, and how far it went."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Delete, Engine, delete, select
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from miolumi.db.schema_core import Conversation, ThreadLease, User, utcnow
from miolumi.errors import ThreadBusyError, ThreadOwnershipError

#: Dialect-specific INSERT constructs with ON CONFLICT support.
_INSERTS: dict[str, Callable[[Any], SqliteInsert | PgInsert]] = {
    "sqlite": sqlite_insert,
    "postgresql": pg_insert,
}


@dataclass(frozen=True, kw_only=True)
class ConversationInfo:
    """A conversation as callers see it."""

    thread_id: str
    user_id: str
    product: str
    agent_id: str | None
    turns: int
    updated_at: datetime


def _info(row: Conversation) -> ConversationInfo:
    return ConversationInfo(
        thread_id=row.thread_id,
        user_id=row.user_id,
        product=row.product,
        agent_id=row.agent_id,
        turns=row.turns,
        updated_at=row.updated_at,
    )


def get(engine: Engine, thread_id: str) -> ConversationInfo | None:
    """Return the conversation of ``thread_id``, if any."""
    with Session(engine) as session:
        row = session.get(Conversation, thread_id)
        return _info(row) if row else None


def latest(engine: Engine, *, user_id: str, product: str, agent_id: str | None) -> str | None:
    """The thread id of the user's most recent conversation with that companion."""
    query = (
        select(Conversation.thread_id)
        .where(Conversation.user_id == user_id, Conversation.product == product)
        .where(
            Conversation.agent_id.is_(None)
            if agent_id is None
            else Conversation.agent_id == agent_id
        )
        .order_by(Conversation.updated_at.desc())
        .limit(1)
    )
    with Session(engine) as session:
        return session.scalars(query).first()


def of_user(engine: Engine, *, user_id: str, product: str | None = None) -> list[ConversationInfo]:
    """The user's conversations (of one product, if given), most recent first."""
    query = select(Conversation).where(Conversation.user_id == user_id)
    if product is not None:
        query = query.where(Conversation.product == product)
    with Session(engine) as session:
        rows = session.scalars(query.order_by(Conversation.updated_at.desc()))
        return [_info(row) for row in rows]


def check_owner(
    engine: Engine, *, thread_id: str, user_id: str, product: str, agent_id: str | None
) -> ConversationInfo | None:
    """The thread's conversation (None if new); refused if another user's or companion's."""
    info = get(engine, thread_id)
    if info is None:
        return None
    if info.user_id != user_id:
        raise ThreadOwnershipError(
            f"Thread {thread_id!r} belongs to another user: choose another --thread."
        )
    if (info.product, info.agent_id) != (product, agent_id):
        other = info.agent_id or info.product
        raise ThreadOwnershipError(
            f"Thread {thread_id!r} is a conversation with {other}: continue it with that "
            "companion, or choose another --thread."
        )
    return info


def record_turn(
    engine: Engine,
    *,
    thread_id: str,
    user_id: str,
    product: str,
    agent_id: str | None,
    turns: int,
    release: str | None = None,
) -> None:
    """Create or update the conversation after a completed turn (one transaction).

    Written as upserts, so two sessions of a new user finishing at once cannot collide.
    ``release``: the holder whose lease on the thread (`acquire_lease`) ends with the
    record, in the same transaction.
    """
    now = utcnow()
    insert = _INSERTS[engine.dialect.name]
    with Session(engine) as session, session.begin():
        session.execute(insert(User).values(id=user_id, created_at=now).on_conflict_do_nothing())
        row = {
            "thread_id": thread_id,
            "user_id": user_id,
            "product": product,
            "agent_id": agent_id,
            "turns": turns,
            "created_at": now,
            "updated_at": now,
        }
        session.execute(
            insert(Conversation)
            .values(**row)
            .on_conflict_do_update(
                index_elements=[Conversation.thread_id],
                set_={"turns": turns, "updated_at": now},
            )
        )
        if release is not None:
            session.execute(_release(thread_id, release))


#: How long a turn's claim on its thread holds before another process may take it over.
LEASE_SECONDS = 600.0


def acquire_lease(
    engine: Engine, *, thread_id: str, holder: str, seconds: float = LEASE_SECONDS
) -> None:
    """Claim ``thread_id`` for one turn, or raise `ThreadBusyError` if a live claim exists.

    Works across processes and servers sharing the database: two workers given turns of
    the same thread at once run one and refuse the other, instead of both writing the
    next checkpoint. A claim left by a process that died expires after ``seconds``.
    """
    now = time.time()
    insert = _INSERTS[engine.dialect.name]
    with Session(engine) as session, session.begin():
        session.execute(
            delete(ThreadLease).where(
                ThreadLease.thread_id == thread_id, ThreadLease.expires_at < now
            )
        )
        taken = session.execute(
            insert(ThreadLease)
            .values(thread_id=thread_id, holder=holder, expires_at=now + seconds)
            .on_conflict_do_nothing()
            .returning(ThreadLease.thread_id)
        )
        acquired = taken.first() is not None  # rowcount is -1 here on PostgreSQL
    if not acquired:
        raise ThreadBusyError(
            f"Another turn on thread {thread_id!r} is still running: wait for it to end "
            "(turn_end), or start a new thread."
        )


def release_lease(engine: Engine, *, thread_id: str, holder: str) -> None:
    """Release a claim taken by `acquire_lease` (only the holder's own)."""
    with Session(engine) as session, session.begin():
        session.execute(_release(thread_id, holder))


def _release(thread_id: str, holder: str) -> Delete:
    return delete(ThreadLease).where(
        ThreadLease.thread_id == thread_id, ThreadLease.holder == holder
    )
