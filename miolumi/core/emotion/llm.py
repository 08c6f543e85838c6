"""Optional: read the emotion with the configured chat model instead of the local classifier.

Slower and paid, for users who want it (``MIOLUMI_EMOTION_MODE=llm``). The model answers
with structured output when it supports it, else with JSON text; anything unusable falls
back to the local engine, so a turn never fails because of this step.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from miolumi.core.emotion.affect import LABELS, Emotion
from miolumi.core.emotion.engine import EmotionEngine, EmotionState, from_scores

_INSTRUCTIONS = (
    "Classify the emotion the message expresses as one of: "
    + ", ".join(LABELS)
    + '. Answer only with JSON: {"label": "<label>", "intensity": <0..1>}.'
)


class LLMEmotion(BaseModel):
    """The model's answer."""

    label: Emotion
    intensity: float = Field(ge=0.0, le=1.0)


def parse_answer(text: str) -> LLMEmotion | None:
    """The first JSON object in ``text`` as an answer; None if there is none or it is invalid."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return LLMEmotion.model_validate(json.loads(text[start : end + 1]))
    except (json.JSONDecodeError, ValidationError):
        return None


async def analyze_with_model(
    engine: EmotionEngine,
    text: str,
    *,
    model: BaseChatModel,
    structured: bool,
    history: Sequence[EmotionState] = (),
    baseline: EmotionState | None = None,
) -> EmotionState:
    """The model's reading of ``text``, smoothed like the local one; local on any failure."""
    local = engine.analyze(text, history=history, baseline=baseline)
    if not text.strip():
        return local
    messages = [SystemMessage(_INSTRUCTIONS), HumanMessage(text[:4_000])]
    answer: LLMEmotion | None
    try:
        if structured:
            result = await model.with_structured_output(LLMEmotion).ainvoke(messages)
            answer = result if isinstance(result, LLMEmotion) else None
        else:
            answer = parse_answer((await model.ainvoke(messages)).text)
    except (ValueError, ValidationError, NotImplementedError):
        answer = None
    if answer is None:
        return local
    p = np.full(len(LABELS), 0.0)
    p[LABELS.index(answer.label)] = answer.intensity if answer.label != "neutral" else 1.0
    p[LABELS.index("neutral")] += 1.0 - answer.intensity if answer.label != "neutral" else 0.0
    blended = 0.7 * p + 0.3 * local.vector
    return from_scores(blended, language=local.language)
