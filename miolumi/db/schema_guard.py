"""Guardrail flags: what an operator may see of a flagged or blocked message.

One row per category that flagged or blocked a message: who, which persona, when, at
which stage, the category, its score and the action. Never the message text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from miolumi.db.schema_core import Base, utcnow

_ID = BigInteger().with_variant(Integer(), "sqlite")


class GuardFlag(Base):
    """A category that flagged or blocked one message (no text is stored)."""

    __tablename__ = "guard_flags"
    __table_args__ = (
        Index("ix_guard_flags_user_at", "user_id", "at"),
        Index("ix_guard_flags_category_at", "category", "at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stage: Mapped[str] = mapped_column(String(8))
    """``input`` or ``output``."""
    category: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(8))
    """``flag`` or ``block``."""
