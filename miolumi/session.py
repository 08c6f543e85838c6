"""A chat session: one thread, driven turn by turn, with its stream of events.

This is what the CLI uses, and the simplest way to embed a companion::

    async with ChatSession.open(user_id="u1", product="lumi") as chat:
        async for event in chat.turn("hello"):
            ...

A turn is atomic: it is checkpointed once, when it completes; a failed or cancelled
turn leaves the thread exactly as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy import Engine

from miolumi.core.cost import run_metadata
from miolumi.db import conversations
from miolumi.db.checkpoints import open_checkpointer, prune_thread, thread_turn
from miolumi.db.engine import open_database
from miolumi.events import Event
from miolumi.graphs import lumi, mio
from miolumi.graphs.context import TurnContext
from miolumi.mio.registry import DEFAULT_PERSONA
from miolumi.services import Services, default_services

Product = Literal["mio", "lumi"]

_BUILDERS = {"mio": mio.builder, "lumi": lumi.builder}


def new_thread_id() -> str:
    """A fresh, unguessable thread id."""
    return uuid.uuid4().hex


@dataclass(kw_only=True)
class ChatSession:
    """One user's conversation thread with one companion."""

    services: Services
    engine: Engine
    graph: CompiledStateGraph[Any, Any, Any, Any]
    saver: BaseCheckpointSaver[str]
    user_id: str
    product: Product
    agent_id: str | None
    thread_id: str
    model: str | None = None
    completed_turns: int = 0
    """Turns completed in the current thread (the next turn's number is one more)."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        *,
        user_id: str,
        product: Product = "mio",
        agent_id: str | None = None,
        thread_id: str | None = None,
        model: str | None = None,
        services: Services | None = None,
    ) -> AsyncIterator[ChatSession]:
        """Open a session; without ``thread_id``, continue the latest thread with that companion.

        For Mio, ``agent_id`` defaults to the default persona and must be registered; Lumi
        has no persona, so ``agent_id`` must be None.
        """
        services = services or default_services()
        if product == "mio":
            agent_id = services.personas.get(agent_id or DEFAULT_PERSONA).id
        elif agent_id is not None:
            raise ValueError("Lumi has no personas: leave agent_id unset.")
        engine = await asyncio.to_thread(open_database, services.settings.relational_url)
        try:
            if thread_id is None:
                thread_id = await asyncio.to_thread(
                    conversations.latest,
                    engine,
                    user_id=user_id,
                    product=product,
                    agent_id=agent_id,
                )
            thread_id = thread_id or new_thread_id()
            await asyncio.to_thread(
                conversations.check_owner,
                engine,
                thread_id=thread_id,
                user_id=user_id,
                product=product,
                agent_id=agent_id,
            )
            known = await asyncio.to_thread(conversations.get, engine, thread_id)
            async with open_checkpointer(services.settings.checkpoint_url) as saver:
                graph = _BUILDERS[product].compile(checkpointer=saver, name=product)
                yield cls(
                    services=services,
                    engine=engine,
                    graph=graph,
                    saver=saver,
                    user_id=user_id,
                    product=product,
                    agent_id=agent_id,
                    thread_id=thread_id,
                    model=model,
                    completed_turns=known.turns if known else 0,
                )
        finally:
            # Memories of the last turns are written in the background: wait for them.
            await services.memory_writer.drain()
            engine.dispose()

    @property
    def _config(self) -> RunnableConfig:
        return {"configurable": {"thread_id": self.thread_id}}

    def _context(self) -> TurnContext:
        return TurnContext(
            user_id=self.user_id,
            agent_id=self.agent_id,
            model=self.model,
            services=self.services,
        )

    def _run_config(self) -> RunnableConfig:
        """The config of a turn: the thread, and metadata attributing its paid calls."""
        metadata = run_metadata(
            user_id=self.user_id,
            product=self.product,
            agent_id=self.agent_id,
            turn=self.completed_turns + 1,
        )
        return {**self._config, "metadata": metadata}

    async def turn(self, text: str) -> AsyncIterator[Event]:
        """Run one turn, yielding its events; raises a `MiolumiError` naming the fix on failure."""
        turns = 0
        async with thread_turn(self.saver, self.thread_id):
            async for item in self.graph.astream(
                {"user_input": text},
                config=self._run_config(),
                context=self._context(),
                stream_mode="custom",
                durability="exit",
            ):
                event = cast(Event, item)
                if event["type"] == "turn_end":
                    turns = event["turn"]
                yield event
            await prune_thread(self.saver, self.thread_id)
            await asyncio.to_thread(
                conversations.record_turn,
                self.engine,
                thread_id=self.thread_id,
                user_id=self.user_id,
                product=self.product,
                agent_id=self.agent_id,
                turns=turns,
            )
        self.completed_turns = turns

    async def history(self) -> list[AnyMessage]:
        """The thread's recent messages, oldest first."""
        snapshot = await self.graph.aget_state(self._config)
        values = cast(Mapping[str, Any], snapshot.values)
        return list(values.get("messages", []))

    def new_thread(self) -> str:
        """Switch to a fresh thread and return its id."""
        self.thread_id = new_thread_id()
        self.completed_turns = 0
        return self.thread_id
