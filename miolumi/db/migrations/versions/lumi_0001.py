"""Lumi: personality seeds and versioned personality snapshots.

Revision ID: lumi_0001
Revises: 0001_core
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lumi_0001"
down_revision = "0001_core"
branch_labels = ("lumi",)
depends_on = None


def upgrade() -> None:
    """Create lumi_seeds and lumi_snapshots."""
    op.create_table(
        "lumi_seeds",
        sa.Column(
            "user_id",
            sa.String(128),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seed_json", sa.Text(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("exchanges", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lumi_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            sa.String(128),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("personality_json", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("drift", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "version", name="uq_lumi_snapshot_version"),
    )
    op.create_index("ix_lumi_snapshots_user_id", "lumi_snapshots", ["user_id"])


def downgrade() -> None:
    """Drop lumi_snapshots and lumi_seeds."""
    op.drop_index("ix_lumi_snapshots_user_id", table_name="lumi_snapshots")
    op.drop_table("lumi_snapshots")
    op.drop_table("lumi_seeds")
