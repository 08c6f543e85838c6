"""Typed stream events of a turn: what the CLI, the server and embedding apps consume.

Graph nodes emit them through LangGraph's custom stream (``stream_mode="custom"``);
each is a plain JSON-ready dict with a ``type`` key, so the server can forward it as is.
"""

from __future__ import annotations

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
    """The turn is complete and recorded."""

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


Event = TokenEvent | TurnEndEvent | ErrorEvent


def token(text: str) -> TokenEvent:
    """Build a token event."""
    return {"type": "token", "text": text}


def error(code: str, message: str) -> ErrorEvent:
    """Build an error event."""
    return {"type": "error", "code": code, "message": message}
