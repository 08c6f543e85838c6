"""Writing memories off the response path: one background task per finished turn.

The ``write_memories`` node hands a :class:`WriteJob` to :meth:`MemoryWriter.submit` and
returns at once; the reply never waits. :meth:`MemoryWriter.drain` waits for the tasks
still running (``ChatSession`` calls it when it closes). A job that fails is appended to
``<data dir>/memory-outbox.jsonl`` and logged, never dropped; :meth:`MemoryWriter.replay`
writes the outbox again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from miolumi.core.memory.extraction import Fact, llm_facts, rule_facts
from miolumi.core.memory.manager import MemoryManager
from miolumi.core.memory.types import WriteResult

log = logging.getLogger(__name__)

OUTBOX = "memory-outbox.jsonl"


@dataclass(frozen=True, kw_only=True)
class WriteJob:
    """One finished exchange to remember."""

    user_id: str
    agent_id: str | None
    user_text: str
    reply: str
    previous: str | None
    """The companion's message before the user's, the context of an answer."""
    when: datetime
    episode: str | None = None


class MemoryWriter:
    """Background extraction and storage of memories, tracked so shutdown can wait."""

    def __init__(self, *, manager: MemoryManager, outbox: Path) -> None:
        self.manager = manager
        self.outbox = outbox
        self._tasks: set[asyncio.Task[list[WriteResult]]] = set()
        self._file_lock = threading.Lock()

    def submit(
        self, job: WriteJob, *, chat: BaseChatModel | None
    ) -> asyncio.Task[list[WriteResult]]:
        """Start writing ``job`` in the background; ``chat`` extracts when given, else rules."""
        task = asyncio.get_running_loop().create_task(self._run(job, chat))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending(self) -> int:
        """Tasks still running."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every task of this event loop has finished."""
        loop = asyncio.get_running_loop()
        while True:
            mine = [t for t in self._tasks if t.get_loop() is loop and not t.done()]
            if not mine:
                return
            await asyncio.gather(*mine, return_exceptions=True)

    async def _run(self, job: WriteJob, chat: BaseChatModel | None) -> list[WriteResult]:
        try:
            facts = await self._extract(job, chat)
            return await asyncio.to_thread(self._store, job, facts)
        except asyncio.CancelledError:
            self._keep(job, "cancelled before it was written (the event loop closed)")
            raise
        except Exception as exc:
            self._keep(job, exc)
            return []

    async def _extract(self, job: WriteJob, chat: BaseChatModel | None) -> list[Fact]:
        if chat is not None:
            try:
                facts = await llm_facts(
                    chat,
                    user_text=job.user_text,
                    reply=job.reply,
                    previous=job.previous,
                    today=job.when,
                )
            except Exception as exc:
                log.warning("memory extraction by the model failed (%s); using rules", exc)
            else:
                return [
                    Fact(text=f.text, importance=f.importance, slot=f.slot, context=job.user_text)
                    for f in facts
                ]
        return rule_facts(job.user_text, previous=job.previous)

    def _store(self, job: WriteJob, facts: list[Fact]) -> list[WriteResult]:
        return [
            self.manager.remember(
                job.user_id,
                fact.text,
                agent_id=job.agent_id,
                timestamp=job.when,
                importance=fact.importance,
                context=fact.context,
                episode=job.episode,
                slot=fact.slot,
            )
            for fact in facts
        ]

    def _keep(self, job: WriteJob, exc: BaseException | str) -> None:
        record = {**asdict(job), "when": job.when.isoformat(), "error": str(exc)}
        with self._file_lock:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            with self.outbox.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.error(
            "could not write the memories of a turn (%s); kept in %s for `miolumi memory retry`",
            exc,
            self.outbox,
        )

    async def replay(self) -> tuple[int, int]:
        """Write the outbox's jobs again (with rules); returns (written, still failing)."""
        if not self.outbox.is_file():
            return 0, 0
        with self._file_lock:
            lines = self.outbox.read_text(encoding="utf-8").splitlines()
            self.outbox.unlink()
        written = failed = 0
        for line in lines:
            if not line.strip():
                continue
            data = json.loads(line)
            data.pop("error", None)
            job = WriteJob(**{**data, "when": datetime.fromisoformat(data["when"])})
            before = self.outbox.stat().st_size if self.outbox.exists() else 0
            await self._run(job, None)
            after = self.outbox.stat().st_size if self.outbox.exists() else 0
            if after > before:
                failed += 1
            else:
                written += 1
        return written, failed
