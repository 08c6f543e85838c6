"""Speech that starts before a sentence is released (drafts), and sentences spoken on release.

A draft is synthesised as soon as the raw stream probably ends a sentence; its audio is
heard only if that very sentence is then released. These tests check that nothing else
is ever heard, that the audio and its numbering are the same as without drafts (with a
deterministic local engine), that paid engines wait for the release, and that a turn
speaks its first sentence (eSpeak, real audio) while the model is still writing the next.
"""

from __future__ import annotations

import asyncio
import base64
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
from langchain_core.outputs import ChatGenerationChunk
from pydantic import PrivateAttr

from miolumi.config import load_settings
from miolumi.core.voice.audio import AudioChunk, from_floats, rms
from miolumi.core.voice.engine import EngineInfo, EngineSpec, TTSEngine, VoiceInfo, VoiceSpec
from miolumi.core.voice.splitter import SentenceSplitter
from miolumi.core.voice.voices import VoicePlan
from miolumi.events import Event
from miolumi.graphs.nodes.speech import SpeechPipeline
from miolumi.hookspecs import hookimpl
from miolumi.services import Services
from miolumi.session import ChatSession
from miolumi.testing import FakeOpenAIServer, ScriptedChatModel
from tests.conftest import ServicesFactory

pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")

ESPEAK = {"voice": True, "tts_engines": "espeak"}
TONE = {"voice": True, "tts_engines": "tone"}
LANGUAGES = frozenset({"en", "zh", "ja"})


class ToneEngine(TTSEngine):
    """A local engine whose audio depends on the text only (eSpeak's varies from call to
    call), so that audio with and without drafts can be compared byte for byte."""

    info = EngineInfo(
        name="tone",
        languages=LANGUAGES,
        voices=(VoiceInfo(id="tone", languages=LANGUAGES),),
        local=True,
    )

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        """Two chunks of a tone whose pitch and length follow the text."""
        pitch = 200 + zlib.crc32(f"{language}:{text}".encode()) % 600
        for half in (0, 1):
            await asyncio.sleep(0.01)  # like an engine, it takes a while
            t = np.arange(400 * len(text)) / 16_000 + half
            yield from_floats(0.3 * np.sin(2 * np.pi * pitch * t), 16_000)


class TonePlugin:
    @hookimpl
    def register_tts_engines(self, register: Callable[[EngineSpec], None]) -> None:
        register(EngineSpec(name="tone", create=lambda settings: ToneEngine()))


def with_tone(services: Services) -> Services:
    """``services`` with the tone engine registered (before the voice is first used)."""
    services.plugins.manager.register(TonePlugin(), name="tone")
    return services


