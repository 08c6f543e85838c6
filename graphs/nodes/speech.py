"""The speech of one turn: released sentences in, ``audio`` events out, in order.

``generate`` hands every sentence of the reply to :meth:`SpeechPipeline.say` the moment
it is released (complete, and past the output checks), so the first sentence is heard
while the model is still writing the rest. Sentences are synthesised concurrently (at
most ``ahead`` at a time) through the TTS chain and their audio is emitted strictly in
order, as ``audio`` events numbered without gaps. A segment no engine could speak
becomes an ``error`` event; the text of the turn is never held up or lost.

A sentence is only known to be complete when the token after it arrives (and, with
output checks on, once it passed them). To win that time, ``generate`` calls
:meth:`SpeechPipeline.prepare` with the sentence the raw stream probably ends
(:meth:`~miolumi.core.voice.splitter.SentenceSplitter.tentative`): synthesis starts at
once, and its audio is held until :meth:`SpeechPipeline.say` releases the very same text;
any other text drops it. Nothing unreleased is ever heard, and the audio and its order
are the same as without the draft. Remote (paid) engines do not start before ``say``.

Voice is off unless the run's context (``TurnContext.voice``) or the settings
(``MIOLUMI_VOICE``) turn it on, and a turn the budget degraded is not spoken.
Interrupting the turn (cancelling its run) cancels the synthesis with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime

from miolumi import events
from miolumi.core.cost import Attribution
from miolumi.core.voice import SpeechFailure, Spoken, VoicePlan, VoiceService
from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.attribution import turn_attribution
from miolumi.graphs.pace import stream_writer
from miolumi.graphs.state import TurnState

log = logging.getLogger(__name__)

Writer = Callable[[Any], None]
_END = object()


@dataclass(slots=True)
class _Draft:
    """A sentence synthesised before its release; its audio waits in ``queue``."""

    sentence: str
    index: int
    queue: asyncio.Queue[object]
    released: asyncio.Event
    task: asyncio.Task[None] | None = None


class SpeechPipeline:
    """Speaks the sentences of one reply, in order, while the reply is still streaming."""

    def __init__(
        self,
        *,
        voice: VoiceService,
        plan: VoicePlan,
        write: Writer,
        attribution: Attribution | None = None,
        languages: Iterable[str] | None = None,
        ahead: int = 1,
    ) -> None:
        self._voice = voice
        self._plan = plan
        self._write = write
        self._attribution = attribution
        self._languages = tuple(languages) if languages else None
        self._slots = asyncio.Semaphore(max(1, ahead))
        self._queues: asyncio.Queue[object] = asyncio.Queue()
        """One queue per sentence, in order, then ``_END``."""
        self._tasks: list[asyncio.Task[None]] = []
        self._draft: _Draft | None = None
        self._emitter: asyncio.Task[None] | None = None
        self._sentences = 0
        self._seq = 0
        self._reported: set[tuple[str, str]] = set()
        self.chunks = 0
        """Audio events emitted so far."""

    @property
    def pending(self) -> int:
        """Sentences whose synthesis is still running or queued."""
        return sum(not task.done() for task in self._tasks)

    def say(self, sentence: str) -> None:
        """Queue a released sentence for speech; returns at once."""
        if not sentence.strip():
            return
        if self._emitter is None:
            self._emitter = asyncio.create_task(self._emit())
        draft, self._draft = self._draft, None
        if draft is not None and draft.sentence == sentence and draft.task is not None:
            draft.released.set()
            self._queues.put_nowait(draft.queue)
            self._sentences += 1
            self._tasks.append(draft.task)
            return
        self._drop(draft)
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._queues.put_nowait(queue)
        index = self._sentences
        self._sentences += 1
        self._tasks.append(asyncio.create_task(self._synthesize(sentence, index, queue)))

    def prepare(self, sentence: str) -> None:
        """Start synthesising ``sentence``, probably the next one ``say`` gets; returns at once.

        Its audio is emitted only if ``say`` then gets exactly this text; a later
        ``prepare`` of another text, or ``say`` of another text, drops it.
        """
        if not sentence.strip() or (self._draft and self._draft.sentence == sentence):
            return
        self._drop(self._draft)
        draft = _Draft(sentence, self._sentences, asyncio.Queue(), asyncio.Event())
        draft.task = asyncio.create_task(self._speculate(draft))
        self._draft = draft

    async def finish(self) -> None:
        """Wait until every queued sentence is spoken and its audio emitted."""
        self._drop(self._draft)
        self._draft = None
        if self._emitter is None:
            return
        self._queues.put_nowait(_END)
        await self._emitter

    def cancel(self) -> None:
        """Stop speaking at once (the user interrupted): drop queued and running synthesis."""
        self._drop(self._draft)
        self._draft = None
        for task in self._tasks:
            task.cancel()
        if self._emitter is not None:
            self._emitter.cancel()

    @staticmethod
    def _drop(draft: _Draft | None) -> None:
        if draft is not None and draft.task is not None:
            draft.task.cancel()

    async def _speculate(self, draft: _Draft) -> None:
        chain = await self._voice.achain()
        if not all(engine.info.local for engine in chain.engines):
            await draft.released.wait()  # paid engines are not billed for a guess
        await self._synthesize(draft.sentence, draft.index, draft.queue)

    async def _synthesize(self, sentence: str, index: int, queue: asyncio.Queue[object]) -> None:
        try:
            async with self._slots:
                async for item in self._voice.speak(
                    sentence,
                    plan=self._plan,
                    attribution=self._attribution,
                    languages=self._languages,
                ):
                    await queue.put((index, item))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # speech must never end the turn
            log.warning("Speech of sentence %d failed: %s", index, exc)
            message = f"Speech failed ({type(exc).__name__}: {exc}); the text is unaffected."
            await queue.put((index, SpeechFailure("und", sentence, "tts_failed", message)))
        finally:
            queue.put_nowait(_END)

    async def _emit(self) -> None:
        while True:
            queue = await self._queues.get()
            if not isinstance(queue, asyncio.Queue):
                return
            while (entry := await queue.get()) is not _END:
                index, item = entry
                self._deliver(index, item)

    def _deliver(self, index: int, item: Spoken | SpeechFailure) -> None:
        if isinstance(item, Spoken):
            self._write(
                events.audio(
                    item.chunk.pcm,
                    sample_rate=item.chunk.sample_rate,
                    seq=self._seq,
                    sentence=index,
                    language=item.language,
                    engine=item.engine,
                )
            )
            self._seq += 1
            self.chunks += 1
            return
        key = (item.code, item.language)
        if key not in self._reported:  # once per turn and language, not per sentence
            self._reported.add(key)
            self._write(events.error(item.code, item.message))


def voice_wanted(state: TurnState, context: TurnContext) -> bool:
    """Whether this turn is spoken: voice on, and the budget did not degrade the turn."""
    wanted = context.voice if context.voice is not None else context.resources().settings.voice
    return wanted and state.budget_action != "degrade"


def voice_plan(context: TurnContext) -> tuple[VoicePlan, tuple[str, ...]]:
    """The companion's voice and languages: the persona's hints, or Lumi's snapshot."""
    services = context.resources()
    if context.agent_id is not None:
        from miolumi.mio.voice import persona_voice_plan

        persona = services.personas.get(context.agent_id)
        return persona_voice_plan(persona), tuple(dict.fromkeys(("en", *persona.languages)))
    from miolumi.lumi import store
    from miolumi.lumi.voice import lumi_voice_plan

    engine = store.lumi_database(services.settings.relational_url)
    snapshot = store.current(engine, context.user_id)
    personality = snapshot.personality if snapshot else None
    languages = ("en", personality.language) if personality else ()
    return lumi_voice_plan(personality), tuple(dict.fromkeys(languages))


def start_speech(state: TurnState, runtime: Runtime[TurnContext]) -> SpeechPipeline | None:
    """The speech pipeline of this turn, or None when the turn is not spoken."""
    context = runtime.context
    if not voice_wanted(state, context):
        return None
    plan, languages = voice_plan(context)
    return SpeechPipeline(
        voice=context.resources().voice,
        plan=plan,
        write=stream_writer(runtime),
        attribution=turn_attribution(state, context),
        languages=[code for code in languages if len(code) == 2] or None,
    )
