"""The README's promise with the real embedded model: offline replies that remember the thread."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from miolumi.core.models.llamacpp_chat import smollm2_gguf_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or smollm2_gguf_path() is None,
        reason="the local extra is not installed: pip install -e '.[local]'",
    ),
]


def chat(home: Path, *args: str, stdin: bytes) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MIOLUMI_HOME": str(home),
        "MIOLUMI_MAX_TOKENS": "32",
        "MIOLUMI_SEED": "1",
        "MIOLUMI_TEMPERATURE": "0",
        # As a user runs it: the default memory extraction, not the suite's rules-only.
        "MIOLUMI_MEMORY_EXTRACTION": "auto",
    }
    return subprocess.run(
        [sys.executable, "-m", "miolumi", "chat", *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


async def thread_messages(home: Path, user: str, thread: str) -> list[str]:
    from miolumi.config import load_settings
    from miolumi.services import Services
    from miolumi.session import ChatSession

    os.environ["MIOLUMI_HOME"] = str(home)
    services = Services.create(settings=load_settings())
    async with ChatSession.open(user_id=user, thread_id=thread, services=services) as session:
        return [m.text for m in await session.history()]


async def test_piped_chat_with_the_local_model_remembers_across_processes(home: Path) -> None:
    first = chat(home, "--user", "u1", "--thread", "t1", stdin=b"hi\nwhat did I just say?\n")
    assert first.returncode == 0, first.stderr
    assert first.stderr == "", first.stderr
    replies = first.stdout.splitlines()
    assert len([r for r in replies if r.strip()]) >= 2, first.stdout
    history = await thread_messages(home, "u1", "t1")
    assert history[0] == "hi"
    assert history[2] == "what did I just say?"
    assert len(history) == 4

    again = chat(home, "--user", "u1", "--thread", "t1", stdin=b"and before that?\n")
    assert again.returncode == 0, again.stderr
    history = await thread_messages(home, "u1", "t1")
    assert len(history) == 6
    assert history[:3] == ["hi", history[1], "what did I just say?"]
