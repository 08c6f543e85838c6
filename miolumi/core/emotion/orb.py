"""The orb: how a companion's emotion looks as a pulsing light.

Mapping from the companion's :class:`EmotionState` (first rule that matches):

| orb | when | colour | pulse (Hz) | brightness |
|---|---|---|---|---|
| calm | neutral, or intensity below 0.3 | blue ``#4A90E2`` | 0.25 (rest) | 0.55 |
| excited | joy, arousal >= 0.65 or intensity >= 0.8 | bright orange ``#FF8C1A`` | 1.2 | 1.0 |
| happy | joy | warm gold ``#F5B942`` | 0.6 | 0.85 |
| tender | sadness below intensity 0.75 (gentle sympathy) | rose ``#E8A0BF`` | 0.3 | 0.6 |
| sad | sadness | soft purple ``#9B7EDE`` | 0.2 | 0.4 |
| anxious | fear | pale teal ``#5FC9C0`` | 0.9 | 0.6 |
| surprised | surprise | white-cyan ``#BDF4FF`` | 1.0 | 0.95 |
| stern | anger | deep red ``#C8463D`` | 0.8 | 0.7 |
| uneasy | disgust | olive ``#9AA05A`` | 0.5 | 0.5 |

Pulse rate then grows with arousal and brightness with intensity (within bounds), so two
"happy" states of different strength still look different. Changes are eased: a renderer
moves from one state to the next with :func:`blend` over ``transition_ms`` using
:func:`ease_in_out`, never jumping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from miolumi.core.emotion.engine import EmotionState

OrbName = Literal[
    "calm", "happy", "excited", "tender", "sad", "anxious", "surprised", "stern", "uneasy"
]


@dataclass(frozen=True, kw_only=True)
class OrbLook:
    """The base look of one orb state."""

    colour: str
    pulse_hz: float
    brightness: float


LOOKS: dict[OrbName, OrbLook] = {
    "calm": OrbLook(colour="#4A90E2", pulse_hz=0.25, brightness=0.55),
    "happy": OrbLook(colour="#F5B942", pulse_hz=0.6, brightness=0.85),
    "excited": OrbLook(colour="#FF8C1A", pulse_hz=1.2, brightness=1.0),
    "tender": OrbLook(colour="#E8A0BF", pulse_hz=0.3, brightness=0.6),
    "sad": OrbLook(colour="#9B7EDE", pulse_hz=0.2, brightness=0.4),
    "anxious": OrbLook(colour="#5FC9C0", pulse_hz=0.9, brightness=0.6),
    "surprised": OrbLook(colour="#BDF4FF", pulse_hz=1.0, brightness=0.95),
    "stern": OrbLook(colour="#C8463D", pulse_hz=0.8, brightness=0.7),
    "uneasy": OrbLook(colour="#9AA05A", pulse_hz=0.5, brightness=0.5),
}

#: Default duration of an eased change between two orb states.
TRANSITION_MS = 600


@dataclass(frozen=True, kw_only=True)
class OrbState:
    """What the orb shows: a named state, its colour, pulse rate and brightness."""

    name: OrbName
    colour: str
    """``#RRGGBB``."""
    pulse_hz: float
    """Pulses per second."""
    brightness: float
    """0 (dark) to 1 (full)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "name": self.name,
            "colour": self.colour,
            "pulse_hz": self.pulse_hz,
            "brightness": self.brightness,
        }


def orb_name(state: EmotionState) -> OrbName:
    """The orb state that shows ``state`` (see the module's table)."""
    if state.label == "neutral" or state.intensity < 0.3:
        return "calm"
    if state.label == "joy":
        return "excited" if state.arousal >= 0.65 or state.intensity >= 0.8 else "happy"
    if state.label == "sadness":
        return "tender" if state.intensity < 0.75 else "sad"
    names: dict[str, OrbName] = {
        "fear": "anxious",
        "surprise": "surprised",
        "anger": "stern",
        "disgust": "uneasy",
    }
    return names[state.label]


def orb_for(state: EmotionState) -> OrbState:
    """The orb of a companion feeling ``state``."""
    name = orb_name(state)
    look = LOOKS[name]
    pulse = look.pulse_hz * (0.8 + 0.4 * state.arousal)
    brightness = look.brightness * (0.85 + 0.15 * state.intensity)
    return OrbState(
        name=name,
        colour=look.colour,
        pulse_hz=round(pulse, 3),
        brightness=round(min(1.0, brightness), 3),
    )


CALM = orb_for(
    EmotionState(
        label="neutral",
        scores={"neutral": 1.0},
        valence=0.0,
        arousal=0.2,
        intensity=0.0,
        language="und",
    )
)
"""The orb at rest."""


def ease_in_out(t: float) -> float:
    """Cubic ease-in-out of ``t`` in 0..1 (clamped)."""
    t = max(0.0, min(1.0, t))
    return 4 * t**3 if t < 0.5 else 1 - (-2 * t + 2) ** 3 / 2


def _rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def blend(start: OrbState, end: OrbState, t: float) -> OrbState:
    """The orb ``t`` (0..1, eased) of the way from ``start`` to ``end``."""
    k = ease_in_out(t)
    a, b = _rgb(start.colour), _rgb(end.colour)
    r, g, bl = (round(x + (y - x) * k) for x, y in zip(a, b, strict=True))
    return OrbState(
        name=end.name if k >= 0.5 else start.name,
        colour=f"#{r:02X}{g:02X}{bl:02X}",
        pulse_hz=round(start.pulse_hz + (end.pulse_hz - start.pulse_hz) * k, 3),
        brightness=round(start.brightness + (end.brightness - start.brightness) * k, 3),
    )
