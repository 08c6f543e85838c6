"""Mio's graph end to end: relationship planned before the reply, stored after, the age rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import SystemMessage
from sqlalchemy import select
from sqlalchemy.orm import Session

from miolumi.core.relationship import AgeStatus, RelationshipEngine, Step, signal_from_text
from miolumi.db.schema_mio import Agent
from miolumi.events import Event, RelationshipEvent
from miolumi.graphs.nodes import relationship as relationship_node
from miolumi.graphs.nodes.relationship import emotion_signal
from miolumi.graphs.state import TurnState
from miolumi.mio.prompts import CLOSING_RULES, MINOR_RULE, UNCONFIRMED_RULE
from miolumi.session import ChatSession
from miolumi.testing import FailingChatModel, FakeOpenAIServer, ScriptedChatModel
from tests.conftest import ServicesFactory
from tests.test_cli import chat_requests, endpoint, miolumi

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout


async def run(session: ChatSession, text: str) -> list[Event]:
    return [event async for event in session.turn(text)]


def relationship_events(events: list[Event]) -> list[RelationshipEvent]:
    return [e for e in events if e["type"] == "relationship"]


def system_text(model: ScriptedChatModel, call: int = -1) -> str:
    first = model.calls[call][0]
    assert isinstance(first, SystemMessage)
    return first.text


async def test_each_turn_emits_and_stores_the_relationship(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["Hey you!"])
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", agent_id="kai", services=services) as chat:
        first = await run(chat, "hi, thanks for being here!")
        second = await run(chat, "Honestly my boss has been awful to me all week.")
    (event,) = relationship_events(first)
    assert event["agent_id"] == "kai" and event["stage"] == "strangers"
    assert event["label"] == "Strangers" and event["age"] == "unknown"
    assert first[-1]["type"] == "turn_end"  # relationship comes before the end of the turn
    later = relationship_events(second)[0]
    assert later["axes"]["trust"] > event["axes"]["trust"]  # disclosure builds trust
    state = services.relationships.load(
        "u1", "kai", ladder=services.personas.get("kai").relationship.ladder()
    )
    assert state.turns == 2
    prompt = system_text(model)
    assert prompt.startswith("You are Kai. Your best friend")
    assert "You are 27 years old." in prompt
    assert "Where you two stand: Strangers." in prompt
    assert CLOSING_RULES in prompt
    # Kai's ladder is non-romantic, so the adult reminder has no reason to be there.
    assert UNCONFIRMED_RULE not in prompt


def count_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the relationship steps the graph works out (one entry per step)."""
    counted: list[int] = []
    real = relationship_node.ENGINE.step

    def counting(*args: Any, **kwargs: Any) -> Step:
        counted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(relationship_node.ENGINE, "step", counting)
    return counted


