"""Speech in a turn (audio events while the reply streams), interruption, budgets, and STT."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from miolumi.config import load_settings
from miolumi.core.voice.audio import AudioChunk, join, rms, to_wav
from miolumi.core.voice.engines.piper import PiperEngine
from miolumi.core.voice.voices import VoicePlan
from miolumi.errors import AudioInputError
from miolumi.events import Event
from miolumi.graphs.nodes.speech import SpeechPipeline
from miolumi.services import Services
from miolumi.session import ChatSession
from miolumi.testing import FakeOpenAIServer, ScriptedChatModel
from tests.conftest import ServicesFactory
from tests.test_cost import rows
from tests.test_cost_budget import SPEND, spend

pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")

REPLY = "Hello there. 今天天气很好。 I hope you slept well. See you soon!"


async def run_turn(services: Services, text: str = "hi", *, product: str = "mio") -> list[Event]:
    async with ChatSession.open(
        user_id="ada",
        product=product,  # type: ignore[arg-type]
        services=services,
    ) as session:
        return [event async for event in session.turn(text)]


def audio_of(events: list[Event]) -> list[Any]:
    return [e for e in events if e["type"] == "audio"]


async def test_voice_is_off_by_default(make_services: ServicesFactory) -> None:
    events = await run_turn(make_services([REPLY]))
    assert audio_of(events) == []


async def test_a_spoken_turn_streams_audio_in_order_while_the_text_streams(
    make_services: ServicesFactory,
) -> None:
    model = ScriptedChatModel(replies=[REPLY], delay=0.05)
    services = make_services(model=model, settings=load_settings(voice=True, tts_engines="espeak"))
    events = await run_turn(services)
    audio = audio_of(events)
    assert [e["seq"] for e in audio] == list(range(len(audio)))
    assert [e["sentence"] for e in audio] == [0, 1, 2, 3]
    assert [e["language"] for e in audio] == ["en", "zh", "en", "en"]
    assert {e["engine"] for e in audio} == {"espeak"}
    # The first sentence is heard before the model has finished writing the reply.
    tokens = [i for i, e in enumerate(events) if e["type"] == "token"]
    assert events.index(audio[0]) < tokens[-1]
    # The text is untouched, and the audio is real speech.
    assert "".join(e["text"] for e in events if e["type"] == "token") == REPLY
    chunk = join(AudioChunk(base64.b64decode(e["data"]), e["sample_rate"]) for e in audio)
    assert chunk.duration > 3 and rms(chunk) > 0.02
    assert events[-1]["type"] == "turn_end" and events[-1]["reply"] == REPLY


async def test_a_missing_voice_is_an_error_event_and_the_text_still_arrives(
    make_services: ServicesFactory,
) -> None:
    settings = load_settings(voice=True, tts_engines="openjtalk")  # reads Japanese only
    events = await run_turn(make_services([REPLY], settings=settings))
    errors = [e for e in events if e["type"] == "error"]
    assert {e["code"] for e in errors} == {"tts_unavailable"}
    assert len(errors) == 2  # once per language (en, zh), not once per sentence
    assert "pip install" in errors[0]["message"]
    assert events[-1]["type"] == "turn_end" and events[-1]["reply"] == REPLY


async def test_lumi_speaks_too(make_services: ServicesFactory) -> None:
    settings = load_settings(voice=True, tts_engines="espeak")
    events = await run_turn(make_services(["Hi, I'm here."], settings=settings), product="lumi")
    assert [e["engine"] for e in audio_of(events)] == ["espeak"]


async def test_a_degraded_turn_is_not_spoken(make_services: ServicesFactory) -> None:
    with FakeOpenAIServer(replies=["Paid."], models=("gpt-4o",)) as server:
        settings = load_settings(
            base_url=server.base_url,
            model="openai:gpt-4o",
            prices=SPEND,
            budget_user_daily_usd="1",
            budget_on_cap="degrade",
            budget_degrade_model="scripted:small",
            voice=True,
            tts_engines="espeak",
        )
        services = make_services(["Free reply. Still here."], settings=settings)
        await spend(services, "1.00")
        events = await run_turn(services)
    assert [e["action"] for e in events if e["type"] == "budget"] == ["degrade"]
    assert audio_of(events) == []
    assert events[-1]["reply"] == "Free reply. Still here."


async def test_remote_speech_in_a_turn_is_billed_to_the_turn(
    make_services: ServicesFactory,
) -> None:
    with FakeOpenAIServer() as server:
        settings = load_settings(
            voice=True, tts_model="tts-1", voice_base_url=server.base_url, tts_engines="openai"
        )
        services = make_services(["One. Two."], settings=settings)
        events = await run_turn(services)
    await services.cost.aflush()
    billed = [r for r in rows(services) if r.kind == "tts"]
    assert [r.characters for r in billed] == [4, 4]
    assert {(r.user_id, r.agent_id, r.product, r.turn) for r in billed} == {
        ("ada", "mio", "mio", 1)
    }
    assert {e["engine"] for e in audio_of(events)} == {"openai"}


async def test_interrupting_stops_synthesis(make_services: ServicesFactory) -> None:
    with FakeOpenAIServer(speech_delay=5.0) as server:
        settings = load_settings(tts_model="tts-1", voice_base_url=server.base_url)
        services = make_services(settings=settings)
        written: list[Any] = []
        pipeline = SpeechPipeline(voice=services.voice, plan=VoicePlan(), write=written.append)
        for sentence in ["One sentence.", "Two sentences.", "Three sentences."]:
            pipeline.say(sentence)
        await asyncio.sleep(0.3)  # the first two are on the wire, waiting for audio
        assert pipeline.pending == 3
        pipeline.cancel()
        await asyncio.sleep(0.05)
        assert pipeline.pending == 0
        assert written == []
        await services.voice.aclose()


# -- speech to text ----------------------------------------------------------------


async def test_remote_transcription_reads_text_and_language_and_is_billed(
    make_services: ServicesFactory,
) -> None:
    with FakeOpenAIServer(transcripts=[("你好", "chinese")]) as server:
        services = make_services(
            settings=load_settings(stt_model="whisper-1", voice_base_url=server.base_url)
        )
        audio = AudioChunk(bytes(2 * 16_000 * 2), 16_000)  # 2 s
        transcript = await services.voice.transcribe(to_wav(audio), user_id="ada")
        (request,) = [r for r in server.requests if r.path == "/v1/audio/transcriptions"]
        await services.voice.aclose()
    assert (transcript.text, transcript.language) == ("你好", "zh")
    assert transcript.duration == pytest.approx(2.0)
    assert request.json["model"] == "whisper-1" and request.json["file"].startswith(b"RIFF")
    await services.cost.aflush()
    (row,) = [r for r in rows(services) if r.kind == "stt"]
    assert (row.model, row.audio_seconds, row.user_id) == ("whisper-1", 2.0, "ada")


async def test_unreadable_audio_is_an_input_error(make_services: ServicesFactory) -> None:
    with FakeOpenAIServer() as server:
        services = make_services(
            settings=load_settings(stt_model="whisper-1", voice_base_url=server.base_url)
        )
        with pytest.raises(AudioInputError, match="WAV"):
            await services.voice.transcribe(b"not a wav file")
        await services.voice.aclose()


async def test_offline_transcription_hears_what_piper_said(
    make_services: ServicesFactory,
) -> None:
    pytest.importorskip("faster_whisper", reason="the stt extra is not installed")
    pytest.importorskip("piper", reason="the piper extra is not installed")
    from miolumi.core.voice import VoiceSpec

    engine = PiperEngine()
    said = join(
        [
            c
            async for c in engine.synthesize(
                "The weather is lovely today.", language="en", voice=VoiceSpec()
            )
        ]
    )
    transcript = await make_services().voice.transcribe(said)
    assert transcript.language == "en"
    assert "weather is lovely today" in transcript.text.lower()
