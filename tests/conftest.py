"""Shared fixtures: an isolated data directory and a scripted model registered as a plugin."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from miolumi import config as config_module
from miolumi.config import Settings, load_settings
from miolumi.plugins import load_plugins
from miolumi.services import Services
from miolumi.testing import ScriptedChatModel, ScriptedPlugin
from tests import servers

_ENV_PREFIXES = ("MIOLUMI_", "OPENAI_")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """Every test gets a fresh MIOLUMI_HOME and no model configuration from the machine.

    Tests marked ``scaleout`` also get a fresh PostgreSQL and Chroma database of their
    own when the servers are configured (see tests/servers.py).
    """
    for key in list(os.environ):
        if key.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(key)
    data = tmp_path / "home"
    monkeypatch.setenv("MIOLUMI_HOME", str(data))
    if servers.configured() and request.node.get_closest_marker("scaleout"):
        databases: servers.ServerDatabases = request.getfixturevalue("server_databases")
        monkeypatch.setenv("MIOLUMI_DATABASE_URL", databases.database_url)
        monkeypatch.setenv("MIOLUMI_CHROMA_URL", databases.chroma_url)
        monkeypatch.setenv("MIOLUMI_CHROMA_DATABASE", databases.chroma_database)
    # Background memory extraction by a remote model would spend scripted replies of fake
    # endpoints; tests of that path (tests/test_memory_graph.py) turn it back on.
    monkeypatch.setenv("MIOLUMI_MEMORY_EXTRACTION", "rules")
    config_module.get_settings.cache_clear()
    return data


@pytest.fixture
def server_databases() -> Iterator[servers.ServerDatabases]:
    """A fresh PostgreSQL database and Chroma database on the test servers, or a skip."""
    if not servers.configured():
        pytest.skip(servers.SKIP_REASON)
    with servers.fresh_databases() as databases:
        yield databases


ServicesFactory = Callable[..., Services]


@pytest.fixture
def make_services() -> Iterator[ServicesFactory]:
    """Build services whose default model is a ScriptedChatModel with the given replies."""
    created: list[Services] = []

    def factory(
        replies: list[str] | None = None,
        *,
        model: ScriptedChatModel | None = None,
        settings: Settings | None = None,
        **overrides: object,
    ) -> Services:
        chat = model or ScriptedChatModel(replies=replies or ["Hello there."])
        settings = settings or load_settings(**overrides)
        plugins = load_plugins(settings, entrypoints=False)
        plugins.manager.register(
            ScriptedPlugin(chat, description="scripted replies for tests"), name="scripted"
        )
        services = Services.create(settings=settings, plugins=plugins)
        created.append(services)
        return services

    yield factory
    for services in created:
        # Usage rows are written in the background: in before the test's database goes.
        services.cost.flush()
        plugin = services.plugins.manager.get_plugin("scripted")
        if plugin is not None:
            services.plugins.manager.unregister(plugin)


def break_flag_records(services: Services) -> None:
    """Drop the operators' table of guardrail flags: every record fails from now on."""
    flags = services.guardrails.flags
    assert flags is not None
    with flags.engine.begin() as connection:
        connection.execute(text("DROP TABLE guard_flags"))
