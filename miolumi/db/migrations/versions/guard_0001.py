"""Guardrails: the guard_flags table (flags and blocks, without message text).

Revision ID: guard_0001
Revises: 0001_core
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "guard_0001"
down_revision = "0001_core"
branch_labels = ("guard",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create guard_flags and its indexes."""
    op.create_table(
        "guard_flags",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
    )
    op.create_index("ix_guard_flags_user_at", "guard_flags", ["user_id", "at"])
    op.create_index("ix_guard_flags_category_at", "guard_flags", ["category", "at"])


def downgrade() -> None:
    """Drop guard_flags."""
    op.drop_index("ix_guard_flags_category_at", table_name="guard_flags")
    op.drop_index("ix_guard_flags_user_at", table_name="guard_flags")
    op.drop_table("guard_flags")
