"""A Mio persona's voice: its per-language voice hints as a voice plan for the TTS chain."""

from __future__ import annotations

from miolumi.core.voice.voices import VoicePlan, VoiceProfile
from miolumi.mio.persona import Persona, VoiceHint


def profile_from_hint(hint: VoiceHint) -> VoiceProfile:
    """How an engine should voice ``hint``: gender, pitch, pace and preferred voices."""
    pace = hint.pace
    if hint.age == "elderly" and pace == "medium":
        pace = "slow"
    return VoiceProfile(gender=hint.gender, pitch=hint.pitch, pace=pace, preferred=hint.voices)


def persona_voice_plan(persona: Persona) -> VoicePlan:
    """The persona's voice in every language.

    Each language with a hint uses it; other languages use the hint of the persona's
    first language (or its first hint), so the persona keeps its gender and manner
    whatever language a reply switches to.
    """
    profiles = {language: profile_from_hint(hint) for language, hint in persona.voice.items()}
    default = profiles.get(persona.language) or next(iter(profiles.values()), VoiceProfile())
    fallback = VoiceProfile(gender=default.gender, pitch=default.pitch, pace=default.pace)
    return VoicePlan(default=fallback, languages=profiles)
