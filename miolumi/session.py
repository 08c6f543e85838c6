"""A chat session: one thread, driven turn by turn, with its stream of events.

This is what the CLI uses, and the simplest way to embed a companion::

    async with ChatSession.open(user_id="u1", product="lumi") as chat:
        async for event in chat.turn("hello"):
            ...

A server opens one `Runtime` and makes a session per request from it.

A turn is atomic: it is checkpointed once, when it completes; a failed or cancelled
turn leaves the thread exactly as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph, StateGraph
from sqlalchemy import Engine

from miolumi.config import Product
from miolumi.core.cost import run_metadata
from miolumi.db import conversations
from miolumi.db.checkpoints import open_checkpointer, prune_thread
from miolumi.db.engine import open_database
from miolumi.errors import InputError
from miolumi.events import Event, TurnEndEvent
from miolumi.graphs import lumi, mio
from miolumi.graphs.context import TurnContext
from miolumi.graphs.pace import Pace
from miolumi.mio.registry import DEFAULT_PERSONA
from miolumi.services import Services, default_services

_BUILDERS: dict[Product, StateGraph[Any, Any, Any, Any]] = {
    "mio": mio.builder,
    "lumi": lumi.builder,
}


def new_thread_id() -> str:
    """A fresh, unguessable thread id."""
    return uuid.uuid4().hex


@dataclass(kw_only=True)
class Runtime:
    """What every session of a process shares: services, database, checkpointer, graphs.

    A server opens one runtime and makes a `ChatSession` per request from it; the CLI
    opens one through `ChatSession.open`.
    """

    services: Services
    engine: Engine
    saver: BaseCheckpointSaver[str]
    graphs: Mapping[Product, CompiledStateGraph[Any, Any, Any, Any]]

    @classmethod
    @asynccontextmanager
    async def open(
        cls, services: Services | None = None, *, warm: bool = False
    ) -> AsyncIterator[Runtime]:
        """Open the database and the checkpointer, and compile both products' graphs.

        ``warm`` also loads the guardrail and emotion classifiers now (a server does),
        and the embedding model they read when memory embeds with another, so the first
        user's turn does not pay for loading them.
        """
        services = services or default_services()
        engine = await asyncio.to_thread(open_database, services.settings.relational_url)
        try:
            async with open_checkpointer(services.settings.checkpoint_url) as saver:
                graphs = {
                    product: builder.compile(checkpointer=saver, name=product)
                    for product, builder in _BUILDERS.items()
                }
                if warm:
                    await asyncio.to_thread(_warm_up, services)
                yield cls(services=services, engine=engine, saver=saver, graphs=graphs)
        finally:
            # Memories of the last turns are written in the background: wait for them.
            await services.memory_writer.drain()
            engine.dispose()

    async def session(
        self,
        *,
        user_id: str,
        product: Product = "mio",
        agent_id: str | None = None,
        thread_id: str | None = None,
        model: str | None = None,
        locale: str | None = None,
    ) -> ChatSession:
        """A session on ``thread_id``, or the latest thread with that companion, or a new one.

        For Mio, ``agent_id`` defaults to the default persona and must be registered; Lumi
        has no persona, so ``agent_id`` must be None. A thread of another user or another
        companion is refused with `ThreadOwnershipError`. ``locale``: the user's
        (``en-GB``), for their region's crisis resources; one whose language has none is
        refused with `InputError`.
        """
        locale = self.services.guardrails.crisis.for_locale(locale).locale if locale else None
        if product == "mio":
            agent_id = self.services.personas.get(agent_id or DEFAULT_PERSONA).id
        elif agent_id is not None:
            raise InputError("Lumi has no personas: leave agent_id unset.")
        known = await asyncio.to_thread(
            _find_thread,
            self.engine,
            user_id=user_id,
            product=product,
            agent_id=agent_id,
            thread_id=thread_id,
        )
        return ChatSession(
            services=self.services,
            engine=self.engine,
            graph=self.graphs[product],
            saver=self.saver,
            user_id=user_id,
            product=product,
            agent_id=agent_id,
            thread_id=known.thread_id if known else thread_id or new_thread_id(),
            model=model,
            completed_turns=known.turns if known else 0,
            locale=locale,
        )


def _warm_up(services: Services) -> None:
    extra = services.classifier_embeddings  # their own embedding model, if memory's is not
    for text in ("Hello, how are you?", "你好，最近怎么样？", "こんにちは、元気？"):
        vector = extra.embed(text) if extra is not None else None
        services.guardrails.check_input(text, embedding=vector)
        services.emotion.analyze(text, embedding=vector)


def _find_thread(
    engine: Engine, *, user_id: str, product: str, agent_id: str | None, thread_id: str | None
) -> conversations.ConversationInfo | None:
    """The recorded conversation to continue (checked to be the user's), if any."""
    if thread_id is None:
        thread_id = conversations.latest(
            engine, user_id=user_id, product=product, agent_id=agent_id
        )
        if thread_id is None:
            return None
    return conversations.check_owner(
        engine, thread_id=thread_id, user_id=user_id, product=product, agent_id=agent_id
    )


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
    voice: bool | None = None
    """Speak the replies (``audio`` events); None follows the ``voice`` setting."""
    locale: str | None = None
    """The user's locale (``en-GB``): their region's crisis resources; None follows the
    ``crisis_locale`` setting. Checked by :meth:`Runtime.session`."""
    pace_window: int = 64
    """Events the turn may run ahead of its consumer before generation waits for it."""

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
        locale: str | None = None,
    ) -> AsyncIterator[ChatSession]:
        """Open a session; without ``thread_id``, continue the latest thread with that companion.

        For Mio, ``agent_id`` defaults to the default persona and must be registered; Lumi
        has no persona, so ``agent_id`` must be None. ``locale``: the user's (``en-GB``),
        for their region's crisis resources.
        """
        async with Runtime.open(services) as runtime:
            yield await runtime.session(
                user_id=user_id,
                product=product,
                agent_id=agent_id,
                thread_id=thread_id,
                model=model,
                locale=locale,
            )

    @property
    def _config(self) -> RunnableConfig:
        return {"configurable": {"thread_id": self.thread_id}}

    def _context(self, pace: Pace | None = None) -> TurnContext:
        return TurnContext(
            user_id=self.user_id,
            agent_id=self.agent_id,
            model=self.model,
            services=self.services,
            voice=self.voice,
            locale=self.locale,
            pace=pace,
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
        """Run one turn, yielding its events; raises a `MiolumiError` naming the fix on failure.

        Only one turn runs on a thread at a time, across processes sharing the database: a
        second one is refused with `ThreadBusyError`.
        """
        holder = uuid.uuid4().hex
        thread_id = self.thread_id
        await asyncio.to_thread(
            conversations.acquire_lease, self.engine, thread_id=thread_id, holder=holder
        )
        released = False
        try:
            async for event in self._turn(text, holder=holder):
                if event["type"] == "turn_end":
                    # Stored, and the thread freed with the record before the caller hears
                    # of it, so a next turn sent on turn_end (from any process) is never
                    # refused as busy.
                    released = True
                yield event
        finally:
            if not released:
                await asyncio.shield(
                    asyncio.to_thread(
                        conversations.release_lease, self.engine, thread_id=thread_id, holder=holder
                    )
                )

    async def _turn(self, text: str, *, holder: str) -> AsyncIterator[Event]:
        end: TurnEndEvent | None = None
        pace = Pace(window=self.pace_window)
        async for item in self.graph.astream(
            {"user_input": text},
            config=self._run_config(),
            context=self._context(pace),
            stream_mode="custom",
            durability="exit",
        ):
            pace.took()
            event = cast(Event, item)
            if event["type"] == "turn_end":
                end = event  # held back until the turn is stored
            else:
                yield event
        if end is None:
            raise RuntimeError("the turn graph finished without a turn_end event")
        # The checkpoint file and the relational database: pruned and recorded side by side.
        outcomes = await asyncio.gather(
            prune_thread(self.saver, self.thread_id),
            asyncio.to_thread(
                conversations.record_turn,
                self.engine,
                thread_id=self.thread_id,
                user_id=self.user_id,
                product=self.product,
                agent_id=self.agent_id,
                turns=end["turn"],
                release=holder,
            ),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        self.completed_turns = end["turn"]
        # Last, and only once the checkpoint and the record are written: a client that saw
        # turn_end can count on the turn surviving a crash or restart of this process.
        yield end

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
