"""Opening Chroma (a local directory or a server) and turning its failures into domain errors.

Layout: one collection per scope, a scope being a user's global stream or a user and
one persona. A search then reads one small collection with no metadata filter (the
fast path measured in ``benchmarks/memory_scale.py``), and isolation between users and
personas is structural: a query can only ever reach its own collection.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.config import DEFAULT_DATABASE
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError, NotFoundError

from miolumi.config import Settings
from miolumi.errors import ConfigError, MemoryStoreError, MiolumiError

log = logging.getLogger(__name__)

#: Directory under the data dir that holds the local Chroma store.
CHROMA_DIR = "memories"


def collection_name(user_id: str, agent_id: str | None) -> str:
    """The Chroma collection of a scope: hashed ids, so any user id is a valid name."""
    user = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:24]
    agent = hashlib.sha256(agent_id.encode("utf-8")).hexdigest()[:12] if agent_id else "global"
    return f"mem-{user}-{agent}"


def location(settings: Settings) -> str:
    """Where the memories are, for messages: the server URL or the directory."""
    return settings.chroma_url or str(settings.home / CHROMA_DIR)


def _fix(settings: Settings) -> str:
    if settings.chroma_url:
        return (
            f"check that the Chroma server at {settings.chroma_url} is running and reachable "
            "(MIOLUMI_CHROMA_URL), then retry"
        )
    return (
        f"check the permissions of {location(settings)} and that no other program holds it; "
        "if it is corrupted, move it aside and restore the memories with "
        "`miolumi memory import` from an export"
    )


@contextmanager
def guarded(settings: Settings, action: str, *, stored: list[str] | None = None) -> Iterator[None]:
    """Run a Chroma call; any failure becomes a `MemoryStoreError` naming the fix."""
    try:
        yield
    except MiolumiError:
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"Cannot {action} memories at {location(settings)} ({detail}): {_fix(settings)}."
        if stored:
            message += f" {len(stored)} memories were stored before the failure."
        raise MemoryStoreError(message, stored=stored) from exc


def _chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _ensure_database(name: str, *, host: str, port: int, ssl: bool) -> None:
    """Create the database ``name`` in the server's default tenant unless it exists."""
    admin = chromadb.AdminClient(
        ChromaSettings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=host,
            chroma_server_http_port=port,
            chroma_server_ssl_enabled=ssl,
            anonymized_telemetry=False,
        )
    )
    try:
        admin.get_database(name)
    except NotFoundError:
        try:
            admin.create_database(name)
        except ChromaError as exc:  # another process created it in between
            if "already exists" not in str(exc):
                raise


def open_client(settings: Settings) -> ClientAPI:
    """The Chroma client of ``settings``: ``HttpClient`` by URL, else a local directory."""
    if settings.chroma_url:
        parts = urlsplit(settings.chroma_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"MIOLUMI_CHROMA_URL {settings.chroma_url!r} is not a URL: use e.g. "
                "http://127.0.0.1:8000"
            )
        port = parts.port or (443 if parts.scheme == "https" else 8000)
        host, ssl = parts.hostname, parts.scheme == "https"
        with guarded(settings, "connect to"):
            database = settings.chroma_database
            if database:
                _ensure_database(database, host=host, port=port, ssl=ssl)
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=ssl,
                settings=_chroma_settings(),
                database=database or DEFAULT_DATABASE,
            )
            client.heartbeat()
        return client
    path = Path(location(settings))
    with guarded(settings, "open"):
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
        client.heartbeat()
        client.list_collections(limit=1)
    return client
