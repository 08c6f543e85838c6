"""Lumi's personality seed: who the user seems to be after their first exchanges.

A deterministic extractor (style statistics, language, emoji, lexical cues and the shared
emotion engine) always runs. When the chat model is capable, it is also asked for a
structured reading, which fills what statistics cannot (topics, needs, traits); its answer
is validated, and an unusable answer (invalid JSON, wrong fields) is simply not used.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from miolumi.core.emotion import EmotionEngine, detect_language
from miolumi.errors import SeedExtractionError

Need = Literal["comfort", "banter", "advice", "curiosity", "company"]

_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_WORD = re.compile(r"[a-zA-Z][a-zA-Z']{3,}")
_LAUGH = re.compile(r"\b(?:ha(?:ha)+|lol|lmao|rofl|hehe)\b|哈哈|嘿嘿|笑|ｗｗ|ww|😂|🤣", re.I)
_ADVICE = re.compile(
    r"\b(?:should i|what do i do|how (?:do|can|should) i|any (?:tips|advice)|help me)\b"
    r"|怎么办|怎么做|该不该|建议|どうすれば|どうしたら|アドバイス",
    re.I,
)
_FORMAL = re.compile(
    r"\b(?:please|would you|could you|thank you|kindly|regards)\b|您|请|谢谢您|です|ます|ください",
    re.I,
)
_CASUAL = re.compile(
    r"\b(?:lol|gonna|wanna|yeah|yep|nah|dude|u|ya|omg|btw)\b|啦|呀|嘛|哈|だよ|じゃん|ね[!！]?$",
    re.I,
)
_STOPWORDS = (
    "that this with have just what when your about they them there their would could "
    "should really like been were will from know think want need some then than also very "
    "much more only into over because today always never maybe still even well going feel "
    "feeling does didn doesn being make made thing things right good time"
)
_STOP = frozenset(_STOPWORDS.split())


class PersonalitySeed(BaseModel):
    """What Lumi learned of the user's style from their first exchanges."""

    model_config = ConfigDict(extra="forbid")

    language: str = Field(description="Main language: en, zh, ja or und.")
    speech_register: Literal["casual", "neutral", "formal"]
    message_length: Literal["short", "medium", "long"]
    average_chars: float = Field(ge=0)
    pace: Literal["quick", "steady", "reflective"]
    humour: float = Field(ge=0, le=1, description="How often the user jokes or laughs.")
    emoji_use: float = Field(ge=0, le=1, description="Share of messages with emoji.")
    formality: float = Field(ge=0, le=1)
    mood: str = Field(description="The user's dominant emotion so far.")
    topics: list[str] = Field(default_factory=list, max_length=8)
    needs: list[Need] = Field(default_factory=list, max_length=5)
    mirror_traits: list[str] = Field(default_factory=list, max_length=6)
    complement_traits: list[str] = Field(default_factory=list, max_length=6)


class LLMSeedReading(BaseModel):
    """The part of a seed the chat model is asked for."""

    topics: list[str] = Field(default_factory=list, max_length=8)
    needs: list[Need] = Field(default_factory=list, max_length=5)
    mirror_traits: list[str] = Field(default_factory=list, max_length=6)
    complement_traits: list[str] = Field(default_factory=list, max_length=6)


def _share(pattern: re.Pattern[str], texts: Sequence[str]) -> float:
    return sum(1 for t in texts if pattern.search(t)) / len(texts)


