"""How a companion feels in response to the user, before it has said anything.

A caring companion does not mirror every feeling: it shares joy and surprise, answers
sadness with tenderness, fear with calm concern, and anger or disgust with steady calm.
The result is blended with the companion's previous mood so that it changes gradually.
"""

from __future__ import annotations

import numpy as np

from miolumi.core.emotion.affect import LABELS, Emotion
from miolumi.core.emotion.engine import EmotionState, from_scores

#: For each user emotion, the companion's response as label -> share of the user's intensity.
RESPONSE: dict[Emotion, dict[Emotion, float]] = {
    "joy": {"joy": 1.0},
    "surprise": {"surprise": 0.8, "joy": 0.2},
    "sadness": {"sadness": 0.7},
    "fear": {"fear": 0.4, "sadness": 0.2},
    "anger": {"sadness": 0.3},
    "disgust": {"surprise": 0.2},
    "neutral": {},
}


def companion_response(
    user: EmotionState, *, previous: EmotionState | None = None, carry: float = 0.3
) -> EmotionState:
    """The companion's mood on hearing ``user``, carrying ``carry`` of its ``previous`` mood."""
    p = np.zeros(len(LABELS))
    for label, share in user.scores.items():
        for answer, weight in RESPONSE[label].items():
            p[LABELS.index(answer)] += share * weight
    p[LABELS.index("neutral")] += max(0.0, 1.0 - float(p.sum()))
    if previous is not None:
        p = (1 - carry) * p + carry * previous.vector
    return from_scores(p, language=user.language)
