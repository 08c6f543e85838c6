"""Budgets through the full graph: warn, degrade, stop, and no overshoot under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from miolumi.config import Product, load_settings
from miolumi.core.cost import Attribution, Call, Units
from miolumi.errors import BudgetExceededError
from miolumi.events import Event
from miolumi.graphs.nodes.budget import LUMI_REST, PERSONA_REST
from miolumi.services import Services
from miolumi.session import ChatSession
from miolumi.testing import FakeOpenAIServer
from tests.conftest import ServicesFactory
from tests.test_cost import MODELS, remote_services, rows

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout

#: A price that makes pre-spending easy: one "input token" of this model costs a cent.
SPEND = {"llm:test:spend": {"input_tokens": "0.01"}}


async def spend(services: Services, usd: str, *, user: str = "ada") -> None:
    """Record past spending of ``usd`` for ``user``."""
    services.cost.ledger.record(
        Call(
            started_at=datetime.now(UTC),
            attribution=Attribution(user_id=user),
            kind="llm",
            provider="test",
            model="spend",
            units=Units(input_tokens=int(Decimal(usd) * 100)),
            local=False,
            latency_ms=0.0,
        )
    )
    await services.cost.aflush()


async def turn(
    services: Services, text: str, *, user: str = "ada", product: Product = "lumi"
) -> list[Event]:
    async with ChatSession.open(user_id=user, product=product, services=services) as session:
        return [event async for event in session.turn(text)]


def budget_events(events: list[Event]) -> list[Any]:
    return [e for e in events if e["type"] == "budget"]


def chat_requests(server: FakeOpenAIServer) -> list[Any]:
    return [r.json for r in server.requests if r.path.endswith("/chat/completions")]


async def test_warn_lets_the_reply_through_and_tells_the_operator() -> None:
    with FakeOpenAIServer(replies=["All good here."], models=MODELS) as server:
        services = remote_services(
            server,
            model="gpt-4o-mini",
            prices=SPEND,
            budget_user_daily_usd="1",
            budget_warn_at=0.5,
        )
        quiet = await turn(services, "hello")
        await spend(services, "0.60")
        events = await turn(services, "hello again")
    assert budget_events(quiet) == []
    (warning,) = budget_events(events)
    assert warning["action"] == "warn" and warning["cap"] == "user daily"
    assert Decimal(warning["spent"]) >= Decimal("0.60")
    assert Decimal(warning["limit"]) == 1
    assert events[-1]["type"] == "turn_end" and events[-1]["reply"] == "All good here."


async def test_degrade_switches_to_the_cheaper_model() -> None:
    with FakeOpenAIServer(replies=["Cheaper but here."], models=MODELS) as server:
        services = remote_services(
            server,
            model="gpt-4o",
            prices=SPEND,
            budget_user_monthly_usd="1",
            budget_degrade_at=0.5,
            budget_degrade_model="openai:gpt-4o-mini",
        )
        await turn(services, "first")
        await spend(services, "0.70")
        events = await turn(services, "second")
        sent = [request["model"] for request in chat_requests(server)]
    (notice,) = budget_events(events)
    assert notice["action"] == "degrade" and notice["model"] == "openai:gpt-4o-mini"
    assert sent == ["gpt-4o", "gpt-4o-mini"]
    assert events[-1]["type"] == "turn_end" and events[-1]["model"] == "openai:gpt-4o-mini"
    await services.cost.aflush()
    assert [r.model for r in rows(services)][-1] == "gpt-4o-mini"


async def test_degrade_at_the_cap_to_a_free_model_keeps_talking(
    make_services: ServicesFactory,
) -> None:
    with FakeOpenAIServer(replies=["Paid reply."], models=MODELS) as server:
        settings = load_settings(
            base_url=server.base_url,
            model="openai:gpt-4o",
            prices=SPEND,
            budget_user_daily_usd="1",
            budget_on_cap="degrade",
            budget_degrade_model="scripted:small",
        )
        services = make_services(["Free reply."], settings=settings)
        await spend(services, "1.00")
        events = await turn(services, "still there?")
        assert chat_requests(server) == []
    assert budget_events(events)[0]["action"] == "degrade"
    assert events[-1]["reply"] == "Free reply."


@pytest.mark.parametrize(("product", "words"), [("lumi", LUMI_REST), ("mio", PERSONA_REST)])
async def test_stop_answers_kindly_in_the_companions_voice(product: Product, words: str) -> None:
    with FakeOpenAIServer(replies=["Should not be said."], models=MODELS) as server:
        services = remote_services(
            server, model="gpt-4o-mini", prices=SPEND, budget_global_daily_usd="0.5"
        )
        await spend(services, "0.50", user="someone-else")  # the global cap is spent
        async with ChatSession.open(user_id="ada", product=product, services=services) as chat:
            events = [event async for event in chat.turn("hello?")]
            history = [m.text for m in await chat.history()]
        assert chat_requests(server) == []
    expected = words.format(name="Mio")
    (stop,) = budget_events(events)
    assert stop == {
        "type": "budget",
        "action": "stop",
        "cap": "global daily",
        "spent": "0.500000",
        "limit": "0.500000",
        "message": expected,
    }
    assert "".join(e["text"] for e in events if e["type"] == "token") == expected
    assert events[-1]["type"] == "turn_end" and events[-1]["reply"] == expected
    assert history == ["hello?", expected]


async def test_budget_on_warn_only_never_refuses() -> None:
    with FakeOpenAIServer(replies=["Over but fine."], models=MODELS) as server:
        services = remote_services(
            server,
            model="gpt-4o-mini",
            prices=SPEND,
            budget_user_daily_usd="0.1",
            budget_on_cap="warn",
        )
        await spend(services, "0.20")
        events = await turn(services, "hi")
    assert budget_events(events)[0]["action"] == "warn"
    assert events[-1]["reply"] == "Over but fine."


async def test_a_call_outside_the_graph_is_refused_before_it_goes_out() -> None:
    with FakeOpenAIServer(replies=["nope"], models=MODELS) as server:
        services = remote_services(
            server, model="gpt-4o-mini", prices=SPEND, budget_user_daily_usd="0.5"
        )
        await spend(services, "0.50", user="local")
        chat = services.models.resolve().chat
        with pytest.raises(BudgetExceededError, match="MIOLUMI_BUDGET_USER_DAILY_USD"):
            await chat.ainvoke("hi")
        assert chat_requests(server) == []
        await spend(services, "0", user="local")


async def test_no_overshoot_with_20_concurrent_turns_against_one_cap() -> None:
    cap = Decimal("0.004")
    with FakeOpenAIServer(replies=["Here with you."], models=MODELS, token_delay=0.02) as server:
        services = remote_services(
            server, model="gpt-4o", max_tokens=16, budget_global_daily_usd=str(cap)
        )

        async def one(i: int) -> list[Event]:
            return await turn(services, f"message number {i}, how are you?", user=f"u{i}")

        results = await asyncio.gather(*(one(i) for i in range(20)))
        await services.cost.aflush()
        calls = len(chat_requests(server))
    stopped = [r for r in results if any(e["action"] == "stop" for e in budget_events(r))]
    answered = [r for r in results if r[-1]["type"] == "turn_end" and r not in stopped]
    assert len(stopped) + len(answered) == 20
    assert 1 <= len(answered) < 20 and len(answered) == calls
    recorded = rows(services)
    assert len(recorded) == calls
    spent = sum((r.cost for r in recorded if r.cost), Decimal(0))
    largest = max(r.cost for r in recorded if r.cost)
    assert spent <= cap + largest  # at most one call over (in fact none: reservations bound it)
    assert spent <= cap
    with Session(services.cost.engine()) as session:
        from miolumi.db.schema_cost import ReservationRow

        assert session.scalar(select(func.count()).select_from(ReservationRow)) == 0
