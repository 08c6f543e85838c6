"""What memories look like to callers: hits, records, new items and export dumps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

#: Values a memory's metadata may hold (Chroma stores flat scalars).
MetadataValue = str | int | float | bool
Metadata = dict[str, MetadataValue]

#: Longest memory text accepted; longer texts must be split by the caller.
MAX_MEMORY_CHARS = 8_000
#: Most memories one call to ``add_many`` or ``import_`` writes per Chroma request.
WRITE_BATCH = 256
#: Version of the export format.
EXPORT_FORMAT = "miolumi.memories"
EXPORT_VERSION = 1


def to_datetime(epoch: float) -> datetime:
    """A stored epoch-seconds timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)


def to_epoch(moment: datetime) -> float:
    """An aware datetime (naive ones are taken as UTC) as epoch seconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True, kw_only=True)
class Memory:
    """A stored memory."""

    id: str
    user_id: str
    agent_id: str | None
    """The persona it belongs to; None is the user's global stream."""
    text: str
    metadata: Metadata
    """The caller's metadata, returned unchanged."""
    timestamp: datetime
    """When the remembered thing was said or happened."""
    importance: float
    """0 (trivia) to 1 (life event)."""
    context: str | None = None
    """What surrounded it (the question it answered), used for matching, not shown."""
    episode: str | None = None
    """Memories of one episode (a conversation session) are neighbours in order."""
    seq: int = 0
    """Order within the scope."""
    slot: str | None = None
    """What the fact is about (``"home city"``): a newer fact with the same slot replaces it."""
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class MemoryHit:
    """A memory found by a search, with its relevance."""

    id: str
    text: str
    score: float
    metadata: Metadata
    timestamp: datetime
    agent_id: str | None
    importance: float = 0.5
    parts: dict[str, float] = field(default_factory=dict)
    """The weighted parts of ``score`` (semantic, lexical, neighbours, recency, importance)."""


@dataclass(frozen=True, kw_only=True)
class NewMemory:
    """One item for :meth:`MemoryManager.add_many`."""

    text: str
    metadata: Metadata | None = None
    timestamp: datetime | None = None
    importance: float | None = None
    context: str | None = None
    episode: str | None = None
    slot: str | None = None
    id: str | None = None
    """Keep this id (import); None draws a fresh one."""


WriteAction = Literal["added", "updated", "unchanged"]


@dataclass(frozen=True, kw_only=True)
class WriteResult:
    """What :meth:`MemoryManager.remember` did with a fact."""

    action: WriteAction
    id: str


class MemoryRecord(BaseModel):
    """One memory in an export dump."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    agent_id: str | None = None
    text: str = Field(min_length=1, max_length=MAX_MEMORY_CHARS)
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    timestamp: datetime
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    context: str | None = None
    episode: str | None = None
    slot: str | None = None
    seq: int = 0


class MemoryDump(BaseModel):
    """Every memory of one user, as :meth:`MemoryManager.export` returns it."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["miolumi.memories"] = "miolumi.memories"
    version: Literal[1] = 1
    user_id: str
    embeddings: str = Field(description="The MIOLUMI_EMBEDDINGS the vectors were made with.")
    exported_at: datetime
    memories: list[MemoryRecord]

    def to_json_data(self) -> dict[str, Any]:
        """Plain JSON-serialisable data."""
        return self.model_dump(mode="json")


class RecalledMemory(TypedDict):
    """A memory as a turn carries it into the prompt (plain JSON, checkpointed)."""

    id: str
    text: str
    date: str
    """ISO date (``2023-05-08``) of the memory."""
    score: float


def recalled(hit: MemoryHit) -> RecalledMemory:
    """The prompt-ready form of a hit."""
    return {
        "id": hit.id,
        "text": hit.text,
        "date": hit.timestamp.date().isoformat(),
        "score": round(hit.score, 4),
    }


def render_memories(memories: list[RecalledMemory]) -> list[str]:
    """Prompt lines, one per memory, each with its date: ``(2023-05-08) I love hiking``."""
    return [f"({m['date']}) {m['text']}" for m in memories]
