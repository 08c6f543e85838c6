"""What a text-to-speech engine is, and how plugins register them.

An engine declares what it can do (:class:`EngineInfo`: languages, voices, whether it runs
on this machine, its price) and implements one async generator,
:meth:`TTSEngine.synthesize`, from text to audio chunks. Routing by language, fallbacks,
cost metering and error events are the chain's job (:mod:`miolumi.core.voice.chain`).

Plugins register engines through the ``register_tts_engines(register)`` hook with an
:class:`EngineSpec`: a name and a ``create(settings)`` function, called once when the
voice is first used, that raises :class:`~miolumi.errors.VoiceUnavailableError` (naming
the install command or the setting) when the engine cannot run here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from miolumi.config import Settings
from miolumi.core.voice.audio import AudioChunk

Gender = Literal["female", "male", "neutral"]


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceInfo:
    """One voice of an engine."""

    id: str
    """What the engine calls it (``jf_alpha``, ``cmn-latn-pinyin+f3``)."""
    languages: frozenset[str]
    gender: Gender = "neutral"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineInfo:
    """What an engine declares about itself."""

    name: str
    """Unique engine name (``espeak``, ``piper``, ``openai``); persona voice hints use it."""
    languages: frozenset[str]
    """ISO 639-1 codes it reads correctly."""
    voices: tuple[VoiceInfo, ...]
    """Its voices; the first voice of a language is that language's default."""
    local: bool
    """Runs on this machine (free, private, works offline)."""
    price: Decimal = Decimal(0)
    """USD per million characters as published; the ledger prices calls from the price
    table (``tts:<provider>:<model>``)."""
    provider: str = ""
    """Provider name in the price table (``tts:<provider>:<model>``); default the name."""
    model: str = ""
    """Model name in the price table; default the name."""
    licence: str = ""
    """Licence of the engine and its voices, for ``miolumi voice engines``."""

    def voices_for(self, language: str) -> tuple[VoiceInfo, ...]:
        """The voices that read ``language``."""
        return tuple(v for v in self.voices if language in v.languages)


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSpec:
    """Which voice to speak with, and how: what :meth:`TTSEngine.synthesize` receives."""

    id: str | None = None
    """One of the engine's voice ids; None is the engine's default for the language."""
    rate: float = 1.0
    """Speaking rate, 1.0 normal (0.5..2.0)."""
    pitch: float = 0.0
    """Pitch shift, -1 (lower) .. +1 (higher); engines that cannot shift pitch ignore it."""


class TTSEngine(ABC):
    """A text-to-speech engine: one async generator, from text to audio chunks."""

    info: EngineInfo

    def can_speak(self, text: str, language: str) -> bool:
        """Whether this engine reads ``text`` in ``language`` correctly."""
        return language in self.info.languages

    def voice_id(self, language: str, voice: VoiceSpec) -> str:
        """The voice to use: ``voice.id`` if it reads ``language``, else the default."""
        voices = self.info.voices_for(language)
        if voice.id and any(v.id == voice.id for v in voices):
            return voice.id
        if not voices:
            raise ValueError(f"{self.info.name} has no voice for {language!r}")
        return voices[0].id

    @abstractmethod
    def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Speak ``text`` (one segment in ``language``), yielding audio chunks as they come.

        Raise on failure; the chain falls back to the next engine that can speak it.
        """

    def warm_up(self) -> None:  # noqa: B027 - optional hook, nothing to load by default
        """Load models now (blocking), so that the first sentence is not slowed by it."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to close by default
        """Release what the engine holds (connections, models)."""


@dataclass(frozen=True, kw_only=True)
class EngineSpec:
    """A registered engine: its name and how to build it for the settings."""

    name: str
    create: Callable[[Settings], TTSEngine]
    """Builds the engine; raises ``VoiceUnavailableError`` naming the fix when it cannot run."""
    description: str = ""
    languages: frozenset[str] = field(default_factory=frozenset)
    """Languages it will read once available (shown before it is built)."""