def spied_engine(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the (only) engine is asked to synthesise, in order."""
    engine = services.voice.chain().engines[0]
    asked: list[str] = []
    synthesize = engine.synthesize

    def spy(text: str, **kwargs: Any) -> AsyncIterator[AudioChunk]:
        asked.append(text)
        return synthesize(text, **kwargs)

    monkeypatch.setattr(engine, "synthesize", spy)
    return asked


def pipeline_of(services: Services, written: list[Any]) -> SpeechPipeline:
    """A speech pipeline writing its events to ``written``, as a turn of an en/zh/ja companion."""
    return SpeechPipeline(
        voice=services.voice, plan=VoicePlan(), write=written.append, languages=LANGUAGES
    )


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (polling) until ``condition()`` holds; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def draft_ready(pipeline: SpeechPipeline) -> bool:
    """The pending draft's synthesis has finished (its audio is waiting for release)."""
    draft = pipeline._draft
    return draft is not None and draft.task is not None and draft.task.done()


async def spoken(services: Services, sentences: list[str]) -> list[Any]:
    """The audio events of ``sentences`` said one by one, without drafts (the reference)."""
    written: list[Any] = []
    pipeline = pipeline_of(services, written)
    for sentence in sentences:
        pipeline.say(sentence)
    await pipeline.finish()
    return written


async def test_a_released_draft_is_heard_once_and_as_without_drafts(
    make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = with_tone(make_services(**TONE))
    reference = await spoken(services, ["Hello there.", "How are you?"])
    asked = spied_engine(services, monkeypatch)
    written: list[Any] = []
    pipeline = pipeline_of(services, written)
    pipeline.prepare("Hello there.")
    await until(lambda: draft_ready(pipeline))
    assert asked == ["Hello there."]
    assert written == []  # synthesised, but not released: not heard
    pipeline.say("Hello there.")
    pipeline.say("How are you?")
    await pipeline.finish()
    assert asked == ["Hello there.", "How are you?"]  # the draft was not synthesised again
    assert written == reference
    assert [e["seq"] for e in written] == list(range(len(written)))
    assert [e["sentence"] for e in written] == [0, 0, 1, 1]


async def test_a_wrong_draft_is_never_heard(
    make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = with_tone(make_services(**TONE))
    reference = await spoken(services, ["It costs 3.14 dollars.", "Fine."])
    asked = spied_engine(services, monkeypatch)
    written: list[Any] = []
    pipeline = pipeline_of(services, written)
    pipeline.prepare("It costs 3.")  # "3." looked like a sentence end...
    await until(lambda: draft_ready(pipeline))
    pipeline.say("It costs 3.14 dollars.")  # ...it was not
    pipeline.prepare("Fine.")
    pipeline.say("Fine.")
    pipeline.prepare("Never released.")
    await until(lambda: draft_ready(pipeline))
    await pipeline.finish()
    assert asked[0] == "It costs 3."
    assert "Never released." in asked
    assert written == reference
    assert [e["seq"] for e in written] == list(range(len(written)))


async def test_paid_engines_wait_for_the_release(make_services: ServicesFactory) -> None:
    with FakeOpenAIServer() as server:
        settings = load_settings(
            tts_model="tts-1", voice_base_url=server.base_url, tts_engines="openai"
        )
        services = make_services(settings=settings)
        written: list[Any] = []
        pipeline = pipeline_of(services, written)

        def speech_requests() -> int:
            return sum(r.path.endswith("/audio/speech") for r in server.requests)

        pipeline.prepare("A guess.")
        await asyncio.sleep(0.3)
        assert speech_requests() == 0
        pipeline.prepare("One.")
        pipeline.say("One.")
        await pipeline.finish()
        assert speech_requests() == 1
        assert written and {e["sentence"] for e in written} == {0}
        await services.voice.aclose()


# -- in a turn -------------------------------------------------------------------------


class PausingModel(ScriptedChatModel):
    """Streams ``pause_after`` chunks, then waits for ``resume()`` before the rest."""

    pause_after: int = 0
    _resume: asyncio.Event = PrivateAttr(default_factory=asyncio.Event)

    def resume(self) -> None:
        self._resume.set()

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        count = 0
        async for chunk in super()._astream(*args, **kwargs):
            if count == self.pause_after:
                await self._resume.wait()
            count += 1
            yield chunk


CHECKS = {"on": {}, "off": {"default": {"output_checks": False}}}


@pytest.mark.parametrize("checks", sorted(CHECKS))
async def test_the_first_sentence_is_heard_while_the_next_is_being_written(
    make_services: ServicesFactory, checks: str
) -> None:
    # "Hello " "there. " "How " then the model stops until the test hears audio: the first
    # sentence is known to be complete, the second is not.
    model = PausingModel(replies=["Hello there. How are you today? Fine."], pause_after=3)
    services = make_services(model=model, guard_policy=CHECKS[checks], **ESPEAK)
    events: list[Event] = []
    async with ChatSession.open(user_id="ada", services=services) as session:
        async with asyncio.timeout(30):
            async for event in session.turn("hi"):
                events.append(event)
                if event["type"] == "audio":
                    model.resume()
    audio = [e for e in events if e["type"] == "audio"]
    assert [e["sentence"] for e in audio][:1] == [0]
    shown = "".join(e["text"] for e in events[: events.index(audio[0])] if e["type"] == "token")
    assert "How are you" not in shown  # heard before the second sentence was written
    first = AudioChunk(base64.b64decode(audio[0]["data"]), audio[0]["sample_rate"])
    assert first.duration > 0.3 and rms(first) > 0.02  # real speech, not silence
    assert events[-1]["type"] == "turn_end"


REPLY = "Well... you know, it costs 3.14 now. Mr. Smith agreed. 好的。 OK, bye!"


async def turn_audio(services: Services) -> list[Any]:
    async with ChatSession.open(user_id="ada", services=services) as session:
        return [e async for e in session.turn("hi") if e["type"] == "audio"]


async def test_drafts_leave_the_audio_of_a_turn_unchanged(
    make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    guesses: list[str] = []
    prepare = SpeechPipeline.prepare

    def spy(self: SpeechPipeline, sentence: str) -> None:
        guesses.append(sentence)
        prepare(self, sentence)

    monkeypatch.setattr(SpeechPipeline, "prepare", spy)
    model = ScriptedChatModel(replies=[REPLY], delay=0.03)
    with_drafts = await turn_audio(with_tone(make_services(model=model, **TONE)))
    monkeypatch.setattr(SpeechPipeline, "prepare", lambda self, sentence: None)
    model = ScriptedChatModel(replies=[REPLY], delay=0.03)
    without = await turn_audio(with_tone(make_services(model=model, **TONE)))

    sentences = SentenceSplitter().push(REPLY + " X")
    assert "Well..." in guesses and "Well..." not in sentences  # a wrong guess was made
    # Every sentence was drafted, but "好的。": its chunk "好的。 " shows at once that it ended.
    assert set(sentences) - set(guesses) == {"好的。"}
    assert with_drafts == without  # same audio, sentences, languages, engines and seq
    assert [e["seq"] for e in with_drafts] == list(range(len(with_drafts)))
    languages = {e["sentence"]: e["language"] for e in with_drafts}
    assert languages == {0: "en", 1: "en", 2: "zh", 3: "en"}
    assert [e["sentence"] for e in with_drafts] == [0, 0, 1, 1, 2, 2, 3, 3]
