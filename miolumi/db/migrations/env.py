"""Alembic environment: runs on the connection miolumi hands over, or on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from miolumi.db import schema_core
from miolumi.db import schema_cost as _schema_cost  # noqa: F401  (its tables in the metadata)
from miolumi.db import schema_guard as _schema_guard  # noqa: F401  (its tables in the metadata)
from miolumi.db import schema_lumi as _schema_lumi  # noqa: F401  (its tables in the metadata)
from miolumi.db import schema_memory as _schema_memory  # noqa: F401  (tables in the metadata)
from miolumi.db import schema_mio as _schema_mio  # noqa: F401  (its tables in the metadata)
from miolumi.db import schema_server as _schema_server  # noqa: F401  (tables in the metadata)

target_metadata = schema_core.Base.metadata


def run() -> None:
    """Run migrations online (the only mode miolumi uses)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url or "sqlite://")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
