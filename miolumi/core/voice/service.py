"""The voice of a process (``Services.voice``): engines from plugins, the chain, the transcriber.

Engines are collected through the ``register_tts_engines`` hook and built once, on first
use; those that cannot run here (an extra not installed, an endpoint not configured) are
kept with the reason, which error messages and ``miolumi voice engines`` show.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from miolumi.config import Settings
from miolumi.core.cost import Attribution, CostTracker
from miolumi.core.voice.audio import AudioChunk, join
from miolumi.core.voice.chain import SpeechFailure, SpeechItem, Spoken, TTSChain
from miolumi.core.voice.engine import EngineSpec, TTSEngine
from miolumi.core.voice.stt import Transcriber, Transcript, create_transcriber, transcribe_with
from miolumi.core.voice.voices import VoicePlan
from miolumi.errors import ConfigError, MiolumiError, PluginError
from miolumi.plugins import Plugins


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineStatus:
    """A registered engine and whether it can run here."""

    spec: EngineSpec
    engine: TTSEngine | None
    reason: str = ""
    """Why it is unavailable (empty when it is)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Speech:
    """All the audio of a text, joined, and what could not be spoken."""

    audio: AudioChunk
    failures: list[SpeechFailure] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    """Engines that spoke, in order of first use."""


def collect_specs(plugins: Plugins) -> list[EngineSpec]:
    """Every engine the plugins register, in hook order; a duplicate name is an error."""
    specs: list[EngineSpec] = []

    def register(spec: EngineSpec) -> None:
        if not isinstance(spec, EngineSpec):
            raise PluginError(
                f"register_tts_engines got {type(spec).__name__}: register an "
                "miolumi.core.voice.engine.EngineSpec."
            )
        if any(s.name == spec.name for s in specs):
            raise PluginError(
                f"Two TTS engines are named {spec.name!r}: rename one of the plugins' engines."
            )
        specs.append(spec)

    plugins.hook.register_tts_engines(register=register)
    return specs


def _ordered(specs: list[EngineSpec], preference: str | None) -> list[EngineSpec]:
    if preference is None:
        return specs
    names = [n.strip() for n in preference.split(",") if n.strip()]
    known = {s.name: s for s in specs}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"Unknown TTS engine {unknown[0]!r} in MIOLUMI_TTS_ENGINES: choose from "
            f"{', '.join(known)}."
        )
    return [known[n] for n in names]


class VoiceService:
    """Text to speech through the engine chain, and speech to text."""

    def __init__(
        self, *, settings: Settings, plugins: Plugins, cost: CostTracker | None = None
    ) -> None:
        self.settings = settings
        self.plugins = plugins
        self.cost = cost
        self._lock = threading.Lock()
        self._statuses: list[EngineStatus] | None = None
        self._chain: TTSChain | None = None
        self._transcriber: Transcriber | None = None

    def engines(self) -> list[EngineStatus]:
        """Every registered engine in order of preference, built (once) where it can run."""
        with self._lock:
            if self._statuses is None:
                statuses = []
                for spec in _ordered(collect_specs(self.plugins), self.settings.tts_engines):
                    try:
                        statuses.append(EngineStatus(spec=spec, engine=spec.create(self.settings)))
                    except MiolumiError as exc:
                        statuses.append(EngineStatus(spec=spec, engine=None, reason=str(exc)))
                self._statuses = statuses
            return list(self._statuses)

    def chain(self) -> TTSChain:
        """The chain of the engines that can run here."""
        statuses = self.engines()
        with self._lock:
            if self._chain is None:
                self._chain = TTSChain(
                    engines=[s.engine for s in statuses if s.engine is not None],
                    unavailable={s.spec.name: s.reason for s in statuses if s.engine is None},
                    cost=self.cost,
                )
            return self._chain

    async def achain(self) -> TTSChain:
        """The chain, built in a worker thread the first time (engines may load slowly)."""
        return self._chain if self._chain is not None else await asyncio.to_thread(self.chain)

    async def speak(
        self,
        text: str,
        *,
        plan: VoicePlan | None = None,
        language: str | None = None,
        user_id: str = "local",
        agent_id: str | None = None,
        attribution: Attribution | None = None,
        languages: Iterable[str] | None = None,
    ) -> AsyncIterator[SpeechItem]:
        """Speak ``text``: audio chunks in order, failures where a segment had no voice.

        Paid engines are billed to ``attribution`` (default: ``user_id`` and ``agent_id``).
        """
        chain = await self.achain()
        who = attribution or Attribution(user_id=user_id, agent_id=agent_id)
        async for item in chain.speak(
            text, plan=plan, language=language, attribution=who, languages=languages
        ):
            yield item

    async def synthesize(
        self,
        text: str,
        *,
        plan: VoicePlan | None = None,
        language: str | None = None,
        user_id: str = "local",
        agent_id: str | None = None,
    ) -> Speech:
        """All the audio of ``text`` at once (``miolumi say``), with what could not be spoken."""
        chunks: list[AudioChunk] = []
        failures: list[SpeechFailure] = []
        engines: list[str] = []
        async for item in self.speak(
            text, plan=plan, language=language, user_id=user_id, agent_id=agent_id
        ):
            if isinstance(item, Spoken):
                chunks.append(item.chunk)
                if item.engine not in engines:
                    engines.append(item.engine)
            else:
                failures.append(item)
        return Speech(audio=join(chunks), failures=failures, engines=engines)

    async def warm_up(self, languages: Iterable[str] | None = None) -> None:
        """Load the engines that would speak ``languages`` (default: all), off the event loop.

        Call it before a spoken conversation so the first sentence is not slowed by loading.
        """
        chain = await self.achain()
        wanted = set(languages) if languages is not None else None
        for engine in chain.engines:
            if wanted is None or engine.info.languages & wanted:
                await asyncio.to_thread(engine.warm_up)

    def transcriber(self) -> Transcriber:
        """The transcriber (remote when configured, else offline), built once."""
        with self._lock:
            if self._transcriber is None:
                self._transcriber = create_transcriber(self.settings)
            return self._transcriber

    async def transcribe(
        self,
        audio: bytes | AudioChunk,
        *,
        language: str | None = None,
        user_id: str = "local",
        agent_id: str | None = None,
        attribution: Attribution | None = None,
    ) -> Transcript:
        """What ``audio`` (WAV bytes or a chunk) says, and in which language."""
        transcriber = await asyncio.to_thread(self.transcriber)
        return await transcribe_with(
            transcriber,
            audio,
            language=language,
            cost=self.cost,
            attribution=attribution or Attribution(user_id=user_id, agent_id=agent_id),
        )

    async def aclose(self) -> None:
        """Close the engines' connections."""
        with self._lock:
            engines = [s.engine for s in self._statuses or [] if s.engine is not None]
            transcriber = self._transcriber
            self._statuses, self._chain, self._transcriber = None, None, None
        for engine in engines:
            await engine.aclose()
        if transcriber is not None:
            await transcriber.aclose()
