"""MemoryManager over HttpClient against a real local Chroma server (``chroma run``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from miolumi.config import load_settings
from miolumi.core.memory import MemoryManager, NewMemory
from miolumi.errors import MemoryStoreError
from miolumi.testing import free_port

_BESIDE = Path(sys.executable).with_name("chroma")
CHROMA = str(_BESIDE) if _BESIDE.is_file() else shutil.which("chroma")


class ChromaServer:
    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(CHROMA),
                "run",
                "--path",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the Chroma server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    if CHROMA is None:
        pytest.skip("the chroma CLI is not installed")
    running = ChromaServer(tmp_path / "server")
    yield running
    if running.process.poll() is None:
        running.stop()


def test_memories_through_a_real_server(
    server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIOLUMI_CHROMA_URL", server.url)
    manager = MemoryManager(settings=load_settings())
    manager.add("ada", "I love astronomy", agent_id="kai")
    manager.add("bob", "I love astronomy too")
    assert [h.text for h in manager.search("ada", "astronomy", agent_id="kai")] == [
        "I love astronomy"
    ]
    assert manager.search("ada", "astronomy") == []
    other = MemoryManager(settings=load_settings())  # another client sees the same store
    assert [m.text for m in other.memories("bob")] == ["I love astronomy too"]
    assert manager.delete_user("ada") == 1
    assert other.memories("ada", agent_id="kai") == []
    manager.close()
    other.close()


def test_server_gone_mid_write_is_reported_not_swallowed(
    server: ChromaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIOLUMI_CHROMA_URL", server.url)
    manager = MemoryManager(settings=load_settings())
    manager.add("ada", "first memory")
    server.stop()
    with pytest.raises(MemoryStoreError, match="MIOLUMI_CHROMA_URL") as failure:
        manager.add_many("ada", [NewMemory(text=f"memory {i}") for i in range(600)])
    assert failure.value.stored == []
    with pytest.raises(MemoryStoreError):
        manager.search("ada", "first")
    manager.close()
