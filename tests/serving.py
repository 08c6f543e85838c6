"""Helpers of the server tests: a served app with scripted models, tokens, a WebSocket client."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from miolumi.db.engine import open_database
from miolumi.server import create_app, tokens
from miolumi.services import Services
from miolumi.testing import running

ADMIN = "admin-secret-for-tests"


@dataclass
class Served:
    """A running server: its URL, its services, and a way to make users."""

    url: str
    services: Services
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=30)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/ws"

    def token(self, user_id: str) -> str:
        """A fresh API token of ``user_id``."""
        engine = open_database(self.services.settings.relational_url)
        try:
            return tokens.issue(engine, user_id=user_id).token
        finally:
            engine.dispose()

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @contextmanager
    def ws(self, token: str | None = None, **kwargs: Any) -> Iterator[Client]:
        """A WebSocket connection, authenticated (and 'ready' consumed) when given a token."""
        with connect(self.ws_url, open_timeout=10, **kwargs) as conn:
            client = Client(conn)
            if token is not None:
                client.send(type="auth", token=token)
                assert client.recv()["type"] == "ready"
            yield client


@contextmanager
def serve(services: Services) -> Iterator[Served]:
    """Serve ``services`` on 127.0.0.1 with real uvicorn."""
    with running(create_app(services), ws_max_size=64 * 1024 * 1024) as url:
        served = Served(url=url, services=services)
        try:
            yield served
        finally:
            served.http.close()


@dataclass
class Client:
    """A test's end of a WebSocket: JSON frames in and out, frame numbers checked."""

    conn: ClientConnection
    frames: int = 0

    def send(self, **frame: Any) -> None:
        self.conn.send(json.dumps(frame))

    def send_raw(self, data: str | bytes) -> None:
        self.conn.send(data)

    def recv(self, timeout: float = 30) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.conn.recv(timeout=timeout))
        self.frames += 1
        assert frame["frame"] == self.frames, "a frame was lost or reordered"
        return frame

    def until(self, *types: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Frames up to and including the first of one of ``types``."""
        got = []
        while True:
            frame = self.recv(timeout)
            got.append(frame)
            if frame["type"] in types:
                return got

    def turn(self, text: str, **options: Any) -> list[dict[str, Any]]:
        """Send a message; the frames of its turn, through turn_end or error."""
        self.send(type="message", text=text, **options)
        return self.until("turn_end", "error")


def reply_of(frames: list[dict[str, Any]]) -> str:
    return "".join(f["text"] for f in frames if f["type"] == "token")


def masked_text_frame(text: str) -> bytes:
    """One client text frame (masked, as RFC 6455 requires of clients)."""
    data = text.encode("utf-8")
    mask = os.urandom(4)
    size = len(data)
    head = bytes([0x81]) + (
        bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
    )
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def raw_ws(served: Served, token: str, *, rcvbuf: int = 4096) -> socket.socket:
    """A WebSocket opened by hand on a socket with a small receive buffer, never read from."""
    port = int(served.url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


@contextmanager
def process(
    command: list[str],
    *,
    env: dict[str, str],
    health: str,
    timeout: float = 180,
    cwd: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server ``command`` (its own process group) until ``health`` answers 200 with
    JSON; stop it (SIGTERM, then SIGKILL) when the block ends."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = (
                    proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                )
                raise RuntimeError(f"{' '.join(command[:3])} did not start:\n{output[-3000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
