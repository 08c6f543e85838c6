"""Memory: the registry of memory scopes (one Chroma collection each).

Revision ID: memory_0001
Revises: 0001_core
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "memory_0001"
down_revision = "0001_core"
branch_labels = ("memory",)
depends_on = None


def upgrade() -> None:
    """Create memory_scopes."""
    op.create_table(
        "memory_scopes",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("agent_id", sa.String(64), primary_key=True),
        sa.Column("collection", sa.String(128), nullable=False, unique=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop memory_scopes."""
    op.drop_table("memory_scopes")
