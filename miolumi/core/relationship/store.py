"""Relationship storage: states, stage history and stated ages, in the relational database.

Every write of a turn is one transaction; failures raise, they are never swallowed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, cast

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from miolumi.core.relationship.engine import (
    AgeStatus,
    Axes,
    Ladder,
    RelationshipState,
    StageChange,
    Step,
)
from miolumi.db.engine import DatabaseStore
from miolumi.db.schema_core import User, utcnow
from miolumi.db.schema_mio import GLOBAL_AGENT, Relationship, StageHistory, UserAge
from miolumi.errors import AgeConfirmationError, StorageError

Reason = Literal["progress", "regress", "cooling", "age"]
#: The source recorded with an age the user stated in a conversation (Mio and Lumi alike).
SAID_IN_CONVERSATION = "said so in a conversation"


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _key(agent_id: str | None) -> str:
    return GLOBAL_AGENT if agent_id is None else agent_id


def _ensure_user(session: Session, user_id: str) -> None:
    if session.get(User, user_id) is None:
        session.add(User(id=user_id, created_at=utcnow()))
        session.flush()


class RelationshipStore(DatabaseStore):
    """Reads and writes relationships; opens (and migrates) its database on first use."""

    def _session(self) -> Session:
        return Session(self.engine)

    def load(
        self, user_id: str, agent_id: str | None = None, *, ladder: Ladder
    ) -> RelationshipState:
        """The stored relationship, or a fresh one on the ladder's first stage."""
        with self._session() as session:
            return _load(session, user_id, agent_id, ladder)

    def current(
        self, user_id: str, agent_id: str | None = None, *, ladder: Ladder
    ) -> tuple[RelationshipState, AgeStatus]:
        """:meth:`load` and :meth:`age` in one read: what a turn's step starts from."""
        with self._session() as session:
            return _load(session, user_id, agent_id, ladder), _age(session, user_id)

    def save(self, step: Step) -> None:
        """Store a turn's outcome: the state, the stage change, a newly stated minor age."""
        try:
            with self._session() as session, session.begin():
                _write(session, step)
        except SQLAlchemyError as exc:
            raise _save_error(step.state.user_id, exc) from exc

    def advance(
        self,
        user_id: str,
        agent_id: str | None = None,
        *,
        ladder: Ladder,
        work: Callable[[RelationshipState, AgeStatus], Step],
    ) -> Step:
        """Read the relationship and age, work the turn's step out, store it: one transaction.

        ``work`` gets what :meth:`current` returns and returns the step to store (a turn
        that planned its step from the same state returns the planned one).
        """
        try:
            with self._session() as session, session.begin():
                step = work(_load(session, user_id, agent_id, ladder), _age(session, user_id))
                _write(session, step)
        except SQLAlchemyError as exc:
            raise _save_error(user_id, exc) from exc
        return step

    def history(
        self, user_id: str, agent_id: str | None = None, *, limit: int = 20
    ) -> list[StageChange]:
        """The latest stage changes of a relationship, oldest first."""
        query = (
            select(StageHistory)
            .where(StageHistory.user_id == user_id, StageHistory.agent_id == _key(agent_id))
            .order_by(StageHistory.id.desc())
            .limit(limit)
        )
        with self._session() as session:
            rows = list(session.scalars(query))
        return [_change(row, agent_id) for row in reversed(rows)]

    def age(self, user_id: str) -> AgeStatus:
        """What the user has confirmed or said about their age."""
        with self._session() as session:
            return _age(session, user_id)

    def confirm_adult(self, user_id: str, *, source: str, override_minor: bool = False) -> None:
        """Record that the user confirmed they are 18 or older.

        A user who said they are a minor stays one unless ``override_minor`` (an operator's
        decision, e.g. after an age check) is given.
        """
        with self._session() as session, session.begin():
            row = session.get(UserAge, user_id)
            if row is not None and row.status == AgeStatus.MINOR and not override_minor:
                raise AgeConfirmationError(
                    "You said earlier that you are under 18, so romantic stages stay off. "
                    "An operator can lift this after an age check."
                )
            _ensure_user(session, user_id)
            _set_age(session, user_id, AgeStatus.ADULT, source)

    def set_minor(self, user_id: str, *, source: str) -> None:
        """Record that the user is under 18: romantic stages close at once."""
        with self._session() as session, session.begin():
            _ensure_user(session, user_id)
            _set_age(session, user_id, AgeStatus.MINOR, source)


def _load(
    session: Session, user_id: str, agent_id: str | None, ladder: Ladder
) -> RelationshipState:
    row = session.get(Relationship, (user_id, _key(agent_id)))
    if row is None:
        return RelationshipState(user_id=user_id, agent_id=agent_id, stage=ladder.stages[0].id)
    return RelationshipState(
        user_id=user_id,
        agent_id=agent_id,
        stage=row.stage,
        axes=Axes(affection=row.affection, trust=row.trust, familiarity=row.familiarity),
        turns=row.turns,
        visits=row.visits,
        last_contact=_aware(row.last_contact),
        stage_since=_aware(row.stage_since),
    )


def _age(session: Session, user_id: str) -> AgeStatus:
    row = session.get(UserAge, user_id)
    return AgeStatus(row.status) if row else AgeStatus.UNKNOWN


def _write(session: Session, step: Step) -> None:
    """Stage a step's rows in ``session`` (the caller commits)."""
    state = step.state
    _ensure_user(session, state.user_id)
    key = (state.user_id, _key(state.agent_id))
    row = session.get(Relationship, key)
    if row is None:
        row = Relationship(user_id=key[0], agent_id=key[1])
        session.add(row)
    row.stage = state.stage
    row.affection = state.axes.affection
    row.trust = state.axes.trust
    row.familiarity = state.axes.familiarity
    row.turns = state.turns
    row.visits = state.visits
    row.last_contact = state.last_contact
    row.stage_since = state.stage_since
    row.updated_at = utcnow()
    if step.change is not None:
        session.add(_history_row(step.change))
    if step.age is AgeStatus.MINOR:
        _set_age(session, state.user_id, AgeStatus.MINOR, SAID_IN_CONVERSATION)


def _save_error(user_id: str, exc: SQLAlchemyError) -> StorageError:
    return StorageError(
        f"Cannot save the relationship of {user_id!r}: {exc}. "
        "Check the database (MIOLUMI_DATABASE_URL) and disk space."
    )


def _set_age(session: Session, user_id: str, status: AgeStatus, source: str) -> None:
    row = session.get(UserAge, user_id)
    if row is None:
        session.add(UserAge(user_id=user_id, status=status.value, source=source))
    elif row.status != status.value:
        row.status, row.source, row.updated_at = status.value, source, utcnow()


def _history_row(change: StageChange) -> StageHistory:
    return StageHistory(
        user_id=change.user_id,
        agent_id=_key(change.agent_id),
        from_stage=change.from_stage,
        to_stage=change.to_stage,
        reason=change.reason,
        affection=change.axes.affection,
        trust=change.axes.trust,
        familiarity=change.axes.familiarity,
        at=change.at,
    )


def _change(row: StageHistory, agent_id: str | None) -> StageChange:
    at = _aware(row.at)
    assert at is not None
    return StageChange(
        user_id=row.user_id,
        agent_id=agent_id,
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        reason=cast(Reason, row.reason),
        axes=Axes(affection=row.affection, trust=row.trust, familiarity=row.familiarity),
        at=at,
    )
