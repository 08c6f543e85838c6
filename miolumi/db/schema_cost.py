"""Cost tables: the usage ledger, spending totals per period, and budget reservations.

Money is stored as whole pico-dollars (USD x 10^12) in integer columns, so sums are exact
on SQLite and PostgreSQL alike; the mapped attributes are ``Decimal`` USD.

- ``cost_usage``: one row per paid (or metered) call.
- ``cost_totals``: spending per scope (``*`` for everyone, ``u:<user id>``) and period
  (``d:YYYY-MM-DD``, ``m:YYYY-MM``, UTC), kept in step with the ledger, so that a budget
  check reads a handful of rows instead of summing the ledger.
- ``cost_reservations``: the upper bound of calls in flight, counted against budgets
  until the call's ledger row replaces them (or they expire).
- ``cost_lock``: one row that every writer updates first, which serialises budget
  checks and ledger writes across processes (a row lock on PostgreSQL, the write lock
  on SQLite).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Dialect, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from miolumi.db.schema_core import Base, utcnow

PICO = Decimal(10) ** 12
"""Pico-dollars per dollar."""


def to_pico(usd: Decimal) -> int:
    """Whole pico-dollars of ``usd`` (rounded half-even)."""
    return int((usd * PICO).to_integral_value())


def from_pico(pico: int) -> Decimal:
    """USD of ``pico`` pico-dollars, normalised (``Decimal('0.00045')``, not ``...000``)."""
    value = Decimal(pico) / PICO
    return value.normalize() if value else Decimal(0)


class Money(TypeDecorator[Decimal]):
    """USD as ``Decimal`` in Python, whole pico-dollars in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        """Store dollars as pico-dollars."""
        return None if value is None else to_pico(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Read pico-dollars back as dollars."""
        return None if value is None else from_pico(int(value))


_ID = BigInteger().with_variant(Integer(), "sqlite")


class UsageRow(Base):
    """One call to a model or service, with its units, cost and attribution."""

    __tablename__ = "cost_usage"
    __table_args__ = (
        Index("ix_cost_usage_created_at", "created_at"),
        Index("ix_cost_usage_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[str] = mapped_column(String(128))
    product: Mapped[str | None] = mapped_column(String(16), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    thread_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    turn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    characters: Mapped[int | None] = mapped_column(Integer, nullable=True)
    audio_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    images: Mapped[int | None] = mapped_column(Integer, nullable=True)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when the token counts were counted locally (the provider reported none)."""
    cost: Mapped[Decimal | None] = mapped_column("cost_pusd", Money, nullable=True)
    """USD; None when the model has no known price."""
    latency_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), default="ok")
    """``ok``, or ``error`` for a call that failed (priced on what it streamed)."""


class TotalRow(Base):
    """Spending of one scope in one period."""

    __tablename__ = "cost_totals"

    scope: Mapped[str] = mapped_column(String(140), primary_key=True)
    period: Mapped[str] = mapped_column(String(12), primary_key=True)
    spent: Mapped[Decimal] = mapped_column("spent_pusd", Money)


class ReservationRow(Base):
    """The most a call in flight may cost, held against the budgets until it is settled."""

    __tablename__ = "cost_reservations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    amount: Mapped[Decimal] = mapped_column("amount_pusd", Money)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LockRow(Base):
    """The single row writers update first, to take the budget lock."""

    __tablename__ = "cost_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
