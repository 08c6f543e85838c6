"""The turn graph through ChatSession: streaming, context, atomic turns, persistence."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from miolumi.db import conversations
from miolumi.db.checkpoints import is_postgres
from miolumi.db.engine import open_database
from miolumi.errors import (
    EmptyMessageError,
    MessageTooLongError,
    ThreadBusyError,
    ThreadOwnershipError,
    UnknownPersonaError,
)
from miolumi.events import Event
from miolumi.session import ChatSession, Runtime
from miolumi.testing import FailingChatModel, ScriptedChatModel
from tests.conftest import ServicesFactory

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout


async def run(session: ChatSession, text: str) -> list[Event]:
    return [event async for event in session.turn(text)]


def reply_text(events: list[Event]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "token")


async def test_turn_streams_tokens_then_turn_end(make_services: ServicesFactory) -> None:
    services = make_services(["Hi! How was your day?"])
    async with ChatSession.open(user_id="u1", services=services) as chat:
        events = await run(chat, "hello")
    tokens = [e for e in events if e["type"] == "token"]
    assert len(tokens) > 1
    assert reply_text(events) == "Hi! How was your day?"
    end = events[-1]
    assert end["type"] == "turn_end"
    assert end["reply"] == "Hi! How was your day?"
    assert end["turn"] == 1
    assert end["model"] == "scripted:default"
    assert end["usage"]["output_tokens"] == len(tokens)


async def test_second_turn_sees_first(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["Nice to meet you.", "You said hi."])
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", services=services) as chat:
        await run(chat, "hi")
        await run(chat, "what did I just say?")
    second = model.calls[1]
    assert isinstance(second[0], SystemMessage)
    assert [type(m) for m in second[1:]] == [HumanMessage, AIMessage, HumanMessage]
    assert [m.text for m in second[1:]] == ["hi", "Nice to meet you.", "what did I just say?"]


async def test_products_use_their_own_prompts(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["ok"])
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", product="mio", services=services) as chat:
        await run(chat, "hello")
    async with ChatSession.open(user_id="u1", product="lumi", services=services) as chat:
        await run(chat, "hello")
    mio_prompt, lumi_prompt = model.calls[0][0].text, model.calls[1][0].text
    assert mio_prompt.startswith("You are Mio.")
    assert "orb of light" in lumi_prompt
    assert "Mio" not in lumi_prompt


async def test_window_keeps_the_latest_messages(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["r1", "r2", "r3", "r4", "r5"])
    services = make_services(model=model, history_messages=4)
    async with ChatSession.open(user_id="u1", services=services) as chat:
        for i in range(1, 6):
            await run(chat, f"m{i}")
        history = await chat.history()
    assert [m.text for m in history] == ["m4", "r4", "m5", "r5"]
    assert [m.text for m in model.calls[-1][1:]] == ["m3", "r3", "m4", "r4", "m5"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   \n ", EmptyMessageError),
        # Zero-width space, joiners, word joiner, BOM: str.strip keeps them.
        ("\u200b\u200c\u200d\u2060\ufeff", EmptyMessageError),
        (" \u200b\n\u3164\u2800\ufe0f ", EmptyMessageError),
        ("x" * 100_000, MessageTooLongError),
    ],
)
async def test_bad_input_is_refused_and_records_nothing(
    make_services: ServicesFactory, text: str, error: type[Exception]
) -> None:
    model = ScriptedChatModel(replies=["ok"])
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", services=services) as chat:
        await run(chat, "first")
        with pytest.raises(error) as info:
            await run(chat, text)
        assert "MIOLUMI_" in str(info.value) or "type something" in str(info.value)
        assert [m.text for m in await chat.history()] == ["first", "ok"]
    assert len(model.calls) == 1
    flags = services.guardrails.flags
    assert flags is not None and flags.flags(user_id="u1") == []  # not checked, not flagged


async def test_failure_mid_stream_leaves_thread_unchanged(make_services: ServicesFactory) -> None:
    model = FailingChatModel(replies=["one two three four"], fail_after=2)
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", services=services) as chat:
        model.fail_after = None
        await run(chat, "first")
        model.fail_after = 2
        with pytest.raises(RuntimeError):
            await run(chat, "second")
        assert [m.text for m in await chat.history()] == ["first", "one two three four"]
        model.fail_after = None
        events = await run(chat, "third")
        assert events[-1]["type"] == "turn_end"
        assert events[-1]["turn"] == 2


async def test_cancelled_turn_is_not_recorded(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["a b c d e f g h i j"], delay=0.05)
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", services=services) as chat:
        await run(chat, "first")
        seen: list[Event] = []

        async def consume() -> None:
            async for event in chat.turn("second"):
                seen.append(event)

        task = asyncio.create_task(consume())
        while len(seen) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        history = await chat.history()
        assert [m.text for m in history] == ["first", "a b c d e f g h i j"]
        assert (await run(chat, "third"))[-1]["turn"] == 2


async def test_thread_persists_across_sessions(make_services: ServicesFactory) -> None:
    model = ScriptedChatModel(replies=["one", "two", "three"])
    services = make_services(model=model)
    async with ChatSession.open(user_id="u1", thread_id="t1", services=services) as chat:
        await run(chat, "hello")
    async with ChatSession.open(user_id="u1", thread_id="t1", services=services) as chat:
        assert [m.text for m in await chat.history()] == ["hello", "one"]
    # Without --thread the latest conversation with that companion continues.
    async with ChatSession.open(user_id="u1", services=services) as chat:
        assert chat.thread_id == "t1"
        events = await run(chat, "again")
    assert events[-1]["turn"] == 2
    async with ChatSession.open(user_id="u1", product="lumi", services=services) as chat:
        assert chat.thread_id != "t1"
        assert await chat.history() == []


async def test_checkpoints_are_pruned_to_the_latest(make_services: ServicesFactory) -> None:
    services = make_services(["ok"])
    async with ChatSession.open(user_id="u1", thread_id="t1", services=services) as chat:
        for i in range(12):
            await run(chat, f"message {i}")
        kept = [c async for c in chat.saver.alist({"configurable": {"thread_id": "t1"}})]
    assert len(kept) == 1
    if is_postgres(services.settings.checkpoint_url):
        return  # orphaned writes on PostgreSQL: tests/test_scaleout.py
    with sqlite3.connect(services.settings.checkpoint_url) as db:
        (checkpoints,) = db.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id='t1'"
        ).fetchone()
        (writes,) = db.execute(
            "SELECT count(*) FROM writes WHERE checkpoint_id NOT IN "
            "(SELECT checkpoint_id FROM checkpoints)"
        ).fetchone()
    assert checkpoints == 1
    assert writes == 0


async def test_threads_belong_to_their_user(make_services: ServicesFactory) -> None:
    services = make_services(["ok"])
    async with ChatSession.open(user_id="u1", thread_id="t1", services=services) as chat:
        await run(chat, "secret")
    with pytest.raises(ThreadOwnershipError, match="another user"):
        async with ChatSession.open(user_id="u2", thread_id="t1", services=services):
            pass
    with pytest.raises(ThreadOwnershipError, match="with mio"):
        async with ChatSession.open(
            user_id="u1", thread_id="t1", product="lumi", services=services
        ):
            pass


async def test_unknown_persona_names_the_choices(make_services: ServicesFactory) -> None:
    services = make_services(["ok"])
    with pytest.raises(UnknownPersonaError, match=r"choose one of .*mio"):
        async with ChatSession.open(user_id="u1", agent_id="nobody", services=services):
            pass


async def test_a_second_turn_on_a_busy_thread_is_refused_and_the_first_completes(
    make_services: ServicesFactory,
) -> None:
    model = ScriptedChatModel(replies=["one two three four five six"], delay=0.05)
    services = make_services(model=model)
    async with Runtime.open(services) as runtime:
        first = await runtime.session(user_id="u1", thread_id="t1")
        second = await runtime.session(user_id="u1", thread_id="t1")
        stream = first.turn("hello")
        await anext(stream)  # the first turn holds the thread now
        with pytest.raises(ThreadBusyError, match="wait for it to end"):
            await run(second, "me too")
        rest = [event async for event in stream]
        assert rest[-1]["type"] == "turn_end"
        # Released: the next turn goes through and sees one completed turn before it.
        events = await run(second, "now")
    assert events[-1]["type"] == "turn_end"
    assert events[-1]["turn"] == 2


async def test_a_cancelled_turn_releases_its_thread(make_services: ServicesFactory) -> None:
    services = make_services(model=ScriptedChatModel(replies=["a b c d e f g h"], delay=0.05))
    async with ChatSession.open(user_id="u1", thread_id="t1", services=services) as chat:
        task = asyncio.create_task(run(chat, "hello"))
        await asyncio.sleep(0.15)  # mid-reply: the lease is held
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        events = await run(chat, "again")
    assert events[-1]["type"] == "turn_end"
    assert events[-1]["turn"] == 1


def test_an_expired_lease_is_taken_over(make_services: ServicesFactory) -> None:
    services = make_services()
    engine = open_database(services.settings.relational_url)
    conversations.acquire_lease(engine, thread_id="t1", holder="dead", seconds=-1.0)
    conversations.acquire_lease(engine, thread_id="t1", holder="alive")
    with pytest.raises(ThreadBusyError):
        conversations.acquire_lease(engine, thread_id="t1", holder="third")
    conversations.release_lease(engine, thread_id="t1", holder="third")  # not its lease
    with pytest.raises(ThreadBusyError):
        conversations.acquire_lease(engine, thread_id="t1", holder="third")
    conversations.release_lease(engine, thread_id="t1", holder="alive")
    conversations.acquire_lease(engine, thread_id="t1", holder="third")
    engine.dispose()


def test_recording_a_turn_ends_its_lease_in_the_same_transaction(
    make_services: ServicesFactory,
) -> None:
    services = make_services()
    engine = open_database(services.settings.relational_url)
    record = {"thread_id": "t1", "user_id": "u1", "product": "mio", "agent_id": "mio"}
    conversations.acquire_lease(engine, thread_id="t1", holder="alive")
    conversations.record_turn(engine, **record, turns=1, release="other")  # not its lease
    with pytest.raises(ThreadBusyError):
        conversations.acquire_lease(engine, thread_id="t1", holder="next")
    conversations.record_turn(engine, **record, turns=2, release="alive")
    conversations.acquire_lease(engine, thread_id="t1", holder="next")
    info = conversations.get(engine, "t1")
    assert info is not None and info.turns == 2
    engine.dispose()


async def test_a_warm_runtime_loads_the_classifiers_embedding_model(
    make_services: ServicesFactory,
) -> None:
    # Memory embeds elsewhere: a server's first user must not pay for loading use-m3.
    services = make_services(embeddings="openai:text-embedding-3-small")
    extra = services.classifier_embeddings
    assert extra is not None and extra.cached("Hello, how are you?") is None
    async with Runtime.open(services, warm=True):
        assert extra.cached("Hello, how are you?") is not None