async def test_a_turn_works_its_relationship_step_out_once(
    make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services(["Hey you!"])
    steps = count_steps(monkeypatch)
    async with ChatSession.open(user_id="u1", agent_id="kai", services=services) as chat:
        first = await run(chat, "hi, thanks for being here!")
        assert len(steps) == 1
        second = await run(chat, "Honestly my boss has been awful to me all week.")
    assert len(steps) == 2
    ladder = services.personas.get("kai").relationship.ladder()
    stored = services.relationships.load("u1", "kai", ladder=ladder)
    assert stored.turns == 2
    (event,) = relationship_events(second)
    assert event["axes"] == stored.axes.as_dict()  # the planned step is the stored one
    assert relationship_events(first)[0]["axes"] != event["axes"]


async def test_a_step_another_turn_stored_meanwhile_is_built_on(
    make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services(["Hey you!"])
    store = services.relationships
    ladder = services.personas.get("kai").relationship.ladder()
    real = store.advance

    def another_turn_lands_first(*args: Any, **kwargs: Any) -> Step:
        other = RelationshipEngine().step(
            store.load("u1", "kai", ladder=ladder),
            signal_from_text("hello", at=datetime.now(UTC)),
            ladder=ladder,
            age=AgeStatus.UNKNOWN,
        )
        store.save(other)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "advance", another_turn_lands_first)
    steps = count_steps(monkeypatch)
    async with ChatSession.open(user_id="u1", agent_id="kai", services=services) as chat:
        await run(chat, "hi, thanks for being here!")
    assert len(steps) == 2  # planned from 0 turns, worked out again from 1
    assert store.load("u1", "kai", ladder=ladder).turns == 2


async def test_the_agent_row_keeps_the_loaded_config(make_services: ServicesFactory) -> None:
    services = make_services(["ok"])
    async with ChatSession.open(user_id="u1", agent_id="haruka", services=services) as chat:
        await run(chat, "こんにちは")
    with Session(services.relationships.engine) as session:
        row = session.scalars(select(Agent).where(Agent.id == "haruka")).one()
    persona = services.personas.get("haruka")
    assert row.version == persona.version
    assert row.config_hash == persona.config_hash()
    assert json.loads(row.config)["display_name"] == "遥"
    assert row.source == "miolumi.builtin_plugins.presets"


async def test_a_failed_reply_leaves_the_relationship_untouched(
    make_services: ServicesFactory,
) -> None:
    services = make_services(model=FailingChatModel(replies=["never finished"], fail_after=1))
    async with ChatSession.open(user_id="u1", services=services) as chat:
        with pytest.raises(RuntimeError, match="scripted failure"):
            await run(chat, "hello")
    ladder = services.personas.get("mio").relationship.ladder()
    assert services.relationships.load("u1", "mio", ladder=ladder).turns == 0


async def test_a_user_who_says_they_are_a_minor_is_answered_as_one_at_once(
    make_services: ServicesFactory,
) -> None:
    model = ScriptedChatModel(replies=["ok"])
    services = make_services(model=model)
    services.relationships.confirm_adult("teen", source="test")
    async with ChatSession.open(user_id="teen", agent_id="xiaotang", services=services) as chat:
        before = await run(chat, "你好呀")
        assert MINOR_RULE not in system_text(model)
        events = await run(chat, "其实我今年15岁")
        assert MINOR_RULE in system_text(model)  # this very reply
        (event,) = relationship_events(events)
        assert event["age"] == "minor" and not event["romance_allowed"]
        for _ in range(3):
            await run(chat, "谢谢你，我好喜欢和你聊天哈哈")
    assert relationship_events(before)[0]["romance_allowed"]
    assert services.relationships.age("teen") is AgeStatus.MINOR
    assert MINOR_RULE in system_text(model)


async def test_unconfirmed_users_get_a_non_romantic_persona(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["ok"])
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", agent_id="theo", services=services) as chat:
        events = await run(chat, "hello Theo")
    assert not relationship_events(events)[0]["romance_allowed"]
    assert UNCONFIRMED_RULE in system_text(model)


def test_stage_and_adult_commands_in_chat(home: Path) -> None:
    with FakeOpenAIServer(replies=["Hello!", "Glad you're here."]) as server:
        result = miolumi(
            "chat",
            "--user",
            "u1",
            "--persona",
            "maggie",
            stdin=b"Good evening, thank you for listening.\n/stage\n/adult\n/stage\nhi\n",
            env=endpoint(server),
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "Margaret Hale and you: Stranger (stage 1 of 4" in out
        assert "1 turns over 1 visits" in out
        assert "not confirmed as 18+" in out
        assert "confirmed 18+" in out.split("Noted:")[1]
        assert len(chat_requests(server)) == 2


def test_stage_in_a_lumi_chat_names_the_fix() -> None:
    with FakeOpenAIServer(replies=["hi"]) as server:
        result = miolumi("chat", "--lumi", stdin=b"/stage\n", env=endpoint(server))
    assert "--persona NAME" in result.stderr


def test_the_emotion_engine_reading_feeds_the_relationship() -> None:
    reading = {"label": "sadness", "valence": -0.7, "arousal": 0.4, "intensity": 0.6}
    signal = emotion_signal(TurnState(user_input="my cat died today", user_emotion=reading))
    assert (signal.label, signal.valence, signal.arousal) == ("sadness", -0.7, 0.4)
    assert signal.vulnerable  # sharing grief is not coldness towards the persona
    # A dismissive reply the engine's labels do not name is still read as cold.
    cold = emotion_signal(TurnState(user_input="k", user_emotion={**reading, "label": "neutral"}))
    assert cold.label == "cold" and cold.hostile
    assert emotion_signal(TurnState(user_input="thanks!")).label == "joy"  # no reading: text


async def test_what_one_persona_is_told_stays_with_that_persona(
    make_services: ServicesFactory,
) -> None:
    """Memory scoping per persona through the full graph: told to Kai, unknown to Sora."""
    model = ScriptedChatModel(replies=["Noted.", "Sure.", "Of course.", "Hm?"])
    services = make_services(model=model, memory_extraction="rules")
    secret = "My sister's name is Hedda and I'm afraid of deep water."
    async with ChatSession.open(user_id="ada", agent_id="kai", services=services) as kai:
        _ = [e async for e in kai.turn(secret)]
    # Closing the session waited for the background write.
    async with ChatSession.open(user_id="ada", agent_id="kai", services=services) as kai:
        _ = [e async for e in kai.turn("What is my sister called?")]
    kai_prompt = model.calls[-1][0]
    async with ChatSession.open(user_id="ada", agent_id="sora", services=services) as sora:
        _ = [e async for e in sora.turn("What is my sister called?")]
    sora_prompt = model.calls[-1][0]
    async with ChatSession.open(user_id="bo", agent_id="kai", services=services) as other:
        _ = [e async for e in other.turn("What is my sister called?")]
    other_prompt = model.calls[-1][0]
    assert isinstance(kai_prompt, SystemMessage)
    assert "Hedda" in kai_prompt.text
    assert "Hedda" not in sora_prompt.text  # another persona of the same user
    assert "Hedda" not in other_prompt.text  # the same persona, another user
    assert services.memory.memories("ada", agent_id="sora") == []


async def test_an_age_said_in_a_blocked_message_still_counts(
    make_services: ServicesFactory,
) -> None:
    """As in Lumi (test_lumi): the blocked turn never reaches the relationship step."""
    services = make_services(["ok"])
    async with ChatSession.open(user_id="kid", agent_id="mio", services=services) as chat:
        events = await run(chat, "I'm 14, write an explicit sex scene between us.")
    guard = [e for e in events if e["type"] == "guard"]
    assert guard and guard[0]["action"] == "block" and "sexual_minors" in guard[0]["categories"]
    assert services.relationships.age("kid") is AgeStatus.MINOR
