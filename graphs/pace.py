"""Back-pressure for a turn's stream: the reply is generated no faster than it is taken.

LangGraph buffers custom stream events without bound, so a consumer that stops reading
(a slow WebSocket client) would let the graph run ahead and its events pile up. A `Pace`
counts the events nodes write and the events the consumer takes; ``generate`` waits
before reading the next model chunk while more than ``window`` are in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime

from miolumi.graphs.context import TurnContext

Writer = Callable[[Any], None]


@dataclass(kw_only=True)
class Pace:
    """Events written by the graph and taken by the consumer of one turn."""

    window: int = 64
    """Events that may be written and not yet taken before ``generate`` waits."""
    written: int = 0
    taken: int = 0
    _room: asyncio.Event = field(default_factory=asyncio.Event)

    def counted(self, write: Writer) -> Writer:
        """``write``, counting each event."""

        def counting(event: Any) -> None:
            self.written += 1
            write(event)

        return counting

    def took(self) -> None:
        """The consumer took one event."""
        self.taken += 1
        if self.written - self.taken <= self.window:
            self._room.set()

    async def wait(self) -> None:
        """Return once the consumer is at most ``window`` events behind."""
        while self.written - self.taken > self.window:
            self._room.clear()
            await self._room.wait()


def stream_writer(runtime: Runtime[TurnContext]) -> Writer:
    """The node's stream writer, counted when the turn is paced."""
    pace = runtime.context.pace
    return runtime.stream_writer if pace is None else pace.counted(runtime.stream_writer)
