"""Recording flags for operators: one row per flagged category, never the message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from miolumi.core.guardrails.verdict import GuardVerdict, Stage
from miolumi.db.engine import DatabaseStore
from miolumi.db.schema_guard import GuardFlag
from miolumi.errors import StorageError


class FlagStore(DatabaseStore):
    """Writes and reads ``guard_flags``; opens (and migrates) the database on first use."""

    def record(
        self,
        verdict: GuardVerdict,
        *,
        user_id: str,
        agent_id: str | None = None,
        stage: Stage = "input",
    ) -> int:
        """Store one row per category of a flag or block; return how many were written."""
        if verdict.action == "allow" or not verdict.categories:
            return 0
        rows = [
            GuardFlag(
                user_id=user_id,
                agent_id=agent_id,
                stage=stage,
                category=category,
                score=round(float(verdict.scores.get(category, 1.0)), 4),
                action=verdict.action,
            )
            for category in verdict.categories
        ]
        try:
            with Session(self.engine) as session, session.begin():
                session.add_all(rows)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"Cannot record a guardrail flag in {self.url}: {exc}. Check the database "
                "(MIOLUMI_DATABASE_URL) is reachable and writable."
            ) from exc
        return len(rows)

    def flags(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[GuardFlag]:
        """Recorded flags, newest first, filtered by user, persona, category and time."""
        query = select(GuardFlag).order_by(GuardFlag.at.desc(), GuardFlag.id.desc())
        if user_id is not None:
            query = query.where(GuardFlag.user_id == user_id)
        if agent_id is not None:
            query = query.where(GuardFlag.agent_id == agent_id)
        if category is not None:
            query = query.where(GuardFlag.category == category)
        if since is not None:
            query = query.where(GuardFlag.at >= since)
        try:
            with Session(self.engine) as session:
                rows = list(session.scalars(query.limit(limit)))
                session.expunge_all()
        except SQLAlchemyError as exc:
            raise StorageError(
                f"Cannot read guardrail flags from {self.url}: {exc}. Check the database."
            ) from exc
        return rows
