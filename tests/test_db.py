"""Relational store: migrations on first use, conversation records, bad URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from miolumi.config import load_settings
from miolumi.db import conversations
from miolumi.db.engine import MIGRATIONS, open_database
from miolumi.errors import ConfigError, StorageError, ThreadOwnershipError

# The configured database: PostgreSQL too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    return cfg


def test_migrations_create_the_core_tables() -> None:
    engine = open_database(load_settings().relational_url)
    tables = set(inspect(engine).get_table_names())
    assert {"users", "conversations", "alembic_version"} <= tables
    with engine.connect() as conn:
        applied = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    # Every capability's branch starts from 0001_core; each branch's head is applied.
    script = ScriptDirectory.from_config(_alembic_config())
    assert applied == set(script.get_heads())
    for head in applied:
        assert "0001_core" in {r.revision for r in script.iterate_revisions(head, "base")}
    # Opening again is a no-op, not an error.
    open_database(load_settings().relational_url).dispose()
    engine.dispose()


def test_record_and_find_conversations() -> None:
    engine = open_database(load_settings().relational_url)
    conversations.record_turn(
        engine, thread_id="t1", user_id="u1", product="mio", agent_id="mio", turns=1
    )
    conversations.record_turn(
        engine, thread_id="t2", user_id="u1", product="mio", agent_id="mio", turns=1
    )
    conversations.record_turn(
        engine, thread_id="t1", user_id="u1", product="mio", agent_id="mio", turns=2
    )
    info = conversations.get(engine, "t1")
    assert info is not None and info.turns == 2
    assert conversations.latest(engine, user_id="u1", product="mio", agent_id="mio") == "t1"
    assert conversations.latest(engine, user_id="u1", product="lumi", agent_id=None) is None
    assert conversations.latest(engine, user_id="u2", product="mio", agent_id="mio") is None
    with pytest.raises(ThreadOwnershipError):
        conversations.check_owner(
            engine, thread_id="t1", user_id="u2", product="mio", agent_id="mio"
        )


def test_bad_database_url_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="MIOLUMI_DATABASE_URL"):
        open_database("not a url")


def test_unwritable_database_names_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "x.db").mkdir()  # a directory where the file should be
    with pytest.raises(StorageError, match="Cannot open the database"):
        open_database(f"sqlite:///{folder / 'x.db'}")


def test_concurrent_first_turns_of_a_new_user_do_not_collide() -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = open_database(load_settings().relational_url)

    def first_turn(i: int) -> None:
        conversations.record_turn(
            engine, thread_id=f"t{i}", user_id="new", product="lumi", agent_id=None, turns=1
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(first_turn, range(16)))
    assert conversations.latest(engine, user_id="new", product="lumi", agent_id=None) is not None
    for i in range(16):
        info = conversations.get(engine, f"t{i}")
        assert info is not None and info.user_id == "new" and info.turns == 1
