"""Relational storage (SQLAlchemy 2 + Alembic) and conversation checkpoints."""
