"""The universal emotion engine: one computation for every companion.

Mio personas and Lumi call the same :class:`EmotionEngine` (it sits on
``Services.emotion``) and only express its result differently. It reads no persona file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from miolumi.core.emotion.affect import AFFECT, LABELS, Emotion
from miolumi.core.emotion.classifier import (
    EMBEDDING_DIMENSIONS,
    EMBEDDING_MODEL,
    WEIGHTS_DIR,
    CueCounts,
    HeadCache,
)
from miolumi.core.emotion.features import normalize
from miolumi.core.emotion.language import Language, detect_language, scripts
from miolumi.core.emotion.lexicon import cue_counts
from miolumi.errors import EmbeddingError

_NEUTRAL = LABELS.index("neutral")
_SHARED = HeadCache()
"""The shipped heads, loaded once per process however many engines exist."""


@dataclass(frozen=True, kw_only=True)
class EmotionState:
    """What a text (smoothed by what came before) expresses."""

    label: Emotion
    """The strongest of the seven labels."""
    scores: Mapping[Emotion, float]
    """A probability per label; they sum to 1."""
    valence: float
    """Unpleasant (-1) to pleasant (1)."""
    arousal: float
    """Calm (0) to agitated (1)."""
    intensity: float
    """How strongly any emotion shows (0: neutral)."""
    language: Language
    """Language of the analysed text."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (for state checkpoints and events)."""
        return {
            "label": self.label,
            "scores": dict(self.scores),
            "valence": self.valence,
            "arousal": self.arousal,
            "intensity": self.intensity,
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmotionState:
        """Rebuild a state written by :meth:`to_dict`."""
        scores = {label: float(data["scores"].get(label, 0.0)) for label in LABELS}
        return from_scores(_vector(scores), language=data.get("language", "und"))

    @property
    def vector(self) -> npt.NDArray[np.float64]:
        """The scores as an array in `LABELS` order."""
        return _vector(self.scores)


def _vector(scores: Mapping[Emotion, float]) -> npt.NDArray[np.float64]:
    return np.array([scores.get(label, 0.0) for label in LABELS], dtype=np.float64)


def from_scores(
    p: npt.NDArray[np.float64], *, language: Language, excitement: float = 0.0
) -> EmotionState:
    """Build a state from probabilities over `LABELS` (normalised here)."""
    total = float(p.sum())
    p = p / total if total > 0 else np.eye(len(LABELS))[_NEUTRAL]
    valence = sum(float(p[i]) * AFFECT[label][0] for i, label in enumerate(LABELS))
    arousal = sum(float(p[i]) * AFFECT[label][1] for i, label in enumerate(LABELS))
    intensity = 1.0 - float(p[_NEUTRAL])
    return EmotionState(
        label=LABELS[int(p.argmax())],
        scores={label: round(float(p[i]), 4) for i, label in enumerate(LABELS)},
        valence=round(max(-1.0, min(1.0, valence)), 4),
        arousal=round(min(1.0, arousal + excitement), 4),
        intensity=round(max(0.0, min(1.0, intensity)), 4),
        language=language,
    )


def _embedding(vector: npt.ArrayLike | None) -> npt.NDArray[np.float32] | None:
    """The memory embedding as a float32 vector, checked against what the heads read."""
    if vector is None:
        return None
    out = np.asarray(vector, dtype=np.float32).ravel()
    if out.shape != (EMBEDDING_DIMENSIONS,):
        raise EmbeddingError(
            f"The emotion engine reads {EMBEDDING_MODEL} embeddings ({EMBEDDING_DIMENSIONS} "
            f"dimensions), not {out.size}: pass the vector MIOLUMI_EMBEDDINGS=use-m3 "
            "computes for the message, or none."
        )
    return out


NEUTRAL_STATE = from_scores(np.eye(len(LABELS))[_NEUTRAL], language="und")
"""Nothing felt: the state before any evidence."""


class EmotionEngine:
    """Reads the emotion of a message, offline, in English, Chinese and Japanese.

    English text goes to a head trained on GoEmotions, Chinese to one trained on
    SMP2020-EWECT and CPED; Japanese is read by the Chinese head (through its kanji)
    together with a Japanese cue lexicon; mixed text blends the heads by script share.
    Given the message's `embedding_model` vector (memory's, by default), every head also
    reads it.
    """

    embedding_model: str = EMBEDDING_MODEL
    """The embedding function whose vectors ``analyze(..., embedding=...)`` accepts."""

    def __init__(
        self,
        *,
        weights_dir: Path = WEIGHTS_DIR,
        inertia: float = 0.35,
        baseline_pull: float = 0.2,
        decay: float = 0.6,
    ) -> None:
        """Configure smoothing.

        :param weights_dir: where the shipped weights live.
        :param inertia: the least weight the past keeps against a long, clear message.
        :param baseline_pull: how much the baseline (a resting mood) weighs in the prior.
        :param decay: weight ratio between one history state and the next older one.
        """
        self.heads = _SHARED if weights_dir == WEIGHTS_DIR else HeadCache(directory=weights_dir)
        self.inertia = inertia
        self.baseline_pull = baseline_pull
        self.decay = decay

    def analyze(
        self,
        text: str,
        *,
        history: Sequence[EmotionState] = (),
        baseline: EmotionState | None = None,
        embedding: npt.ArrayLike | None = None,
    ) -> EmotionState:
        """The emotion of ``text``, smoothed by ``history`` (oldest first) and ``baseline``.

        A short message moves the state little; a long, clear one moves it most of the way.
        Empty or letterless text leaves the prior as it is (neutral without one).
        ``embedding``: the vector of ``text`` by `embedding_model` (memory's, by default;
        optional, it makes the reading more accurate at almost no cost).
        """
        p, language, evidence, excitement = self.read(text, embedding=embedding)
        prior = self.prior(history, baseline)
        if prior is not None:
            weight = min(evidence, 1.0 - self.inertia)
            p = weight * p + (1.0 - weight) * prior
        return from_scores(p, language=language, excitement=excitement)

    def read(
        self, text: str, *, embedding: npt.ArrayLike | None = None
    ) -> tuple[npt.NDArray[np.float64], Language, float, float]:
        """Unsmoothed reading: (probabilities, language, evidence 0..1, excitement 0..0.15)."""
        vector = _embedding(embedding)
        norm = normalize(text)
        language = detect_language(norm)
        cues = cue_counts(norm, language)
        counted: CueCounts = {language: cues}  # a head with these cues counts no more
        mix = scripts(norm)
        if not norm:
            return np.eye(len(LABELS))[_NEUTRAL], "und", 0.0, 0.0
        if language == "ja":
            # No Japanese head: cues lead; the Chinese head reads the kanji as a second opinion.
            share = 0.8 if cues else 0.6
            zh = self.heads.get("zh").probabilities(norm, vector, counted)
            p = share * _cue_distribution(cues) + (1 - share) * zh
        else:
            cjk = mix.han + mix.kana
            share = cjk / (cjk + mix.latin) if cjk + mix.latin else 0.0
            p = np.zeros(len(LABELS))
            if share < 0.9:
                p += (1.0 - share) * self.heads.get("en").probabilities(norm, vector, counted)
            if share > 0.1:
                p += share * self.heads.get("zh").probabilities(norm, vector, counted)
            if not mix.letters:
                p = 0.3 * p + 0.7 * _cue_distribution(cues)
        words = mix.latin / 5 + mix.han + mix.kana / 2 + mix.other / 4
        evidence = max(0.2, min(1.0, words / 12)) if mix.letters else (0.5 if cues else 0.1)
        bangs = norm.count("!") + norm.count("!")
        excitement = min(0.15, 0.05 * bangs)
        return p / p.sum(), language, evidence, excitement

    def prior(
        self, history: Sequence[EmotionState], baseline: EmotionState | None
    ) -> npt.NDArray[np.float64] | None:
        """What the past predicts: decayed average of history, pulled toward the baseline."""
        prior: npt.NDArray[np.float64] | None = None
        if history:
            weights = [self.decay**age for age in range(len(history))][::-1]
            stacked = np.stack([state.vector for state in history])
            prior = np.average(stacked, axis=0, weights=weights)
        if baseline is not None:
            base = baseline.vector
            prior = (
                base
                if prior is None
                else (1 - self.baseline_pull) * prior + (self.baseline_pull * base)
            )
        return prior


def _cue_distribution(cues: Mapping[Emotion, int]) -> npt.NDArray[np.float64]:
    """Probabilities from cue counts: neutral when nothing matched."""
    p = np.full(len(LABELS), 0.02)
    p[_NEUTRAL] = 0.6 if not cues else 0.1
    for label, count in cues.items():
        p[LABELS.index(label)] += 1.0 - math.exp(-count)
    out: npt.NDArray[np.float64] = p / p.sum()
    return out
