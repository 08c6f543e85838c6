"""Emotion and orb events of a turn: before, during and after generation.

``emotion`` (a node, right after ``receive``) reads the user's message with the shared
engine (``Services.emotion``), derives the companion's response mood, and emits
``emotion`` and ``orb`` events. While the reply streams, :class:`ReplyMood` re-reads the
reply at clause ends and emits an update when the orb would change; once the reply is
complete it emits the final reading. Every reading is local and costs well under a
millisecond, so the turn is not slowed.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from miolumi.core.emotion import (
    TRANSITION_MS,
    EmotionEngine,
    EmotionState,
    OrbState,
    analyze_with_model,
    companion_response,
    orb_for,
)
from miolumi.events import EmotionEvent, OrbEvent, Phase
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.embedding import message_embedding
from miolumi.graphs.pace import stream_writer
from miolumi.graphs.state import TurnState

#: Characters of new reply text before a clause end triggers a re-reading.
MIN_NEW_CHARS = 16
_CLAUSE_ENDS = frozenset(".!?,;:\n。！？，；…~")


def emotion_event(state: EmotionState, *, phase: Phase, subject: str) -> EmotionEvent:
    """The event of a reading."""
    return {
        "type": "emotion",
        "phase": phase,
        "subject": "user" if subject == "user" else "companion",
        "label": state.label,
        "scores": {str(label): value for label, value in state.scores.items()},
        "valence": state.valence,
        "arousal": state.arousal,
        "intensity": state.intensity,
        "language": state.language,
    }


def orb_event(orb: OrbState, *, phase: Phase, transition_ms: int = TRANSITION_MS) -> OrbEvent:
    """The event of an orb state."""
    return {
        "type": "orb",
        "phase": phase,
        "name": orb.name,
        "colour": orb.colour,
        "pulse_hz": orb.pulse_hz,
        "brightness": orb.brightness,
        "transition_ms": transition_ms,
    }


def _state(data: dict[str, Any] | None) -> EmotionState | None:
    return EmotionState.from_dict(data) if data else None


async def emotion(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Read the user's message, answer it with a companion mood, emit both and the orb."""
    services = runtime.context.resources()
    engine = services.emotion
    history = [s for s in (_state(state.user_emotion),) if s is not None]
    if services.settings.emotion_mode == "llm":
        model = services.models.resolve(runtime.context.model)
        user = await analyze_with_model(
            engine,
            state.user_input,
            model=model.chat,
            structured=not model.provider.local,
            history=history,
        )
    else:
        vector = await message_embedding(services, state.user_input, model=engine.embedding_model)
        user = engine.analyze(state.user_input, history=history, embedding=vector)
    mood = companion_response(user, previous=_state(state.companion_emotion))
    write = stream_writer(runtime)
    write(emotion_event(user, phase="before", subject="user"))
    write(emotion_event(mood, phase="before", subject="companion"))
    write(orb_event(orb_for(mood), phase="before"))
    return {"user_emotion": user.to_dict(), "companion_emotion": mood.to_dict()}


class ReplyMood:
    """Follows the companion's mood while its reply streams (used by ``generate``)."""

    def __init__(self, *, engine: EmotionEngine, state: TurnState, runtime: Runtime[Any]) -> None:
        self.engine = engine
        self.write = stream_writer(runtime)
        self.before = _state(state.companion_emotion)
        self.mood = self.before
        self.orb = orb_for(self.before).name if self.before else None
        self.text = ""
        self.read_at = 0

    def push(self, piece: str) -> None:
        """Add streamed text; at a clause end with enough new text, re-read and maybe emit."""
        self.text += piece
        if len(self.text) - self.read_at < MIN_NEW_CHARS or not any(
            c in _CLAUSE_ENDS for c in piece
        ):
            return
        self.read_at = len(self.text)
        mood = self._read()
        orb = orb_for(mood)
        if orb.name != self.orb:
            self.orb = orb.name
            self.write(emotion_event(mood, phase="during", subject="companion"))
            self.write(orb_event(orb, phase="during"))

    def finish(self) -> dict[str, Any] | None:
        """Read the whole reply, emit the final emotion and orb; return the mood as data."""
        if not self.text.strip():
            return self.before.to_dict() if self.before else None
        mood = self._read()
        self.write(emotion_event(mood, phase="after", subject="companion"))
        self.write(orb_event(orb_for(mood), phase="after"))
        return mood.to_dict()

    def _read(self) -> EmotionState:
        history = [self.before] if self.before else []
        self.mood = self.engine.analyze(self.text, history=history)
        return self.mood
