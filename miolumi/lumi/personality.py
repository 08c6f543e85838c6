"""Lumi's emergent personality: traits derived from the seed and the recent conversation.

Each snapshot re-derives target traits, then moves every trait at most ``max_drift`` toward
its target, so the personality evolves without sudden swings.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from miolumi.core.emotion import EmotionEngine
from miolumi.lumi.seed import PersonalitySeed, extract_seed

TRAITS = (
    "warmth",
    "playfulness",
    "curiosity",
    "calmness",
    "directness",
    "formality",
    "expressiveness",
    "verbosity",
)


class Personality(BaseModel):
    """One version of Lumi's personality for a user."""

    model_config = ConfigDict(extra="forbid")

    traits: dict[str, float] = Field(description="Each of TRAITS, 0..1.")
    language: str
    speech_register: str
    emoji: bool
    topics: list[str] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    mirror_traits: list[str] = Field(default_factory=list)
    complement_traits: list[str] = Field(default_factory=list)


def target_traits(seed: PersonalitySeed) -> dict[str, float]:
    """The traits a seed calls for."""
    comfort = "comfort" in seed.needs
    length = {"short": 0.3, "medium": 0.5, "long": 0.7}[seed.message_length]
    values = {
        "warmth": 0.75 + (0.15 if comfort else 0.0),
        "playfulness": 0.25 + 0.6 * seed.humour - (0.1 if comfort else 0.0),
        "curiosity": 0.6 + (0.15 if "curiosity" in seed.needs else 0.0),
        "calmness": 0.6 + (0.25 if comfort else 0.0),
        "directness": 0.4 + (0.3 if "advice" in seed.needs else 0.0),
        "formality": seed.formality,
        "expressiveness": 0.35 + 0.5 * seed.emoji_use + 0.1 * seed.humour,
        "verbosity": length,
    }
    return {name: round(max(0.0, min(1.0, v)), 3) for name, v in values.items()}


def from_seed(seed: PersonalitySeed) -> Personality:
    """The first personality, straight from the seed."""
    return Personality(
        traits=target_traits(seed),
        language=seed.language,
        speech_register=seed.speech_register,
        emoji=seed.emoji_use >= 0.3,
        topics=list(seed.topics),
        needs=list(seed.needs),
        mirror_traits=list(seed.mirror_traits),
        complement_traits=list(seed.complement_traits),
    )


def bounded(previous: Personality, target: Personality, max_drift: float) -> Personality:
    """``target`` with every trait moved at most ``max_drift`` from ``previous``."""
    traits = {}
    for name in TRAITS:
        old = previous.traits.get(name, 0.5)
        new = target.traits.get(name, old)
        step = max(-max_drift, min(max_drift, new - old))
        traits[name] = round(old + step, 3)
    return target.model_copy(update={"traits": traits})


def drift(a: Personality, b: Personality) -> float:
    """The largest trait change between two personalities."""
    return round(max(abs(a.traits.get(n, 0.5) - b.traits.get(n, 0.5)) for n in TRAITS), 3)


def rederive(
    seed: PersonalitySeed,
    recent: Sequence[str],
    previous: Personality,
    *,
    engine: EmotionEngine,
    max_drift: float,
) -> Personality:
    """A new personality from the seed and the user's recent messages, within the drift bound.

    The recent conversation weighs as much as the seed; topics keep the seed's first.
    """
    if not [t for t in recent if t.strip()]:
        return previous
    now = extract_seed(recent, engine=engine)
    seed_traits, now_traits = target_traits(seed), target_traits(now)
    target = from_seed(now).model_copy(
        update={
            "traits": {n: round((seed_traits[n] + now_traits[n]) / 2, 3) for n in TRAITS},
            "topics": list(dict.fromkeys([*seed.topics[:3], *now.topics]))[:6],
            "language": now.language,
        }
    )
    return bounded(previous, target, max_drift)
