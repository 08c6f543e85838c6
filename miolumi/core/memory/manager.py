"""``MemoryManager``: the one memory API of both products.

Scoping rule: with ``agent_id``, every call sees only that persona's memories of that
user; without it, the user's global stream (Lumi, and whatever is told to no persona).
Persona memories stay with their persona: the global stream does not include them, and
no persona sees another's. No call can reach another user's memories: each scope is its
own Chroma collection, named from the user and persona ids.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction, Where
from chromadb.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from miolumi.config import Settings
from miolumi.core.memory.embeddings import (
    QueryEmbeddings,
    embed_documents,
    embedding_function,
)
from miolumi.core.memory.index import RESERVED, ScopeIndex, day_of, match_text, to_memory
from miolumi.core.memory.relevance import RelevanceWeights, recency
from miolumi.core.memory.store import collection_name, guarded, open_client
from miolumi.core.memory.types import (
    EXPORT_FORMAT,
    MAX_MEMORY_CHARS,
    WRITE_BATCH,
    Memory,
    MemoryDump,
    MemoryHit,
    MemoryRecord,
    Metadata,
    NewMemory,
    WriteResult,
    to_epoch,
)
from miolumi.db.engine import LazyEngine
from miolumi.db.schema_core import utcnow
from miolumi.db.schema_memory import GLOBAL_SCOPE, MemoryScope
from miolumi.errors import MemoryInputError, MemoryNotFoundError, MemoryStoreError

#: Cosine similarity from which a new fact is the same as a stored one.
DUPLICATE_SIMILARITY = 0.92
#: Scopes whose index a process keeps in memory.
CACHED_SCOPES = 256
#: Query embeddings a process keeps: a turn embeds its message once, for the emotion
#: engine and for recall.
CACHED_QUERIES = 64
_SECONDS_PER_DAY = 86_400.0


def _check_ids(user_id: str, agent_id: str | None) -> None:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 128:
        raise MemoryInputError("A user id must be 1 to 128 characters: pass --user ID.")
    if agent_id is not None and (not agent_id.strip() or len(agent_id) > 64):
        raise MemoryInputError(
            "A persona id must be 1 to 64 characters: pass --persona NAME, or omit it for "
            "the global stream."
        )


def _check_text(text: str, what: str = "memory") -> str:
    if not isinstance(text, str) or not text.strip():
        raise MemoryInputError(f"The {what} is empty: give it some text.")
    text = text.strip()
    if len(text) > MAX_MEMORY_CHARS:
        raise MemoryInputError(
            f"The {what} is {len(text):,} characters long; the limit is {MAX_MEMORY_CHARS:,}: "
            "split it into several memories."
        )
    return text


def _check_metadata(metadata: Mapping[str, Any] | None) -> Metadata:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise MemoryInputError("Memory metadata must be a flat dict of str/int/float/bool.")
    checked: Metadata = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or key.startswith(RESERVED):
            raise MemoryInputError(
                f"Metadata key {key!r} is not allowed: use a non-empty string not starting "
                f"with {RESERVED!r}."
            )
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, float) and not np.isfinite(value)
        ):
            raise MemoryInputError(
                f"Metadata {key!r} must be a str, int, finite float or bool, not "
                f"{type(value).__name__}: flatten or convert it."
            )
        checked[key] = value
    return checked


def _check_importance(importance: float | None) -> float:
    if importance is None:
        return 0.5
    if not isinstance(importance, int | float) or not 0.0 <= float(importance) <= 1.0:
        raise MemoryInputError(f"Importance must be between 0 and 1, not {importance!r}.")
    return float(importance)


def _scaler(values: Mapping[int, float], *, default: float) -> Callable[[float], float]:
    """Min-max scaling fitted on ``values``, clipped at 0 for values below the range."""
    if not values:
        return lambda value: 0.0
    low, high = min(values.values()), max(values.values())
    if high <= low:
        return lambda value: 1.0 if value >= high and high > 0 else 0.0
    span = high - low
    return lambda value: max(0.0, (value - low) / span)


def _where(since: datetime | None, until: datetime | None) -> Where | None:
    clauses: list[dict[str, Any]] = []
    if since is not None:
        clauses.append({"mlm_ts": {"$gte": to_epoch(since)}})
    if until is not None:
        clauses.append({"mlm_ts": {"$lte": to_epoch(until)}})
    if not clauses:
        return None
    return cast(Where, clauses[0] if len(clauses) == 1 else {"$and": clauses})


class MemoryManager:
    """Add, search, update, delete, export and import the memories of users.

    Chroma holds the memories (one collection per scope, see `miolumi.core.memory.store`);
    SQL holds the registry of scopes. Methods are synchronous and thread-safe; async
    callers run them with ``asyncio.to_thread``.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        weights: RelevanceWeights | None = None,
        embedder: EmbeddingFunction[Documents] | None = None,
    ) -> None:
        self.settings = settings
        self.weights = weights or RelevanceWeights.from_mapping(settings.memory_weights)
        self.embedder = embedder or embedding_function(settings)
        self._lock = threading.RLock()
        self._client: ClientAPI | None = None
        self._db = LazyEngine(url=settings.relational_url)
        self._collections: dict[str, Collection] = {}
        self._indexes: OrderedDict[str, ScopeIndex] = OrderedDict()
        self._queries = QueryEmbeddings(self.embedder, size=CACHED_QUERIES)

    # Resources ---------------------------------------------------------------------------

    @property
    def client(self) -> ClientAPI:
        """The Chroma client, opened on first use."""
        with self._lock:
            if self._client is None:
                self._client = open_client(self.settings)
            return self._client

    @property
    def engine(self) -> Engine:
        """The SQL engine of the scope registry, opened (and migrated) on first use."""
        return self._db.get()

    @property
    def embedding_model(self) -> str:
        """The name of the embedding function (``miolumi-use-m3`` by default)."""
        return str(self.embedder.name())

    def query_embedding(self, text: str) -> npt.NDArray[np.float32]:
        """The embedding of ``text`` as a search query: a read-only 1-d float32 vector.

        The last `CACHED_QUERIES` are kept, so a turn that hands its message's embedding to
        the emotion engine (see ``graphs/nodes/emotion.py``) does not pay for it again when
        :meth:`search` recalls memories for the same message. Raises `MemoryInputError` for
        text that cannot be a query (empty, too long), `EmbeddingError` if embedding fails.
        """
        return self._queries.embed(_check_text(text, "query"))

    def cached_query_embedding(self, text: str) -> npt.NDArray[np.float32] | None:
        """:meth:`query_embedding` of ``text`` if it is cached, else None; never embeds.

        Cheap enough for the event loop: callers skip a thread hop when it answers.
        """
        return self._queries.cached(text)

    def close(self) -> None:
        """Release the SQL engine and forget cached collections and indexes."""
        self._db.close()
        with self._lock:
            self._collections.clear()
            self._indexes.clear()

    @contextmanager
    def _guard(self, action: str, stored: list[str] | None = None) -> Iterator[None]:
        with guarded(self.settings, action, stored=stored):
            yield

    def _scope_row(self, user_id: str, agent_id: str | None) -> tuple[str, int] | None:
        with Session(self.engine) as session:
            row = session.get(MemoryScope, (user_id, agent_id or GLOBAL_SCOPE))
            return (row.collection, row.revision) if row else None

    def _reserve(self, user_id: str, agent_id: str | None, count: int) -> tuple[str, int]:
        """Register the scope if new and reserve ``count`` sequence numbers.

        The revision moves only once the write has landed (:meth:`_bump`).
        """
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            row = session.get(
                MemoryScope, (user_id, agent_id or GLOBAL_SCOPE), with_for_update=True
            )
            if row is None:
                row = MemoryScope(
                    user_id=user_id,
                    agent_id=agent_id or GLOBAL_SCOPE,
                    collection=collection_name(user_id, agent_id),
                    revision=0,
                    next_seq=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
            first = row.next_seq
            row.next_seq = first + count
            row.updated_at = now
            return row.collection, first

    def _bump(self, user_id: str, agent_id: str | None) -> None:
        """Advance the scope's revision once its collection has changed (or failed to).

        Only after the write: a reader that read the revision and the collection while
        the write was landing then sees its cached index go stale, instead of keeping an
        index that passes for current until the next write.
        """
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(MemoryScope)
                .where(
                    MemoryScope.user_id == user_id,
                    MemoryScope.agent_id == (agent_id or GLOBAL_SCOPE),
                )
                .values(revision=MemoryScope.revision + 1, updated_at=utcnow())
            )

    def _collection(self, name: str, *, create: bool) -> Collection | None:
        with self._lock:
            cached = self._collections.get(name)
        if cached is not None:
            return cached
        with self._guard("open the collection of"):
            try:
                if create:
                    collection = self.client.get_or_create_collection(
                        name, embedding_function=cast(Any, self.embedder)
                    )
                else:
                    collection = self.client.get_collection(
                        name, embedding_function=cast(Any, self.embedder)
                    )
            except NotFoundError:
                return None
            except ValueError as exc:
                if "embedding function" not in str(exc).lower():
                    raise
                raise MemoryStoreError(
                    f"These memories were embedded with another model than "
                    f"MIOLUMI_EMBEDDINGS={self.settings.embeddings!r} ({exc}): set it back, or "
                    "export the user's memories, delete them and import them again."
                ) from exc
        with self._lock:
            self._collections[name] = collection
        return collection

    def _index(self, collection: Collection, name: str, revision: int, **ids: Any) -> ScopeIndex:
        with self._lock:
            index = self._indexes.get(name)
            if index is not None and index.revision == revision:
                self._indexes.move_to_end(name)
                return index
        with self._guard("read"):
            data = collection.get(include=["documents", "metadatas"])
        documents = data["documents"] or []
        metadatas = data["metadatas"] or []
        memories = [
            to_memory(mid, doc, dict(meta or {}), **ids)
            for mid, doc, meta in zip(data["ids"], documents, metadatas, strict=True)
        ]
        index = ScopeIndex.build(revision=revision, memories=memories)
        with self._lock:
            self._indexes[name] = index
            while len(self._indexes) > CACHED_SCOPES:
                self._indexes.popitem(last=False)
        return index

    def _open_scope(
        self, user_id: str, agent_id: str | None
    ) -> tuple[Collection, ScopeIndex] | None:
        _check_ids(user_id, agent_id)
        scope = self._scope_row(user_id, agent_id)
        if scope is None:
            return None
        name, revision = scope
        collection = self._collection(name, create=False)
        if collection is None:
            return None
        index = self._index(collection, name, revision, user_id=user_id, agent_id=agent_id)
        return collection, index

    # Writing -----------------------------------------------------------------------------

    def add(
        self,
        user_id: str,
        text: str,
        *,
        agent_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        importance: float | None = None,
        context: str | None = None,
        episode: str | None = None,
        slot: str | None = None,
    ) -> str:
        """Store one memory and return its id.

        :param metadata: flat str/int/float/bool values, returned unchanged in hits.
        :param timestamp: when it was said or happened (default: now).
        :param importance: 0 (trivia) to 1 (life event); default 0.5.
        :param context: what surrounded it (the question it answers); matched, not shown.
        :param episode: memories of one episode, in order, are each other's neighbours.
        :param slot: what the fact is about; see :meth:`remember`.
        """
        item = NewMemory(
            text=text,
            metadata=cast(Metadata | None, metadata),
            timestamp=timestamp,
            importance=importance,
            context=context,
            episode=episode,
            slot=slot,
        )
        return self.add_many(user_id, [item], agent_id=agent_id)[0]

    def add_many(
        self, user_id: str, items: Sequence[NewMemory], *, agent_id: str | None = None
    ) -> list[str]:
        """Store several memories in order (bulk import); returns their ids.

        Everything is validated and embedded before anything is written. If the store
        fails part-way, the `MemoryStoreError` lists in ``stored`` the ids already written.
        """
        _check_ids(user_id, agent_id)
        if not items:
            return []
        now = time.time()
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        texts: list[str] = []
        for item in items:
            text = _check_text(item.text)
            meta: dict[str, Any] = dict(_check_metadata(item.metadata))
            moment = item.timestamp or datetime.now(UTC)
            meta["mlm_ts"] = to_epoch(moment)
            meta["mlm_importance"] = _check_importance(item.importance)
            meta["mlm_updated"] = now
            context = item.context.strip() if item.context and item.context.strip() else None
            if context:
                meta["mlm_context"] = context[:MAX_MEMORY_CHARS]
            if item.episode:
                meta["mlm_episode"] = item.episode
            if item.slot:
                meta["mlm_slot"] = item.slot.strip().lower()
            ids.append(item.id or uuid.uuid4().hex)
            documents.append(text)
            metadatas.append(meta)
            texts.append(match_text(text, context=context, day=day_of(moment)))
        if len(set(ids)) != len(ids):
            raise MemoryInputError("Two memories in one batch share an id: make ids unique.")
        vectors = np.vstack(
            [
                embed_documents(self.embedder, texts[i : i + WRITE_BATCH])
                for i in range(0, len(texts), WRITE_BATCH)
            ]
        )
        name, first = self._reserve(user_id, agent_id, len(items))
        for offset, meta in enumerate(metadatas):
            meta["mlm_seq"] = first + offset
        collection = self._collection(name, create=True)
        assert collection is not None
        stored: list[str] = []
        try:
            for start in range(0, len(ids), WRITE_BATCH):
                end = start + WRITE_BATCH
                with self._guard("write", stored):
                    collection.upsert(
                        ids=ids[start:end],
                        embeddings=vectors[start:end],
                        documents=documents[start:end],
                        metadatas=cast(Any, metadatas[start:end]),
                    )
                stored.extend(ids[start:end])
        finally:
            self._bump(user_id, agent_id)
        return ids

    def update(
        self,
        user_id: str,
        memory_id: str,
        *,
        agent_id: str | None = None,
        text: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        importance: float | None = None,
        context: str | None = None,
    ) -> Memory:
        """Change a memory; fields left None keep their value. Returns the new memory."""
        old = self.get(user_id, memory_id, agent_id=agent_id)
        new_text = _check_text(text) if text is not None else old.text
        new_meta = _check_metadata(metadata) if metadata is not None else old.metadata
        moment = timestamp or old.timestamp
        new_context = context if context is not None else old.context
        stored: dict[str, Any] = dict(new_meta)
        stored.update(
            mlm_ts=to_epoch(moment),
            mlm_importance=_check_importance(importance)
            if importance is not None
            else old.importance,
            mlm_updated=time.time(),
            mlm_seq=old.seq,
        )
        if new_context:
            stored["mlm_context"] = new_context
        if old.episode:
            stored["mlm_episode"] = old.episode
        if old.slot:
            stored["mlm_slot"] = old.slot
        vector = embed_documents(
            self.embedder, [match_text(new_text, context=new_context, day=day_of(moment))]
        )
        name = collection_name(user_id, agent_id)
        collection = self._collection(name, create=False)
        assert collection is not None
        try:
            with self._guard("update"):
                collection.update(
                    ids=[memory_id],
                    embeddings=vector,
                    documents=[new_text],
                    metadatas=cast(Any, [stored]),
                )
        finally:
            self._bump(user_id, agent_id)
        return self.get(user_id, memory_id, agent_id=agent_id)

    def delete(self, user_id: str, memory_id: str, *, agent_id: str | None = None) -> None:
        """Forget one memory; an unknown id raises `MemoryNotFoundError`."""
        self.get(user_id, memory_id, agent_id=agent_id)
        name = collection_name(user_id, agent_id)
        collection = self._collection(name, create=False)
        assert collection is not None
        try:
            with self._guard("delete"):
                collection.delete(ids=[memory_id])
        finally:
            self._bump(user_id, agent_id)

    def delete_user(self, user_id: str) -> int:
        """Forget everything of ``user_id``, every persona's scope included; returns how many.

        Chroma collections go first, then the SQL registry, so a failure part-way leaves
        the registry pointing at what is left and the call can simply be repeated.
        """
        _check_ids(user_id, None)
        with Session(self.engine) as session:
            rows = session.scalars(select(MemoryScope).where(MemoryScope.user_id == user_id))
            scopes = [(row.agent_id, row.collection) for row in rows]
        names = {name for _, name in scopes} | {collection_name(user_id, None)}
        removed = 0
        for name in sorted(names):
            with self._lock:
                self._collections.pop(name, None)
                self._indexes.pop(name, None)
            with self._guard("delete"):
                try:
                    removed += self.client.get_collection(name).count()
                    self.client.delete_collection(name)
                except NotFoundError:
                    continue
        with Session(self.engine) as session, session.begin():
            session.execute(delete(MemoryScope).where(MemoryScope.user_id == user_id))
        return removed

    def remember(
        self,
        user_id: str,
        text: str,
        *,
        agent_id: str | None = None,
        timestamp: datetime | None = None,
        importance: float | None = None,
        context: str | None = None,
        episode: str | None = None,
        slot: str | None = None,
    ) -> WriteResult:
        """Store a fact unless it is already known; a newer value of a known slot replaces it.

        - same ``slot`` as a stored memory (``"home city"``): that memory is updated
          (a contradiction resolves to the newer fact);
        - a near-duplicate (cosine >= ``DUPLICATE_SIMILARITY``): that memory is refreshed
          (newer wording and date, the higher importance);
        - otherwise a new memory is added.
        """
        text = _check_text(text)
        slot = slot.strip().lower() if slot and slot.strip() else None
        opened = self._open_scope(user_id, agent_id)
        if opened is not None:
            collection, index = opened
            probe = match_text(text, context=context, day=day_of(timestamp or datetime.now(UTC)))
            match = self._same_fact(collection, index, probe, slot)
            if match is not None:
                if match.text == text:
                    return WriteResult(action="unchanged", id=match.id)
                merged = max(match.importance, _check_importance(importance))
                self.update(
                    user_id,
                    match.id,
                    agent_id=agent_id,
                    text=text,
                    timestamp=timestamp or datetime.now(UTC),
                    importance=merged,
                    context=context,
                )
                return WriteResult(action="updated", id=match.id)
        memory_id = self.add(
            user_id,
            text,
            agent_id=agent_id,
            timestamp=timestamp,
            importance=importance,
            context=context,
            episode=episode,
            slot=slot,
        )
        return WriteResult(action="added", id=memory_id)

    def _same_fact(
        self, collection: Collection, index: ScopeIndex, text: str, slot: str | None
    ) -> Memory | None:
        if slot:
            for memory in reversed(index.memories):
                if memory.slot == slot:
                    return memory
        if not index.memories:
            return None
        vector = embed_documents(self.embedder, [text])
        with self._guard("read"):
            found = collection.query(query_embeddings=vector, n_results=1, include=["distances"])
        distances = (found["distances"] or [[]])[0]
        if not distances or 1.0 - float(distances[0]) < DUPLICATE_SIMILARITY:
            return None
        position = index.positions.get(found["ids"][0][0])
        return index.memories[position] if position is not None else None

    # Reading -----------------------------------------------------------------------------

    def get(self, user_id: str, memory_id: str, *, agent_id: str | None = None) -> Memory:
        """The memory ``memory_id`` of this scope; `MemoryNotFoundError` if there is none."""
        _check_ids(user_id, agent_id)
        if not isinstance(memory_id, str) or not memory_id:
            raise MemoryNotFoundError(str(memory_id))
        scope = self._scope_row(user_id, agent_id)
        collection = self._collection(scope[0], create=False) if scope else None
        if collection is None:
            raise MemoryNotFoundError(memory_id)
        with self._guard("read"):
            data = collection.get(ids=[memory_id], include=["documents", "metadatas"])
        if not data["ids"]:
            raise MemoryNotFoundError(memory_id)
        document = (data["documents"] or [""])[0]
        meta = dict((data["metadatas"] or [{}])[0] or {})
        return to_memory(memory_id, document, meta, user_id=user_id, agent_id=agent_id)

    def memories(
        self, user_id: str, *, agent_id: str | None = None, limit: int | None = None
    ) -> list[Memory]:
        """The scope's memories, newest first (at most ``limit``)."""
        opened = self._open_scope(user_id, agent_id)
        if opened is None:
            return []
        memories = sorted(opened[1].memories, key=lambda m: (m.timestamp, m.seq), reverse=True)
        return memories[:limit] if limit is not None else memories

    def scopes(self, user_id: str) -> list[str | None]:
        """The personas (None: the global stream) this user has memories with."""
        _check_ids(user_id, None)
        with Session(self.engine) as session:
            rows = session.scalars(
                select(MemoryScope.agent_id).where(MemoryScope.user_id == user_id)
            )
            return [agent or None for agent in sorted(rows)]

    def search(
        self,
        user_id: str,
        query: str,
        *,
        agent_id: str | None = None,
        k: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[MemoryHit]:
        """The ``k`` memories of this scope most relevant to ``query``, best first.

        Relevance fuses semantic similarity, BM25 (CJK-aware), the scores of neighbouring
        memories of the same episode, recency and importance (see
        `miolumi.core.memory.relevance`). ``since``/``until`` bound the memories' timestamps.
        """
        query = _check_text(query, "query")
        if not isinstance(k, int) or not 1 <= k <= 1000:
            raise MemoryInputError(f"k must be between 1 and 1000, not {k!r}.")
        opened = self._open_scope(user_id, agent_id)
        if opened is None:
            return []
        collection, index = opened
        if not index.memories:
            return []
        return self._rank(collection, index, query, k=k, since=since, until=until)

    def _rank(
        self,
        collection: Collection,
        index: ScopeIndex,
        query: str,
        *,
        k: int,
        since: datetime | None,
        until: datetime | None,
    ) -> list[MemoryHit]:
        weights = self.weights
        allowed = self._allowed(index, since, until)
        vector = self.query_embedding(query)[np.newaxis, :]
        n = min(weights.candidates, len(index.memories))
        with self._guard("search"):
            found = collection.query(
                query_embeddings=vector,
                n_results=n,
                where=_where(since, until),
                include=["distances"],
            )
        semantic: dict[int, float] = {}
        for memory_id, distance in zip(
            found["ids"][0], (found["distances"] or [[]])[0], strict=True
        ):
            position = index.positions.get(memory_id)
            if position is not None:
                semantic[position] = 1.0 - float(distance)
        lexical_all = index.lexical.scores(query)
        if allowed is not None:
            lexical_all = {p: s for p, s in lexical_all.items() if allowed[p]}
        lexical_top = sorted(lexical_all, key=lexical_all.__getitem__, reverse=True)[:n]
        candidates = set(semantic) | set(lexical_top)
        if not candidates:
            return []
        floor = min(semantic.values()) if semantic else 0.0
        sem_of = _scaler({p: semantic.get(p, floor) for p in candidates}, default=floor)
        lex_of = _scaler({p: lexical_all.get(p, 0.0) for p in candidates}, default=0.0)

        def sem(position: int) -> float:
            return weights.semantic * sem_of(semantic.get(position, floor))

        def lex(position: int) -> float:
            return weights.lexical * lex_of(lexical_all.get(position, 0.0))

        pool = set(candidates)
        for position in candidates:
            pool.update(p for p in index.neighbours(position) if allowed is None or allowed[p])
        now = time.time()
        hits: list[MemoryHit] = []
        for position in pool:
            memory = index.memories[position]
            around = [sem(p) + lex(p) for p in index.neighbours(position)]
            age_days = (now - memory.timestamp.timestamp()) / _SECONDS_PER_DAY
            parts = {
                "semantic": sem(position),
                "lexical": lex(position),
                "neighbours": weights.neighbours * max(around, default=0.0),
                "recency": weights.recency * recency(age_days, weights.half_life_days),
                "importance": weights.importance * memory.importance,
            }
            hits.append(
                MemoryHit(
                    id=memory.id,
                    text=memory.text,
                    score=sum(parts.values()),
                    metadata=dict(memory.metadata),
                    timestamp=memory.timestamp,
                    agent_id=memory.agent_id,
                    importance=memory.importance,
                    parts=parts,
                )
            )
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:k]

    @staticmethod
    def _allowed(
        index: ScopeIndex, since: datetime | None, until: datetime | None
    ) -> list[bool] | None:
        if since is None and until is None:
            return None
        low = to_epoch(since) if since else float("-inf")
        high = to_epoch(until) if until else float("inf")
        return [low <= m.timestamp.timestamp() <= high for m in index.memories]

    # Export / import ---------------------------------------------------------------------

    def export(self, user_id: str) -> dict[str, Any]:
        """Every memory of ``user_id`` (all scopes) as JSON-serialisable data."""
        records: list[MemoryRecord] = []
        for agent_id in self.scopes(user_id):
            for memory in sorted(self.memories(user_id, agent_id=agent_id), key=lambda m: m.seq):
                records.append(
                    MemoryRecord(
                        id=memory.id,
                        agent_id=agent_id,
                        text=memory.text,
                        metadata=dict(memory.metadata),
                        timestamp=memory.timestamp,
                        importance=memory.importance,
                        context=memory.context,
                        episode=memory.episode,
                        slot=memory.slot,
                        seq=memory.seq,
                    )
                )
        dump = MemoryDump(
            user_id=user_id,
            embeddings=self.settings.embeddings,
            exported_at=datetime.now(UTC),
            memories=records,
        )
        return dump.to_json_data()

    def import_(self, dump: Mapping[str, Any], *, user_id: str | None = None) -> int:
        """Store the memories of an :meth:`export` dump (ids kept; re-importing is idempotent).

        :param user_id: import them as this user instead of the dump's.
        :returns: the number of memories stored.
        """
        try:
            parsed = MemoryDump.model_validate(dump)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "dump"
            raise MemoryInputError(
                f"Not a {EXPORT_FORMAT} export: {where}: {first['msg']}. Pass a file written "
                "by `miolumi memory export`."
            ) from exc
        target = user_id or parsed.user_id
        by_scope: dict[str | None, list[MemoryRecord]] = {}
        for record in parsed.memories:
            by_scope.setdefault(record.agent_id, []).append(record)
        total = 0
        for agent_id, records in by_scope.items():
            items = [
                NewMemory(
                    id=r.id,
                    text=r.text,
                    metadata=r.metadata,
                    timestamp=r.timestamp,
                    importance=r.importance,
                    context=r.context,
                    episode=r.episode,
                    slot=r.slot,
                )
                for r in sorted(records, key=lambda r: r.seq)
            ]
            total += len(self.add_many(target, items, agent_id=agent_id))
        return total
