"""LangGraph checkpointers for conversation threads: SQLite by default, PostgreSQL by URL.

Only the latest checkpoint of a thread is needed to continue it, so after each turn
:func:`prune_thread` drops the older ones; with the bounded message window of the
turn state, the store stays bounded however long a thread runs.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from miolumi.db.engine import SQLITE_PRAGMAS
from miolumi.errors import ConfigError

if TYPE_CHECKING:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection

_KEEP_LATEST_SQLITE = (
    "DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id NOT IN ("
    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? "
    "ORDER BY checkpoint_id DESC LIMIT 1)"
)


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(("postgresql", "postgres"))


def _psycopg_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme.startswith("postgres") else url


@asynccontextmanager
async def open_checkpointer(url: str) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Open (and set up) the checkpointer for ``url``: a PostgreSQL URL or a SQLite path."""
    if is_postgres(url):
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError as exc:
            raise ConfigError(
                "PostgreSQL needs the postgres extra: pip install 'miolumi[postgres]'"
            ) from exc
        async with AsyncPostgresSaver.from_conn_string(_psycopg_url(url)) as pg:
            await _setup_postgres(pg, url)
            yield pg
        return
    Path(url).expanduser().parent.mkdir(parents=True, exist_ok=True)
    _prepare_sqlite(url)
    async with AsyncSqliteSaver.from_conn_string(url) as saver:
        await saver.setup()
        for pragma in SQLITE_PRAGMAS:
            await saver.conn.execute(pragma)
        yield saver


#: Advisory lock key held while the checkpoint tables are created or migrated.
SETUP_LOCK = 0x6D6C_636B  # "mlck"

#: Seconds between two tries to take an advisory lock.
LOCK_POLL_SECONDS = 0.02

_set_up: set[str] = set()


async def _setup_postgres(saver: AsyncPostgresSaver, url: str) -> None:
    """Create or migrate the checkpoint tables once per URL per process.

    Its ``CREATE TABLE IF NOT EXISTS`` is not safe to run concurrently: sessions opening
    a new database at once (20 turns in one process, two server workers) failed with a
    unique violation in PostgreSQL's catalog. An advisory lock runs the setups one at a
    time, across processes too.
    """
    from psycopg import AsyncConnection

    if url in _set_up:
        return
    conn = saver.conn
    if not isinstance(conn, AsyncConnection):  # pragma: no cover - we open a connection
        raise TypeError("expected a connection, not a pool")
    async with _advisory_lock(conn, "%s", (SETUP_LOCK,)):
        await saver.setup()
    _set_up.add(url)


@asynccontextmanager
async def _advisory_lock(
    conn: AsyncConnection[Any], key_sql: str, params: tuple[Any, ...]
) -> AsyncIterator[None]:
    """Hold a session-level advisory lock of ``conn`` (the key is SQL with parameters).

    Polled, not waited for: a session blocked in ``pg_advisory_lock`` is a statement in
    progress, and a lock holder running the savers' ``CREATE INDEX CONCURRENTLY`` waits
    for every such statement to end: a deadlock.
    """
    while True:
        cursor = await conn.execute(f"SELECT pg_try_advisory_lock({key_sql}) AS taken", params)
        row = await cursor.fetchone()
        if row and row["taken"]:
            break
        await asyncio.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        await conn.execute(f"SELECT pg_advisory_unlock({key_sql})", params)


_prepared: set[str] = set()
_prepare_lock = threading.Lock()


def _prepare_sqlite(path: str) -> None:
    """Create the checkpoint tables and switch to WAL once per file per process.

    Switching a new file to WAL needs it to itself; twenty sessions opening a fresh file
    at once each tried, and under load some waited past SQLite's busy timeout ("database
    is locked"). Done once, first, the savers' own setup finds everything in place.
    """
    with _prepare_lock:
        if path in _prepared:
            return
        with closing(sqlite3.connect(path, timeout=30, check_same_thread=False)) as conn:
            SqliteSaver(conn).setup()
        _prepared.add(path)


async def prune_thread(saver: BaseCheckpointSaver[str], thread_id: str) -> None:
    """Keep only the latest checkpoint (and its writes) of ``thread_id``."""
    if isinstance(saver, AsyncSqliteSaver):
        async with saver.lock:
            for table in ("writes", "checkpoints"):
                await saver.conn.execute(
                    _KEEP_LATEST_SQLITE.format(table=table), (thread_id, thread_id)
                )
            await saver.conn.commit()
        return
    await saver.aprune([thread_id], strategy="keep_latest")
