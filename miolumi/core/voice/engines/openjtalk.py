"""Open JTalk through ``pyopenjtalk-plus`` (dictionary and HTS voice inside the package).

Japanese with kanji, offline, light and fast (HTS, a little synthetic). MIT (the wrapper),
BSD-3-Clause (Open JTalk, HTS engine); the "mei" voice is CC BY 3.0 (credit: the MMDAgent
project, Nagoya Institute of Technology). Part of the extra ``voice``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np

from miolumi.config import Settings
from miolumi.core.voice.audio import AudioChunk, from_floats
from miolumi.core.voice.engine import EngineInfo, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.errors import VoiceUnavailableError

INSTALL = "pip install 'miolumi[voice]'"
_lock = threading.Lock()


def _speak(text: str, rate: float, pitch: float) -> AudioChunk:
    import pyopenjtalk

    with _lock:  # the frontend keeps global state
        samples, sample_rate = pyopenjtalk.tts(text, speed=rate, half_tone=round(4 * pitch))
    return from_floats(np.asarray(samples) / 32768.0, int(sample_rate))


class OpenJTalkEngine(TTSEngine):
    """Open JTalk: Japanese, kanji included."""

    info = EngineInfo(
        name="openjtalk",
        languages=frozenset({"ja"}),
        voices=(VoiceInfo(id="mei_normal", languages=frozenset({"ja"}), gender="female"),),
        local=True,
        licence="MIT/BSD-3-Clause; mei voice CC BY 3.0",
    )

    def warm_up(self) -> None:
        """Load the dictionary and the voice."""
        _speak("あ", 1.0, 0.0)

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` (one chunk, computed in a worker thread)."""
        self.voice_id(language, voice)
        chunk = await asyncio.to_thread(_speak, text, voice.rate, voice.pitch)
        if not chunk.pcm:
            raise RuntimeError("Open JTalk produced no audio")
        yield chunk


def create(settings: Settings) -> OpenJTalkEngine:
    """The engine, if ``pyopenjtalk-plus`` is installed."""
    try:
        import pyopenjtalk  # noqa: F401
    except ImportError as exc:
        raise VoiceUnavailableError(f"openjtalk needs pyopenjtalk-plus: {INSTALL}") from exc
    return OpenJTalkEngine()
