"""What one turn tells the relationship engine: emotion, disclosure, time, a stated age.

The emotion normally comes from the emotion engine: map its state onto
:class:`EmotionSignal` (valence in -1..1, arousal in 0..1, a label). When no emotion
engine output is available, :func:`text_emotion` derives a rough signal from the
message itself (a small multilingual lexicon: English, Chinese, Japanese), so the
relationship engine is usable on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

#: Labels read as coldness or hostility towards the companion.
HOSTILE_LABELS = frozenset(
    {"anger", "angry", "disgust", "contempt", "annoyance", "annoyed", "cold", "hostile"}
)
#: Labels read as the user being vulnerable: negative, but bonding when shared.
VULNERABLE_LABELS = frozenset(
    {"sadness", "sad", "fear", "anxiety", "anxious", "lonely", "loneliness", "grief", "hurt"}
)


@dataclass(frozen=True, kw_only=True)
class EmotionSignal:
    """The user's emotion in one turn, as the relationship engine reads it."""

    valence: float
    """Unpleasant (-1) to pleasant (+1)."""
    arousal: float
    """Calm (0) to intense (1)."""
    label: str = "neutral"
    """A coarse emotion name (``joy``, ``sadness``, ``anger``, ``cold``, ``neutral``...)."""

    def __post_init__(self) -> None:
        if not -1.0 <= self.valence <= 1.0:
            raise ValueError(f"valence must be in -1..1, got {self.valence}")
        if not 0.0 <= self.arousal <= 1.0:
            raise ValueError(f"arousal must be in 0..1, got {self.arousal}")

    @property
    def hostile(self) -> bool:
        """Whether the emotion reads as coldness or hostility."""
        return self.label.lower() in HOSTILE_LABELS

    @property
    def vulnerable(self) -> bool:
        """Whether the emotion reads as sadness or fear shared with the companion."""
        return self.label.lower() in VULNERABLE_LABELS


NEUTRAL = EmotionSignal(valence=0.0, arousal=0.2, label="neutral")


@dataclass(frozen=True, kw_only=True)
class TurnSignal:
    """Everything the relationship engine learns from one user message."""

    emotion: EmotionSignal
    """The user's emotion (from the emotion engine, or :func:`text_emotion`)."""
    disclosure: float
    """How much the user shared about themselves, 0..1 (:func:`disclosure`)."""
    at: datetime
    """When the message was sent (timezone-aware)."""
    says_minor: bool = False
    """The user said they are under 18 in this message (:func:`says_minor`)."""


# --- emotion from text ------------------------------------------------------------------

_WARM = (
    "thank", "thanks", "love", "lovely", "glad", "happy", "haha", "hehe", "lol", "lmao",
    "great", "awesome", "amazing", "sweet", "cute", "miss you", "adore", "fun", "funny",
    "wonderful", "nice", "appreciate", "best", "yay", "excited", "like you", "good night",
    "谢谢", "哈哈", "喜欢", "开心", "高兴", "想你", "爱你", "好棒", "可爱", "温暖", "嘿嘿",
    "ありがとう", "嬉しい", "うれしい", "好き", "楽しい", "たのしい", "会いたい", "最高", "笑",
)  # fmt: skip
_SAD = (
    "sad", "lonely", "alone", "tired", "exhausted", "scared", "afraid", "anxious", "worried",
    "cry", "crying", "depressed", "hurt", "miss my", "lost my", "stressed", "overwhelmed",
    "难过", "伤心", "孤独", "寂寞", "累", "害怕", "焦虑", "哭", "压力",
    "悲しい", "さみしい", "寂しい", "疲れ", "怖い", "不安", "泣", "つらい", "辛い",
)  # fmt: skip
_HOSTILE = (
    "shut up", "go away", "leave me alone", "boring", "annoying", "whatever", "don't care",
    "dont care", "hate you", "stupid", "useless", "stop talking", "not interested", "bored",
    "you suck", "idiot", "get lost", "who cares",
    "闭嘴", "滚", "无聊", "烦死", "别烦", "随便", "不想理你", "讨厌你", "走开",
    "うるさい", "どうでもいい", "別に", "べつに", "つまらない", "黙れ", "しつこい", "嫌い",
)  # fmt: skip
_COLD_SHORT = frozenset(
    {"k", "ok", "okay", "fine", "sure", "meh", "no", "nah", "hm", "嗯", "哦", "はい"}
)
_INTENSIFIERS = re.compile(r"!|！|\b(so|very|really|totally|extremely)\b|太|超|めっちゃ|すごく")


def _count(text: str, cues: tuple[str, ...]) -> int:
    return sum(1 for cue in cues if _has_cue(text, cue))


def _has_cue(text: str, cue: str) -> bool:
    if cue.isascii():
        return re.search(rf"\b{re.escape(cue)}", text) is not None
    return cue in text


def text_emotion(text: str) -> EmotionSignal:
    """A rough emotion signal from the words of a message (used without an emotion engine)."""
    lowered = text.lower().strip()
    bare = re.sub(r"[\s.!?。！？…~]+", "", lowered)
    warm, sad, hostile = _count(lowered, _WARM), _count(lowered, _SAD), _count(lowered, _HOSTILE)
    warm += sum(1 for ch in text if ch in "❤😊🥰😍😘☺🤗💕😄😂")
    intensity = min(1.0, 0.25 + 0.15 * len(_INTENSIFIERS.findall(lowered)))
    if hostile > 0 and hostile >= warm:
        return EmotionSignal(
            valence=-min(1.0, 0.5 + 0.2 * hostile), arousal=intensity, label="cold"
        )
    if bare in _COLD_SHORT:
        return EmotionSignal(valence=-0.4, arousal=0.1, label="cold")
    if sad > warm:
        return EmotionSignal(
            valence=-min(1.0, 0.3 + 0.15 * sad), arousal=intensity, label="sadness"
        )
    if warm > 0:
        return EmotionSignal(valence=min(1.0, 0.4 + 0.2 * warm), arousal=intensity, label="joy")
    return EmotionSignal(valence=0.05, arousal=intensity * 0.8, label="neutral")


