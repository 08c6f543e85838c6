"""`miolumi serve` as a real process: two workers on one thread, and a crash after turn_end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from miolumi.config import Settings
from miolumi.testing import FakeOpenAIServer, free_port
from tests.serving import process

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout


@dataclass
class Process:
    """A running ``miolumi serve``."""

    url: str
    proc: subprocess.Popen[bytes]

    def crash(self) -> None:
        """SIGKILL the server and its workers: no graceful shutdown."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@contextmanager
def serving_process(
    home: Path, model: FakeOpenAIServer, *, workers: int = 1, port: int | None = None
) -> Iterator[Process]:
    """Run ``miolumi serve`` on 127.0.0.1 until the block ends."""
    port = port or free_port()
    env = {
        **os.environ,
        "MIOLUMI_HOME": str(home),
        "MIOLUMI_BASE_URL": model.base_url,
        "MIOLUMI_MODEL": "fake-model",
        "MIOLUMI_MEMORY_EXTRACTION": "rules",
    }
    command = [sys.executable, "-m", "miolumi", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with process(
        [*command, "--workers", str(workers), "--log-level", "warning"],
        env=env,
        health=f"{url}/healthz",
    ) as proc:
        yield Process(url=url, proc=proc)


def token_for(home: Path, user: str) -> str:
    env = {**os.environ, "MIOLUMI_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "miolumi", "token", "create", "--user", user],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_two_workers_serve_one_conversation_consistently(home: Path) -> None:
    with FakeOpenAIServer(replies=None) as model, serving_process(home, model, workers=2) as p:
        url = p.url
        auth = {"Authorization": f"Bearer {token_for(home, 'ada')}"}
        workers: set[str] = set()
        thread = None
        sent = []
        for number in range(1, 41):
            # A new connection each time, so either worker may take it.
            response = httpx.post(
                f"{url}/v1/turns",
                json={"text": f"message {number}", "product": "lumi", "thread_id": thread},
                headers=auth,
                timeout=60,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            thread = body["thread_id"]
            sent.append(f"message {number}")
            assert body["turn"] == number
            workers.add(response.headers["X-Miolumi-Worker"])
            if len(workers) == 2 and number >= 6:
                break
        assert len(workers) == 2, "every request went to one worker"
        messages = httpx.get(f"{url}/v1/conversations/{thread}/messages", headers=auth).json()
        texts = [m["text"] for m in messages]
        exchanges = [line for text in sent for line in (text, f"You said: {text}")]
        # The thread keeps its latest messages (``history_messages``), none lost or doubled.
        assert texts == exchanges[-Settings.model_fields["history_messages"].default :]


def test_two_turns_at_once_on_one_thread_run_one_and_refuse_the_other(home: Path) -> None:
    with (
        FakeOpenAIServer(replies=["a b c d e f g h i j"], token_delay=0.1) as model,
        serving_process(home, model, workers=2) as served,
    ):
        url = served.url
        auth = {"Authorization": f"Bearer {token_for(home, 'ada')}"}
        first = httpx.post(
            f"{url}/v1/turns", json={"text": "hi", "product": "lumi"}, headers=auth, timeout=60
        ).json()
        body = {"text": "again", "product": "lumi", "thread_id": first["thread_id"]}

        def post(_: int) -> httpx.Response:
            return httpx.post(f"{url}/v1/turns", json=body, headers=auth, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(post, range(2)))
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        busy = next(r for r in results if r.status_code == 409).json()["error"]
        assert busy["code"] == "thread_busy"
        listed = httpx.get(f"{url}/v1/conversations", headers=auth).json()
        assert listed[0]["turns"] == 2


def test_a_turn_whose_turn_end_arrived_survives_a_crash(home: Path) -> None:
    port = free_port()
    with FakeOpenAIServer(replies=["Remembered."]) as model:
        token = token_for(home, "ada")
        auth = {"Authorization": f"Bearer {token}"}
        with serving_process(home, model, port=port) as served:
            ws_url = served.url.replace("http", "ws") + "/v1/ws"
            with connect(ws_url, additional_headers=auth) as ws:
                assert json.loads(ws.recv())["type"] == "ready"
                ws.send(json.dumps({"type": "message", "text": "keep this"}))
                frames = [json.loads(ws.recv())]
                while frames[-1]["type"] != "turn_end":
                    frames.append(json.loads(ws.recv()))
                served.crash()  # the moment turn_end arrives
        thread = frames[0]["thread_id"]
        with serving_process(home, model, port=port) as served:
            listed = httpx.get(f"{served.url}/v1/conversations", headers=auth).json()
            messages = httpx.get(
                f"{served.url}/v1/conversations/{thread}/messages", headers=auth
            ).json()
    assert [c["thread_id"] for c in listed] == [thread]
    assert [m["text"] for m in messages] == ["keep this", "Remembered."]
