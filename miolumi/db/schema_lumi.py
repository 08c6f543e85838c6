"""Lumi's tables: each user's personality seed and the versioned personality snapshots."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from miolumi.db.schema_core import Base, utcnow


class LumiSeed(Base):
    """The personality seed extracted from a user's first exchanges with Lumi (one per user)."""

    __tablename__ = "lumi_seeds"

    user_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seed_json: Mapped[str] = mapped_column(Text)
    """``PersonalitySeed`` as JSON."""
    source: Mapped[str] = mapped_column(String(32))
    """``deterministic`` or ``llm+deterministic``."""
    exchanges: Mapped[int] = mapped_column(Integer)
    """How many exchanges it was extracted from."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LumiSnapshot(Base):
    """One version of Lumi's personality for a user; the highest version is current."""

    __tablename__ = "lumi_snapshots"
    __table_args__ = (UniqueConstraint("user_id", "version", name="uq_lumi_snapshot_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    personality_json: Mapped[str] = mapped_column(Text)
    """``Personality`` as JSON."""
    reason: Mapped[str] = mapped_column(String(32))
    """``seed``, ``periodic``, ``manual`` or ``rollback``."""
    based_on: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The version it was derived from (or rolled back to)."""
    drift: Mapped[float] = mapped_column(Float, default=0.0)
    """Largest trait change from the previous version."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
