"""The per-run context of a turn graph (LangGraph ``context_schema``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from miolumi.services import Services, default_services

if TYPE_CHECKING:
    from miolumi.graphs.pace import Pace


@dataclass(kw_only=True)
class TurnContext:
    """Who is talking to whom, and with what; fixed for one run."""

    user_id: str = "local"
    """The user the turn serves; every read and write is scoped to them."""
    agent_id: str | None = None
    """The Mio persona spoken to; None is the user's global stream (Lumi)."""
    model: str | None = None
    """``provider:name`` of the chat model; None uses the configured default."""
    voice: bool | None = None
    """Speak the reply (``audio`` events); None follows the ``voice`` setting."""
    locale: str | None = None
    """The user's locale (``en-GB``, ``zh-TW``): their region's crisis resources; None
    follows the ``crisis_locale`` setting."""
    services: Services | None = None
    """Shared resources; None builds them once from the environment."""
    pace: Pace | None = None
    """Back-pressure from the consumer of the stream (`ChatSession` sets it)."""

    def resources(self) -> Services:
        """The services of this run."""
        return self.services or default_services()
