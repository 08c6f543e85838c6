"""OpenAI-compatible ``/audio/speech``: OpenAI, or any server speaking its API.

On when ``MIOLUMI_TTS_MODEL`` is set (e.g. ``tts-1``); the endpoint is
``MIOLUMI_VOICE_BASE_URL`` (default ``MIOLUMI_BASE_URL``) with ``MIOLUMI_VOICE_API_KEY``
(default ``MIOLUMI_API_KEY``). Audio is streamed as raw 16-bit PCM at 24 kHz
(``response_format=pcm``) and yielded as it arrives. Paid: every call goes through the
cost ledger as ``tts:openai:<model>``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx

from miolumi.config import Settings
from miolumi.core.voice.audio import SAMPLE_WIDTH, AudioChunk
from miolumi.core.voice.engine import EngineInfo, Gender, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.errors import VoiceUnavailableError

SAMPLE_RATE = 24_000
"""Sample rate of OpenAI's ``pcm`` response format."""
CHUNK_BYTES = 4_800
"""Bytes per yielded chunk (0.1 s)."""
LANGUAGES = frozenset({"en", "zh", "ja", "es", "fr", "de", "it", "pt", "ko"})
_VOICES: tuple[tuple[str, Gender], ...] = (
    ("alloy", "neutral"),
    ("nova", "female"),
    ("shimmer", "female"),
    ("coral", "female"),
    ("sage", "female"),
    ("echo", "male"),
    ("onyx", "male"),
    ("fable", "male"),
    ("ash", "male"),
)
_PRICES = {"tts-1": Decimal(15), "tts-1-hd": Decimal(30)}


def settings_endpoint(settings: Settings) -> tuple[str, str | None]:
    """The voice endpoint and key: the voice settings, else the chat model's."""
    base_url = settings.voice_base_url or settings.base_url
    if not base_url:
        base_url = "https://api.openai.com/v1"
    key = settings.voice_api_key or settings.api_key
    return base_url.rstrip("/"), key.get_secret_value() if key else None


class OpenAISpeechEngine(TTSEngine):
    """Speech from an OpenAI-compatible endpoint; every listed language, every voice."""

    def __init__(self, *, base_url: str, api_key: str | None, model: str, timeout: float) -> None:
        self.base_url = base_url
        self.model = model
        self.info = EngineInfo(
            name="openai",
            languages=LANGUAGES,
            voices=tuple(VoiceInfo(id=v, languages=LANGUAGES, gender=g) for v, g in _VOICES),
            local=False,
            price=_PRICES.get(model, Decimal(0)),
            provider="openai",
            model=model,
            licence="remote service",
        )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Stream the speech of ``text`` as it arrives, 0.1 s per chunk."""
        body = {
            "model": self.model,
            "input": text,
            "voice": self.voice_id(language, voice),
            "response_format": "pcm",
            "speed": max(0.25, min(4.0, voice.rate)),
        }
        async with self._client.stream("POST", f"{self.base_url}/audio/speech", json=body) as r:
            if r.status_code != 200:
                detail = (await r.aread()).decode("utf-8", "replace")[:200]
                raise RuntimeError(f"{self.base_url} answered {r.status_code}: {detail}")
            pending = b""
            async for data in r.aiter_bytes():
                pending += data
                cut = len(pending) - len(pending) % CHUNK_BYTES
                if cut:
                    yield AudioChunk(pending[:cut], SAMPLE_RATE)
                    pending = pending[cut:]
            pending = pending[: len(pending) - len(pending) % SAMPLE_WIDTH]
            if pending:
                yield AudioChunk(pending, SAMPLE_RATE)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def create(settings: Settings) -> OpenAISpeechEngine:
    """The engine, when ``MIOLUMI_TTS_MODEL`` names a speech model."""
    if not settings.tts_model:
        raise VoiceUnavailableError(
            "openai speech is off: set MIOLUMI_TTS_MODEL (e.g. tts-1) and, for another "
            "server than the chat model's, MIOLUMI_VOICE_BASE_URL"
        )
    base_url, key = settings_endpoint(settings)
    return OpenAISpeechEngine(
        base_url=base_url, api_key=key, model=settings.tts_model, timeout=settings.request_timeout
    )
