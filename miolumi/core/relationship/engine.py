"""The relationship engine: axes that move a little each turn, stages with hysteresis.

The engine is pure: :meth:`RelationshipEngine.step` takes a state and a turn signal and
returns the next state and, when the stage moved, the change. Storage is
:mod:`miolumi.core.relationship.store`.

Rules:

- Axes (affection, trust, familiarity) live in 0..1 and move at most
  ``Tuning.max_step`` per turn, so no single message makes or breaks a relationship.
- Long absences cool the relationship: axes decay towards their starting values.
- A stage is entered when every axis meets its requirement, and held until an axis
  falls ``hysteresis`` below it. The stage moves at most one rung per turn, both ways.
- Romantic stages need an adult: unless the user confirmed they are an adult, the
  stage stops below the first romantic rung; a user who says they are a minor is
  moved off romantic stages at once, whatever the axes say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from miolumi.core.relationship.signal import TurnSignal

Axis = Literal["affection", "trust", "familiarity"]
AXES: tuple[Axis, ...] = ("affection", "trust", "familiarity")


class AgeStatus(StrEnum):
    """What the user has told us about their age."""

    UNKNOWN = "unknown"
    ADULT = "adult"
    MINOR = "minor"


@dataclass(frozen=True, kw_only=True)
class Axes:
    """The relationship's position, each axis in 0..1."""

    affection: float = 0.1
    trust: float = 0.1
    familiarity: float = 0.0

    def get(self, axis: Axis) -> float:
        """The value of one axis."""
        value: float = getattr(self, axis)
        return value

    def as_dict(self) -> dict[str, float]:
        """The axes as a plain mapping, rounded for display and storage."""
        return {axis: round(self.get(axis), 4) for axis in AXES}


INITIAL = Axes()


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One rung of a relationship ladder."""

    id: str
    label: str
    romantic: bool = False
    requires: Mapping[Axis, float] = field(default_factory=dict)
    """Minimum value of each named axis to enter the stage."""


@dataclass(frozen=True, kw_only=True)
class Ladder:
    """Ordered stages, the first one without requirements."""

    stages: tuple[Stage, ...]
    hysteresis: float = 0.08

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a ladder needs at least one stage")
        if self.stages[0].requires:
            raise ValueError(f"the first stage {self.stages[0].id!r} cannot have requirements")
        if self.stages[0].romantic:
            raise ValueError(f"the first stage {self.stages[0].id!r} cannot be romantic")
        ids = [s.id for s in self.stages]
        if len(set(ids)) != len(ids):
            raise ValueError(f"stage ids repeat in {ids}")

    def index(self, stage_id: str) -> int:
        """Position of ``stage_id``; an unknown id (a ladder that changed) maps to 0."""
        for i, stage in enumerate(self.stages):
            if stage.id == stage_id:
                return i
        return 0

    def stage(self, stage_id: str) -> Stage:
        """The stage named ``stage_id`` (the first stage when unknown)."""
        return self.stages[self.index(stage_id)]

    @property
    def has_romance(self) -> bool:
        """Whether any stage is romantic."""
        return any(s.romantic for s in self.stages)


@dataclass(frozen=True, kw_only=True)
class RelationshipState:
    """One user's relationship with one companion (``agent_id`` None: the global stream)."""

    user_id: str
    agent_id: str | None
    stage: str
    axes: Axes = INITIAL
    turns: int = 0
    visits: int = 0
    """Separate sittings: a message after ``Tuning.visit_gap`` of silence starts one."""
    last_contact: datetime | None = None
    stage_since: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class StageChange:
    """A move between two stages, as kept in the history."""

    user_id: str
    agent_id: str | None
    from_stage: str
    to_stage: str
    reason: Literal["progress", "regress", "cooling", "age"]
    axes: Axes
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Step:
    """The outcome of one turn: the next state, and the stage change if there was one."""

    state: RelationshipState
    change: StageChange | None
    age: AgeStatus
    romance_allowed: bool


@dataclass(frozen=True, kw_only=True)
class Tuning:
    """The engine's constants.

    The defaults make a warm, regular user reach a romantic stage over days rather
    than minutes, and a cold one lose it within a sitting or two.
    """

    max_step: float = 0.08
    affection_rate: float = 0.07
    trust_rate: float = 0.08
    trust_loss: float = 0.06
    familiarity_per_turn: float = 0.012
    familiarity_per_visit: float = 0.05
    visit_gap: timedelta = timedelta(minutes=30)
    regular_gap: timedelta = timedelta(days=3)
    decay_grace: timedelta = timedelta(days=2)
    half_life_days: Mapping[Axis, float] = field(
        default_factory=lambda: {"affection": 21.0, "trust": 60.0, "familiarity": 45.0}
    )


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _limit(delta: float, cap: float) -> float:
    return max(-cap, min(cap, delta))


