"""Lumi's voice follows its current personality snapshot."""

from __future__ import annotations

from miolumi.core.voice.voices import Level, Pace, VoicePlan, VoiceProfile
from miolumi.lumi.personality import Personality

WARM_VOICES = ("openai:shimmer", "kokoro:jf_alpha", "espeak:en-us+f3", "espeak:cmn-latn-pinyin+f3")
"""Soft voices for a warm Lumi, best first (engines not installed are skipped)."""
CLEAR_VOICES = ("openai:alloy", "kokoro:jf_nezumi", "espeak:en-us+f2")
"""Clear, even voices for a cooler, more direct Lumi."""


def lumi_profile(personality: Personality | None) -> VoiceProfile:
    """Lumi's voice for a personality (None: before the seed, a calm and warm default).

    Calm Lumis speak slower; playful and expressive ones higher and a little faster;
    warmth chooses soft voices over clear ones.
    """
    if personality is None:
        return VoiceProfile(gender="female", pitch="medium", pace="medium", preferred=WARM_VOICES)
    traits = personality.traits
    lively = (traits.get("playfulness", 0.5) + traits.get("expressiveness", 0.5)) / 2
    calm = traits.get("calmness", 0.5)
    pitch: Level = "high" if lively >= 0.65 else "low" if lively <= 0.35 else "medium"
    pace: Pace = "slow" if calm >= 0.75 else "fast" if lively >= 0.7 and calm < 0.5 else "medium"
    warm = traits.get("warmth", 0.5) >= 0.6
    return VoiceProfile(
        gender="female",
        pitch=pitch,
        pace=pace,
        preferred=WARM_VOICES if warm else CLEAR_VOICES,
    )


def lumi_voice_plan(personality: Personality | None) -> VoicePlan:
    """Lumi's voice in every language: one profile from its snapshot."""
    return VoicePlan(default=lumi_profile(personality))