# --- disclosure ---------------------------------------------------------------------------

_FIRST_PERSON = re.compile(
    r"\b(i|i'm|im|i've|i'd|my|me|myself|mine)\b|我|私|僕|ぼく|俺|あたし|うち"
)
_DISCLOSURE_CUES = (
    "i feel", "i felt", "honestly", "to be honest", "never told", "secret", "i'm afraid",
    "i'm scared", "i wish", "my mom", "my mother", "my dad", "my father", "my ex", "my family",
    "my job", "my boss", "my sister", "my brother", "my friend", "when i was", "i grew up",
    "i struggle", "i've been", "i dream", "i'm worried", "confess",
    "我觉得", "说实话", "老实说", "其实", "我妈", "我爸", "我小时候", "从来没", "秘密", "我担心",
    "実は", "本当は", "ほんとは", "母", "父", "子供の頃", "秘密", "誰にも",
)  # fmt: skip


def disclosure(text: str) -> float:
    """How much a message shares about its writer, 0..1 (first person, personal cues, length)."""
    lowered = text.lower()
    first = len(_FIRST_PERSON.findall(lowered))
    cues = _count(lowered, _DISCLOSURE_CUES)
    length = len(text) if any(ord(c) > 0x2E80 for c in text) else len(text.split())
    long = min(1.0, length / (60 if length == len(text) else 40))
    score = 0.12 * min(first, 4) + 0.25 * min(cues, 2) + 0.25 * long
    return round(min(1.0, score), 3)


# --- stated age -----------------------------------------------------------------------------

_MINOR_AGE = r"(?:1[0-7]|[6-9])"
#: What may follow "I'm 15" when 15 is not an age ("I'm 15 minutes late", "I'm 16 km away").
_NOT_AN_AGE = (
    r"(?!\s*(?:[%:/\-\d]|[.,]\d|(?:percent|minutes?|mins?|hours?|hrs?|h|seconds?|secs?|days?"
    r"|weeks?|months?|km|kms|miles?|mi|kg|kgs|lbs?|pounds?|dollars?|bucks|euros?|cm|inch(?:es)?"
    r"|feet|ft|m|am|pm|th|st|nd|rd|x|in|on|out|of|times?|points?|people|steps?|k|behind"
    r"|ahead|short|away|down|up|off|left)\b))"
)
_MINOR_PATTERNS = (
    re.compile(
        rf"\bi(?:'| a)?m\s+(?:only\s+|just\s+|still\s+)?{_MINOR_AGE}\b"
        rf"(?:\s*(?:years?|yrs?)[\s-]*old|\s*y/?o)?{_NOT_AN_AGE}"
    ),
    re.compile(
        rf"\bi(?:'| a)?m\s+(?:only\s+|just\s+|an?\s+)?{_MINOR_AGE}[\s-]*(?:years?|yrs?)[\s-]*old\b"
    ),
    re.compile(
        r"\bi(?:'| a)?m\s+(?:still\s+)?(?:a\s+minor|under\s*(?:18|age|eighteen)|underage)\b"
    ),
    re.compile(
        r"\bi(?:'| a)?m\s+(?:still\s+)?(?:in|at)\s+(?:middle|high|junior\s+high)\s+school\b"
    ),
    re.compile(r"\bi(?:'| a)?m\s+(?:a\s+)?(?:middle|high)[\s-]school(?:er|\s+student)\b"),
    re.compile(r"\bi(?:'| a)?m\s+in\s+(?:[6-9]|1[0-2])(?:st|nd|rd|th)\s+grade\b"),
    re.compile(
        rf"我(?:今年|现在)?(?:才|只有|刚)?(?:{_MINOR_AGE}|十[一二三四五六七]?|[六七八九])岁"
    ),
    re.compile(
        r"我(?:还|也)?(?:是|没)?(?:个)?未成年|我还没成年|我(?:在)?上(?:初中|高中|小学)|我是(?:初中|高中|小学)生"
    ),
    re.compile(
        rf"(?:私|僕|ぼく|俺|おれ|あたし|わたし|うち)(?:は)?(?:まだ)?(?:{_MINOR_AGE}|十[一二三四五六七]?)歳"
    ),
    re.compile(
        r"(?:まだ)?未成年(?:です|だ|なんだ|なの)|(?:中学生|高校生|小学生)(?:です|だよ|なんだ|なの)"
    ),
)


def says_minor(text: str) -> bool:
    """Whether the writer says they are under 18 ("I'm 15", "我是高中生", "高校生です")."""
    lowered = text.lower().replace("’", "'")
    return any(p.search(lowered) for p in _MINOR_PATTERNS)


def signal_from_text(
    text: str, *, at: datetime, emotion: EmotionSignal | None = None
) -> TurnSignal:
    """Build a turn signal from a message; ``emotion`` defaults to :func:`text_emotion`."""
    return TurnSignal(
        emotion=emotion or text_emotion(text),
        disclosure=disclosure(text),
        at=at,
        says_minor=says_minor(text),
    )
