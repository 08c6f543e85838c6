"""Request and response bodies of the REST API (what OpenAPI publishes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Me(_Body):
    """The authenticated user."""

    user_id: str
    age: Literal["unknown", "adult", "minor"]


class PersonaSummary(_Body):
    """A persona in the picker."""

    id: str
    display_name: str
    tagline: str
    languages: list[str]
    stages: list[str]
    """Labels of the relationship ladder, first to last."""


class Conversation(_Body):
    """One of the user's conversation threads."""

    thread_id: str
    product: Literal["mio", "lumi"]
    agent_id: str | None
    turns: int
    updated_at: datetime


class Message(_Body):
    """A message of a thread."""

    role: Literal["user", "companion"]
    text: str


class TurnRequest(_Body):
    """A turn run over REST."""

    text: str = Field(description="The user's message.")
    product: Literal["mio", "lumi"] = "mio"
    agent_id: str | None = Field(default=None, description="Mio persona (default: mio).")
    thread_id: str | None = Field(
        default=None, description="Thread to continue (default: the latest with that companion)."
    )
    new_thread: bool = Field(default=False, description="Start a new thread.")
    locale: str | None = Field(
        default=None,
        max_length=35,
        description="The user's locale, e.g. en-GB: their region's crisis resources "
        "(default: the server's crisis_locale).",
    )


class TurnResult(_Body):
    """A completed turn."""

    thread_id: str
    reply: str
    turn: int
    events: list[dict[str, Any]]
    """Every event of the turn, in order, as the WebSocket would have streamed them."""


class RelationshipView(_Body):
    """Where the user stands with one persona."""

    agent_id: str
    stage: str
    label: str
    romantic: bool
    axes: dict[str, float]
    turns: int
    visits: int
    last_contact: datetime | None
    history: list[dict[str, Any]]


class MemoryView(_Body):
    """A memory (without its internal context)."""

    id: str
    agent_id: str | None
    text: str
    timestamp: datetime
    importance: float
    slot: str | None


class Deleted(_Body):
    """How many things were deleted."""

    deleted: int


class SnapshotView(_Body):
    """One version of Lumi's personality."""

    version: int
    reason: str
    based_on: int | None
    drift: float
    created_at: datetime
    personality: dict[str, Any]


class SeedView(_Body):
    """The personality seed Lumi took from the first exchanges."""

    seed: dict[str, Any]
    source: str
    exchanges: int
    created_at: datetime


class UsageLineView(_Body):
    """Usage totals of one group."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    characters: int
    audio_seconds: float
    images: int
    cost: str
    """USD of the priced calls, as a decimal string."""
    unpriced: int


class TokenRequest(_Body):
    """Ask for a new API token."""

    user_id: str = Field(min_length=1, max_length=128)
    label: str = Field(default="", max_length=128)


class TokenView(_Body):
    """An API token, without its secret."""

    id: str
    user_id: str
    label: str
    created_at: datetime
    revoked: bool


class IssuedTokenView(TokenView):
    """A new API token, with its secret (this once)."""

    token: str
    """The token itself: shown only in this response."""


class FlagView(_Body):
    """A guardrail flag (never the message text)."""

    at: datetime
    user_id: str
    agent_id: str | None
    stage: str
    category: str
    score: float
    action: str


class ForgottenView(_Body):
    """What was removed of a user."""

    user_id: str
    threads: int
    memories: int
    usage_rows: int
    flags: int
