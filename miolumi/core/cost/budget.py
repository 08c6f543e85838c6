"""Budgets: caps per user and for everyone, per UTC day and month, and what happens near them.

The policy (from the settings) is pure: given what each capped scope has spent (including
calls in flight) and the most the next call may cost, :meth:`BudgetPolicy.decide` says
``ok``, ``warn``, ``degrade`` or ``stop``. Storage and locking live in
:mod:`miolumi.core.cost.store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from miolumi.config import Settings
from miolumi.errors import BudgetExceededError

Action = Literal["ok", "warn", "degrade", "stop"]
Scope = Literal["user", "global"]
Period = Literal["daily", "monthly"]


@dataclass(frozen=True, slots=True)
class Cap:
    """One spending cap."""

    scope: Scope
    period: Period
    limit: Decimal

    @property
    def label(self) -> str:
        """Human name, e.g. ``user daily``."""
        return f"{self.scope} {self.period}"

    @property
    def setting(self) -> str:
        """The environment variable that sets it."""
        return f"MIOLUMI_BUDGET_{self.scope.upper()}_{self.period.upper()}_USD"

    def key(self, user_id: str, when: datetime) -> tuple[str, str]:
        """The ``(scope, period)`` row of ``cost_totals`` this cap reads at ``when`` (UTC)."""
        scope = "*" if self.scope == "global" else f"u:{user_id}"
        return scope, period_key(self.period, when)


def period_key(period: Period, when: datetime) -> str:
    """``d:YYYY-MM-DD`` or ``m:YYYY-MM`` of a UTC time."""
    return f"d:{when:%Y-%m-%d}" if period == "daily" else f"m:{when:%Y-%m}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What the budget says about one call."""

    action: Action
    cap: Cap | None = None
    """The cap closest to (or past) its limit; None when no cap is set."""
    spent: Decimal = Decimal(0)
    """Spent and in flight on that cap before this call."""
    over: bool = False
    """Whether this call would cross that cap."""

    def error(self) -> BudgetExceededError:
        """The error refusing a call on this decision."""
        assert self.cap is not None
        return BudgetExceededError(
            cap=self.cap.label,
            spent=f"{self.spent:.4f}",
            limit=f"{self.cap.limit:.4f}",
            setting=self.cap.setting,
        )


@dataclass(frozen=True, kw_only=True)
class BudgetPolicy:
    """Caps and actions, as configured."""

    caps: tuple[Cap, ...]
    warn_at: float
    degrade_at: float | None
    on_cap: Literal["stop", "degrade", "warn"]
    degrade_model: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> BudgetPolicy:
        """The policy the settings describe."""
        candidates: list[tuple[Scope, Period, Decimal | None]] = [
            ("user", "daily", settings.budget_user_daily_usd),
            ("user", "monthly", settings.budget_user_monthly_usd),
            ("global", "daily", settings.budget_global_daily_usd),
            ("global", "monthly", settings.budget_global_monthly_usd),
        ]
        return cls(
            caps=tuple(Cap(s, p, limit) for s, p, limit in candidates if limit is not None),
            warn_at=settings.budget_warn_at,
            degrade_at=settings.budget_degrade_at,
            on_cap=settings.budget_on_cap,
            degrade_model=settings.budget_degrade_model,
        )

    @property
    def enabled(self) -> bool:
        """Whether any cap is set."""
        return bool(self.caps)

    @property
    def enforces(self) -> bool:
        """Whether a call that would cross a cap is refused (rather than only warned about)."""
        return self.on_cap in ("stop", "degrade")

    def decide(self, spent: Mapping[Cap, Decimal], estimate: Decimal) -> Decision:
        """Decide on a call that may cost up to ``estimate``, given each cap's spending."""
        if not self.caps:
            return Decision(action="ok")
        tightest, ratio, over = self.caps[0], -1.0, False
        for cap in self.caps:
            used = spent.get(cap, Decimal(0))
            crossing = used + estimate > cap.limit
            share = float(used / cap.limit) if cap.limit > 0 else 1.0
            if (crossing, share) > (over, ratio):
                tightest, ratio, over = cap, share, crossing
        used = spent.get(tightest, Decimal(0))
        if over:
            action: Action = self.on_cap
        elif self.degrade_at is not None and ratio >= self.degrade_at:
            action = "degrade"
        elif ratio >= self.warn_at:
            action = "warn"
        else:
            action = "ok"
        return Decision(action=action, cap=tightest, spent=used, over=over)

    def refuses(self, decision: Decision) -> bool:
        """Whether a call on ``decision`` must not go out."""
        return decision.over and self.enforces
