"""The WebSocket protocol's frames: what a client sends, and what the server adds to events.

Client frames are JSON text frames with a ``type``; the server answers each with JSON
text frames (``docs/websocket.md`` shows every one with an example). Server frames carry
``frame``, a per-connection counter from 1 with no gaps, so a client can tell that
nothing was lost or reordered.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthFrame(_Frame):
    """Authenticate the connection (the first frame, unless the handshake had a token)."""

    type: Literal["auth"]
    token: str


class _TurnFrame(_Frame):
    id: str = Field(default="", max_length=64, description="Echoed in every frame of the turn.")
    product: Literal["mio", "lumi"] = "lumi"
    agent_id: str | None = Field(default=None, description="Mio persona (default: mio).")
    thread_id: str | None = Field(
        default=None, description="Thread to continue (default: the latest with that companion)."
    )
    new_thread: bool = False
    voice: bool = Field(default=False, description="Also stream the reply as audio frames.")
    locale: str | None = Field(
        default=None,
        max_length=35,
        description="The user's locale, e.g. en-GB: their region's crisis resources "
        "(default: the server's crisis_locale).",
    )


class MessageFrame(_TurnFrame):
    """Run a turn on a text message."""

    type: Literal["message"]
    text: str


class AudioFrame(_TurnFrame):
    """Run a turn on a spoken message: base64 WAV, transcribed first."""

    type: Literal["audio"]
    format: Literal["wav"] = "wav"
    data: str = Field(description="Base64 of a WAV file (PCM, mono or stereo).")
    language: str | None = Field(default=None, description="ISO 639-1 hint, e.g. en.")


class InterruptFrame(_Frame):
    """Stop the running turn; it is not recorded (the thread stays as it was)."""

    type: Literal["interrupt"]


class PingFrame(_Frame):
    """Heartbeat: answered by ``pong``."""

    type: Literal["ping"]


ClientFrame = Annotated[
    AuthFrame | MessageFrame | AudioFrame | InterruptFrame | PingFrame,
    Field(discriminator="type"),
]
CLIENT_FRAMES: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_TYPES = ("auth", "message", "audio", "interrupt", "ping")
