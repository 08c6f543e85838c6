"""The example persona plugin, installed for real, and a broken third-party plugin."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "plugins" / "example-persona"


def run(*args: str, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "miolumi", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed by pip (wheel built from its pyproject) into a directory."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("building the example plugin offline needs hatchling: pip install hatchling")
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def test_installed_example_plugin_adds_its_persona(site: Path) -> None:
    assert (site / "miolumi_example_persona" / "wren.toml").is_file()
    listed = run("personas", "list", "--json", site=site)
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert len(rows) == 26
    assert rows["wren"]["source"] == "example-persona"
    assert rows["wren"]["ladder"] == ["caller", "regular", "kin"]
    plugins = json.loads(run("plugins", "--json", site=site).stdout)
    example = next(p for p in plugins["plugins"] if p["name"] == "example-persona")
    assert example == {
        "name": "example-persona",
        "kind": "entry point",
        "package": "miolumi-example-persona 0.1.0",
        "hooks": ["register_personas"],
    }


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_load(
    site: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    dist = broken / "miolumi_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: miolumi-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[miolumi]\nbroken = miolumi_broken_plugin\n")
    (broken / "miolumi_broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    env_site = Path(os.pathsep.join([str(broken), str(site)]))
    plugins = run("plugins", "--json", site=env_site)
    assert plugins.returncode == 0, plugins.stderr
    data = json.loads(plugins.stdout)
    assert data["failures"] == [{"name": "broken", "error": "ImportError: needs libfoo"}]
    listed = json.loads(run("personas", "list", "--json", site=env_site).stdout)
    assert {"wren", "mio"} <= {r["id"] for r in listed}
