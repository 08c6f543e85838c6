"""The built-in TTS engines, registered as a plugin (after third-party engines).

In order of preference: a configured OpenAI-compatible endpoint, then the offline
engines that are installed: Piper (English), Kokoro (Japanese), Open JTalk (Japanese),
eSpeak NG (English, Chinese, kana-only Japanese and more).
"""

from __future__ import annotations

from collections.abc import Callable

from miolumi.core.voice.engine import EngineSpec
from miolumi.core.voice.engines import espeak, kokoro, openai, openjtalk, piper
from miolumi.hookspecs import hookimpl

SPECS = (
    EngineSpec(
        name="openai",
        create=openai.create,
        description="OpenAI-compatible /audio/speech (MIOLUMI_TTS_MODEL)",
        languages=openai.LANGUAGES,
    ),
    EngineSpec(
        name="piper",
        create=piper.create,
        description="Piper, en_US joe voice (extra: piper)",
        languages=frozenset({"en"}),
    ),
    EngineSpec(
        name="kokoro",
        create=kokoro.create,
        description="Kokoro-82M Japanese (extra: kokoro)",
        languages=frozenset({"ja"}),
    ),
    EngineSpec(
        name="openjtalk",
        create=openjtalk.create,
        description="Open JTalk Japanese (extra: voice)",
        languages=frozenset({"ja"}),
    ),
    EngineSpec(
        name="espeak",
        create=espeak.create,
        description="eSpeak NG, many languages (extra: voice)",
        languages=frozenset({"en", "zh", "ja", "es", "fr", "de", "it", "pt", "ko"}),
    ),
)


@hookimpl(trylast=True)
def register_tts_engines(register: Callable[[EngineSpec], None]) -> None:
    """Register the built-in engines."""
    for spec in SPECS:
        register(spec)
