"""The orb in the terminal: a coloured, pulsing glyph beside Lumi's streaming reply."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text

from miolumi.core.emotion import CALM, OrbState, blend
from miolumi.events import OrbEvent
from miolumi.session import ChatSession


def _state(event: OrbEvent) -> OrbState:
    return OrbState(
        name=event["name"],  # type: ignore[arg-type]  # the graph only emits known names
        colour=event["colour"],
        pulse_hz=event["pulse_hz"],
        brightness=event["brightness"],
    )


def _dim(colour: str, factor: float) -> str:
    value = int(colour.lstrip("#"), 16)
    rgb = [(value >> shift) & 255 for shift in (16, 8, 0)]
    return "#" + "".join(f"{round(c * factor):02X}" for c in rgb)


@dataclass
class OrbView:
    """The orb and the reply so far; renders an eased, pulsing frame each refresh."""

    start: OrbState = CALM
    target: OrbState = CALM
    changed_at: float = field(default_factory=time.monotonic)
    transition_s: float = 0.6
    reply: Text = field(default_factory=Text)

    def show(self, event: OrbEvent) -> None:
        """Ease from what is shown now toward the event's orb."""
        self.start = self.current()
        self.target = _state(event)
        self.transition_s = event["transition_ms"] / 1000
        self.changed_at = time.monotonic()

    def current(self) -> OrbState:
        """The orb at this instant of its transition."""
        elapsed = time.monotonic() - self.changed_at
        t = elapsed / self.transition_s if self.transition_s > 0 else 1.0
        return blend(self.start, self.target, t)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """One frame: the glyph at its pulse's brightness, the orb's name, the reply."""
        orb = self.current()
        wave = 0.5 + 0.5 * math.sin(2 * math.pi * orb.pulse_hz * time.monotonic())
        level = orb.brightness * (0.55 + 0.45 * wave)
        line = Text("◉ ", style=f"bold {_dim(orb.colour, level)}")
        line.append(f"{orb.name:<9} ", style="dim")
        line.append_text(self.reply)
        yield line


async def stream_with_orb(session: ChatSession, text: str, console: Console) -> bool:
    """Stream one Lumi turn with the live orb; returns whether any reply text arrived."""
    view = OrbView()
    started = False
    with Live(view, console=console, refresh_per_second=12, transient=False):
        async for event in session.turn(text):
            if event["type"] == "orb":
                view.show(event)
            elif event["type"] == "token":
                started = True
                view.reply.append(event["text"])
    return started
