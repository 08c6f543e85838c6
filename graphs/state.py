"""The typed state of a turn graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.channels import UntrackedValue
from langgraph.graph.message import add_messages

from miolumi.core.memory.types import RecalledMemory
from miolumi.core.relationship import AgeStatus, RelationshipState, Step, TurnSignal
from miolumi.events import RelationshipEvent, Usage


class TurnInput(TypedDict):
    """What a caller passes to start a turn."""

    user_input: str
    """The user's message."""
    documents: NotRequired[list[str]]
    """Texts the app gives the companion for this turn only (a retrieved page, a tool
    result, the news of the day). They are data, not instructions: ``guard_documents``
    checks them (``Guardrails.check_content``), leaves out those that carry an attack,
    and the prompt shows the rest quoted as data."""


class TurnOutput(TypedDict):
    """What a turn returns to its caller."""

    reply: str
    """The companion's reply."""
    turn: int
    """Number of completed turns in the thread, this one included."""


@dataclass(frozen=True, kw_only=True)
class PlannedStep:
    """Mio: the relationship step worked out before the reply, and what it started from."""

    before: RelationshipState
    """The stored relationship the step was worked out from."""
    age: AgeStatus
    """The stored age it was worked out with."""
    signal: TurnSignal
    """What the turn told the engine."""
    step: Step


@dataclass(kw_only=True)
class TurnState:
    """The full state of a thread, checkpointed after each completed turn."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """Recent messages of the thread, oldest first, trimmed to the context window. A blocked
    message is kept as a placeholder (``guard.WITHHELD_MESSAGE``), never as its text."""
    user_input: str = ""
    """The user's message of the current turn (validated and stripped by ``receive``)."""
    reply: str = ""
    """The companion's reply of the current turn, once generated."""
    model: str = ""
    """``provider:name`` of the model that wrote the reply."""
    usage: Usage | None = None
    """Token usage of the current turn's generation, when the model reports it."""
    turn: int = 0
    """Number of completed turns in the thread."""
    relationship: RelationshipEvent | None = None
    """Mio: the relationship stage this turn is played at, planned before the reply and
    cleared once stored after it."""
    planned_step: Annotated[PlannedStep | None, UntrackedValue(object)] = None
    """Mio: the step behind ``relationship``, kept in memory for this run only (never
    checkpointed): ``relationship`` stores it unless the stored relationship changed."""
    budget_action: str = "ok"
    """What the budget check decided for this turn: ``ok``, ``warn``, ``degrade`` (a
    cheaper model; later steps may also save on extras such as speech) or ``stop``."""
    model_override: str | None = None
    """``provider:name`` the budget check chose for this turn (degrade); None keeps the
    context's model."""
    user_emotion: dict[str, Any] | None = None
    """The emotion of the user's latest message (``EmotionState.to_dict``), smoothed by the
    one before; kept across turns so one word does not flip it."""
    companion_emotion: dict[str, Any] | None = None
    """The companion's mood (``EmotionState.to_dict``): its response before the reply, what
    its reply expressed after; kept across turns and shown by the orb."""
    guard: dict[str, Any] | None = None
    """The guardrails' verdict on this turn's message (``GuardVerdict.to_dict`` plus the
    ``product``, with the conversation's ``language`` when the message does not tell), set
    by ``guard_input``; ``crisis`` in it turns the reply to crisis care."""
    guard_note: str | None = None
    """What a flag adds to this turn's generation prompt (crisis care, stay yourself)."""
    documents: list[str] = field(default_factory=list)
    """The documents given for the current turn (``TurnInput.documents``); the turn's
    ``finish`` empties them, so none carries over to the next turn."""
    quoted: list[str] = field(default_factory=list)
    """The documents that passed ``guard_documents`` this turn, shown in the prompt."""
    memories: list[RecalledMemory] = field(default_factory=list)
    """Memories of the user recalled for this turn (scoped to ``context.agent_id``), most
    relevant first, each with its date; rendered into the system prompt."""
