"""Docs are tested: every example in the README is a file that runs, every setting is listed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from miolumi.config import Settings
from miolumi.testing import FakeOpenAIServer

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def run_example(
    name: str, home: Path, *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` as a user would: a fresh process, its own data directory."""
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        capture_output=True,
        text=True,
        env={**os.environ, "MIOLUMI_HOME": str(home), **(env or {})},
        cwd=home,
        timeout=timeout,
        check=False,
    )


def test_readme_embeds_each_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    for example in EXAMPLES:
        assert example.read_text().strip() in readme, f"{example.name} differs from the README"


def test_readme_lists_every_setting() -> None:
    # As `MIOLUMI_NAME` or `MIOLUMI_NAME=value`, or in a row of variants
    # ("MIOLUMI_BUDGET_USER_DAILY_USD, ..._USER_MONTHLY_USD").
    readme = (ROOT / "README.md").read_text()
    missing = [
        name
        for name in Settings.model_fields
        if not re.search(rf"`MIOLUMI_{name.upper()}[`=]", readme)
        and f"`..._{name.upper().partition('_')[2]}`" not in readme
    ]
    assert missing == []


def test_embed_graph_example_runs(tmp_path: Path) -> None:
    with FakeOpenAIServer(replies=["Hello Ada!", "You love astronomy."]) as server:
        env = {"MIOLUMI_BASE_URL": server.base_url, "MIOLUMI_MODEL": "fake-model"}
        result = run_example("embed_graph.py", tmp_path, env=env, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "lumi> Hello Ada!" in result.stdout
        assert "lumi> You love astronomy." in result.stdout
        assert "(4 messages in the thread)" in result.stdout
        second = server.requests[-1].json["messages"]
        assert second[1]["content"] == "Hi, I'm Ada and I love astronomy."


def test_speak_example_writes_real_audio(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("espeakng_loader", reason="the voice extra is not installed")
    from miolumi.core.voice.audio import read_wav, rms

    env = {"MIOLUMI_TTS_ENGINES": "openjtalk,espeak"}
    result = run_example("speak.py", tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "('zh', '你好 ')" in result.stdout and "('en', 'Python ')" in result.stdout
    audio = read_wav((tmp_path / "mixed.wav").read_bytes())
    assert audio.duration > 2 and rms(audio) > 0.02


def test_memory_example_runs(tmp_path: Path) -> None:
    result = run_example("memory.py", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kai remembers: I'm allergic to peanuts." in result.stdout
    assert "lumi remembers: 我下个月要去上海出差。" in result.stdout
    assert "kai knows about the trip: False" in result.stdout
    assert "3 memories exported; forgetting ada: 3" in result.stdout


def test_guard_content_example_runs(tmp_path: Path) -> None:
    result = run_example("guard_content.py", tmp_path)
    assert result.returncode == 0, result.stderr
    clean, poisoned = result.stdout.splitlines()
    assert clean.startswith("allow nothing found")
    assert poisoned.startswith(("flag", "block")) and "prompt_injection" in poisoned
    assert "card number" not in poisoned
