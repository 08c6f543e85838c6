"""A real HTTP server speaking enough of the OpenAI API for tests.

Token counts are deterministic, not a real tokenizer: prompt tokens = whitespace-separated
words over all message contents + 3 per message; completion tokens = number of streamed
content pieces, whether or not the request streams.

Embeddings (``/v1/embeddings``) are hashed bags of words: :data:`EMBEDDING_DIMENSIONS`
numbers, deterministic, and closer for texts that share words (float lists, or base64 as
the OpenAI client asks by default).

Speech (``/v1/audio/speech``) is a 220 Hz tone lasting ``speech_seconds_per_char`` per
character of the input (``pcm``: raw 16-bit mono at 24 kHz, else WAV), sent in pieces;
transcription (``/v1/audio/transcriptions``, multipart) answers the scripted transcripts
as verbose JSON with the audio's duration.
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import hashlib
import io
import itertools
import json
import math
import socket
import socketserver
import struct
import sys
import threading
import time
import wave
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from miolumi.testing._words import split_words

TOKENS_PER_MESSAGE = 3
"""Prompt tokens the fake server adds for every message, on top of its words."""
EMBEDDING_DIMENSIONS = 64
"""Length of the fake server's embeddings."""


def free_port() -> int:
    """Return a local TCP port that was free a moment ago (nothing listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- server


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake server received."""

    method: str
    """`GET` or `POST`."""
    path: str
    """Request path with the query string, e.g. `/v1/chat/completions`."""
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    json: Any
    """Parsed JSON body; `None` when the request had no (valid JSON) body."""


def _content_text(content: Any) -> str:
    """Text of an OpenAI message `content`: a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (p.get("text", "") for p in content if isinstance(p, dict))
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Words in all message contents plus `TOKENS_PER_MESSAGE` per message."""
    return sum(len(_content_text(m.get("content")).split()) + TOKENS_PER_MESSAGE for m in messages)


