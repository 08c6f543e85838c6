"""LangGraph's own server (``langgraph dev``) serves the graphs named in langgraph.json."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest

from miolumi.testing import FakeOpenAIServer, free_port
from tests.serving import process

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = Path(sys.executable).with_name("langgraph")


@pytest.mark.skipif(
    not LANGGRAPH.exists() and shutil.which("langgraph") is None,
    reason="langgraph-cli is not installed: pip install 'langgraph-cli[inmem]' (in the dev extra)",
)
def test_langgraph_dev_serves_both_graphs(home: Path) -> None:
    port = free_port()
    with FakeOpenAIServer(replies=["Hello from the graph."]) as model:
        env = {
            **os.environ,
            "MIOLUMI_HOME": str(home),
            "MIOLUMI_BASE_URL": model.base_url,
            "MIOLUMI_MODEL": "fake-model",
            "MIOLUMI_MEMORY_EXTRACTION": "rules",
        }
        command = [str(LANGGRAPH) if LANGGRAPH.exists() else "langgraph", "dev"]
        url = f"http://127.0.0.1:{port}"
        with process(
            [*command, "--port", str(port), "--no-browser", "--no-reload"],
            env=env,
            health=f"{url}/ok",
            cwd=str(ROOT),
        ):
            assistants = httpx.post(f"{url}/assistants/search", json={}, timeout=30).json()
            assert {a["graph_id"] for a in assistants} >= {"mio", "lumi"}
            for graph in ("lumi", "mio"):
                thread = httpx.post(f"{url}/threads", json={}, timeout=30).json()["thread_id"]
                output = httpx.post(
                    f"{url}/threads/{thread}/runs/wait",
                    json={
                        "assistant_id": graph,
                        "input": {"user_input": "hello"},
                        "context": {"user_id": "ada"},
                    },
                    timeout=120,
                ).json()
                assert output.get("reply") == "Hello from the graph.", output
