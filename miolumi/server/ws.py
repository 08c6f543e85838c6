"""The WebSocket endpoint ``/v1/ws``: one connection, turns streamed as typed JSON frames.

A connection reads frames while a turn streams, so ``interrupt`` and ``ping`` work
mid-reply. Outgoing frames pass through a bounded queue: when a client reads slowly the
queue fills, the turn waits, and the model's stream is read no faster than the client
takes it, so server memory per connection stays bounded. A client that takes nothing
for ``SEND_TIMEOUT`` seconds is disconnected. A malformed, oversized or unknown frame is
answered with an ``error`` frame; the connection stays open.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from miolumi.errors import AudioInputError, AuthError, MiolumiError
from miolumi.server.errors import error_code
from miolumi.server.protocol import (
    CLIENT_FRAMES,
    CLIENT_TYPES,
    AudioFrame,
    AuthFrame,
    InterruptFrame,
    MessageFrame,
    PingFrame,
)
from miolumi.server.state import ServerState

log = logging.getLogger(__name__)
router = APIRouter()

#: Seconds one outgoing frame may wait for a client that reads nothing.
SEND_TIMEOUT = 30.0
#: Close code for a client that stopped reading (policy violation).
CLOSE_TOO_SLOW = 1008


class Connection:
    """One client's WebSocket: authentication, the running turn, and the outgoing queue."""

    def __init__(self, websocket: WebSocket, state: ServerState) -> None:
        self.ws = websocket
        self.state = state
        settings = state.runtime.services.settings
        self.max_bytes = settings.ws_max_frame_bytes
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(settings.ws_send_queue)
        self.user_id: str | None = None
        self.turn: asyncio.Task[None] | None = None
        self.request = ""
        """The client's id of the latest turn."""
        self.streaming = False
        """A turn runs and has not yet sent its last frame (turn_end or error)."""
        self.frames = 0

    async def emit(self, frame: dict[str, Any]) -> None:
        """Queue a frame; waits while the queue is full (the client is behind)."""
        await self.outbox.put(frame)

    async def error(self, code: str, message: str, request: str | None = None) -> None:
        """Queue an ``error`` frame that ends the turn ``request`` (``final``), if given.

        Errors inside a turn's stream (a voice failed, memory was unavailable) are turn
        events without ``final``: the turn goes on to its ``turn_end``.
        """
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if request is not None:
            frame["id"] = request
            frame["final"] = True
        await self.emit(frame)

    async def run(self) -> None:
        """Serve the connection until the client leaves."""
        await self.ws.accept()
        sender = asyncio.create_task(self._send_loop())
        try:
            header = self.ws.headers.get("authorization", "")
            if header.lower().startswith("bearer "):
                await self._authenticate(header[7:].strip())
            await self._receive_loop(sender)
        finally:
            if self.turn is not None:
                self.turn.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.turn
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send_loop(self) -> None:
        while True:
            frame = await self.outbox.get()
            self.frames += 1
            frame["frame"] = self.frames
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await self.ws.send_text(json.dumps(frame, ensure_ascii=False))
            except TimeoutError:
                log.warning("closing a WebSocket whose client read nothing for %ss", SEND_TIMEOUT)
                with contextlib.suppress(Exception):
                    await self.ws.close(CLOSE_TOO_SLOW, "client too slow")
                return
            except (WebSocketDisconnect, RuntimeError):
                return  # the client left; the receive loop ends the connection

    async def _receive_loop(self, sender: asyncio.Task[None]) -> None:
        while not sender.done():
            receiving = asyncio.ensure_future(self.ws.receive())
            await asyncio.wait({receiving, sender}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                return
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                return
            await self._handle(message.get("text"))

    async def _handle(self, text: str | None) -> None:
        """Answer one frame; ``text`` is None for a binary frame."""
        if text is None:
            await self.error(
                "bad_frame",
                "Binary frames are not read: send JSON text frames (audio goes base64 in an "
                "'audio' message).",
            )
            return
        if len(text.encode("utf-8")) > self.max_bytes:
            await self.error(
                "too_large",
                f"Frame over {self.max_bytes} bytes: send shorter messages, or ask the operator "
                "to raise MIOLUMI_WS_MAX_FRAME_BYTES.",
            )
            return
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            await self.error("bad_frame", f"Frame is not JSON ({exc.msg}): send a JSON object.")
            return
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in CLIENT_TYPES:
            await self.error(
                "unknown_type",
                f"Unknown frame type {kind!r}: send one of {', '.join(CLIENT_TYPES)}.",
            )
            return
        try:
            frame = CLIENT_FRAMES.validate_python(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"][1:]) or "frame"
            await self.error("bad_frame", f"Bad {kind!r} frame: {where}: {first['msg']}.")
            return
        await self._dispatch(frame)

    async def _dispatch(
        self, frame: AuthFrame | MessageFrame | AudioFrame | InterruptFrame | PingFrame
    ) -> None:
        if isinstance(frame, PingFrame):
            await self.emit({"type": "pong"})
        elif isinstance(frame, AuthFrame):
            await self._authenticate(frame.token)
        elif self.user_id is None:
            await self.error(
                "auth",
                'Authenticate first: send {"type": "auth", "token": "mlt_..."}.',
            )
        elif isinstance(frame, InterruptFrame):
            await self._interrupt()
        elif self.streaming:
            await self.error(
                "busy",
                "A turn is still streaming: wait for its turn_end, or send an interrupt.",
                frame.id,
            )
        else:
            try:
                await self.state.limiter.hit(self.user_id)
            except MiolumiError as exc:
                await self.error(error_code(exc), str(exc), frame.id)
                return
            self.request = frame.id
            self.streaming = True
            self.turn = asyncio.create_task(self._run_turn(self.user_id, frame))

    async def _authenticate(self, token: str) -> None:
        try:
            self.user_id = await self.state.user_of(token)
        except AuthError as exc:
            await self.error("auth", str(exc))
            return
        await self.emit({"type": "ready", "user_id": self.user_id})

    async def _interrupt(self) -> None:
        if self.turn is None or not self.streaming:
            await self.error("idle", "No turn is running: there is nothing to interrupt.")
            return
        self.streaming = False
        self.turn.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.turn
        # The thread is as it was before the turn: nothing of it was recorded.
        await self.emit({"type": "interrupted", "id": self.request})

    async def _run_turn(self, user_id: str, frame: MessageFrame | AudioFrame) -> None:
        request = frame.id
        try:
            session = await self.state.session(
                user_id=user_id,
                product=frame.product,
                agent_id=frame.agent_id,
                thread_id=frame.thread_id,
                new_thread=frame.new_thread,
                locale=frame.locale,
            )
            session.voice = frame.voice
            await self.emit(
                {
                    "type": "turn_start",
                    "id": request,
                    "thread_id": session.thread_id,
                    "product": session.product,
                    "agent_id": session.agent_id,
                    "turn": session.completed_turns + 1,
                }
            )
            text = frame.text if isinstance(frame, MessageFrame) else await self._hear(frame)
            async for event in session.turn(text):
                if event["type"] == "turn_end":
                    self.streaming = False  # the client may send the next message on it
                await self.emit({**event, "id": request})
        except MiolumiError as exc:
            self.streaming = False
            await self.error(error_code(exc), str(exc), request)
        except Exception:
            self.streaming = False
            log.exception("a WebSocket turn failed")
            await self.error(
                "internal",
                "The server failed on this turn (it is logged); the conversation is unchanged: "
                "try again.",
                request,
            )

    async def _hear(self, frame: AudioFrame) -> str:
        try:
            wav = base64.b64decode(frame.data, validate=True)
        except binascii.Error:
            raise AudioInputError(
                "The audio is not valid base64: encode the WAV file as base64."
            ) from None
        voice = self.state.runtime.services.voice
        assert self.user_id is not None
        heard = await voice.transcribe(
            wav, language=frame.language, user_id=self.user_id, agent_id=frame.agent_id
        )
        await self.emit(
            {"type": "transcript", "id": frame.id, "text": heard.text, "language": heard.language}
        )
        return heard.text


@router.websocket("/v1/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    """A chat connection: see `miolumi.server.protocol` and docs/websocket.md."""
    state: ServerState = websocket.app.state.miolumi
    await Connection(websocket, state).run()
