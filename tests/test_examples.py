"""Docs are tested: every example in the README is a file that runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from miolumi.testing import FakeOpenAIServer

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_readme_embeds_each_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    for example in EXAMPLES:
        assert example.read_text().strip() in readme, f"{example.name} differs from the README"


def test_embed_graph_example_runs(tmp_path: Path) -> None:
    with FakeOpenAIServer(replies=["Hello Ada!", "You love astronomy."]) as server:
        env = {
            **os.environ,
            "MIOLUMI_HOME": str(tmp_path),
            "MIOLUMI_BASE_URL": server.base_url,
            "MIOLUMI_MODEL": "fake-model",
        }
        result = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "embed_graph.py")],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "lumi> Hello Ada!" in result.stdout
        assert "lumi> You love astronomy." in result.stdout
        assert "(4 messages in the thread)" in result.stdout
        second = server.requests[-1].json["messages"]
        assert second[1]["content"] == "Hi, I'm Ada and I love astronomy."
