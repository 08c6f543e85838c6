"""Typed stream events of a turn: what the CLI, the server and embedding apps consume.

Graph nodes emit them through LangGraph's custom stream (``stream_mode="custom"``);
each is a plain JSON-ready dict with a ``type`` key, so the server can forward it as is.
"""

from __future__ import annotations

import base64
from typing import Literal, NotRequired, TypedDict


class TokenEvent(TypedDict):
    """A piece of the reply text, as the model streams it."""

    type: Literal["token"]
    text: str


class Usage(TypedDict):
    """Token usage of one model call."""

    input_tokens: int
    output_tokens: int


class TurnEndEvent(TypedDict):
    """The turn is complete and stored: always the turn's last event.

    It is sent only after the thread's checkpoint and the conversation record are
    written, so a turn whose ``turn_end`` arrived survives a crash or restart.
    """

    type: Literal["turn_end"]
    reply: str
    turn: int
    model: str
    usage: NotRequired[Usage]


class ErrorEvent(TypedDict):
    """Something failed; ``message`` names the fix."""

    type: Literal["error"]
    code: str
    message: str


class RelationshipEvent(TypedDict):
    """Where the user and the persona stand after this turn (Mio)."""

    type: Literal["relationship"]
    agent_id: str | None
    stage: str
    """Stage id on the persona's ladder."""
    label: str
    """The stage's display label."""
    romantic: bool
    romance_allowed: bool
    """Whether the user confirmed they are an adult (and never said they are a minor)."""
    age: str
    """What the user said about their age: ``unknown``, ``adult`` or ``minor``."""
    axes: dict[str, float]
    """Affection, trust and familiarity, each 0..1."""
    at: str
    """ISO time of the user's message."""
    changed_from: NotRequired[str]
    """The previous stage, when this turn changed it."""
    reason: NotRequired[str]
    """Why it changed: ``progress``, ``regress``, ``cooling`` or ``age``."""


class BudgetEvent(TypedDict):
    """The spending budget shaped this turn: a warning, a cheaper model, or a stop.

    ``warn`` and ``degrade`` are for the operator's eyes (the reply goes on); ``stop``
    carries the companion's kind words in ``message``, also streamed as the reply.
    """

    type: Literal["budget"]
    action: Literal["warn", "degrade", "stop"]
    cap: str
    """Which cap: ``user daily``, ``user monthly``, ``global daily`` or ``global monthly``."""
    spent: str
    """USD spent (and in flight) on that cap before this turn, as a decimal string."""
    limit: str
    """The cap in USD, as a decimal string."""
    model: NotRequired[str]
    """``degrade``: the cheaper model this turn uses."""
    message: NotRequired[str]
    """``stop``: what the companion says instead of replying."""


Phase = Literal["before", "during", "after"]
"""When in the turn: before generation, while the reply streams, or once it is complete."""


class EmotionEvent(TypedDict):
    """An emotion reading (``miolumi.core.emotion.EmotionState`` as data).

    ``subject`` is whose emotion it is: the ``user``'s message, or the ``companion``'s mood
    (before the reply: its response to the user; during and after: what its reply expresses).
    """

    type: Literal["emotion"]
    phase: Phase
    subject: Literal["user", "companion"]
    label: str
    scores: dict[str, float]
    valence: float
    arousal: float
    intensity: float
    language: str


class OrbEvent(TypedDict):
    """What the orb shows now; renderers ease to it over ``transition_ms``."""

    type: Literal["orb"]
    phase: Phase
    name: str
    colour: str
    """``#RRGGBB``."""
    pulse_hz: float
    brightness: float
    transition_ms: int


class AudioEvent(TypedDict):
    """A piece of the spoken reply, in order; chunks of one turn play back to back.

    Emitted while the reply is still being generated (voice on): each sentence is
    spoken as soon as it is complete, split by language, by the first engine that reads
    it. ``data`` is base64 of ``format`` audio: ``pcm_s16le`` is signed 16-bit
    little-endian mono samples at ``sample_rate``.
    """

    type: Literal["audio"]
    format: Literal["pcm_s16le"]
    sample_rate: int
    data: str
    """Base64 of the audio bytes."""
    seq: int
    """Position of this chunk in the turn's audio, from 0, with no gaps."""
    sentence: int
    """Index of the reply sentence this chunk speaks, from 0."""
    language: str
    """ISO 639-1 code of the segment spoken."""
    engine: str
    """The TTS engine that spoke it."""


class GuardEvent(TypedDict):
    """A guardrail flagged or blocked something (``miolumi.core.guardrails.GuardVerdict``).

    ``input``: the user's message (``block``: the reply is the refusal that follows as
    tokens; ``flag`` with ``crisis``: the reply turns to crisis care). ``content``: a
    document given with the message carried an instruction (``block``: it was left out;
    ``flag``: it was shown quoted as data). ``output``: a sentence of the reply was
    replaced before it was shown (``replaced``).
    """

    type: Literal["guard"]
    stage: Literal["input", "content", "output"]
    action: Literal["allow", "flag", "block"]
    categories: list[str]
    scores: dict[str, float]
    """Scores of the categories that scored at least 0.05."""
    reason: str
    crisis: bool
    replaced: NotRequired[bool]


Event = (
    TokenEvent
    | GuardEvent
    | AudioEvent
    | TurnEndEvent
    | ErrorEvent
    | RelationshipEvent
    | BudgetEvent
    | EmotionEvent
    | OrbEvent
)


def token(text: str) -> TokenEvent:
    """Build a token event."""
    return {"type": "token", "text": text}


def audio(
    pcm: bytes, *, sample_rate: int, seq: int, sentence: int, language: str, engine: str
) -> AudioEvent:
    """Build an audio event from 16-bit mono PCM."""
    return {
        "type": "audio",
        "format": "pcm_s16le",
        "sample_rate": sample_rate,
        "data": base64.b64encode(pcm).decode("ascii"),
        "seq": seq,
        "sentence": sentence,
        "language": language,
        "engine": engine,
    }


def error(code: str, message: str) -> ErrorEvent:
    """Build an error event."""
    return {"type": "error", "code": code, "message": message}
