"""Scale-out: PostgreSQL and a Chroma server instead of files in the data directory.

Runs only with MIOLUMI_TEST_DATABASE_URL and MIOLUMI_TEST_CHROMA_URL set (`.ci/services`
starts both servers); each test gets databases of its own (tests/servers.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from miolumi.config import load_settings
from miolumi.db.engine import MIGRATIONS, open_database
from miolumi.errors import ConfigError
from miolumi.events import Event
from miolumi.session import ChatSession
from miolumi.testing import FakeOpenAIServer, ScriptedChatModel
from tests import servers
from tests.conftest import ServicesFactory

pytestmark = pytest.mark.scaleout
needs_servers = pytest.mark.skipif(not servers.configured(), reason=servers.SKIP_REASON)

ROOT = Path(__file__).resolve().parents[1]


async def run(chat: ChatSession, text: str) -> list[Event]:
    return [event async for event in chat.turn(text)]


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


@needs_servers
def test_migrations_apply_on_an_empty_database(
    server_databases: servers.ServerDatabases,
) -> None:
    engine = open_database(server_databases.database_url)
    assert engine.dialect.name == "postgresql"
    tables = set(inspect(engine).get_table_names())
    assert {"users", "conversations", "relationships", "lumi_seeds", "lumi_snapshots"} <= tables
    assert {"cost_usage", "cost_totals", "guard_flags", "memory_scopes"} <= tables
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.connect() as conn:
        applied = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    assert applied == set(ScriptDirectory.from_config(cfg).get_heads())
    engine.dispose()


@needs_servers
async def test_a_day_of_mio_and_lumi_lives_on_the_servers(
    make_services: ServicesFactory, home: Path
) -> None:
    model = ScriptedChatModel(replies=["Astronomy, lovely!", "Tell me more.", "I'm with you."])
    services = make_services(
        model=model,
        lumi_seed_exchanges=2,
        lumi_snapshot_every=1,
    )
    settings = services.settings
    assert settings.database_url and settings.chroma_url and settings.chroma_database
    async with ChatSession.open(user_id="ada", agent_id="kai", services=services) as chat:
        await run(chat, "My name is Ada and I love astronomy.")
        await run(chat, "I don't want to be here anymore. I want to die.")
        mio_thread = chat.thread_id
    async with ChatSession.open(user_id="ada", product="lumi", services=services) as chat:
        for text_ in ["I feel a bit lost lately.", "Work is hard.", "Thanks for listening."]:
            await run(chat, text_)
        lumi_thread = chat.thread_id

    await services.cost.aflush()
    engine = open_database(settings.relational_url)
    assert count(engine, "SELECT count(*) FROM conversations WHERE user_id='ada'") == 2
    assert count(engine, "SELECT turns FROM conversations WHERE thread_id=:t", t=mio_thread) == 2
    assert count(engine, "SELECT turns FROM relationships WHERE user_id='ada'") == 2  # Kai's
    calls = "SELECT count(*) FROM cost_usage WHERE user_id='ada' AND kind='llm'"
    assert count(engine, calls) == len(model.calls)
    assert count(engine, "SELECT count(*) FROM lumi_seeds WHERE user_id='ada'") == 1
    assert count(engine, "SELECT count(*) FROM lumi_snapshots WHERE user_id='ada'") >= 2
    flags = "SELECT count(*) FROM guard_flags WHERE user_id='ada' AND category='self_harm'"
    assert count(engine, flags) == 1
    # Threads are checkpointed in PostgreSQL too, pruned to the latest checkpoint.
    for thread in (mio_thread, lumi_thread):
        assert count(engine, "SELECT count(*) FROM checkpoints WHERE thread_id=:t", t=thread) == 1
    orphans = (
        "SELECT count(*) FROM checkpoint_writes w WHERE NOT EXISTS (SELECT 1 FROM checkpoints c "
        "WHERE c.thread_id = w.thread_id AND c.checkpoint_id = w.checkpoint_id)"
    )
    assert count(engine, orphans) == 0
    engine.dispose()

    # Memories went to the test's database on the Chroma server, and only there.
    hits = services.memory.search("ada", "astronomy", agent_id="kai")
    assert any("astronomy" in hit.text for hit in hits)
    global_stream = [m.text for m in services.memory.memories("ada")]  # Lumi's, not Kai's
    assert global_stream and not any("astronomy" in text_ for text_ in global_stream)
    port = int(settings.chroma_url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="127.0.0.1", port=port, database=settings.chroma_database)
    assert client.count_collections() >= 1
    # Nothing was written to the data directory's SQLite files or Chroma directory.
    assert not (home / "miolumi.db").exists()
    assert not (home / "threads.sqlite").exists()
    assert not (home / "memories").exists()


_OPEN_EVERYTHING = """
import asyncio, sys
from miolumi.db.checkpoints import open_checkpointer
from miolumi.db.engine import open_database