class RelationshipEngine:
    """Moves relationship states turn by turn; pure and thread-safe."""

    def __init__(self, *, tuning: Tuning | None = None) -> None:
        self.tuning = tuning or Tuning()

    def initial(self, *, user_id: str, agent_id: str | None, ladder: Ladder) -> RelationshipState:
        """A relationship that has not started: first stage, starting axes."""
        return RelationshipState(user_id=user_id, agent_id=agent_id, stage=ladder.stages[0].id)

    def step(
        self, state: RelationshipState, signal: TurnSignal, *, ladder: Ladder, age: AgeStatus
    ) -> Step:
        """Apply one turn: cool for absence, move the axes, then the stage (one rung at most)."""
        if signal.says_minor:
            age = AgeStatus.MINOR
        gap = max(signal.at - state.last_contact, timedelta(0)) if state.last_contact else None
        cooled = self._cool(state.axes, gap)
        axes = self._move(cooled, signal, gap)
        new_visit = gap is None or gap >= self.tuning.visit_gap
        romance = age is AgeStatus.ADULT
        stage, reason = self._next_stage(ladder, state.stage, axes, romance, cooled != state.axes)
        next_state = replace(
            state,
            axes=axes,
            stage=stage,
            turns=state.turns + 1,
            visits=state.visits + (1 if new_visit else 0),
            last_contact=signal.at,
            stage_since=signal.at if stage != state.stage else (state.stage_since or signal.at),
        )
        change = None
        if reason is not None:
            change = StageChange(
                user_id=state.user_id,
                agent_id=state.agent_id,
                from_stage=state.stage,
                to_stage=stage,
                reason=reason,
                axes=axes,
                at=signal.at,
            )
        return Step(state=next_state, change=change, age=age, romance_allowed=romance)

    # --- axes -----------------------------------------------------------------------------

    def _cool(self, axes: Axes, gap: timedelta | None) -> Axes:
        """Decay towards the starting values for the part of an absence beyond the grace."""
        if gap is None or gap <= self.tuning.decay_grace:
            return axes
        days = (gap - self.tuning.decay_grace).total_seconds() / 86_400
        values = {}
        for axis in AXES:
            base, now = INITIAL.get(axis), axes.get(axis)
            factor = math.pow(0.5, days / self.tuning.half_life_days[axis])
            values[axis] = base + (now - base) * factor if now > base else now
        return Axes(**values)

    def _move(self, axes: Axes, signal: TurnSignal, gap: timedelta | None) -> Axes:
        t, emotion = self.tuning, signal.emotion
        a, tr, f = axes.affection, axes.trust, axes.familiarity
        if emotion.hostile:
            warmth = emotion.valence * (1.0 + 0.5 * emotion.arousal)
        elif emotion.vulnerable:
            warmth = 0.25  # sharing a hard feeling with someone is a sign of closeness
        else:
            warmth = emotion.valence
        d_aff = t.affection_rate * warmth * ((1 - a) if warmth > 0 else (0.3 + a))
        d_trust = t.trust_rate * signal.disclosure * (1 - tr)
        if emotion.hostile:
            d_trust -= t.trust_loss * abs(emotion.valence) * (0.3 + tr)
        d_fam = t.familiarity_per_turn * (1 - f)
        if gap is not None and gap >= t.visit_gap:
            regular = 1.0 if gap <= t.regular_gap else 0.4
            d_fam += t.familiarity_per_visit * regular * (1 - f)
        return Axes(
            affection=_clamp(a + _limit(d_aff, t.max_step)),
            trust=_clamp(tr + _limit(d_trust, t.max_step)),
            familiarity=_clamp(f + _limit(d_fam, t.max_step)),
        )

    # --- stages ---------------------------------------------------------------------------

    @staticmethod
    def _meets(stage: Stage, axes: Axes, slack: float) -> bool:
        return all(axes.get(axis) >= level - slack for axis, level in stage.requires.items())

    def _next_stage(
        self, ladder: Ladder, current: str, axes: Axes, romance: bool, cooled: bool
    ) -> tuple[str, Literal["progress", "regress", "cooling", "age"] | None]:
        index = ladder.index(current)
        if ladder.stages[index].id != current:
            current = ladder.stages[index].id  # the ladder changed under a stored stage
        if not romance and ladder.stages[index].romantic:
            allowed = [i for i in range(index) if not ladder.stages[i].romantic]
            target = allowed[-1] if allowed else 0
            return ladder.stages[target].id, "age"
        if not self._meets(ladder.stages[index], axes, ladder.hysteresis):
            return ladder.stages[index - 1].id, "cooling" if cooled else "regress"
        if index + 1 < len(ladder.stages):
            nxt = ladder.stages[index + 1]
            if self._meets(nxt, axes, 0.0) and (romance or not nxt.romantic):
                return nxt.id, "progress"
        return current, None
