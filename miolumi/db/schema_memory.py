"""Memory tables: the registry of each user's memory scopes.

The memories themselves live in Chroma, one collection per scope (a user's global
stream, or a user and one persona). This table says which collections a user has, so
export and deletion find all of them without listing a whole Chroma server, and it
carries a revision that lets every process know when its cached lexical index of a
scope is stale.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from miolumi.db.schema_core import Base, utcnow

#: ``agent_id`` stored for the user's global stream (no persona).
GLOBAL_SCOPE = ""


class MemoryScope(Base):
    """One Chroma collection of memories: a user's global stream or one persona's."""

    __tablename__ = "memory_scopes"

    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    collection: Mapped[str] = mapped_column(String(128), unique=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped by every write, so cached indexes of the scope know they are stale."""
    next_seq: Mapped[int] = mapped_column(Integer, default=0)
    """Order of the next memory in the scope (neighbours are consecutive memories)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
