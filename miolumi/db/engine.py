"""The engine factory: SQLite by default, PostgreSQL by URL; migrations applied on first use."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from miolumi.errors import ConfigError, StorageError

MIGRATIONS = str(Path(__file__).with_name("migrations"))

#: Advisory lock key held (on PostgreSQL) while a process migrates the schema.
MIGRATE_LOCK = 0x6D6C_6D67  # "mlmg"

_lock = threading.Lock()
_migrated: set[str] = set()


#: Pragmas of every SQLite connection miolumi opens. With WAL, ``synchronous=NORMAL``
#: keeps commits safe from a crash of the process and skips an fsync per commit; only a
#: power cut may lose the last commits, never corrupt the file. The WAL is truncated
#: back to 1 MiB after checkpoints instead of keeping its largest size forever.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA journal_size_limit=1048576",
    "PRAGMA busy_timeout=5000",
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"MIOLUMI_DATABASE_URL is not a database URL ({url!r}): "
            "use e.g. postgresql+psycopg://user:pass@host/db"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision of every branch (once per URL per process).

    Each schema module (core, cost, mio, lumi, ...) has its own Alembic branch starting
    from ``0001_core``, so capabilities add tables without ordering against each other.
    """
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        if key in _migrated:
            return
        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Workers starting at once on a new database migrate one at a time;
                    # the lock goes with the transaction.
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                    )
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "heads")
        except OperationalError as exc:
            raise StorageError(
                f"Cannot open the database {engine.url.render_as_string()}: {exc.orig}. "
                "Check MIOLUMI_DATABASE_URL, the server, and file permissions."
            ) from exc
        _migrated.add(key)


def open_database(url: str) -> Engine:
    """Create the engine for ``url`` and migrate it."""
    engine = create_db_engine(url)
    migrate(engine)
    return engine


class LazyEngine:
    """The engine of one URL, opened (and migrated) on first use and released by ``close``."""

    def __init__(self, *, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def get(self) -> Engine:
        """The engine, created and migrated on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = open_database(self.url)
            return self._engine

    def close(self) -> None:
        """Release the connections; the next ``get`` opens them again."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


class DatabaseStore:
    """Base of the stores that own one database: opened (and migrated) on first use."""

    def __init__(self, *, url: str) -> None:
        self.url = url
        self._db = LazyEngine(url=url)

    @property
    def engine(self) -> Engine:
        """The database engine, created and migrated on first use."""
        return self._db.get()

    def close(self) -> None:
        """Release the database connections (the store reopens them when used again)."""
        self._db.close()
