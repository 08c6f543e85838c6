"""LangGraph checkpointers for conversation threads: SQLite by default, PostgreSQL by URL.

Only the latest checkpoint of a thread is needed to continue it, so after each turn
:func:`prune_thread` drops the older ones; with the bounded message window of the
turn state, the store stays bounded however long a thread runs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from miolumi.db.engine import SQLITE_PRAGMAS
from miolumi.errors import ConfigError

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
            await pg.setup()
            yield pg
        return
    Path(url).expanduser().parent.mkdir(parents=True, exist_ok=True)
    _prepare_sqlite(url)
    async with AsyncSqliteSaver.from_conn_string(url) as saver:
        await saver.setup()
        for pragma in SQLITE_PRAGMAS:
            await saver.conn.execute(pragma)
        yield saver


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
