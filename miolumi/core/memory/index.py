"""The in-process view of one scope: its memories' texts and metadata, and a BM25 index.

Built from Chroma when a scope is first searched and whenever the scope's revision (in
SQL) moved past the one it was built at, so every process sees every other's writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from miolumi.core.memory.lexical import BM25Index
from miolumi.core.memory.types import Memory, Metadata, to_datetime

#: Prefix of the metadata keys miolumi keeps for itself in Chroma.
RESERVED = "mlm_"


def day_of(moment: datetime) -> str:
    """A date as people write it in English: ``8 May 2023``."""
    return f"{moment.day} {moment:%B %Y}"


def match_text(text: str, *, context: str | None, day: str) -> str:
    """What is embedded and indexed for a memory: its date, its text and its context.

    A memory carries its context (the turn it answered) so that "Yes, last Sunday!" is
    found by a question about what happened last Sunday.
    """
    composed = f"[{day}] {text}"
    return f"{composed} (in reply to: {context})" if context else composed


def split_metadata(stored: dict[str, Any]) -> tuple[Metadata, dict[str, Any]]:
    """Separate the caller's metadata from miolumi's own keys."""
    own = {k: v for k, v in stored.items() if k.startswith(RESERVED)}
    user = {k: v for k, v in stored.items() if not k.startswith(RESERVED)}
    return user, own


def to_memory(
    memory_id: str, document: str, stored: dict[str, Any], *, user_id: str, agent_id: str | None
) -> Memory:
    """A memory from what Chroma holds."""
    user, own = split_metadata(stored)
    return Memory(
        id=memory_id,
        user_id=user_id,
        agent_id=agent_id,
        text=document,
        metadata=user,
        timestamp=to_datetime(float(own.get("mlm_ts", 0.0))),
        importance=float(own.get("mlm_importance", 0.5)),
        context=own.get("mlm_context") or None,
        episode=own.get("mlm_episode") or None,
        seq=int(own.get("mlm_seq", 0)),
        slot=own.get("mlm_slot") or None,
        updated_at=to_datetime(float(own["mlm_updated"])) if "mlm_updated" in own else None,
    )


@dataclass
class ScopeIndex:
    """Texts, metadata and lexical postings of every memory of one scope."""

    revision: int
    memories: list[Memory] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    by_episode_seq: dict[tuple[str, int], int] = field(default_factory=dict)
    lexical: BM25Index = field(default_factory=BM25Index)

    @classmethod
    def build(cls, *, revision: int, memories: list[Memory]) -> ScopeIndex:
        """Index ``memories`` (in scope order)."""
        index = cls(revision=revision)
        for memory in sorted(memories, key=lambda m: m.seq):
            position = len(index.memories)
            index.memories.append(memory)
            index.positions[memory.id] = position
            if memory.episode is not None:
                index.by_episode_seq[(memory.episode, memory.seq)] = position
            index.lexical.add(
                match_text(memory.text, context=memory.context, day=day_of(memory.timestamp))
            )
        return index

    def neighbours(self, position: int) -> list[int]:
        """Positions of the memories just before and after ``position`` in its episode."""
        memory = self.memories[position]
        if memory.episode is None:
            return []
        found = []
        for seq in (memory.seq - 1, memory.seq + 1):
            other = self.by_episode_seq.get((memory.episode, seq))
            if other is not None:
                found.append(other)
        return found
