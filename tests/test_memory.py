"""MemoryManager on a real Chroma store and the real bundled embedding model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from miolumi.config import load_settings
from miolumi.core.memory import MemoryManager, NewMemory
from miolumi.core.memory.store import collection_name
from miolumi.db.schema_memory import MemoryScope
from miolumi.errors import (
    ConfigError,
    EmbeddingError,
    MemoryInputError,
    MemoryNotFoundError,
    MemoryStoreError,
)
from miolumi.testing import FakeOpenAIServer, free_port

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout


@pytest.fixture
def memory(home: Path) -> MemoryManager:
    manager = MemoryManager(settings=load_settings())
    yield manager
    manager.close()


def texts(hits: list) -> list[str]:
    return [h.text for h in hits]


# Scoping -------------------------------------------------------------------------------


def test_persona_never_sees_another_personas_memories(memory: MemoryManager) -> None:
    memory.add("ada", "I told Kai about my trip to Iceland", agent_id="kai")
    memory.add("ada", "I told Sora about my trip to Japan", agent_id="sora")
    assert texts(memory.search("ada", "trip", agent_id="kai")) == [
        "I told Kai about my trip to Iceland"
    ]
    assert texts(memory.search("ada", "trip", agent_id="sora")) == [
        "I told Sora about my trip to Japan"
    ]


def test_lumi_sees_the_global_stream_only(memory: MemoryManager) -> None:
    memory.add("ada", "My cat is called Miso")
    memory.add("ada", "My dog is called Rex", agent_id="kai")
    assert texts(memory.search("ada", "what pets do I have?")) == ["My cat is called Miso"]
    assert texts(memory.search("ada", "what pets do I have?", agent_id="kai")) == [
        "My dog is called Rex"
    ]


def test_a_user_never_sees_another_users_memories(memory: MemoryManager) -> None:
    memory.add("x", "My password hint is the blue door")
    memory.add("x", "The blue door again", agent_id="kai")
    assert memory.search("y", "blue door") == []
    assert memory.search("y", "blue door", agent_id="kai") == []
    assert memory.memories("y") == []
    with pytest.raises(MemoryNotFoundError):
        memory.get("y", memory.memories("x")[0].id)


def test_hits_carry_metadata_timestamp_and_scope(memory: MemoryManager) -> None:
    when = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    meta = {"dia_id": "D1:3", "n": 3, "w": 0.5, "ok": True}
    memory_id = memory.add(
        "ada",
        "I went to a support group",
        agent_id="kai",
        metadata=meta,
        timestamp=when,
        importance=0.9,
    )
    [hit] = memory.search("ada", "support group", agent_id="kai")
    assert (hit.id, hit.metadata, hit.timestamp, hit.agent_id) == (memory_id, meta, when, "kai")
    assert hit.importance == 0.9 and hit.score > 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Which food can I not eat?", "I'm allergic to peanuts."),
        ("我不能吃什么？", "我对花生过敏。"),
        ("食べられないものは何？", "私はピーナッツアレルギーです。"),
        ("我的宠物叫什么？", "My cat is called Miso."),
    ],
)
def test_multilingual_recall(memory: MemoryManager, query: str, expected: str) -> None:
    memory.add_many(
        "ada",
        [
            NewMemory(text=t)
            for t in [
                "I'm allergic to peanuts.",
                "我对花生过敏。",
                "私はピーナッツアレルギーです。",
                "My cat is called Miso.",
                "I work night shifts at the hospital.",
                "我下个月要去上海出差。",
                "来週、京都へ旅行します。",
            ]
        ],
    )
    found = texts(memory.search("ada", query, k=3))
    assert expected in found


def test_neighbours_bring_the_answer_with_its_question(memory: MemoryManager) -> None:
    memory.add_many(
        "ada",
        [
            NewMemory(text="Kai: What did you do last weekend?", episode="s1"),
            NewMemory(text="Ada: Mostly slept, honestly.", episode="s1"),
            NewMemory(text="Ada: I bought a red bicycle today.", episode="s2"),
        ],
    )
    hits = texts(memory.search("ada", "what did Ada do last weekend?", k=2))
    assert hits == ["Kai: What did you do last weekend?", "Ada: Mostly slept, honestly."]


def test_since_and_until_bound_the_timestamps(memory: MemoryManager) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    memory.add("ada", "I lived in Lisbon", timestamp=old)
    memory.add("ada", "I live in Berlin", timestamp=old + timedelta(days=900))
    cut = old + timedelta(days=10)
    assert texts(memory.search("ada", "where do I live", since=cut)) == ["I live in Berlin"]
    assert texts(memory.search("ada", "where do I live", until=cut)) == ["I lived in Lisbon"]


# Writing: duplicates, contradictions, update, delete -------------------------------------


def test_duplicates_and_contradictions_update_instead_of_piling_up(
    memory: MemoryManager,
) -> None:
    first = memory.remember("ada", "I love hiking in the Alps")
    again = memory.remember("ada", "I really love hiking in the Alps")
    assert (again.action, again.id) == ("updated", first.id)
    assert memory.remember("ada", "I really love hiking in the Alps").action == "unchanged"
    home = memory.remember("ada", "I live in Paris", slot="home")
    moved = memory.remember("ada", "I live in Berlin now", slot="Home")
    assert (moved.action, moved.id) == ("updated", home.id)
    assert sorted(texts(memory.memories("ada"))) == [
        "I live in Berlin now",
        "I really love hiking in the Alps",
    ]


def test_update_and_delete(memory: MemoryManager) -> None:
    memory_id = memory.add("ada", "My favourite colour is blue", metadata={"k": 1})
    updated = memory.update("ada", memory_id, text="My favourite colour is green")
    assert (updated.text, updated.metadata) == ("My favourite colour is green", {"k": 1})
    assert texts(memory.search("ada", "favourite colour")) == ["My favourite colour is green"]
    memory.delete("ada", memory_id)
    assert memory.search("ada", "favourite colour") == []
    with pytest.raises(MemoryNotFoundError, match="miolumi memory list"):
        memory.delete("ada", memory_id)
    with pytest.raises(MemoryNotFoundError):
        memory.update("ada", "nope", text="x")


# Persistence, deletion, export/import ----------------------------------------------------

_WRITER = """
import sys
from miolumi.config import load_settings
from miolumi.core.memory import MemoryManager
m = MemoryManager(settings=load_settings())
print(m.add("ada", sys.argv[1], agent_id="kai"))
"""


def _other_process(text: str) -> str:
    env = {**os.environ}
    result = subprocess.run(
        [sys.executable, "-c", _WRITER, text], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_memories_persist_across_processes(memory: MemoryManager) -> None:
    memory.add("ada", "My sister Anna lives in Oslo", agent_id="kai")
    assert len(memory.search("ada", "sister", agent_id="kai")) == 1  # index now cached
    new_id = _other_process("My brother Tom lives in Rome")
    hits = memory.search("ada", "brother Tom", agent_id="kai")
    assert hits[0].id == new_id
    fresh = MemoryManager(settings=load_settings())
    assert {m.text for m in fresh.memories("ada", agent_id="kai")} == {
        "My sister Anna lives in Oslo",
        "My brother Tom lives in Rome",
    }
    fresh.close()


def test_delete_user_leaves_nothing_behind(memory: MemoryManager) -> None:
    memory.add("ada", "global fact")
    memory.add("ada", "kai fact", agent_id="kai")
    memory.add("ada", "sora fact", agent_id="sora")
    memory.add("bob", "bob fact")
    assert memory.delete_user("ada") == 3
    names = {c.name for c in memory.client.list_collections()}
    assert not {collection_name("ada", a) for a in (None, "kai", "sora")} & names
    with Session(memory.engine) as session:
        rows = session.scalars(select(MemoryScope).where(MemoryScope.user_id == "ada")).all()
    assert rows == []
    assert memory.export("ada")["memories"] == []
    assert texts(memory.search("bob", "fact")) == ["bob fact"]


def test_export_import_round_trip(memory: MemoryManager) -> None:
    when = datetime(2023, 5, 8, tzinfo=UTC)
    memory.add("ada", "I love astronomy", metadata={"src": "chat"}, timestamp=when)
    memory.add(
        "ada",
        "Kai knows I play cello",
        agent_id="kai",
        importance=0.8,
        context="Do you play anything?",
        episode="t1",
    )
    dump = memory.export("ada")
    json.dumps(dump)  # JSON-serialisable as is
    assert memory.delete_user("ada") == 2
    assert memory.import_(dump) == 2
    again = memory.export("ada")
    assert again["memories"] == dump["memories"]
    assert memory.import_(dump) == 2  # same ids: idempotent
    assert len(memory.export("ada")["memories"]) == 2
    assert memory.import_(dump, user_id="ada2") == 2
    assert texts(memory.search("ada2", "cello", agent_id="kai")) == ["Kai knows I play cello"]


# Bad input and broken stores -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "   "}, "empty"),
        ({"text": "x" * 9000}, "split it"),
        ({"text": "ok", "metadata": {"nested": {"a": 1}}}, "flatten"),
        ({"text": "ok", "metadata": {"mlm_ts": 1}}, "not allowed"),
        ({"text": "ok", "importance": 2.0}, "between 0 and 1"),
    ],
)
def test_bad_memories_are_refused_and_nothing_is_written(
    memory: MemoryManager, kwargs: dict, message: str
) -> None:
    with pytest.raises(MemoryInputError, match=message):
        memory.add("ada", **kwargs)
    assert memory.memories("ada") == []


def test_bad_batch_writes_nothing(memory: MemoryManager) -> None:
    with pytest.raises(MemoryInputError):
        memory.add_many("ada", [NewMemory(text="fine"), NewMemory(text="")])
    assert memory.memories("ada") == []


def test_bad_queries_and_dumps(memory: MemoryManager) -> None:
    with pytest.raises(MemoryInputError):
        memory.search("ada", "")
    with pytest.raises(MemoryInputError):
        memory.search("ada", "x", k=0)
    with pytest.raises(MemoryInputError, match="user id"):
        memory.add("", "text")
    with pytest.raises(MemoryInputError, match="memory export"):
        memory.import_({"format": "something else"})


def test_corrupted_store_is_a_clear_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIOLUMI_CHROMA_URL", raising=False)  # the local directory's case
    store = home / "memories"
    store.mkdir(parents=True)
    (store / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    manager = MemoryManager(settings=load_settings())
    with pytest.raises(MemoryStoreError, match="move it aside"):
        manager.add("ada", "hello")
    manager.close()


def test_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIOLUMI_CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    manager = MemoryManager(settings=load_settings())
    with pytest.raises(MemoryStoreError, match="MIOLUMI_CHROMA_URL"):
        manager.add("ada", "hello")


def test_bad_settings_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="MIOLUMI_EMBEDDINGS"):
        MemoryManager(settings=load_settings(embeddings="word2vec"))
    with pytest.raises(ConfigError, match="MIOLUMI_MEMORY_WEIGHTS"):
        MemoryManager(settings=load_settings(memory_weights={"semantik": 1.0}))
    monkeypatch.setenv("MIOLUMI_CHROMA_URL", "not a url")
    with pytest.raises(ConfigError, match="MIOLUMI_CHROMA_URL"):
        MemoryManager(settings=load_settings()).add("ada", "x")


def test_memories_on_an_openai_compatible_embeddings_endpoint(home: Path) -> None:
    with FakeOpenAIServer(embedding_models=["embed-small"]) as endpoint, ExitStack() as stack:
        settings = load_settings(embeddings="openai:embed-small", base_url=endpoint.base_url)
        manager = MemoryManager(settings=settings)
        wrong = MemoryManager(settings=load_settings(
            embeddings="openai:embed-nope", base_url=endpoint.base_url
        ))  # fmt: skip
        stack.callback(manager.close)
        stack.callback(wrong.close)
        manager.add("ada", "my sister lives in Lisbon")
        manager.add("ada", "I play the cello on Sundays")
        assert texts(manager.search("ada", "where does my sister live?"))[0] == (
            "my sister lives in Lisbon"
        )
        assert any(r.path == "/v1/embeddings" for r in endpoint.requests)
        with pytest.raises(EmbeddingError, match="MIOLUMI_EMBEDDINGS"):
            wrong.add("bea", "hello")
        assert wrong.memories("bea") == []


def test_a_read_while_a_write_lands_does_not_hide_the_write(
    memory: MemoryManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.add("ada", "I live in Paris.")
    real = memory._collection

    def reader_first(name: str, *, create: bool) -> Any:
        if create:  # the write has reserved its revision; a reader caches the scope now
            assert len(memory.memories("ada")) == 1
        return real(name, create=create)

    monkeypatch.setattr(memory, "_collection", reader_first)
    memory.add("ada", "I have two cats.")
    monkeypatch.undo()
    texts = sorted(m.text for m in memory.memories("ada"))
    assert texts == ["I have two cats.", "I live in Paris."]


# Query embeddings ------------------------------------------------------------------------


def test_a_cached_query_embedding_is_read_without_embedding(
    memory: MemoryManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = memory.embedder
    real = embedder.embed_query
    embedded: list[str] = []

    def spy(input: list[str]) -> Any:
        embedded.extend(input)
        return real(input)

    monkeypatch.setattr(embedder, "embed_query", spy)
    text = "What did I say about my sister?"
    assert memory.cached_query_embedding(text) is None
    assert embedded == []  # asking the cache never embeds
    vector = memory.query_embedding(f"  {text} ")
    assert memory.cached_query_embedding(f"{text}\n") is vector
    assert memory.query_embedding(text) is vector
    assert embedded == [text]


def test_a_failed_query_embedding_is_not_cached_and_is_tried_again(
    memory: MemoryManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = memory.embedder
    real = embedder.embed_query
    calls: list[str] = []

    def flaky(input: list[str]) -> Any:
        calls.extend(input)
        if len(calls) == 1:
            raise RuntimeError("the model is not there")
        return real(input)

    monkeypatch.setattr(embedder, "embed_query", flaky)
    with pytest.raises(EmbeddingError, match="the model is not there"):
        memory.query_embedding("my cat")
    assert memory.cached_query_embedding("my cat") is None
    assert memory.query_embedding("my cat").shape == (512,)
    assert calls == ["my cat", "my cat"]
