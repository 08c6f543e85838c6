"""``grow`` (Lumi, after ``turn_end``): plant the personality seed, then take snapshots.

After the user's first ``lumi_seed_exchanges`` exchanges the seed is extracted and stored
together with personality snapshot 1; afterwards, every ``lumi_snapshot_every`` turns the
personality is re-derived from the seed and the recent messages, within the drift bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.guard import user_texts
from miolumi.graphs.state import TurnState
from miolumi.lumi import store
from miolumi.lumi.personality import from_seed, rederive
from miolumi.lumi.seed import build_seed


async def grow(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Seed or snapshot Lumi's personality when this turn calls for it."""
    services = runtime.context.resources()
    settings = services.settings
    if state.turn < settings.lumi_seed_exchanges:
        return {}
    user_id = runtime.context.user_id
    texts = user_texts(state.messages)  # a withheld (blocked) message is no exchange
    engine = await asyncio.to_thread(store.lumi_database, settings.relational_url)
    stored = await asyncio.to_thread(store.get_seed, engine, user_id)
    if stored is None:
        model = services.models.resolve(runtime.context.model)
        capable = not model.provider.local
        seed, source = await build_seed(
            texts[: settings.lumi_seed_exchanges],
            engine=services.emotion,
            model=model.chat if capable else None,
            structured=capable,
        )
        await asyncio.to_thread(
            store.save_seed,
            engine,
            user_id=user_id,
            seed=seed,
            source=source,
            exchanges=settings.lumi_seed_exchanges,
            personality=from_seed(seed),
        )
    elif state.turn % settings.lumi_snapshot_every == 0:
        latest = await asyncio.to_thread(store.current, engine, user_id)
        if latest is not None:
            personality = rederive(
                stored.seed,
                texts[-settings.lumi_snapshot_every :],
                latest.personality,
                engine=services.emotion,
                max_drift=settings.lumi_max_drift,
            )
            await asyncio.to_thread(
                store.add_snapshot,
                engine,
                user_id=user_id,
                personality=personality,
                reason="periodic",
            )
    return {}
