"""Thread leases: at most one turn runs on a thread at a time, across processes.

Revision ID: 0002_core_leases
Revises: 0001_core
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_core_leases"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create thread_leases."""
    op.create_table(
        "thread_leases",
        sa.Column("thread_id", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),  # Unix time, seconds
    )


def downgrade() -> None:
    """Drop thread_leases."""
    op.drop_table("thread_leases")
