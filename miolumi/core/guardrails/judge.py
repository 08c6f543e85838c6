"""Optional escalation: ask a capable chat model about a borderline message.

Only messages whose strongest score falls in the borderline band are sent, so most turns
never wait for it. The judge answers with one JSON object; anything else leaves the
local verdict as it was (the turn is never held up by a confused judge), and so does a
judge that fails (a network error, a refused request): it is logged, not raised.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from miolumi.core.guardrails.verdict import INPUT_CATEGORIES

log = logging.getLogger(__name__)

JUDGE_PROMPT = (
    "You are a safety classifier for a companion chat app. Read the user's message and "
    "answer with one JSON object only: "
    '{"category": one of ' + ", ".join(f'"{c}"' for c in INPUT_CATEGORIES) + ' or "none", '
    '"confidence": a number from 0 to 1}. Benign questions that only sound dangerous '
    '(killing a process, history, fiction, definitions) are "none".'
)
_JSON = re.compile(r"\{.*\}", re.S)


@dataclass(frozen=True, kw_only=True)
class JudgeAnswer:
    """What the judge said: a category (or ``none``) and its confidence."""

    category: str
    confidence: float


@dataclass(frozen=True, kw_only=True)
class Judge:
    """A chat model asked about borderline scores in ``[low, high)``."""

    model: BaseChatModel
    low: float = 0.3
    high: float = 0.7

    def borderline(self, score: float) -> bool:
        """Whether a score is worth a second opinion."""
        return self.low <= score < self.high

    async def ask(self, text: str) -> JudgeAnswer | None:
        """The judge's reading of ``text``, or None when it fails or its answer is unusable."""
        messages = [SystemMessage(JUDGE_PROMPT), HumanMessage(text[:4000])]
        try:
            reply = await self.model.ainvoke(messages)
        except Exception as exc:  # any provider's failure: the local verdict stands
            log.warning(
                "The guard judge failed (%s: %s); keeping the local verdict.",
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
            return None
        match = _JSON.search(reply.text)
        if not match:
            log.warning("The guard judge answered without JSON; keeping the local verdict.")
            return None
        try:
            data = json.loads(match.group(0))
            category = str(data["category"])
            confidence = float(data.get("confidence", 0.9))
        except (ValueError, KeyError, TypeError):
            log.warning("The guard judge's JSON is unusable; keeping the local verdict.")
            return None
        if category != "none" and category not in INPUT_CATEGORIES:
            return None
        return JudgeAnswer(category=category, confidence=min(1.0, max(0.0, confidence)))
