"""Reports over the usage ledger: calls, units and cost, grouped one way, since some time."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Engine, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import QueryableAttribute

from miolumi.db.schema_cost import UsageRow
from miolumi.errors import InputError, StorageError

Group = Literal["day", "user", "product", "persona", "kind", "model"]
GROUPS: tuple[str, ...] = get_args(Group)
_SPAN = re.compile(r"^(\d+)\s*([hdwm])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageLine:
    """Totals of one group."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    characters: int
    audio_seconds: float
    images: int
    cost: Decimal
    """USD of the priced calls."""
    unpriced: int
    """Calls whose cost is unknown (not counted in ``cost``)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON and CSV (cost as a decimal string)."""
        data = asdict(self)
        data["cost"] = str(self.cost)
        return data


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``7d``, ``24h``, ``2w``, ``3m`` (30-day months) or an ISO date, as a UTC time."""
    now = now or datetime.now(UTC)
    match = _SPAN.match(text.strip().lower())
    if match:
        count, unit = int(match.group(1)), match.group(2)
        return now - (timedelta(days=30 * count) if unit == "m" else count * _UNITS[unit])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"Cannot read --since {text!r}: use a span such as 7d, 24h, 2w, 3m or a date "
            "such as 2026-11-01."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _key(by: Group) -> ColumnElement[Any] | QueryableAttribute[Any]:
    if by == "day":
        return func.date(UsageRow.created_at)
    if by == "user":
        return UsageRow.user_id
    if by == "product":
        return UsageRow.product
    if by == "persona":
        return UsageRow.agent_id
    if by == "kind":
        return UsageRow.kind
    if by == "model":
        return UsageRow.provider + ":" + UsageRow.model
    raise InputError(f"Cannot group by {by!r}: use one of {', '.join(GROUPS)}.")


def summarize(
    engine: Engine, *, by: Group = "day", since: datetime | None = None, user_id: str | None = None
) -> list[UsageLine]:
    """Totals per group, ordered by the group's key."""
    key = _key(by).label("key")
    query = select(
        key,
        func.count(),
        func.coalesce(func.sum(UsageRow.input_tokens), 0),
        func.coalesce(func.sum(UsageRow.output_tokens), 0),
        func.coalesce(func.sum(UsageRow.characters), 0),
        func.coalesce(func.sum(UsageRow.audio_seconds), 0.0),
        func.coalesce(func.sum(UsageRow.images), 0),
        func.sum(UsageRow.cost),
        func.sum(case((UsageRow.cost.is_(None), 1), else_=0)),
    ).group_by(key)
    if since is not None:
        query = query.where(UsageRow.created_at >= since)
    if user_id is not None:
        query = query.where(UsageRow.user_id == user_id)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise StorageError(
            f"Cannot read the usage ledger: {exc}. Check MIOLUMI_DATABASE_URL."
        ) from exc
    lines = [
        UsageLine(
            key="(none)" if row[0] is None else str(row[0]),
            calls=int(row[1]),
            input_tokens=int(row[2]),
            output_tokens=int(row[3]),
            characters=int(row[4]),
            audio_seconds=float(row[5]),
            images=int(row[6]),
            cost=row[7] if row[7] is not None else Decimal(0),
            unpriced=int(row[8] or 0),
        )
        for row in rows
    ]
    return sorted(lines, key=lambda line: line.key)