def _hashed_embedding(text: str) -> list[float]:
    """A unit vector of the text's words, each hashed to one of the dimensions."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in text.lower().split():
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % EMBEDDING_DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _error(message: str, code: str | None) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


class _HTTPServer(ThreadingHTTPServer):
    """The stdlib server, silent about clients that hang up."""

    daemon_threads = True

    def __init__(self, fake: FakeOpenAIServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        """Bind without `HTTPServer`'s reverse DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore dropped connections (and anything while closing); report the rest."""
        if isinstance(sys.exc_info()[1], ConnectionError) or self.fake.closing:
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes one connection's requests to the `FakeOpenAIServer` that owns it."""

    protocol_version = "HTTP/1.1"

    @property
    def fake(self) -> FakeOpenAIServer:
        return cast(_HTTPServer, self.server).fake

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.fake._track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep stderr quiet."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        with self.fake._in_flight():
            body = self._read_body()
            self.fake._record(RecordedRequest(method, self.path, self._headers(), body))
            self._route(method, self.path.split("?", 1)[0], body)

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _read_body(self) -> Any:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get_content_type() == "multipart/form-data":
            return _form(self.headers.get("Content-Type", ""), raw)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _route(self, method: str, path: str, body: Any) -> None:
        fake = self.fake
        if fake.api_key is not None and self.headers.get("Authorization") != (
            f"Bearer {fake.api_key}"
        ):
            message = "Incorrect API key provided."
            self._send_json(401, _error(message, "invalid_api_key"))
        elif (method, path) == ("GET", "/v1/models"):
            self._send_json(200, fake._models_payload())
        elif (method, path) == ("POST", "/v1/audio/speech"):
            self._speech(body)
        elif (method, path) == ("POST", "/v1/audio/transcriptions"):
            self._transcription(body)
        elif (method, path) == ("POST", "/v1/embeddings"):
            self._embeddings(body)
        elif (method, path) != ("POST", "/v1/chat/completions"):
            self._send_json(404, _error(f"Unknown route: {method} {path}", "unknown_url"))
        elif not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_json(400, _error("Expected a JSON body with `messages`.", None))
        elif not self._known_model(body, fake.models):
            return
        elif body.get("stream"):
            self._stream(body)
        else:
            self._send_json(200, fake._completion(body))

    def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: Mapping[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in self.fake._events(body):
                self._write_chunk(event)
            self._write_chunk(b"")
        except (ConnectionError, _Closing):
            if not self.fake.closing:
                self.fake._count_disconnect()
            self.close_connection = True

    def _speech(self, body: Any) -> None:
        fake = self.fake
        if fake.speech_status != 200:
            message = "The speech service failed."
            self._send_json(fake.speech_status, _error(message, "server_error"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("input"), str):
            self._send_json(400, _error("Expected a JSON body with `input`.", None))
            return
        if not self._known_model(body, fake.speech_models):
            return
        pcm = fake._tone(body["input"])
        fmt = body.get("response_format", "mp3")
        data = pcm if fmt == "pcm" else _wav(pcm, SPEECH_RATE)
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm" if fmt == "pcm" else "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for start in range(0, len(data), 9_600):
                if start == 0 and fake.speech_delay > 0:
                    fake._closed.wait(fake.speech_delay)
                self.wfile.write(data[start : start + 9_600])
        except ConnectionError:
            self.close_connection = True

    def _known_model(self, body: Mapping[str, Any], models: Sequence[str]) -> bool:
        """Whether the body names one of ``models``; if not, answers 404 ``model_not_found``."""
        if body.get("model") in models:
            return True
        message = f"The model `{body.get('model')}` does not exist."
        self._send_json(404, _error(message, "model_not_found"))
        return False

    def _transcription(self, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("file"):
            self._send_json(400, _error("Expected multipart form data with a `file`.", None))
            return
        if not self._known_model(body, self.fake.transcription_models):
            return
        self._send_json(200, self.fake._transcript(body))

    def _embeddings(self, body: Any) -> None:
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._send_json(400, _error("Expected a JSON body with `input` text.", None))
            return
        if not self._known_model(body, self.fake.embedding_models):
            return
        encoded = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = _hashed_embedding(text)
            value: Any = (
                base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                if encoded
                else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(len(split_words(t)) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        payload = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        self._send_json(200, payload)

    def _write_chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk; an empty one ends the body."""
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))


class _Closing(Exception):
    """The fake server is closing: stop streaming."""


class FakeOpenAIServer:
    """A real local HTTP server with scripted OpenAI chat completions (and embeddings).

    Started by the constructor; stop it with `close()` or use it as a context
    manager. Point clients at `base_url`.
    """

    def __init__(
        self,
        *,
        replies: Sequence[str] | None = None,
        api_key: str | None = None,
        models: Sequence[str] = ("fake-model",),
        token_delay: float = 0.0,
        chunk_words: bool = True,
        usage: bool = True,
        speech_models: Sequence[str] = ("tts-1",),
        speech_seconds_per_char: float = 0.05,
        speech_delay: float = 0.0,
        transcription_models: Sequence[str] = ("whisper-1",),
        transcripts: Sequence[tuple[str, str]] = (("hello there", "english"),),
        embedding_models: Sequence[str] = ("text-embedding-3-small",),
    ) -> None:
        """Bind a free port on 127.0.0.1 and start serving in a daemon thread.

        Args:
            replies: Replies served in order, cycling; `None` echoes
                "You said: <last user message>".
            api_key: When set, requests without `Authorization: Bearer <key>` get 401.
            models: Model names accepted; others get 404 `model_not_found`.
            token_delay: Seconds between streamed chunks.
            chunk_words: Stream word by word; otherwise the reply is one chunk.
            usage: Report token usage (OpenAI does; some servers don't).
            speech_models: Models accepted by `/v1/audio/speech`.
            speech_seconds_per_char: Seconds of tone per input character.
            speech_delay: Seconds before the first byte of speech.
            transcription_models: Models accepted by `/v1/audio/transcriptions`.
            transcripts: `(text, language)` answered in order, cycling.
            embedding_models: Models accepted by `/v1/embeddings`.

        """
        if replies is not None and not replies:
            raise ValueError("replies must hold at least one reply, or be None to echo")
        self.replies = tuple(replies) if replies is not None else None
        self.api_key = api_key
        self.models = tuple(models)
        self.token_delay = token_delay
        self.chunk_words = chunk_words
        self.usage = usage
        self.speech_models = tuple(speech_models)
        self.speech_seconds_per_char = speech_seconds_per_char
        self.speech_delay = speech_delay
        self.speech_status = 200
        """Set to an error status (e.g. 500) to make every speech request fail."""
        self.transcription_models = tuple(transcription_models)
        self.transcripts = tuple(transcripts)
        self.embedding_models = tuple(embedding_models)
        self._transcript_turns = itertools.count()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._turns = itertools.count()
        self._ids = itertools.count(1)
        self._busy = 0
        self._disconnects = 0
        self._closed = threading.Event()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- public API

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. `http://127.0.0.1:54321/v1`."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def disconnects(self) -> int:
        """How many streams ended early because the client hung up (not by `close()`)."""
        with self._lock:
            return self._disconnects

    @property
    def closing(self) -> bool:
        """Whether `close()` has been called."""
        return self._closed.is_set()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled; return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        """Stop serving, drop open connections and wait for handlers (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = dict(self._connections)
        for conn in connections:
            _hang_up(conn)
        deadline = time.monotonic() + 5
        for thread in [self._thread, *connections.values()]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FakeOpenAIServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- used by the handler

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        """Remember (or forget) a connection and its handler thread, for `close()`."""
        with self._lock:
            if add:
                self._connections[conn] = threading.current_thread()
            else:
                self._connections.pop(conn, None)
        if add and self.closing:
            _hang_up(conn)

    def _in_flight(self) -> _InFlight:
        return _InFlight(self)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _count_disconnect(self) -> None:
        with self._lock:
            self._disconnects += 1

    def _models_payload(self) -> dict[str, Any]:
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "miolumi"} for m in self.models
        ]
        return {"object": "list", "data": data}

    def _reply(self, messages: Sequence[Mapping[str, Any]]) -> str:
        turn = next(self._turns)
        if self.replies is not None:
            return self.replies[turn % len(self.replies)]
        users = [m for m in messages if m.get("role") == "user"]
        return "You said: " + (_content_text(users[-1].get("content")) if users else "")

    def _tone(self, text: str) -> bytes:
        """A 220 Hz tone as long as ``text`` would take to say, 16-bit mono PCM."""
        count = max(1, round(len(text) * self.speech_seconds_per_char * SPEECH_RATE))
        step = 2 * math.pi * 220 / SPEECH_RATE
        samples = (round(9_830 * math.sin(step * i)) for i in range(count))
        return b"".join(v.to_bytes(2, "little", signed=True) for v in samples)

    def _transcript(self, form: Mapping[str, Any]) -> dict[str, Any]:
        text, language = self.transcripts[next(self._transcript_turns) % len(self.transcripts)]
        duration = 0.0
        with (
            contextlib.suppress(wave.Error, EOFError),
            wave.open(io.BytesIO(form["file"]), "rb") as wav,
        ):
            duration = wav.getnframes() / wav.getframerate()
        return {"task": "transcribe", "language": language, "duration": duration, "text": text}

    def _pieces(self, reply: str) -> list[str]:
        if self.chunk_words:
            return split_words(reply)
        return [reply] if reply else []

    def _usage(self, messages: Sequence[Mapping[str, Any]], pieces: int) -> dict[str, int]:
        prompt = _prompt_tokens(messages)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": pieces,
            "total_tokens": prompt + pieces,
        }

    def _completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A non-streaming `chat.completion` response."""
        messages = body["messages"]
        reply = self._reply(messages)
        message = {"role": "assistant", "content": reply, "refusal": None}
        payload: dict[str, Any] = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            ],
        }
        if self.usage:
            payload["usage"] = self._usage(messages, len(self._pieces(reply)))
        return payload

    def _events(self, body: Mapping[str, Any]) -> Iterator[bytes]:
        """The SSE events of a streamed completion, pausing `token_delay` between them."""
        messages = body["messages"]
        pieces = self._pieces(self._reply(messages))
        options = body.get("stream_options") or {}
        include_usage = self.usage and bool(options.get("include_usage"))
        base = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return _sse({**base, "choices": [choice]})

        yield chunk({"role": "assistant", "content": ""})
        for piece in pieces:
            self._pause()
            yield chunk({"content": piece})
        yield chunk({}, "stop")
        if include_usage:
            yield _sse({**base, "choices": [], "usage": self._usage(messages, len(pieces))})
        yield b"data: [DONE]\n\n"

    def _pause(self) -> None:
        """Sleep `token_delay`, waking up early (and raising `_Closing`) on `close()`."""
        closing = self._closed.wait(self.token_delay) if self.token_delay > 0 else self.closing
        if closing:
            raise _Closing


def _hang_up(conn: socket.socket) -> None:
    """Shut a connection down so that its handler's reads and writes end at once."""
    with contextlib.suppress(OSError):  # already gone
        conn.shutdown(socket.SHUT_RDWR)


SPEECH_RATE = 24_000
"""Sample rate of the fake speech (OpenAI's ``pcm`` format)."""


def _wav(pcm: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def _form(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart form as a dict: text fields as strings, files as bytes."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            continue
        form[name] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return form


def _sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class _InFlight:
    """Counts a request as being handled, for `FakeOpenAIServer.wait_idle`."""

    def __init__(self, fake: FakeOpenAIServer) -> None:
        self._fake = fake

    def __enter__(self) -> None:
        with self._fake._idle:
            self._fake._busy += 1

    def __exit__(self, *exc: object) -> None:
        with self._fake._idle:
            self._fake._busy -= 1
            self._fake._idle.notify_all()


# --------------------------------------------------------------------- chat model