def _topics(texts: Sequence[str], language: str) -> list[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        if language in ("zh", "ja"):
            han = re.findall(r"[\u4e00-\u9fff]{2}", text)
            counts.update(han)
        else:
            counts.update(w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP)
    return [word for word, n in counts.most_common(5) if n >= 1][:5]


def extract_seed(texts: Sequence[str], *, engine: EmotionEngine) -> PersonalitySeed:
    """The deterministic seed of the user's messages ``texts`` (oldest first)."""
    texts = [t[:4_000] for t in texts if t.strip()]
    if not texts:
        raise SeedExtractionError("No messages to learn from: talk with Lumi first.")
    languages = Counter(detect_language(t) for t in texts)
    language = languages.most_common(1)[0][0]
    average = sum(len(t) for t in texts) / len(texts)
    cjk = language in ("zh", "ja")
    short, long_ = (15, 60) if cjk else (40, 160)
    length: Literal["short", "medium", "long"] = (
        "short" if average < short else "long" if average > long_ else "medium"
    )
    formal, casual = _share(_FORMAL, texts), _share(_CASUAL, texts)
    formality = max(0.0, min(1.0, 0.5 + 0.5 * formal - 0.5 * casual))
    register: Literal["casual", "neutral", "formal"] = (
        "formal" if formality >= 0.65 else "casual" if formality <= 0.35 else "neutral"
    )
    humour = _share(_LAUGH, texts)
    emoji = _share(_EMOJI, texts)
    moods = [engine.analyze(t) for t in texts]
    mood = Counter(m.label for m in moods).most_common(1)[0][0]
    distress = sum(m.scores["sadness"] + m.scores["fear"] for m in moods) / len(moods)
    needs: list[Need] = []
    if distress >= 0.3:
        needs.append("comfort")
    if _share(_ADVICE, texts) > 0:
        needs.append("advice")
    if humour >= 0.3:
        needs.append("banter")
    if sum(t.count("?") + t.count("？") for t in texts) >= len(texts):
        needs.append("curiosity")
    needs = needs or ["company"]
    mirror = [
        trait
        for trait, on in (
            ("playful", humour >= 0.3),
            ("expressive", emoji >= 0.3),
            ("polite", register == "formal"),
            ("relaxed", register == "casual"),
            ("concise", length == "short"),
            ("thoughtful", length == "long"),
        )
        if on
    ]
    complement = [
        trait
        for trait, on in (
            ("steady", "comfort" in needs),
            ("reassuring", "comfort" in needs),
            ("practical", "advice" in needs),
            ("curious", length == "short"),
            ("gently light-hearted", mood == "sadness" and humour < 0.3),
        )
        if on
    ] or ["attentive"]
    pace: Literal["quick", "steady", "reflective"] = (
        "quick" if length == "short" else "reflective" if length == "long" else "steady"
    )
    return PersonalitySeed(
        language=language,
        speech_register=register,
        message_length=length,
        average_chars=round(average, 1),
        pace=pace,
        humour=round(humour, 3),
        emoji_use=round(emoji, 3),
        formality=round(formality, 3),
        mood=mood,
        topics=_topics(texts, language),
        needs=needs,
        mirror_traits=mirror,
        complement_traits=complement,
    )


_SEED_INSTRUCTIONS = (
    "You read the first messages a user sent to a companion. Describe the user as JSON with "
    'keys "topics" (up to 5 short nouns they care about), "needs" (from: comfort, banter, '
    'advice, curiosity, company), "mirror_traits" (up to 4 companion traits that match the '
    'user) and "complement_traits" (up to 4 traits that balance them). Answer only with JSON.'
)


def parse_reading(text: str) -> LLMSeedReading:
    """Parse the model's JSON answer; raises `SeedExtractionError` when it is unusable."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise SeedExtractionError("The model's seed answer has no JSON object.")
    try:
        return LLMSeedReading.model_validate(json.loads(text[start : end + 1]))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise SeedExtractionError(f"The model's seed answer is not a valid seed: {exc}") from exc


async def read_with_model(
    texts: Sequence[str], *, model: BaseChatModel, structured: bool
) -> LLMSeedReading:
    """Ask the chat model for a reading; raises `SeedExtractionError` on an unusable answer."""
    listing = "\n".join(f"- {t[:500]}" for t in texts)
    messages = [SystemMessage(_SEED_INSTRUCTIONS), HumanMessage(listing)]
    if structured:
        try:
            result = await model.with_structured_output(LLMSeedReading).ainvoke(messages)
        except (ValueError, ValidationError, NotImplementedError) as exc:
            raise SeedExtractionError(f"The model gave no usable seed: {exc}") from exc
        if not isinstance(result, LLMSeedReading):
            raise SeedExtractionError("The model gave no usable seed.")
        return result
    return parse_reading((await model.ainvoke(messages)).text)


def merge(seed: PersonalitySeed, reading: LLMSeedReading) -> PersonalitySeed:
    """The deterministic seed with the model's topics, needs and traits where it gave any."""
    update = {
        key: value
        for key, value in reading.model_dump().items()
        if value  # an empty list keeps the deterministic value
    }
    return seed.model_copy(update=update)


async def build_seed(
    texts: Sequence[str],
    *,
    engine: EmotionEngine,
    model: BaseChatModel | None = None,
    structured: bool = False,
) -> tuple[PersonalitySeed, str]:
    """The seed of ``texts`` and its source (``deterministic`` or ``llm+deterministic``).

    The deterministic extractor always runs; with a ``model``, its reading fills topics,
    needs and traits. Whatever goes wrong with the model (an unusable answer, an
    unreachable endpoint), the deterministic seed stands: the seed is never half-made.
    """
    seed = extract_seed(texts, engine=engine)
    if model is None:
        return seed, "deterministic"
    try:
        reading = await read_with_model(texts, model=model, structured=structured)
    except Exception:  # the model is optional here; the deterministic seed stands
        return seed, "deterministic"
    return merge(seed, reading), "llm+deterministic"