async def main() -> None:
    async with open_checkpointer(sys.argv[1]):
        pass

open_database(sys.argv[1]).dispose()
asyncio.run(main())
"""


@needs_servers
def test_workers_starting_together_on_an_empty_database(
    server_databases: servers.ServerDatabases,
) -> None:
    # Without the advisory locks, most of these failed: Alembic's and the checkpointer's
    # CREATE TABLEs racing (duplicate pg_type rows, duplicate migration versions).
    url = server_databases.database_url
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_EVERYTHING, url],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, errors
    engine = open_database(url)
    assert count(engine, "SELECT count(*) FROM alembic_version") >= 1
    assert count(engine, "SELECT count(*) FROM checkpoint_migrations") >= 1
    engine.dispose()


def test_the_servers_variables_may_stay_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(servers.DATABASE_ENV, "postgresql://u:p@127.0.0.1/db")
    monkeypatch.setenv(servers.CHROMA_ENV, "http://127.0.0.1:8000")
    settings = load_settings()  # known names (no ConfigError), and not settings
    assert "test_database_url" not in settings.model_dump()
    monkeypatch.setenv("MIOLUMI_TEST_DATABASE", "x")
    with pytest.raises(ConfigError, match="MIOLUMI_TEST_DATABASE"):
        load_settings()


class Worker:
    """A separate process running turns (tests/scaleout_worker.py), like a server worker."""

    def __init__(self, *, home: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.scaleout_worker"],
            cwd=ROOT,
            env={**os.environ, **env, "MIOLUMI_HOME": str(home)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, **request: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def receive(self, *, may_fail: bool = False) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the worker exited with {self.process.wait(timeout=10)}"
        answer: dict[str, Any] = json.loads(line)
        assert may_fail or "error" not in answer, answer["error"]
        return answer

    def turn(self, **request: str) -> dict[str, Any]:
        self.send(**request)
        return self.receive()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    """Two worker processes sharing only the servers, on an echoing fake endpoint."""
    with FakeOpenAIServer() as endpoint:
        env = {"MIOLUMI_BASE_URL": endpoint.base_url, "MIOLUMI_MODEL": "fake-model"}
        pair = (
            Worker(home=tmp_path / "worker-a", env=env),
            Worker(home=tmp_path / "worker-b", env=env),
        )
        try:
            for worker in pair:
                assert worker.receive() == {"ready": True}
            yield pair
        finally:
            for worker in pair:
                worker.close()


@needs_servers
def test_two_workers_alternate_turns_on_one_thread(workers: tuple[Worker, Worker]) -> None:
    expected: list[list[str]] = []
    for i in range(6):
        worker = workers[i % 2]
        answer = worker.turn(user="ada", thread="t-shared", text=f"message {i}")
        expected += [["human", f"message {i}"], ["ai", f"You said: message {i}"]]
        assert answer["turn"] == i + 1
        assert answer["reply"] == f"You said: message {i}"
        assert answer["history"] == expected
    # Lumi's thread of the same user, continued by the other worker.
    first = workers[1].turn(user="ada", product="lumi", thread="t-lumi", text="hello")
    second = workers[0].turn(user="ada", product="lumi", thread="t-lumi", text="again")
    assert (first["turn"], second["turn"]) == (1, 2)
    assert [text_ for _, text_ in second["history"]] == [
        "hello",
        "You said: hello",
        "again",
        "You said: again",
    ]


@needs_servers
def test_two_workers_racing_on_one_thread_lose_no_turn(workers: tuple[Worker, Worker]) -> None:
    """Sent at the same moment: one turn runs, the other is refused as busy, none is lost."""
    a, b = workers
    accepted: list[tuple[int, str]] = []
    for i in range(3):
        texts = {"a": f"from a {i}", "b": f"from b {i}"}
        a.send(user="ada", thread="t-race", text=texts["a"])
        b.send(user="ada", thread="t-race", text=texts["b"])
        answers = {"a": a.receive(may_fail=True), "b": b.receive(may_fail=True)}
        for who, answer in answers.items():
            if "error" in answer:
                assert answer["error"].startswith("ThreadBusyError"), answer
            else:
                accepted.append((answer["turn"], texts[who]))
                last = answer
    turns = sorted(turn for turn, _ in accepted)
    assert turns == list(range(1, len(turns) + 1)) and len(turns) >= 3
    said = [text_ for role, text_ in last["history"] if role == "human"]
    assert said == [text_ for _, text_ in sorted(accepted)]
    # Each reply follows its own message: turns were not interleaved.
    history = last["history"]
    for (role, text_), (next_role, reply) in zip(history[::2], history[1::2], strict=True):
        assert (role, next_role, reply) == ("human", "ai", f"You said: {text_}")
