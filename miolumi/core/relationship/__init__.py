"""The universal relationship engine: axes per (user, companion), stages, history.

- :mod:`~miolumi.core.relationship.signal`: what a turn tells the engine (emotion,
  disclosure, a stated age), derived from text when no emotion engine output exists.
- :mod:`~miolumi.core.relationship.engine`: the pure engine (axes, ladders, hysteresis,
  the adult rule).
- :mod:`~miolumi.core.relationship.store`: persistence of states, history and ages.
"""

from miolumi.core.relationship.engine import (
    AXES,
    AgeStatus,
    Axes,
    Axis,
    Ladder,
    RelationshipEngine,
    RelationshipState,
    Stage,
    StageChange,
    Step,
    Tuning,
)
from miolumi.core.relationship.signal import (
    EmotionSignal,
    TurnSignal,
    disclosure,
    says_minor,
    signal_from_text,
    text_emotion,
)
from miolumi.core.relationship.store import RelationshipStore

__all__ = [
    "AXES",
    "AgeStatus",
    "Axes",
    "Axis",
    "EmotionSignal",
    "Ladder",
    "RelationshipEngine",
    "RelationshipState",
    "RelationshipStore",
    "Stage",
    "StageChange",
    "Step",
    "Tuning",
    "TurnSignal",
    "disclosure",
    "says_minor",
    "signal_from_text",
    "text_emotion",
]
