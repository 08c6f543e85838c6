"""Where the CLI's speech goes: a local audio player, or WAV files in the data directory."""

from __future__ import annotations

import base64
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from miolumi.core.voice.audio import AudioChunk, join, to_wav
from miolumi.events import AudioEvent

PLAY_RATE = 24_000
"""Every chunk is resampled to this rate before it reaches the player."""
PLAYERS: dict[str, list[str]] = {
    "aplay": ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", str(PLAY_RATE)],
    "paplay": ["paplay", "--raw", "--format=s16le", "--channels=1", f"--rate={PLAY_RATE}"],
    "ffplay": [
        "ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet",
        "-f", "s16le", "-ar", str(PLAY_RATE), "-ac", "1", "-i", "-",
    ],
}  # fmt: skip


def find_player() -> str | None:
    """The first audio player on the PATH (aplay, paplay, ffplay), or None."""
    return next((name for name in PLAYERS if shutil.which(name)), None)


def chunk_of(event: AudioEvent) -> AudioChunk:
    """The audio an ``audio`` event carries."""
    return AudioChunk(base64.b64decode(event["data"]), event["sample_rate"])


class _Player:
    """One player process fed from a thread, so a full pipe never blocks the event loop."""

    def __init__(self, name: str) -> None:
        self.process = subprocess.Popen(
            PLAYERS[name],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            while (data := self._queue.get()) is not None:
                stdin.write(data)
                stdin.flush()
            stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def feed(self, pcm: bytes) -> None:
        self._queue.put(pcm)

    def close(self) -> None:
        self._queue.put(None)

    def stop(self) -> None:
        self.process.kill()
        self._queue.put(None)


def play(audio: AudioChunk, player: str) -> None:
    """Play ``audio`` with ``player`` and wait until it is heard."""
    process = _Player(player)
    process.feed(audio.resampled(PLAY_RATE).pcm)
    process.close()
    process.process.wait()


@dataclass(kw_only=True)
class AudioOutput:
    """Plays each turn's audio as it streams, or writes it to ``directory`` as WAV files."""

    directory: Path
    player: str | None = None
    written: list[Path] = field(default_factory=list)
    _chunks: list[AudioChunk] = field(default_factory=list)
    _process: _Player | None = None
    _name: str = "turn"

    def start_turn(self, name: str) -> None:
        """A new turn's audio begins; ``name`` names its WAV file."""
        self._chunks, self._process, self._name = [], None, name

    def feed(self, event: AudioEvent) -> None:
        """One audio event of the current turn."""
        chunk = chunk_of(event).resampled(PLAY_RATE)
        self._chunks.append(chunk)
        if self.player is not None:
            if self._process is None:
                self._process = _Player(self.player)
            self._process.feed(chunk.pcm)

    def end_turn(self) -> Path | None:
        """The turn's audio is complete: let the player finish, or write the WAV file."""
        if not self._chunks:
            return None
        if self._process is not None:
            self._process.close()
            return None
        return self.write(join(self._chunks), self._name)

    def stop(self) -> None:
        """The turn was interrupted: silence at once, keep nothing."""
        if self._process is not None:
            self._process.stop()
        self._chunks, self._process = [], None

    def write(self, audio: AudioChunk, name: str) -> Path:
        """Write ``audio`` as ``<directory>/<name>.wav``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.wav"
        path.write_bytes(to_wav(audio))
        self.written.append(path)
        return path
