"""The universal emotion engine and the orb that shows a companion's emotion.

``EmotionEngine.analyze(text, history=..., baseline=...)`` returns an :class:`EmotionState`
(label, scores, valence, arousal, intensity, language) from a fast local classifier;
:func:`orb_for` turns a companion's state into an :class:`OrbState`. Mio and Lumi share
one engine (``Services.emotion``) and differ only in how they express its result.
"""

from miolumi.core.emotion.affect import AFFECT, LABELS, Emotion
from miolumi.core.emotion.appraisal import companion_response
from miolumi.core.emotion.engine import NEUTRAL_STATE, EmotionEngine, EmotionState, from_scores
from miolumi.core.emotion.language import Language, detect_language
from miolumi.core.emotion.llm import LLMEmotion, analyze_with_model
from miolumi.core.emotion.orb import (
    CALM,
    LOOKS,
    TRANSITION_MS,
    OrbName,
    OrbState,
    blend,
    ease_in_out,
    orb_for,
)

__all__ = [
    "AFFECT",
    "CALM",
    "LABELS",
    "LOOKS",
    "NEUTRAL_STATE",
    "TRANSITION_MS",
    "Emotion",
    "EmotionEngine",
    "EmotionState",
    "LLMEmotion",
    "Language",
    "OrbName",
    "OrbState",
    "analyze_with_model",
    "blend",
    "companion_response",
    "detect_language",
    "ease_in_out",
    "from_scores",
    "orb_for",
]
