"""``miolumi say``, ``miolumi voice`` and ``miolumi chat --voice`` (WAV files without a player)."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from miolumi.cli import app, audio
from miolumi.core.voice.audio import read_wav, rms
from miolumi.testing import FakeOpenAIServer

pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_player(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "find_player", lambda: None)
    monkeypatch.setattr("miolumi.cli.voice.find_player", lambda: None)
    monkeypatch.setenv("MIOLUMI_TTS_ENGINES", "openjtalk,espeak")


def test_say_writes_real_audio(tmp_path: Path) -> None:
    out = tmp_path / "hi.wav"
    result = runner.invoke(app, ["say", "Hello there! 你好！", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "espeak" in result.output
    audio = read_wav(out.read_bytes())
    assert audio.duration > 1 and rms(audio) > 0.02


def test_say_in_a_personas_voice_with_a_forced_language(tmp_path: Path) -> None:
    out = tmp_path / "ja.wav"
    result = runner.invoke(
        app, ["say", "今日は晴れです。", "--lang", "ja", "--persona", "haruka", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "openjtalk" in result.output
    assert read_wav(out.read_bytes()).duration > 1


def test_say_without_a_voice_for_the_language_fails_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MIOLUMI_TTS_ENGINES", "openjtalk")
    result = runner.invoke(app, ["say", "Hello", "-o", str(tmp_path / "x.wav")])
    assert result.exit_code == 1
    assert "pip install" in result.output


def test_voice_engines_lists_why_an_engine_is_off() -> None:
    result = runner.invoke(app, ["voice", "engines"])
    assert result.exit_code == 0, result.output
    assert "espeak" in result.output and "openjtalk" in result.output


def test_voice_transcribe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "q.wav"
    assert runner.invoke(app, ["say", "What time is it?", "-o", str(out)]).exit_code == 0
    with FakeOpenAIServer(transcripts=[("what time is it", "english")]) as server:
        monkeypatch.setenv("MIOLUMI_STT_MODEL", "whisper-1")
        monkeypatch.setenv("MIOLUMI_VOICE_BASE_URL", server.base_url)
        result = runner.invoke(app, ["voice", "transcribe", str(out)])
    assert result.exit_code == 0, result.output
    assert "[en] what time is it" in result.output
    missing = runner.invoke(app, ["voice", "transcribe", str(tmp_path / "nope.wav")])
    assert missing.exit_code == 2 and "Check the path" in missing.output


def test_chat_voice_writes_a_wav_per_turn(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(replies=["Hi there. Nice to see you."]) as server:
        monkeypatch.setenv("MIOLUMI_BASE_URL", server.base_url)
        monkeypatch.setenv("MIOLUMI_MODEL", "fake-model")
        monkeypatch.setenv("MIOLUMI_MEMORY_EXTRACTION", "off")
        result = runner.invoke(app, ["chat", "--voice"], input="hello\n")
    assert result.exit_code == 0, _failure(result)
    (wav,) = sorted((home / "voice").glob("*-turn-1.wav"))
    assert str(home / "voice") in result.output
    audio = read_wav(wav.read_bytes())
    assert audio.duration > 1 and rms(audio) > 0.02


def _failure(result: Result) -> str:
    """The output of a failed command, and the traceback of what it raised."""
    if result.exc_info is None:
        return result.output
    return result.output + "".join(traceback.format_exception(*result.exc_info))
