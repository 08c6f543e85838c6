"""Shared pieces of the benchmarks: isolated settings, a scripted model as a plugin, a bare graph.

Not a benchmark itself. The scripts import it as ``_scripted`` (run them as
``python benchmarks/<name>.py``, which puts this directory on ``sys.path``).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    RemoveMessage,
    SystemMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from sqlalchemy import Engine
from sqlalchemy import event as sa_event

from miolumi import config as config_module
from miolumi.config import load_settings
from miolumi.mio.prompts import persona_system_prompt
from miolumi.mio.registry import DEFAULT_PERSONA
from miolumi.plugins import load_plugins
from miolumi.services import Services
from miolumi.testing import ScriptedChatModel, ScriptedPlugin

_ENV_PREFIXES = ("MIOLUMI_", "OPENAI_")

_VOCABULARY = (
    *("the", "quiet", "evening", "light", "settles", "over", "the", "harbour", "while"),
    *("we", "talk", "about", "small", "things", "and", "larger", "plans", "for"),
    *("tomorrow", "morning"),
)


def reply_of(words: int, seed: int = 0) -> str:
    """A reply of exactly ``words`` words (one streamed chunk each with ``chunk_size=1``)."""
    picked = [_VOCABULARY[(seed + i) % len(_VOCABULARY)] for i in range(words)]
    return " ".join(picked).capitalize() + "."


def replies_of(words: int, count: int = 7) -> list[str]:
    """A few distinct replies of ``words`` words, served in turn by the scripted model."""
    return [reply_of(words, seed) for seed in range(count)]


@contextmanager
def isolated_environment(home: Path) -> Iterator[None]:
    """Point miolumi at ``home`` and hide any model or database configured on the machine."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(_ENV_PREFIXES):
            del os.environ[key]
    os.environ["MIOLUMI_HOME"] = str(home)
    config_module.get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        config_module.get_settings.cache_clear()


def scripted_services(model: ScriptedChatModel, **overrides: Any) -> Services:
    """Services (settings from the isolated environment) whose only model is ``model``."""
    settings = load_settings(provider="scripted", **overrides)
    plugins = load_plugins(settings, entrypoints=False)
    plugins.manager.register(
        ScriptedPlugin(model, description="scripted replies for benchmarks"), name="scripted"
    )
    return Services.create(settings=settings, plugins=plugins)


@contextmanager
def engines_synchronous(mode: str) -> Iterator[None]:
    """``PRAGMA synchronous`` on every SQLAlchemy connection opened meanwhile (a tuning)."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA synchronous={mode}")

    sa_event.listen(Engine, "connect", on_connect)
    try:
        yield
    finally:
        sa_event.remove(Engine, "connect", on_connect)


async def savers_synchronous(mode: str, savers: list[BaseCheckpointSaver[str]]) -> None:
    """``PRAGMA synchronous`` on the connection of every SQLite checkpointer."""
    for saver in savers:
        if isinstance(saver, AsyncSqliteSaver):
            async with saver.lock:
                await saver.conn.execute(f"PRAGMA synchronous={mode}")


def mio_system_prompt(services: Services) -> str:
    """The default persona's system prompt, so the bare graph sends the same prompt."""
    return persona_system_prompt(services.personas.get(DEFAULT_PERSONA))


class BareState(TypedDict):
    """State of the bare graph: the messages of the thread."""

    messages: Annotated[list[AnyMessage], add_messages]


def bare_graph(
    *,
    model: ScriptedChatModel,
    system: str,
    window: int | None,
    checkpointer: BaseCheckpointSaver[str],
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A one-node graph: stream the model's reply as custom events, append it to ``messages``.

    With ``window``, the node also drops the oldest messages beyond it (as the miolumi
    graph does), so both graphs checkpoint the same amount of history.
    """

    async def respond(state: BareState, runtime: Runtime[None]) -> dict[str, Any]:
        history = state["messages"]
        prompt: list[BaseMessage] = [SystemMessage(system), *history]
        parts: list[str] = []
        async for chunk in model.astream(prompt):
            if chunk.text:
                parts.append(chunk.text)
                runtime.stream_writer({"type": "token", "text": chunk.text})
        excess = len(history) + 1 - window if window else 0
        removals: list[BaseMessage] = [RemoveMessage(id=m.id) for m in history[:excess] if m.id]
        return {"messages": [*removals, AIMessage("".join(parts))]}

    builder = StateGraph(BareState)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=checkpointer, name="bare")


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``samples``, linearly interpolated."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(q) - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows as a plain, right-aligned text table (first column left-aligned)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
