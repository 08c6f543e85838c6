"""The typed state of a turn graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from miolumi.events import Usage


class TurnInput(TypedDict):
    """What a caller passes to start a turn."""

    user_input: str
    """The user's message."""


class TurnOutput(TypedDict):
    """What a turn returns to its caller."""

    reply: str
    """The companion's reply."""
    turn: int
    """Number of completed turns in the thread, this one included."""


@dataclass(kw_only=True)
class TurnState:
    """The full state of a thread, checkpointed after each completed turn."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """Recent messages of the thread, oldest first, trimmed to the context window."""
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
