"""Ledger storage: rows, totals and reservations, under one lock that works on both databases.

Every transaction that changes spending begins by updating the single ``cost_lock`` row.
On PostgreSQL that takes a row lock held until commit; on SQLite an UPDATE as the first
statement takes the database's write lock (waiting up to the busy timeout). Either way
budget checks and ledger writes are serialised, across threads and processes, so that a
check always sees every settled call and every reservation of calls in flight.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from miolumi.core.cost.budget import BudgetPolicy, Cap, Decision, Period, period_key
from miolumi.db.schema_cost import LockRow, ReservationRow, TotalRow, UsageRow
from miolumi.errors import LedgerError

_PERIODS: tuple[Period, ...] = ("daily", "monthly")
_USAGE_COLUMNS = {
    name: column.key for name, column in UsageRow.__mapper__.columns.items() if name != "id"
}
"""Row field -> ``cost_usage`` column key (money columns are named for their unit)."""
_engine_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
_engine_locks_guard = threading.Lock()


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """A priced call, ready to insert."""

    created_at: datetime
    user_id: str
    product: str | None
    agent_id: str | None
    thread_id: str | None
    turn: int | None
    kind: str
    provider: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    characters: int | None
    audio_seconds: float | None
    images: int | None
    estimated: bool
    cost: Decimal | None
    latency_ms: float
    status: str
    reservation_id: str | None


def _process_lock(engine: Engine) -> threading.Lock:
    """One lock per database in this process, so threads queue here, not in SQLite's busy loop."""
    key = engine.url.render_as_string(hide_password=False)
    with _engine_locks_guard:
        return _engine_locks[key]


def _take_lock(conn: Connection) -> None:
    conn.execute(update(LockRow).where(LockRow.id == 1).values(version=LockRow.version + 1))


def _spent(
    conn: Connection, policy: BudgetPolicy, user_id: str, now: datetime
) -> dict[Cap, Decimal]:
    """What each cap has spent (settled) plus what is reserved, at ``now``."""
    keys = {cap: cap.key(user_id, now) for cap in policy.caps}
    scopes = {scope for scope, _ in keys.values()}
    settled = select(TotalRow.scope, TotalRow.period, TotalRow.spent).where(
        TotalRow.scope.in_(scopes)
    )
    totals = {(scope, period): spent for scope, period, spent in conn.execute(settled)}
    reserved_all = reserved_user = Decimal(0)
    live = select(ReservationRow.user_id, ReservationRow.amount).where(
        ReservationRow.expires_at > now
    )
    for owner, amount in conn.execute(live):
        reserved_all += amount
        if owner == user_id:
            reserved_user += amount
    return {
        cap: totals.get(key, Decimal(0))
        + (reserved_all if cap.scope == "global" else reserved_user)
        for cap, key in keys.items()
    }


def standing(
    engine: Engine, policy: BudgetPolicy, *, user_id: str, now: datetime
) -> dict[Cap, Decimal]:
    """Each cap's spending (settled and in flight) for ``user_id`` at ``now``."""
    try:
        with engine.connect() as conn:
            return _spent(conn, policy, user_id, now)
    except SQLAlchemyError as exc:
        raise LedgerError(f"Cannot read the budget from the database: {exc}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """A model a call could use, and the most that call may cost."""

    model: str
    estimate: Decimal
    degraded: bool = False


def reserve(
    engine: Engine,
    policy: BudgetPolicy,
    *,
    user_id: str,
    offers: Sequence[Offer],
    now: datetime,
    ttl: timedelta,
) -> tuple[Decision, Offer | None, str | None]:
    """Atomically decide on the first acceptable offer and reserve its estimate.

    Offers are tried in order (the model asked for, then the cheaper one when the policy
    says ``degrade``). Returns the decision, the offer taken (None when refused) and the
    reservation id (None when refused or when the offer is free).
    """
    lock = _process_lock(engine)
    try:
        with lock, engine.begin() as conn:
            _take_lock(conn)
            spent = _spent(conn, policy, user_id, now)
            decision = policy.decide(spent, offers[0].estimate)
            chosen: Offer | None = offers[0]
            if decision.action == "degrade" and len(offers) > 1:
                chosen = offers[1]
                second = policy.decide(spent, chosen.estimate)
                if policy.refuses(second):
                    decision, chosen = second, None
            elif policy.refuses(decision):
                chosen = None
            if chosen is None or chosen.estimate <= 0:
                return _final(decision, chosen), chosen, None
            reservation = uuid.uuid4().hex
            conn.execute(
                insert(ReservationRow).values(
                    id=reservation,
                    user_id=user_id,
                    amount=chosen.estimate,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
            return _final(decision, chosen), chosen, reservation
    except SQLAlchemyError as exc:
        raise LedgerError(
            f"Cannot reserve budget in the database ({exc}): check MIOLUMI_DATABASE_URL."
        ) from exc


def _final(decision: Decision, chosen: Offer | None) -> Decision:
    if chosen is None:
        return Decision(action="stop", cap=decision.cap, spent=decision.spent, over=True)
    if chosen.degraded:
        return Decision(
            action="degrade", cap=decision.cap, spent=decision.spent, over=decision.over
        )
    return decision


def release(engine: Engine, reservation_ids: Sequence[str]) -> None:
    """Drop reservations of calls that will not be recorded (refused or never made)."""
    if not reservation_ids:
        return
    try:
        with _process_lock(engine), engine.begin() as conn:
            conn.execute(delete(ReservationRow).where(ReservationRow.id.in_(reservation_ids)))
    except SQLAlchemyError as exc:
        raise LedgerError(f"Cannot release a budget reservation: {exc}") from exc


def write(engine: Engine, rows: Sequence[Row], *, now: datetime) -> None:
    """Insert ``rows``, add their costs to the totals and drop their reservations, atomically."""
    if not rows:
        return
    added: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.cost:
            for scope in ("*", f"u:{row.user_id}"):
                for period in _PERIODS:
                    added[(scope, period_key(period, row.created_at))] += row.cost
    values = [
        {column: getattr(row, name) for name, column in _USAGE_COLUMNS.items()} for row in rows
    ]
    reservations = [row.reservation_id for row in rows if row.reservation_id]
    with _process_lock(engine), engine.begin() as conn:
        _take_lock(conn)
        conn.execute(insert(UsageRow), values)
        for (scope, key), amount in added.items():
            done = conn.execute(
                update(TotalRow)
                .where(TotalRow.scope == scope, TotalRow.period == key)
                .values(spent=TotalRow.spent + amount)
            )
            if done.rowcount == 0:
                conn.execute(insert(TotalRow).values(scope=scope, period=key, spent=amount))
        if reservations:
            conn.execute(delete(ReservationRow).where(ReservationRow.id.in_(reservations)))
        conn.execute(delete(ReservationRow).where(ReservationRow.expires_at <= now))
