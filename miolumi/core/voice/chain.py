"""The TTS chain of responsibility: every segment goes to the first engine able to speak it.

For each run of one language in the text (:func:`~miolumi.core.voice.language.segment`),
the engines that read that language are tried in order; an engine that fails before its
first chunk hands over to the next one. A segment no engine could speak becomes a
:class:`SpeechFailure` in the stream, never an exception: the text of the turn still
arrives, only that piece of audio is missing. Engines that are not local are metered
through the cost ledger (kind ``tts``, one unit per character); a budget that refuses
the call moves the segment on to the next (local) engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from miolumi.core.cost import Attribution, CostTracker, Units
from miolumi.core.voice.audio import AudioChunk
from miolumi.core.voice.engine import TTSEngine, VoiceSpec
from miolumi.core.voice.language import Segment, segment, speakable
from miolumi.core.voice.voices import VoicePlan

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Spoken:
    """Audio of a segment, and who spoke it."""

    chunk: AudioChunk
    language: str
    engine: str


@dataclass(frozen=True, slots=True)
class SpeechFailure:
    """A segment that could not be spoken; ``message`` names the fix."""

    language: str
    text: str
    code: str
    """``tts_unavailable`` (no engine reads the language) or ``tts_failed``."""
    message: str


SpeechItem = Spoken | SpeechFailure


@dataclass(kw_only=True)
class TTSChain:
    """Engines in order of preference, and the reasons others are missing."""

    engines: Sequence[TTSEngine]
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Engine name to why it cannot run here (the install command or setting)."""
    cost: CostTracker | None = None
    """Meters engines that are not local; None records nothing."""

    def engines_for(self, text: str, language: str) -> list[TTSEngine]:
        """The engines able to speak ``text`` in ``language``, in order."""
        return [e for e in self.engines if e.can_speak(text, language)]

    def languages(self) -> frozenset[str]:
        """Every language some engine reads."""
        return frozenset().union(*(e.info.languages for e in self.engines))

    async def speak(
        self,
        text: str,
        *,
        plan: VoicePlan | None = None,
        language: str | None = None,
        attribution: Attribution | None = None,
        languages: Iterable[str] | None = None,
    ) -> AsyncIterator[SpeechItem]:
        """Speak ``text``: audio chunks in order, and failures where a segment had no voice.

        ``language`` forces one language for the whole text; otherwise the text is
        segmented, Latin runs told apart among ``languages`` (default: all known ones).
        """
        plan = plan or VoicePlan()
        pieces = [Segment(language, text)] if language else segment(text, languages=languages)
        for piece in pieces:
            words = speakable(piece.text)
            if not any(c.isalnum() for c in words):
                continue
            async for item in self._segment(words, piece.language, plan, attribution):
                yield item

    async def _segment(
        self, text: str, language: str, plan: VoicePlan, attribution: Attribution | None
    ) -> AsyncIterator[SpeechItem]:
        candidates = self.engines_for(text, language)
        if not candidates:
            yield SpeechFailure(language, text, "tts_unavailable", self._no_voice(language))
            return
        errors: list[str] = []
        for engine in candidates:
            spec = plan.spec_for(engine.info, language)
            started = False
            try:
                async for chunk in self._run(engine, text, language, spec, attribution):
                    started = True
                    yield Spoken(chunk, language, engine.info.name)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an engine failing must not end the turn
                reason = f"{engine.info.name}: {type(exc).__name__}: {exc}"
                log.warning("TTS engine failed on a %s segment (%s).", language, reason)
                errors.append(reason)
                if started:  # audio already went out: do not say it twice
                    break
        message = (
            f"Could not speak a {language} segment ({'; '.join(errors)}). "
            "Check the engine (`miolumi voice engines`) or set MIOLUMI_TTS_ENGINES."
        )
        yield SpeechFailure(language, text, "tts_failed", message)

    async def _run(
        self,
        engine: TTSEngine,
        text: str,
        language: str,
        spec: VoiceSpec,
        attribution: Attribution | None,
    ) -> AsyncIterator[AudioChunk]:
        if engine.info.local or self.cost is None:
            async for chunk in engine.synthesize(text, language=language, voice=spec):
                yield chunk
            return
        units = Units(characters=len(text))
        async with self.cost.meter(
            kind="tts",
            provider=engine.info.provider or engine.info.name,
            model=engine.info.model or engine.info.name,
            attribution=attribution or Attribution(),
            estimate=units,
        ) as meter:
            meter.units = units  # billed on the text sent, even if the stream is cut
            async for chunk in engine.synthesize(text, language=language, voice=spec):
                yield chunk

    def _no_voice(self, language: str) -> str:
        hints = [f"{name} ({why})" for name, why in self.unavailable.items()]
        more = f" Unavailable engines: {'; '.join(hints)}." if hints else ""
        return (
            f"No installed voice reads {language!r}: `pip install 'miolumi[voice]'` adds "
            f"offline voices for English, Chinese and Japanese.{more}"
        )
