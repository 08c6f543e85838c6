"""Storage of Lumi's seeds and personality snapshots (``miolumi.db.schema_lumi``).

Every write is one transaction: a seed and its first snapshot are written together or not
at all, and a rollback adds a new version (history is never rewritten).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from miolumi.db.engine import open_database
from miolumi.db.schema_core import User, utcnow
from miolumi.db.schema_lumi import LumiSeed, LumiSnapshot
from miolumi.errors import SnapshotNotFoundError
from miolumi.lumi.personality import TRAITS, Personality, drift
from miolumi.lumi.seed import PersonalitySeed


@functools.cache
def lumi_database(url: str) -> Engine:
    """The (migrated) engine of ``url``, opened once per process."""
    return open_database(url)


@dataclass(frozen=True, kw_only=True)
class StoredSeed:
    """A user's seed as stored."""

    user_id: str
    seed: PersonalitySeed
    source: str
    exchanges: int
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """One stored version of a user's Lumi personality."""

    user_id: str
    version: int
    personality: Personality
    reason: str
    based_on: int | None
    drift: float
    created_at: datetime


def _snapshot(row: LumiSnapshot) -> Snapshot:
    return Snapshot(
        user_id=row.user_id,
        version=row.version,
        personality=Personality.model_validate_json(row.personality_json),
        reason=row.reason,
        based_on=row.based_on,
        drift=row.drift,
        created_at=row.created_at,
    )


def get_seed(engine: Engine, user_id: str) -> StoredSeed | None:
    """The user's seed, if extracted."""
    with Session(engine) as session:
        row = session.get(LumiSeed, user_id)
        if row is None:
            return None
        return StoredSeed(
            user_id=row.user_id,
            seed=PersonalitySeed.model_validate_json(row.seed_json),
            source=row.source,
            exchanges=row.exchanges,
            created_at=row.created_at,
        )


def save_seed(
    engine: Engine,
    *,
    user_id: str,
    seed: PersonalitySeed,
    source: str,
    exchanges: int,
    personality: Personality,
) -> bool:
    """Store the seed and snapshot 1 in one transaction; False if a seed already exists."""
    now = utcnow()
    with Session(engine) as session, session.begin():
        if session.get(LumiSeed, user_id) is not None:
            return False
        if session.get(User, user_id) is None:
            session.add(User(id=user_id, created_at=now))
            session.flush()
        session.add(
            LumiSeed(
                user_id=user_id,
                seed_json=seed.model_dump_json(),
                source=source,
                exchanges=exchanges,
                created_at=now,
            )
        )
        session.add(_row(user_id, 1, personality, "seed", None, 0.0, now))
    return True


def _row(
    user_id: str,
    version: int,
    personality: Personality,
    reason: str,
    based_on: int | None,
    drift_: float,
    now: datetime,
) -> LumiSnapshot:
    return LumiSnapshot(
        user_id=user_id,
        version=version,
        personality_json=personality.model_dump_json(),
        reason=reason,
        based_on=based_on,
        drift=drift_,
        created_at=now,
    )


def snapshots(engine: Engine, user_id: str) -> list[Snapshot]:
    """The user's snapshots, oldest first."""
    query = (
        select(LumiSnapshot).where(LumiSnapshot.user_id == user_id).order_by(LumiSnapshot.version)
    )
    with Session(engine) as session:
        return [_snapshot(row) for row in session.scalars(query)]


def current(engine: Engine, user_id: str) -> Snapshot | None:
    """The user's latest snapshot, if any."""
    query = (
        select(LumiSnapshot)
        .where(LumiSnapshot.user_id == user_id)
        .order_by(LumiSnapshot.version.desc())
        .limit(1)
    )
    with Session(engine) as session:
        row = session.scalars(query).first()
        return _snapshot(row) if row else None


def get_snapshot(engine: Engine, user_id: str, version: int) -> Snapshot:
    """Snapshot ``version``; raises `SnapshotNotFoundError` naming the fix."""
    query = select(LumiSnapshot).where(
        LumiSnapshot.user_id == user_id, LumiSnapshot.version == version
    )
    with Session(engine) as session:
        row = session.scalars(query).first()
        if row is None:
            raise SnapshotNotFoundError(
                f"User {user_id!r} has no Lumi snapshot {version}: "
                f"list them with miolumi lumi snapshots --user {user_id}."
            )
        return _snapshot(row)


def add_snapshot(
    engine: Engine,
    *,
    user_id: str,
    personality: Personality,
    reason: str,
    based_on: int | None = None,
) -> Snapshot:
    """Store ``personality`` as the next version (one transaction)."""
    with Session(engine) as session, session.begin():
        latest = session.scalars(
            select(LumiSnapshot)
            .where(LumiSnapshot.user_id == user_id)
            .order_by(LumiSnapshot.version.desc())
            .limit(1)
        ).first()
        if latest is None:
            raise SnapshotNotFoundError(
                f"User {user_id!r} has no Lumi personality yet: it appears after the first "
                "exchanges with Lumi (miolumi chat --lumi)."
            )
        previous = Personality.model_validate_json(latest.personality_json)
        row = _row(
            user_id,
            latest.version + 1,
            personality,
            reason,
            latest.version if based_on is None else based_on,
            drift(previous, personality),
            utcnow(),
        )
        session.add(row)
        session.flush()
        return _snapshot(row)


def rollback(engine: Engine, *, user_id: str, version: int) -> Snapshot:
    """Make snapshot ``version`` current again, as a new version based on it."""
    target = get_snapshot(engine, user_id, version)
    return add_snapshot(
        engine,
        user_id=user_id,
        personality=target.personality,
        reason="rollback",
        based_on=version,
    )


def count(engine: Engine, user_id: str) -> int:
    """How many snapshots the user has."""
    query = select(func.count()).where(LumiSnapshot.user_id == user_id)
    with Session(engine) as session:
        return int(session.scalar(query) or 0)


def diff(a: Personality, b: Personality) -> list[tuple[str, Any, Any]]:
    """Fields and traits that differ between ``a`` and ``b``: (name, in a, in b)."""
    changes: list[tuple[str, Any, Any]] = []
    for name in TRAITS:
        old, new = a.traits.get(name), b.traits.get(name)
        if old != new:
            changes.append((f"traits.{name}", old, new))
    for field in ("language", "speech_register", "emoji", "topics", "needs"):
        old, new = getattr(a, field), getattr(b, field)
        if old != new:
            changes.append((field, old, new))
    return changes
