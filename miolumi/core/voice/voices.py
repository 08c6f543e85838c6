"""Who is speaking: voice profiles per language, resolved to each engine's voices.

A product describes how its companion should sound (a Mio persona's voice hints, Lumi's
personality snapshot) as a :class:`VoicePlan`; the chain asks it, for every segment, which
:class:`~miolumi.core.voice.engine.VoiceSpec` an engine should use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from miolumi.core.voice.engine import EngineInfo, Gender, VoiceSpec

Level = Literal["low", "medium", "high"]
Pace = Literal["slow", "medium", "fast"]

_RATE: dict[str, float] = {"slow": 0.88, "medium": 1.0, "fast": 1.12}
_PITCH: dict[str, float] = {"low": -0.5, "medium": 0.0, "high": 0.5}


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceProfile:
    """How a companion should sound in one language."""

    gender: Gender = "neutral"
    pitch: Level = "medium"
    pace: Pace = "medium"
    preferred: tuple[str, ...] = ()
    """Voices as ``engine:voice``, best first; those of engines not installed are skipped."""

    def spec_for(self, engine: EngineInfo, language: str) -> VoiceSpec:
        """The voice ``engine`` should use for ``language``.

        A preferred voice of that engine wins; else the engine's first voice of the
        profile's gender for the language; else its default voice.
        """
        voices = engine.voices_for(language)
        chosen: str | None = None
        for entry in self.preferred:
            name, _, voice = entry.partition(":")
            if name == engine.name and any(v.id == voice for v in voices):
                chosen = voice
                break
        if chosen is None and self.gender != "neutral":
            chosen = next((v.id for v in voices if v.gender == self.gender), None)
        return VoiceSpec(id=chosen, rate=_RATE[self.pace], pitch=_PITCH[self.pitch])


@dataclass(frozen=True, slots=True, kw_only=True)
class VoicePlan:
    """A companion's voice in every language: a profile per language and a fallback."""

    default: VoiceProfile = field(default_factory=VoiceProfile)
    languages: Mapping[str, VoiceProfile] = field(default_factory=dict)

    def profile(self, language: str) -> VoiceProfile:
        """The profile for ``language`` (the default one when none is given)."""
        return self.languages.get(language, self.default)

    def spec_for(self, engine: EngineInfo, language: str) -> VoiceSpec:
        """The voice ``engine`` should use for ``language``."""
        return self.profile(language).spec_for(engine, language)
