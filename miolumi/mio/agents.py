"""The ``agents`` table: each persona's config as it was loaded, with its version.

A persona is written when first used and rewritten when its config changes (another
hash), so stored relationships can be traced to the persona they were built with.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from miolumi.db.schema_core import utcnow
from miolumi.db.schema_mio import Agent
from miolumi.errors import StorageError
from miolumi.mio.persona import Persona

_lock = threading.Lock()
_synced: set[tuple[str, str, str]] = set()


@dataclass(frozen=True, kw_only=True)
class AgentRecord:
    """A stored persona config."""

    id: str
    display_name: str
    version: str
    config_hash: str
    config: str
    source: str
    loaded_at: datetime
    updated_at: datetime


def ensure_agent(engine: Engine, persona: Persona, *, source: str) -> None:
    """Store the persona's config unless this exact config is already stored."""
    key = (engine.url.render_as_string(hide_password=False), persona.id, persona.config_hash())
    with _lock:
        if key in _synced:
            return
    now = utcnow()
    try:
        with Session(engine) as session, session.begin():
            row = session.get(Agent, persona.id)
            if row is None:
                row = Agent(id=persona.id, loaded_at=now)
                session.add(row)
            if row.config_hash != key[2] or row.source != source:
                row.display_name = persona.display_name
                row.version = persona.version
                row.config_hash = key[2]
                row.config = persona.config_json()
                row.source = source
                row.updated_at = now
    except SQLAlchemyError as exc:
        raise StorageError(
            f"Cannot store persona {persona.id!r}: {exc}. Check the database "
            "(MIOLUMI_DATABASE_URL) and disk space."
        ) from exc
    with _lock:
        _synced.add(key)


def get_agent(engine: Engine, agent_id: str) -> AgentRecord | None:
    """The stored config of ``agent_id``, if it was ever used."""
    with Session(engine) as session:
        row = session.get(Agent, agent_id)
        if row is None:
            return None
        return AgentRecord(
            id=row.id,
            display_name=row.display_name,
            version=row.version,
            config_hash=row.config_hash,
            config=row.config,
            source=row.source,
            loaded_at=row.loaded_at,
            updated_at=row.updated_at,
        )
