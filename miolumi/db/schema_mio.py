"""Mio's tables: persona configs as loaded, relationships, stage history, stated ages.

Relationships are universal (the engine lives in ``miolumi.core.relationship``); a
relationship with no persona (Lumi, the user's global stream) is stored with the
empty string as ``agent_id``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from miolumi.db.schema_core import Base, utcnow

#: ``agent_id`` stored for a relationship that belongs to no persona.
GLOBAL_AGENT = ""


class Agent(Base):
    """A persona as it was last loaded: its config, version and where it came from."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical JSON config: a changed file is a new row version."""
    config: Mapped[str] = mapped_column(Text)
    """The validated persona config as JSON."""
    source: Mapped[str] = mapped_column(String(500))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Relationship(Base):
    """One user's relationship with one companion."""

    __tablename__ = "relationships"

    user_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(64))
    affection: Mapped[float] = mapped_column(Float)
    trust: Mapped[float] = mapped_column(Float)
    familiarity: Mapped[float] = mapped_column(Float)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    last_contact: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stage_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StageHistory(Base):
    """A stage change of a relationship, kept for good."""

    __tablename__ = "relationship_stage_history"
    __table_args__ = (Index("ix_stage_history_pair", "user_id", "agent_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(128), ForeignKey("users.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))
    affection: Mapped[float] = mapped_column(Float)
    trust: Mapped[float] = mapped_column(Float)
    familiarity: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserAge(Base):
    """What a user has said or confirmed about their age."""

    __tablename__ = "user_age"

    user_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    """``adult`` (confirmed) or ``minor`` (said so)."""
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
