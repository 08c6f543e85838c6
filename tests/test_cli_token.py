"""``miolumi token`` (create, shown once; list, never the secret; revoke) and ``miolumi forget``."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from miolumi.cli import app
from miolumi.config import load_settings
from miolumi.db import conversations
from miolumi.db.engine import open_database
from miolumi.errors import AuthError
from miolumi.server import tokens
from miolumi.session import ChatSession
from tests.conftest import ServicesFactory

pytestmark = pytest.mark.scaleout
runner = CliRunner()


def test_create_list_revoke() -> None:
    created = runner.invoke(app, ["token", "create", "--user", "ada", "--label", "phone"])
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert token.startswith("mlt_")
    engine = open_database(load_settings().relational_url)
    try:
        assert tokens.verify(engine, token) == "ada"
        listed = runner.invoke(app, ["token", "list"])
        token_id = token.split("_")[1]
        assert token_id in listed.output and "phone" in listed.output
        assert token not in listed.output and token.split("_", 2)[2] not in listed.output
        revoked = runner.invoke(app, ["token", "revoke", token_id])
        assert revoked.exit_code == 0 and "Revoked" in revoked.output
        with pytest.raises(AuthError):
            tokens.verify(engine, token)
    finally:
        engine.dispose()
    unknown = runner.invoke(app, ["token", "revoke", "nope"])
    assert unknown.exit_code == 2 and "miolumi token list" in unknown.output


def test_forget_asks_then_removes_the_user(make_services: ServicesFactory) -> None:
    services = make_services(["Hello."])

    async def talk() -> None:
        async with ChatSession.open(user_id="ada", services=services) as chat:
            async for _ in chat.turn("My name is Ada and I live in Oslo."):
                pass

    asyncio.run(talk())
    kept = runner.invoke(app, ["forget", "--user", "ada"], input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    assert services.memory.memories("ada", agent_id="mio")
    gone = runner.invoke(app, ["forget", "--user", "ada", "--yes"])
    assert gone.exit_code == 0, gone.output
    assert "Forgot ada: 1 threads, 1 memories" in gone.output
    assert services.memory.memories("ada", agent_id="mio") == []
    engine = open_database(load_settings().relational_url)
    try:
        assert conversations.of_user(engine, user_id="ada") == []
    finally:
        engine.dispose()
