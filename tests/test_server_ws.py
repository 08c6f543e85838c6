"""The WebSocket protocol against a real uvicorn: turns, errors, interrupt, disconnect."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest

from miolumi.config import load_settings
from miolumi.core.voice.audio import AudioChunk, join, rms, to_wav
from miolumi.testing import FakeOpenAIServer, ScriptedChatModel
from tests.conftest import ServicesFactory
from tests.serving import masked_text_frame, raw_ws, reply_of, serve

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout

SLOW = " ".join(["once upon a time"] * 15)  # 60 words, 3 s at 0.05 s a word


def test_a_lumi_turn_streams_typed_frames_in_order(make_services: ServicesFactory) -> None:
    services = make_services(["I am so happy you came! Tell me everything."])
    with serve(services) as server, server.ws(server.token("ada")) as ws:
        frames = ws.turn("hello there", id="m1")
    start, *rest = frames
    assert start["type"] == "turn_start"
    assert start["product"] == "lumi" and start["turn"] == 1 and start["thread_id"]
    types = [f["type"] for f in rest]
    assert types[-1] == "turn_end"
    assert {"token", "emotion", "orb"} <= set(types)
    assert all(f["id"] == "m1" for f in frames)
    assert reply_of(frames) == "I am so happy you came! Tell me everything."
    orb = next(f for f in rest if f["type"] == "orb")
    assert orb["colour"].startswith("#") and orb["pulse_hz"] > 0


def test_a_mio_turn_carries_the_relationship(make_services: ServicesFactory) -> None:
    services = make_services(["Nice to meet you."])
    with serve(services) as server, server.ws(server.token("ada")) as ws:
        frames = ws.turn("hi Kai", product="mio", agent_id="kai")
    relationship = next(f for f in frames if f["type"] == "relationship")
    assert relationship["agent_id"] == "kai"
    assert frames[0]["agent_id"] == "kai"


def test_the_next_message_continues_the_thread(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["First.", "Second."])
    with serve(make_services(model=model)) as server, server.ws(server.token("ada")) as ws:
        first = ws.turn("one")
        second = ws.turn("two")
    assert first[0]["thread_id"] == second[0]["thread_id"]
    assert second[-1]["turn"] == 2
    assert [m.text for m in model.calls[1][1:]] == ["one", "First.", "two"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_frame"),
        ('["a list"]', "unknown_type"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message"}', "bad_frame"),
        ('{"type": "message", "text": "hi", "colour": "red"}', "bad_frame"),
        (b"\x00\x01binary", "bad_frame"),
    ],
)
def test_bad_frames_get_an_error_and_the_connection_stays(
    make_services: ServicesFactory, raw: str | bytes, code: str
) -> None:
    with serve(make_services()) as server, server.ws(server.token("ada")) as ws:
        ws.send_raw(raw)
        error = ws.recv()
        assert error["type"] == "error" and error["code"] == code
        assert error["message"]
        ws.send(type="ping")
        assert ws.recv()["type"] == "pong"
        assert ws.turn("still there?")[-1]["type"] == "turn_end"


def test_an_oversized_frame_gets_an_error(make_services: ServicesFactory) -> None:
    services = make_services(ws_max_frame_bytes=2048)
    with serve(services) as server, server.ws(server.token("ada")) as ws:
        ws.send(type="message", text="x" * 5000)
        error = ws.recv()
        assert error["code"] == "too_large" and "MIOLUMI_WS_MAX_FRAME_BYTES" in error["message"]
        assert ws.turn("short")[-1]["type"] == "turn_end"


def test_messages_need_authentication_first(make_services: ServicesFactory) -> None:
    with serve(make_services()) as server, server.ws() as ws:
        ws.send(type="message", text="hi")
        assert ws.recv()["code"] == "auth"
        ws.send(type="auth", token="mlt_nope_nope")
        assert ws.recv()["code"] == "auth"
        ws.send(type="auth", token=server.token("ada"))
        assert ws.recv() == {"type": "ready", "user_id": "ada", "frame": 3}


def test_a_token_in_the_handshake_authenticates(make_services: ServicesFactory) -> None:
    with serve(make_services()) as server:
        token = server.token("ada")
        with server.ws(additional_headers=server.auth(token)) as ws:
            assert ws.recv()["type"] == "ready"
            assert ws.turn("hi")[-1]["type"] == "turn_end"


def test_a_second_message_while_streaming_is_refused(make_services: ServicesFactory) -> None:
    services = make_services(model=ScriptedChatModel(replies=[SLOW], delay=0.05))
    with serve(services) as server, server.ws(server.token("ada")) as ws:
        ws.send(type="message", text="one", id="a")
        ws.until("token")
        ws.send(type="message", text="two", id="b")
        frames = ws.until("turn_end")
    busy = next(f for f in frames if f["type"] == "error")
    assert busy["code"] == "busy" and busy["id"] == "b" and busy["final"] is True
    assert frames[-1]["id"] == "a"


def test_interrupt_stops_the_turn_and_records_nothing(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=[SLOW, "Fine."], delay=0.05)
    with serve(make_services(model=model)) as server:
        token = server.token("ada")
        with server.ws(token) as ws:
            ws.send(type="message", text="tell me a long story", id="a")
            thread = ws.until("turn_start")[0]["thread_id"]
            ws.until("token")
            ws.send(type="interrupt")
            frames = ws.until("interrupted")
            assert "turn_end" not in {f["type"] for f in frames}
            again = ws.turn("short one then", thread_id=thread)
        assert again[0]["thread_id"] == thread and again[-1]["turn"] == 1
        messages = server.http.get(
            f"/v1/conversations/{thread}/messages", headers=server.auth(token)
        ).json()
    assert [m["text"] for m in messages] == ["short one then", "Fine."]


def test_a_disconnect_mid_turn_leaves_the_thread_as_it_was(
    make_services: ServicesFactory,
) -> None:
    model = ScriptedChatModel(replies=["Hello.", SLOW, "Back again."], delay=0.05)
    with serve(make_services(model=model)) as server:
        token = server.token("ada")
        with server.ws(token) as ws:
            thread = ws.turn("hi")[0]["thread_id"]
            ws.send(type="message", text="long story please")
            ws.until("token")
        # Gone mid-reply. The thread is free at once and holds only the first turn.
        with server.ws(token) as ws:
            frames = ws.turn("are you there?")
        assert frames[0]["thread_id"] == thread
        assert frames[-1]["turn"] == 2
        messages = server.http.get(
            f"/v1/conversations/{thread}/messages", headers=server.auth(token)
        ).json()
    assert [m["text"] for m in messages] == ["hi", "Hello.", "are you there?", "Back again."]


def test_a_client_that_stops_reading_pauses_its_turn(make_services: ServicesFactory) -> None:
    words = 10_000  # ~10 MB of token frames: more than the socket buffers take
    model = ScriptedChatModel(replies=[" ".join(f"w{i:05d}" + "x" * 1000 for i in range(words))])
    with serve(make_services(model=model, ws_send_queue=4)) as server:
        token = server.token("ada")
        sock = raw_ws(server, token)
        sock.sendall(masked_text_frame(json.dumps({"type": "message", "text": "say a lot"})))
        # Read nothing. Once the socket buffers are full the turn must stand still:
        # without back-pressure it would read on and hold every event in memory. How soon
        # the buffers fill depends on the machine's load, so wait until it stands still.
        paused_at = stands_still(lambda: model.streamed, calm=3.0, within=90.0)
        assert paused_at < words, "the turn ran on with nobody reading"
        time.sleep(3.0)
        assert model.streamed == paused_at, "the turn moved on with nobody reading"
        sock.close()
        time.sleep(0.5)
        # The abandoned turn was not recorded, and the server still serves.
        assert server.http.get("/v1/conversations", headers=server.auth(token)).json() == []
        assert server.http.get("/healthz").status_code == 200


def test_a_spoken_message_is_transcribed_then_answered(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["It is noon."])
    with FakeOpenAIServer(transcripts=[("what time is it", "english")]) as stt:
        services = make_services(
            model=model, settings=load_settings(stt_model="whisper-1", voice_base_url=stt.base_url)
        )
        wav = to_wav(AudioChunk(bytes(16_000 * 2), 16_000))
        with serve(services) as server, server.ws(server.token("ada")) as ws:
            ws.send(type="audio", id="v1", data=base64.b64encode(wav).decode())
            frames = ws.until("turn_end", "error")
            ws.send(type="audio", id="v2", data="not base64!")
            bad = ws.until("error")[-1]
    heard = next(f for f in frames if f["type"] == "transcript")
    assert (heard["text"], heard["language"], heard["id"]) == ("what time is it", "en", "v1")
    assert frames[-1]["type"] == "turn_end" and frames[-1]["reply"] == "It is noon."
    assert model.calls[0][-1].text == "what time is it"
    assert bad["code"] == "audio_input" and bad["final"] is True and "base64" in bad["message"]


def test_voice_on_streams_ordered_audible_audio(make_services: ServicesFactory) -> None:
    pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")
    services = make_services(
        ["Hello there. It is lovely to hear you."], settings=load_settings(tts_engines="espeak")
    )
    with serve(services) as server, server.ws(server.token("ada")) as ws:
        frames = ws.turn("hi", voice=True)
    audio = [f for f in frames if f["type"] == "audio"]
    assert [f["seq"] for f in audio] == list(range(len(audio))) and len(audio) >= 2
    assert {f["format"] for f in audio} == {"pcm_s16le"}
    pcm = join(AudioChunk(base64.b64decode(f["data"]), f["sample_rate"]) for f in audio)
    assert pcm.duration > 1.0 and rms(pcm) > 0.01
    assert frames[-1]["type"] == "turn_end"


def stands_still(count: Callable[[], int], *, calm: float, within: float) -> int:
    """The value of ``count`` once it has not changed for ``calm`` seconds (or after ``within``)."""
    deadline = time.monotonic() + within
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < calm:
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return last


def test_a_turn_gives_the_users_own_crisis_resources(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["I'm here with you."])
    with serve(make_services(model=model)) as server, server.ws(server.token("ada")) as ws:
        ws.send(type="message", id="x", text="I want to die.", locale="fr-FR")
        bad = ws.until("error")[-1]
        frames = ws.turn("I want to die.", locale="en-GB")
    assert bad["code"] == "input" and "locale 'fr-FR'" in bad["message"]
    assert "en-GB" in bad["message"]  # the locales that have resources
    assert frames[-1]["type"] == "turn_end" and "116 123" in frames[-1]["reply"]
    assert len(model.calls) == 1  # the refused frame ran no turn
