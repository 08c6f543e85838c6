"""eSpeak NG through ``espeakng-loader``, which bundles the library and its data (extra ``voice``).

Small and very fast (formant synthesis, robotic but clear), and it reads many languages.
Chinese goes through the ``cmn-latn-pinyin`` voice fed with pinyin from ``pypinyin``
(plain ``cmn`` mispronounces many characters); Japanese only when the text has no kanji,
which eSpeak cannot read. eSpeak NG is GPL-3.0: it is loaded at run time from the
optional package, never shipped with miolumi.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections.abc import AsyncIterator
from typing import Any

from miolumi.config import Settings
from miolumi.core.voice.audio import AudioChunk
from miolumi.core.voice.engine import EngineInfo, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.core.voice.language import script_of
from miolumi.errors import VoiceUnavailableError

INSTALL = "pip install 'miolumi[voice]'"
_LANGUAGE_VOICES = {
    "en": "en-us",
    "zh": "cmn-latn-pinyin",
    "ja": "ja",
    "es": "es",
    "fr": "fr-fr",
    "de": "de",
    "it": "it",
    "pt": "pt-br",
    "ko": "ko",
}
_VARIANTS = (("", "male"), ("+f3", "female"), ("+m3", "male"), ("+f2", "female"))
_SYNCHRONOUS = 2
_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_RATE, _PITCH = 1, 3
_CJK_PUNCTUATION = str.maketrans("，。！？、；：「」『』（）", ',.!?,;:""""()')

_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


def _voices() -> tuple[VoiceInfo, ...]:
    voices = []
    for language, base in _LANGUAGE_VOICES.items():
        for suffix, gender in _VARIANTS:
            voices.append(
                VoiceInfo(id=base + suffix, languages=frozenset({language}), gender=gender)  # type: ignore[arg-type]
            )
    return tuple(voices)


def to_pinyin(text: str) -> str:
    """Chinese text as numbered pinyin for ``cmn-latn-pinyin`` (``你好。`` -> ``ni3 hao3.``)."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    return " ".join(s.strip() for s in syllables if s.strip()).translate(_CJK_PUNCTUATION)


class _Library:
    """The loaded libespeak-ng: one synthesis at a time (the library keeps global state)."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data = espeakng_loader.get_data_path().encode()
        self.sample_rate = int(self.lib.espeak_Initialize(_SYNCHRONOUS, 0, data, _DONT_EXIT))
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self._buffer: list[bytes] = []
        self._callback = _Callback(self._collect)  # kept alive as long as the library
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        if count > 0:
            self._buffer.append(ctypes.string_at(wav, count * 2))
        return 0

    def synthesize(self, text: str, voice: str, *, rate: float, pitch: float) -> bytes:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self.lib.espeak_SetParameter(_RATE, round(175 * rate), 0)
            self.lib.espeak_SetParameter(_PITCH, round(50 + 25 * pitch), 0)
            self._buffer = []
            data = text.encode()
            status = self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, _CHARS_UTF8, None, None)
            if status != 0:
                raise RuntimeError(f"espeak-ng failed (status {status})")
            return b"".join(self._buffer)


_library: _Library | None = None
_library_lock = threading.Lock()


def _load() -> _Library:
    global _library
    with _library_lock:
        if _library is None:
            _library = _Library()
        return _library


class EspeakEngine(TTSEngine):
    """eSpeak NG: every language listed in its voices; Japanese only without kanji."""

    info = EngineInfo(
        name="espeak",
        languages=frozenset(_LANGUAGE_VOICES),
        voices=_voices(),
        local=True,
        licence="GPL-3.0 (eSpeak NG, loaded from espeakng-loader); pypinyin MIT",
    )

    def warm_up(self) -> None:
        """Load the library."""
        _load()

    def can_speak(self, text: str, language: str) -> bool:
        """Every listed language; Japanese only when there is no kanji to read."""
        if language == "ja":
            return not any(script_of(c) == "han" for c in text)
        return language in self.info.languages

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` (synthesis runs in a worker thread; one chunk per call)."""
        voice_id = self.voice_id(language, voice)
        spoken = to_pinyin(text) if language == "zh" else text

        def run() -> AudioChunk:  # load (once) and speak in one trip to a worker thread
            library = _load()
            pcm = library.synthesize(spoken, voice_id, rate=voice.rate, pitch=voice.pitch)
            return AudioChunk(pcm, library.sample_rate)

        chunk = await asyncio.to_thread(run)
        if not chunk.pcm:
            raise RuntimeError("espeak-ng produced no audio")
        yield chunk


def create(settings: Settings) -> EspeakEngine:
    """The engine, if ``espeakng-loader`` and ``pypinyin`` are installed."""
    try:
        import espeakng_loader  # noqa: F401
        import pypinyin  # noqa: F401
    except ImportError as exc:
        raise VoiceUnavailableError(f"espeak needs {exc.name}: {INSTALL}") from exc
    return EspeakEngine()
