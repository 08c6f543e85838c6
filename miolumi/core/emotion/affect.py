"""The seven emotion labels and where each sits in valence/arousal space."""

from __future__ import annotations

from typing import Literal, get_args

Emotion = Literal["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
"""Ekman's six basic emotions plus neutral."""

LABELS: tuple[Emotion, ...] = get_args(Emotion)

#: (valence -1..1, arousal 0..1) of each label at full intensity (after Russell's circumplex).
AFFECT: dict[Emotion, tuple[float, float]] = {
    "anger": (-0.7, 0.85),
    "disgust": (-0.65, 0.55),
    "fear": (-0.7, 0.8),
    "joy": (0.8, 0.6),
    "sadness": (-0.75, 0.25),
    "surprise": (0.15, 0.85),
    "neutral": (0.0, 0.2),
}
