"""Cost: exact prices, attribution, local and unknown models, offline counts, the ledger."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from miolumi.config import Product, load_settings
from miolumi.core.cost import Attribution, CostTracker, Units, tokens
from miolumi.core.cost.usage import summarize
from miolumi.db.schema_cost import ReservationRow, TotalRow, UsageRow, from_pico, to_pico
from miolumi.plugins import load_plugins
from miolumi.services import Services
from miolumi.session import ChatSession
from miolumi.testing import TOKENS_PER_MESSAGE, FakeOpenAIServer
from tests.conftest import ServicesFactory

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout

MODELS = ("gpt-4o-mini", "gpt-4o", "fake-model")


def remote_services(server: FakeOpenAIServer, **overrides: Any) -> Services:
    settings = load_settings(base_url=server.base_url, **overrides)
    return Services.create(settings=settings, plugins=load_plugins(settings, entrypoints=False))


async def chat(
    services: Services,
    texts: list[str],
    *,
    user: str,
    product: Product = "lumi",
    agent: str | None = None,
    model: str | None = None,
) -> str:
    async with ChatSession.open(
        user_id=user, product=product, agent_id=agent, model=model, services=services
    ) as session:
        for text in texts:
            async for _ in session.turn(text):
                pass
        thread = session.thread_id
    await services.cost.aflush()
    return thread


def rows(services: Services) -> list[UsageRow]:
    with Session(services.cost.engine()) as session:
        return list(session.scalars(select(UsageRow).order_by(UsageRow.id)))


def server_usage(server: FakeOpenAIServer) -> list[tuple[int, int]]:
    """(prompt, completion) tokens of each chat request, as the fake server counts them."""
    found = []
    for request in server.requests:
        if request.path.endswith("/chat/completions"):
            messages = request.json["messages"]
            prompt = sum(len(m["content"].split()) + TOKENS_PER_MESSAGE for m in messages)
            found.append(prompt)
    return [(prompt, 3) for prompt in found]  # every reply below is three words


async def test_exact_costs_for_known_models() -> None:
    with FakeOpenAIServer(replies=["Hello there, Ada."], models=MODELS) as server:
        services = remote_services(server)
        await chat(services, ["hi", "how are you?"], user="ada", model="gpt-4o-mini")
        await chat(services, ["hello"], user="bob", model="gpt-4o")
        expected = server_usage(server)
    recorded = rows(services)
    assert [(r.input_tokens, r.output_tokens) for r in recorded] == expected
    per_million = {"gpt-4o-mini": ("0.15", "0.6"), "gpt-4o": ("2.5", "10")}
    for row in recorded:
        assert row.provider == "openai" and not row.estimated and row.status == "ok"
        assert row.input_tokens is not None and row.output_tokens is not None
        usage = genai_prices.Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens)
        price = genai_prices.calc_price(usage, row.model, provider_id="openai")
        assert row.cost == price.total_price
        rate_in, rate_out = per_million[row.model]
        by_hand = (Decimal(rate_in) * row.input_tokens + Decimal(rate_out) * 3) / 10**6
        assert row.cost == by_hand
    with Session(services.cost.engine()) as session:
        totals = {(t.scope, t.period[0]): t.spent for t in session.scalars(select(TotalRow))}
    assert totals[("*", "d")] == sum(r.cost for r in recorded if r.cost)
    assert totals[("u:bob", "m")] == recorded[-1].cost


async def test_rows_are_attributed_to_user_persona_product_thread_and_turn() -> None:
    with FakeOpenAIServer(replies=["Nice to meet you."], models=MODELS) as server:
        services = remote_services(server, model="gpt-4o-mini")
        lumi_thread = await chat(services, ["a", "b"], user="ada", product="lumi")
        mio_thread = await chat(services, ["c"], user="bob", product="mio", agent="mio")
    recorded = rows(services)
    assert [(r.user_id, r.product, r.agent_id, r.thread_id, r.turn) for r in recorded] == [
        ("ada", "lumi", None, lumi_thread, 1),
        ("ada", "lumi", None, lumi_thread, 2),
        ("bob", "mio", "mio", mio_thread, 1),
    ]
    engine = services.cost.engine()
    by_user = {line.key: line for line in summarize(engine, by="user")}
    assert by_user["ada"].calls == 2 and by_user["bob"].calls == 1
    assert by_user["ada"].cost == recorded[0].cost + recorded[1].cost  # type: ignore[operator]
    assert {line.key for line in summarize(engine, by="persona")} == {"(none)", "mio"}
    assert {line.key: line.calls for line in summarize(engine, by="product")} == {
        "lumi": 2,
        "mio": 1,
    }
    assert [line.key for line in summarize(engine, by="model")] == ["openai:gpt-4o-mini"]
    assert summarize(engine, by="user", user_id="bob")[0].calls == 1


async def test_a_graph_run_without_metadata_is_attributed_by_its_context() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from miolumi.graphs.context import TurnContext
    from miolumi.graphs.lumi import builder

    with FakeOpenAIServer(replies=["Hi!"], models=MODELS) as server:
        services = remote_services(server, model="gpt-4o-mini")
        graph = builder.compile(checkpointer=InMemorySaver())
        context = TurnContext(user_id="cleo", services=services)
        config: Any = {"configurable": {"thread_id": "t-cleo"}}
        for text in ["one", "two"]:
            await graph.ainvoke({"user_input": text}, config, context=context)
        await services.cost.aflush()
    assert [(r.user_id, r.thread_id, r.turn) for r in rows(services)] == [
        ("cleo", "t-cleo", 1),
        ("cleo", "t-cleo", 2),
    ]


async def test_unknown_model_is_recorded_unpriced_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="miolumi.core.cost")
    with FakeOpenAIServer(replies=["ok then, sure"], models=MODELS) as server:
        services = remote_services(server, model="fake-model")
        await chat(services, ["hi", "again"], user="ada")
    recorded = rows(services)
    assert [r.cost for r in recorded] == [None, None]
    assert all(r.input_tokens for r in recorded)
    warnings = [
        r for r in caplog.records if "No price for llm call to openai:fake-model" in r.message
    ]
    assert len(warnings) == 1  # once per model, not per call
    line = summarize(services.cost.engine(), by="model")[0]
    assert (line.unpriced, line.cost) == (2, Decimal(0))


async def test_price_table_override_beats_genai_prices() -> None:
    prices = {"llm:openai:fake-model": {"input_tokens": "0.001", "output_tokens": "0.002"}}
    with FakeOpenAIServer(replies=["one two three"], models=MODELS) as server:
        services = remote_services(server, model="fake-model", prices=prices)
        await chat(services, ["hello there"], user="ada")
        ((prompt, completion),) = server_usage(server)
    (row,) = rows(services)
    assert row.cost == Decimal("0.001") * prompt + Decimal("0.002") * completion


async def test_local_models_are_metered_at_zero(make_services: ServicesFactory) -> None:
    services = make_services(["A local reply."])
    await chat(services, ["hi"], user="ada")
    (row,) = rows(services)
    assert (row.provider, row.cost, row.output_tokens) == ("scripted", Decimal(0), 3)
    assert row.input_tokens and row.latency_ms >= 0


async def test_missing_usage_is_counted_offline() -> None:
    reply = "Counting tokens offline works."
    with FakeOpenAIServer(replies=[reply], models=MODELS, usage=False) as server:
        services = remote_services(server, model="gpt-4o-mini")
        await chat(services, ["How many tokens is this message?"], user="ada")
        messages = server.requests[-1].json["messages"]
    (row,) = rows(services)
    assert row.estimated
    texts = [m["content"] for m in messages]
    assert tokens.encoding_for("gpt-4o-mini") == "o200k_base"
    assert row.input_tokens == tokens.count_messages(texts, "gpt-4o-mini")
    assert row.output_tokens == tokens.count_texts([reply], "gpt-4o-mini") == 5
    usage = genai_prices.Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens)
    assert row.cost == genai_prices.calc_price(usage, "gpt-4o-mini").total_price


async def test_meter_prices_speech_from_the_table_and_records_failures() -> None:
    settings = load_settings(prices={"stt:acme:ears": {"audio_seconds": "0.01"}})
    tracker = CostTracker(settings=settings)
    who = Attribution(user_id="ada", product="lumi", thread_id="t1", turn=3)
    async with tracker.meter(kind="tts", provider="openai", model="tts-1", attribution=who) as m:
        m.units = Units(characters=1000)
    with pytest.raises(RuntimeError):
        async with tracker.meter(kind="stt", provider="acme", model="ears", attribution=who) as m:
            m.units = Units(audio_seconds=12.5)
            raise RuntimeError("the engine broke")
    async with tracker.meter(
        kind="tts", provider="piper", model="amy", attribution=who, local=True
    ) as m:
        m.units = Units(characters=50)
    await tracker.aflush()
    with Session(tracker.engine()) as session:
        got = list(session.scalars(select(UsageRow).order_by(UsageRow.id)))
    assert [(r.kind, r.cost, r.status, r.turn) for r in got] == [
        ("tts", Decimal("0.015"), "ok", 3),
        ("stt", Decimal("0.125"), "error", 3),
        ("tts", Decimal(0), "ok", 3),
    ]
    assert got[1].audio_seconds == 12.5 and got[0].characters == 1000


def test_money_is_exact_in_pico_dollars() -> None:
    value = Decimal("0.00000015") * 7
    assert from_pico(to_pico(value)) == value
    assert from_pico(to_pico(Decimal("12.345678901234"))) == Decimal("12.345678901234")


def test_bad_price_settings_name_the_fix() -> None:
    from miolumi.errors import ConfigError

    with pytest.raises(ConfigError, match="kind:provider:model"):
        load_settings(prices={"tts-1": {"characters": "1"}})
    with pytest.raises(ConfigError, match="unknown unit 'words'"):
        load_settings(prices={"tts:openai:tts-1": {"words": "1"}})
    with pytest.raises(ConfigError, match="MIOLUMI_BUDGET_DEGRADE_MODEL"):
        load_settings(budget_on_cap="degrade")


async def test_no_reservation_is_left_behind() -> None:
    with FakeOpenAIServer(replies=["fine thanks you"], models=MODELS) as server:
        services = remote_services(server, model="gpt-4o-mini", budget_user_daily_usd="1")
        await chat(services, ["hi", "there"], user="ada")
    with Session(services.cost.engine()) as session:
        assert list(session.scalars(select(ReservationRow))) == []
    assert len(rows(services)) == 2
