"""Mio's relationship nodes: plan the stage before the reply, store it after.

``plan_relationship`` runs before ``generate`` so the reply is played at this turn's
stage (a user who just said they are a minor is answered as one at once).
``relationship`` runs after ``generate``: it stores the planned step (worked out once,
again only if the stored relationship changed meanwhile), emits the ``relationship``
event and tells plugins about stage changes. Nothing is stored when the reply fails, so
a failed turn leaves the relationship as it was.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from langgraph.runtime import Runtime

from miolumi import events
from miolumi.core.relationship import (
    AgeStatus,
    EmotionSignal,
    RelationshipEngine,
    RelationshipState,
    Step,
    TurnSignal,
    signal_from_text,
    text_emotion,
)
from miolumi.events import RelationshipEvent
from miolumi.graphs.context import TurnContext
from miolumi.graphs.pace import stream_writer
from miolumi.graphs.state import PlannedStep, TurnState
from miolumi.mio.agents import ensure_agent
from miolumi.mio.persona import Persona
from miolumi.mio.registry import DEFAULT_PERSONA
from miolumi.services import Services

log = logging.getLogger(__name__)

ENGINE = RelationshipEngine()


def emotion_signal(state: TurnState) -> EmotionSignal:
    """The user's emotion this turn, as the relationship engine reads it.

    The emotion engine's reading (``state.user_emotion``) when there is one; a dismissive
    reply ("k", "whatever"), which its labels do not name, is read from the text as
    ``cold``; without a reading the text alone decides.
    """
    lexical = text_emotion(state.user_input)
    reading = state.user_emotion
    if reading is None or lexical.label == "cold":
        return lexical
    return EmotionSignal(
        valence=min(1.0, max(-1.0, float(reading["valence"]))),
        arousal=min(1.0, max(0.0, float(reading["arousal"]))),
        label=str(reading["label"]),
    )


def turn_signal(state: TurnState, *, at: datetime) -> TurnSignal:
    """What this turn tells the relationship engine: emotion, disclosure, a stated age."""
    return signal_from_text(state.user_input, at=at, emotion=emotion_signal(state))


def speaking_persona(context: TurnContext) -> Persona:
    """The persona of this run (the default one when ``agent_id`` is unset)."""
    return context.resources().personas.get(context.agent_id or DEFAULT_PERSONA)


def _plan(services: Services, user_id: str, persona: Persona, signal: TurnSignal) -> PlannedStep:
    ladder = persona.relationship.ladder()
    before, age = services.relationships.current(user_id, persona.id, ladder=ladder)
    step = ENGINE.step(before, signal, ladder=ladder, age=age)
    return PlannedStep(before=before, age=age, signal=signal, step=step)


def relationship_view(persona: Persona, step: Step, *, at: datetime) -> RelationshipEvent:
    """The ``relationship`` event of a step."""
    stage = persona.relationship.stage(step.state.stage)
    view: RelationshipEvent = {
        "type": "relationship",
        "agent_id": persona.id,
        "stage": stage.id,
        "label": stage.label,
        "romantic": stage.romantic,
        "romance_allowed": step.romance_allowed,
        "age": step.age.value,
        "axes": step.state.axes.as_dict(),
        "at": at.isoformat(),
    }
    if step.change is not None:
        view["changed_from"] = step.change.from_stage
        view["reason"] = step.change.reason
    return view


async def plan_relationship(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Work out this turn's stage (not stored yet) for the prompt."""
    persona = speaking_persona(runtime.context)
    at = datetime.now(UTC)
    signal = turn_signal(state, at=at)
    planned = await asyncio.to_thread(
        _plan, runtime.context.resources(), runtime.context.user_id, persona, signal
    )
    view = relationship_view(persona, planned.step, at=at)
    return {"relationship": view, "planned_step": planned}


def store_step(services: Services, user_id: str, persona: Persona, planned: PlannedStep) -> Step:
    """Store the planned step, or one worked out again if the stored relationship changed.

    Reading, checking and saving are one transaction (one thread hop); the step is worked
    out again only when another turn stored a step (or the age changed) since the plan.
    """

    def work(current: RelationshipState, age: AgeStatus) -> Step:
        if current == planned.before and age == planned.age:
            return planned.step
        return ENGINE.step(current, planned.signal, ladder=ladder, age=age)

    ladder = persona.relationship.ladder()
    store = services.relationships
    ensure_agent(store.engine, persona, source=services.personas.sources.get(persona.id, "?"))
    return store.advance(user_id, persona.id, ladder=ladder, work=work)


async def relationship(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Store the turn's relationship step, emit ``relationship``, notify plugins of a change."""
    services = runtime.context.resources()
    persona = speaking_persona(runtime.context)
    user_id = runtime.context.user_id
    view = state.relationship
    at = datetime.fromisoformat(view["at"]) if view else datetime.now(UTC)
    planned = state.planned_step
    if planned is None:  # a run resumed from its checkpoint: plan again from the store
        signal = turn_signal(state, at=at)
        planned = await asyncio.to_thread(_plan, services, user_id, persona, signal)
    step = await asyncio.to_thread(store_step, services, user_id, persona, planned)
    stream_writer(runtime)(relationship_view(persona, step, at=at))
    if step.change is not None:
        plugins = services.plugins
        for name in plugins.implementers("relationship_stage_changed"):
            try:
                plugins.call_one(
                    "relationship_stage_changed",
                    name,
                    user_id=user_id,
                    agent_id=persona.id,
                    change=step.change,
                )
            except Exception as exc:  # reported as an event; the turn goes on
                message = f"Plugin {name!r} failed in relationship_stage_changed: {exc}"
                log.warning(message)
                stream_writer(runtime)(events.error("plugin_error", message))
    return {"relationship": None, "planned_step": None}
