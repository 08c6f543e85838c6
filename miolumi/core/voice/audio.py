"""Audio as the voice pipeline moves it: 16-bit mono PCM chunks, and WAV files of them."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_WIDTH = 2
"""Bytes per sample: signed 16-bit little-endian."""


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A piece of speech: signed 16-bit little-endian mono PCM at ``sample_rate``."""

    pcm: bytes
    sample_rate: int

    @property
    def samples(self) -> int:
        """Number of samples."""
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return self.samples / self.sample_rate

    def array(self) -> npt.NDArray[np.float32]:
        """The samples as floats in [-1, 1]."""
        return np.frombuffer(self.pcm, dtype="<i2").astype(np.float32) / 32768.0

    def resampled(self, rate: int) -> AudioChunk:
        """The same audio at another sample rate (linear interpolation)."""
        if rate == self.sample_rate or not self.pcm:
            return AudioChunk(self.pcm, rate) if not self.pcm else self
        data = self.array()
        count = max(1, round(len(data) * rate / self.sample_rate))
        positions = np.linspace(0, len(data) - 1, count)
        return from_floats(np.interp(positions, np.arange(len(data)), data), rate)


def from_floats(samples: npt.ArrayLike, sample_rate: int) -> AudioChunk:
    """A chunk from float samples in [-1, 1] (clipped)."""
    data = np.clip(np.asarray(samples, dtype=np.float64).ravel(), -1.0, 1.0)
    return AudioChunk((data * 32767).astype("<i2").tobytes(), sample_rate)


def rms(chunk: AudioChunk) -> float:
    """Root mean square of the samples, 0 for silence, about 0.1 for speech."""
    data = chunk.array()
    return float(np.sqrt(np.mean(np.square(data)))) if len(data) else 0.0


def join(chunks: Iterable[AudioChunk], *, sample_rate: int | None = None) -> AudioChunk:
    """One chunk of all ``chunks``, resampled to ``sample_rate`` (default: the first's)."""
    items = list(chunks)
    if not items:
        return AudioChunk(b"", sample_rate or 24_000)
    rate = sample_rate or items[0].sample_rate
    return AudioChunk(b"".join(c.resampled(rate).pcm for c in items), rate)


def silence(seconds: float, sample_rate: int) -> AudioChunk:
    """``seconds`` of silence."""
    return AudioChunk(bytes(SAMPLE_WIDTH * round(seconds * sample_rate)), sample_rate)


def to_wav(chunk: AudioChunk) -> bytes:
    """A WAV file of ``chunk``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(chunk.sample_rate)
        wav.writeframes(chunk.pcm)
    return out.getvalue()


def read_wav(data: bytes) -> AudioChunk:
    """A mono 16-bit chunk from WAV bytes (stereo is mixed down); ``ValueError`` if unreadable."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV file: {exc}") from exc
    if width != SAMPLE_WIDTH:
        raise ValueError(f"WAV samples are {8 * width}-bit; 16-bit PCM is expected")
    if channels > 1:
        stereo = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).astype(np.int32)
        frames = (stereo.mean(axis=1)).astype("<i2").tobytes()
    return AudioChunk(frames, rate)
