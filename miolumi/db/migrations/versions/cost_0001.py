"""Cost: usage ledger, spending totals, budget reservations and the budget lock.

Revision ID: cost_0001
Revises: 0001_core
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cost_0001"
down_revision = "0001_core"
branch_labels = ("cost",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create cost_usage, cost_totals, cost_reservations and cost_lock (with its row)."""
    op.create_table(
        "cost_usage",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("product", sa.String(16), nullable=True),
        sa.Column("agent_id", sa.String(64), nullable=True),
        sa.Column("thread_id", sa.String(128), nullable=True),
        sa.Column("turn", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("characters", sa.Integer(), nullable=True),
        sa.Column("audio_seconds", sa.Float(), nullable=True),
        sa.Column("images", sa.Integer(), nullable=True),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("cost_pusd", sa.BigInteger(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
    )
    op.create_index("ix_cost_usage_created_at", "cost_usage", ["created_at"])
    op.create_index("ix_cost_usage_user_created", "cost_usage", ["user_id", "created_at"])
    op.create_table(
        "cost_totals",
        sa.Column("scope", sa.String(140), primary_key=True),
        sa.Column("period", sa.String(12), primary_key=True),
        sa.Column("spent_pusd", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "cost_reservations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("amount_pusd", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cost_reservations_user_id", "cost_reservations", ["user_id"])
    op.create_index("ix_cost_reservations_expires_at", "cost_reservations", ["expires_at"])
    lock = op.create_table(
        "cost_lock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(lock, [{"id": 1, "version": 0}])


def downgrade() -> None:
    """Drop the cost tables."""
    op.drop_table("cost_lock")
    op.drop_index("ix_cost_reservations_expires_at", table_name="cost_reservations")
    op.drop_index("ix_cost_reservations_user_id", table_name="cost_reservations")
    op.drop_table("cost_reservations")
    op.drop_table("cost_totals")
    op.drop_index("ix_cost_usage_user_created", table_name="cost_usage")
    op.drop_index("ix_cost_usage_created_at", table_name="cost_usage")
    op.drop_table("cost_usage")
