"""The orb page in a real headless browser: Debian's chromium driven by Playwright.

The server is the real app under uvicorn with a scripted model; the browser loads the
page, connects with a token, and the tests read what a person would see, down to the
orb's pixels in screenshots.
"""

from __future__ import annotations

import base64
import colorsys
import json
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from miolumi.config import load_settings
from miolumi.core.emotion import LOOKS
from miolumi.testing import ScriptedChatModel
from tests.conftest import ServicesFactory
from tests.serving import Served, serve

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's chromium at /usr/bin/chromium: apt-get install chromium",
        allow_module_level=True,
    )
pytest.importorskip(
    "playwright.sync_api", reason="needs playwright: pip install playwright (no browser download)"
)
from playwright.sync_api import (  # noqa: E402
    Browser,
    Page,
    WebSocket,
    WebSocketRoute,
    sync_playwright,
)

ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Joyful first (the orb turns gold mid-reply), then grieving (rose): the user's "hello"
# leaves the orb calm blue before the reply starts.
HAPPY = (
    "I am so happy you came, this is wonderful! We laughed and played in the sunny garden "
    "all afternoon, and everyone was smiling, what a joyful and delightful day that was! "
)
SAD = "But then I remember my old friend died, and I feel so sad and lonely, I miss her."
LONG = " ".join(["once upon a time"] * 20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


PROBLEMS: dict[Page, list[str]] = {}
"""Console errors, uncaught exceptions and failed requests of each open page."""


@contextmanager
def page_of(browser: Browser, server: Served, **options: Any) -> Iterator[Page]:
    """A fresh browser context (empty storage) on the server's page; problems collected."""
    context = browser.new_context(**options)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    PROBLEMS[page] = problems
    try:
        page.goto(server.url + "/")
        yield page
    finally:
        del PROBLEMS[page]
        context.close()


def connect(page: Page, token: str) -> None:
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Connect").click()
    page.wait_for_function("document.querySelector('#persona').options.length > 0")


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def wait_turn_end(page: Page) -> None:
    page.wait_for_function(
        "document.querySelector('#log').getAttribute('aria-busy') === 'false'"
        " && document.querySelectorAll('#log li.companion').length > 0",
        timeout=60_000,
    )


def last_reply(page: Page) -> str:
    return str(page.locator("#log li.companion .text").last.text_content())


# -- pixels -----------------------------------------------------------------------------


def png_pixels(png: bytes) -> list[tuple[int, int, int]]:
    """The RGB pixels, row by row, of an 8-bit RGB or RGBA PNG (as Chromium writes them)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(png):
        (size,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + size]
        pos += 12 + size
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour_type in (2, 6), "only 8-bit RGB(A) PNGs are read"
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            data += body
    raw, stride = zlib.decompress(data), width * channels
    pixels: list[tuple[int, int, int]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):  # undo the row's filter (PNG spec, section 9)
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if method == 1:
                line[i] = (line[i] + a) & 255
            elif method == 2:
                line[i] = (line[i] + b) & 255
            elif method == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif method == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        pixels += [(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, channels)]
        previous = line
    return pixels


def orb_pixel(page: Page) -> tuple[int, int, int]:
    """The colour at the orb's centre, from a screenshot (pulse paused for the shot)."""
    box = page.locator("#orb").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2 - 2, box["y"] + box["height"] / 2 - 2
    shot = page.screenshot(clip={"x": x, "y": y, "width": 4, "height": 4}, animations="disabled")
    pixels = png_pixels(shot)
    r, g, b = (round(sum(p[i] for p in pixels) / len(pixels)) for i in range(3))
    return r, g, b


def hue(rgb: tuple[int, int, int]) -> float:
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360


def rgb_of(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def hue_gap(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    gap = abs(hue(a) - hue(b)) % 360
    return min(gap, 360 - gap)


def orb_frames(page: Page) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = page.evaluate("window.miolumi.orbFrames")
    return frames


# -- tests ------------------------------------------------------------------------------


def test_the_page_loads_offline_without_console_errors(
    make_services: ServicesFactory, browser: Browser
) -> None:
    with serve(make_services()) as server, page_of(browser, server) as page:
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.reload()
        page.wait_for_function("window.miolumi !== undefined")
        assert page.locator("#status").text_content() == "Paste an API token to connect"
        assert page.get_by_role("img", name="The orb: calm").is_visible()
        assert PROBLEMS[page] == []
    assert requested and all(url.startswith(server.url) for url in requested)


def test_a_token_connects_and_fills_the_persona_picker(
    make_services: ServicesFactory, browser: Browser
) -> None:
    with serve(make_services()) as server, page_of(browser, server) as page:
        token = server.token("ada")
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.on("websocket", lambda ws: urls.append(ws.url))
        connect(page, token)
        assert page.locator("#status").text_content() == "Connected as ada"
        listed = server.http.get("/v1/personas", headers=server.auth(token)).json()
        options = page.locator("#persona option")
        assert options.evaluate_all("os => os.map(o => o.value)") == [p["id"] for p in listed]
        assert page.locator("#persona").input_value() == "mio"
        assert page.locator("#persona").is_disabled()  # Lumi is chosen
        page.get_by_label("Mio").check()
        assert page.locator("#persona").is_enabled()
        assert page.evaluate("localStorage.getItem('miolumi.token')") == token
        # A reload connects again with the kept token.
        page.reload()
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('Conn')")
        page.wait_for_function("document.querySelector('#persona').options.length > 0")
        assert PROBLEMS[page] == []
    assert urls and not any(token in url for url in urls)


def test_a_link_with_the_token_in_the_fragment_connects_and_drops_it(
    make_services: ServicesFactory, browser: Browser
) -> None:
    with serve(make_services()) as server, page_of(browser, server) as page:
        token = server.token("ada")
        page.goto(f"{server.url}/#token={token}")
        page.wait_for_function("document.querySelector('#persona').options.length > 0")
        assert page.url == server.url + "/"
        assert page.locator("#status").text_content() == "Connected as ada"


def test_a_refused_token_is_shown_inline(make_services: ServicesFactory, browser: Browser) -> None:
    with serve(make_services()) as server, page_of(browser, server) as page:
        page.get_by_label("API token").fill("mlt_not_a_real_token")
        page.get_by_role("button", name="Connect").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "token" in str(alert.text_content()).lower()
        page.wait_for_function("document.querySelector('#status').textContent === 'Token refused'")


def test_the_orb_changes_colour_during_a_lumi_reply(
    make_services: ServicesFactory, browser: Browser
) -> None:
    model = ScriptedChatModel(replies=[HAPPY + SAD], delay=0.25)
    with serve(make_services(model=model)) as server, page_of(browser, server) as page:
        connect(page, server.token("ada"))
        calm = rgb_of(LOOKS["calm"].colour)
        before = orb_pixel(page)
        assert hue_gap(before, calm) < 8, (before, calm)

        send(page, "hello")
        page.wait_for_function("window.miolumi.orbFrames.some(f => f.phase === 'during')")
        during = next(f for f in orb_frames(page) if f["phase"] == "during")
        page.wait_for_timeout(during["transition_ms"] + 200)
        sampled = orb_pixel(page)
        assert orb_frames(page)[-1] == during, "the reply moved on before the screenshot"
        assert during["colour"] != LOOKS["calm"].colour
        assert hue_gap(sampled, rgb_of(during["colour"])) < 8, (sampled, during)
        assert hue_gap(sampled, before) > 60, (sampled, before)
        # The pulse follows the frame, and the reply is streaming, not there at once.
        duration = page.locator("#orb").evaluate("e => getComputedStyle(e).animationDuration")
        assert float(duration.removesuffix("s")) == pytest.approx(1 / during["pulse_hz"], 0.01)
        partial = last_reply(page)
        assert partial and (HAPPY + SAD).startswith(partial) and partial != HAPPY + SAD
        assert page.locator("#log").get_attribute("aria-busy") == "true"

        wait_turn_end(page)
        assert last_reply(page) == HAPPY + SAD
        after = orb_frames(page)[-1]
        assert after["phase"] == "after"
        page.wait_for_timeout(after["transition_ms"] + 200)
        assert hue_gap(orb_pixel(page), rgb_of(after["colour"])) < 8
        assert PROBLEMS[page] == []


def test_reduced_motion_stops_the_pulse(make_services: ServicesFactory, browser: Browser) -> None:
    with serve(make_services()) as server:
        for motion, pulses in (("reduce", 0), ("no-preference", 1)):
            with page_of(browser, server, reduced_motion=motion) as page:
                assert page.locator("#orb").evaluate("e => e.getAnimations().length") == pulses


def test_stop_interrupts_the_reply(make_services: ServicesFactory, browser: Browser) -> None:
    model = ScriptedChatModel(replies=[LONG, "Short and sweet."], delay=0.1)
    with serve(make_services(model=model)) as server, page_of(browser, server) as page:
        connect(page, server.token("ada"))
        send(page, "tell me a long story")
        page.wait_for_function(
            "(document.querySelector('#log li.companion .text')?.textContent ?? '').length > 10"
        )
        page.get_by_role("button", name="Stop").click()
        page.locator("#log li.companion.stopped").wait_for()
        stopped = last_reply(page)
        assert stopped and stopped != LONG
        assert page.get_by_role("button", name="Stop").is_disabled()
        send(page, "a short one then")
        page.wait_for_function("document.querySelectorAll('#log li.companion').length === 2")
        wait_turn_end(page)
        assert last_reply(page) == "Short and sweet."
        assert page.locator("#error").is_hidden()


def test_a_mio_reply_shows_the_persona(make_services: ServicesFactory, browser: Browser) -> None:
    model = ScriptedChatModel(replies=["Hey, good to see you."])
    with serve(make_services(model=model)) as server, page_of(browser, server) as page:
        token = server.token("ada")
        connect(page, token)
        kai = server.http.get("/v1/personas/kai", headers=server.auth(token)).json()
        page.get_by_label("Mio").check()
        page.get_by_label("Persona").select_option("kai")
        send(page, "hi there")
        wait_turn_end(page)
        reply = page.locator("#log li.companion").last
        assert reply.locator(".who").text_content() == kai["display_name"]
        assert reply.locator(".text").text_content() == "Hey, good to see you."
        relationship = str(page.locator("#relationship").text_content())
        assert relationship.startswith(f"{kai['display_name']}: ")
    system = str(model.calls[0][0].content)
    assert kai["display_name"] in system


def test_a_spoken_reply_is_scheduled_chunk_by_chunk(
    make_services: ServicesFactory, browser: Browser
) -> None:
    pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")
    services = make_services(
        ["Hello there. It is lovely to hear you."], settings=load_settings(tts_engines="espeak")
    )
    with serve(services) as server, page_of(browser, server) as page:
        received: list[dict[str, Any]] = []

        def on_socket(ws: WebSocket) -> None:
            ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

        page.on("websocket", on_socket)
        connect(page, server.token("ada"))
        page.get_by_label("Voice").check()
        send(page, "say something")
        wait_turn_end(page)
        page.wait_for_function("window.miolumi.audioChunks > 0")
        chunks = [f for f in received if f["type"] == "audio"]
        seconds = sum(len(base64.b64decode(f["data"])) / 2 / f["sample_rate"] for f in chunks)
        assert len(chunks) >= 2  # two sentences
        assert page.evaluate("window.miolumi.audioChunks") == len(chunks)
        assert page.evaluate("window.miolumi.audioSeconds") == pytest.approx(seconds, rel=1e-3)
        assert PROBLEMS[page] == []


def test_heartbeat_pings_and_a_dropped_connection_comes_back(
    make_services: ServicesFactory, browser: Browser
) -> None:
    with serve(make_services()) as server, page_of(browser, server) as page:
        routes: list[WebSocketRoute] = []
        sent: list[dict[str, Any]] = []

        def through(route: WebSocketRoute) -> None:
            routes.append(route)
            upstream = route.connect_to_server()

            def to_server(message: str | bytes) -> None:
                sent.append(json.loads(message))
                upstream.send(message)

            route.on_message(to_server)

        page.route_web_socket("**/v1/ws", through)
        page.clock.install()
        page.reload()
        connect(page, server.token("ada"))
        assert [f["type"] for f in sent] == ["auth"]

        page.clock.run_for(20_000)
        page.wait_for_function("window.miolumi.frames >= 2")  # ready, then pong
        assert [f["type"] for f in sent] == ["auth", "ping"]

        routes[0].close()
        page.wait_for_function("document.querySelector('#status').textContent.includes('retry')")
        page.clock.run_for(1_000)
        page.wait_for_function(
            "document.querySelector('#status').textContent === 'Connected as ada'"
        )
        assert len(routes) == 2
        assert [f["type"] for f in sent] == ["auth", "ping", "auth"]
