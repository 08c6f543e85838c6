"""Fresh databases on real servers for the scale-out tests (PostgreSQL and Chroma).

`.ci/services` starts both servers and prints their URLs; with
``MIOLUMI_TEST_DATABASE_URL`` and ``MIOLUMI_TEST_CHROMA_URL`` set, every test marked
``scaleout`` runs on a PostgreSQL database and a Chroma database of its own, created
for it and dropped after it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

DATABASE_ENV = "MIOLUMI_TEST_DATABASE_URL"
CHROMA_ENV = "MIOLUMI_TEST_CHROMA_URL"

#: Read at import: the test fixtures clear every MIOLUMI_* variable before each test.
DATABASE_URL = os.environ.get(DATABASE_ENV)
CHROMA_URL = os.environ.get(CHROMA_ENV)

SKIP_REASON = (
    f"needs real servers: set {DATABASE_ENV}=postgresql://... and {CHROMA_ENV}=http://... "
    '(`eval "$(.ci/services)"` starts both)'
)


def configured() -> bool:
    """Whether both servers are configured."""
    return bool(DATABASE_URL and CHROMA_URL)


@dataclass(frozen=True, kw_only=True)
class ServerDatabases:
    """A PostgreSQL database and a Chroma database made for one test."""

    database_url: str
    chroma_url: str
    chroma_database: str


def _psycopg_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    """``url`` pointing at the database ``name`` instead."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()


def _chroma_admin(url: str) -> object:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    parts = urlsplit(url)
    return chromadb.AdminClient(
        ChromaSettings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=parts.hostname,
            chroma_server_http_port=parts.port or 8000,
            anonymized_telemetry=False,
        )
    )


def _drop_database(admin: str, name: str, *, attempts: int = 20) -> None:
    """Drop a test database, waiting out an autovacuum worker that is still in it.

    ``WITH (FORCE)`` ends the test's own connections, but not a worker of the server's
    superuser, which the test role may not signal: that attempt fails and is retried.
    """
    import psycopg

    for attempt in range(attempts):
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)


@contextmanager
def fresh_databases() -> Iterator[ServerDatabases]:
    """Create an empty PostgreSQL database (and name a Chroma one); drop both afterwards."""
    import psycopg

    assert DATABASE_URL and CHROMA_URL, SKIP_REASON
    name = f"mlt_{uuid.uuid4().hex[:16]}"
    admin = _psycopg_url(DATABASE_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ServerDatabases(
            database_url=with_database(DATABASE_URL, name),
            chroma_url=CHROMA_URL,
            chroma_database=name,
        )
    finally:
        _drop_database(admin, name)
        chroma = _chroma_admin(CHROMA_URL)
        try:
            chroma.delete_database(name)  # type: ignore[attr-defined]
        except Exception as exc:  # never created: the test wrote no memory
            if "not found" not in str(exc).lower():
                raise
