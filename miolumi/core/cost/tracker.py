"""The cost tracker: one per process, shared through ``Services.cost``.

It ties the pieces together: the price book, the budget policy, the ledger, and the
LangChain callback handler (:attr:`CostTracker.handler`) that the model catalog attaches to
every chat model it hands out, so that every model call is checked against the budgets
before it goes out and recorded when it ends, without any node remembering to.

Calls that are not LangChain chat models (TTS, STT, vision, embeddings) go through
:meth:`CostTracker.meter`::

    async with services.cost.meter(
        kind="tts", provider="openai", model="tts-1", attribution=who,
        estimate=Units(characters=len(text)),
    ) as meter:
        audio = await engine.speak(text)
        meter.units = Units(characters=len(text))
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from miolumi.config import Settings
from miolumi.core.cost import store, tokens
from miolumi.core.cost.budget import BudgetPolicy, Decision
from miolumi.core.cost.callback import LedgerCallbackHandler
from miolumi.core.cost.ledger import Attribution, Call, Kind, Ledger
from miolumi.core.cost.prices import ModelRef, PriceBook, Units
from miolumi.db.engine import open_database

log = logging.getLogger(__name__)

RESERVATION_TTL = timedelta(minutes=10)
"""How long a reservation counts against budgets if its call never reports back."""
_REMEMBERED_THREADS = 4096


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """The budget's answer for a turn's generation."""

    decision: Decision
    model: ModelRef | None
    """The model to use (the cheaper one when degraded); None when stopped."""

    @property
    def action(self) -> str:
        """``ok``, ``warn``, ``degrade`` or ``stop``."""
        return self.decision.action


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """What a turn's budget check hands to its model call, keyed by thread."""

    attribution: Attribution
    model: str | None = None
    reservation_id: str | None = None


@dataclass(slots=True, kw_only=True)
class Meter:
    """Filled in by the code inside :meth:`CostTracker.meter`: what the call consumed."""

    units: Units | None = None


class CostTracker:
    """Prices, budgets and the usage ledger of one process."""

    def __init__(self, *, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.prices = PriceBook(settings=settings)
        self.policy = BudgetPolicy.from_settings(settings)
        self._engine = engine
        self._engine_lock = threading.Lock()
        self.ledger = Ledger(engine=self.engine, prices=self.prices)
        self._threads: OrderedDict[str, Pending] = OrderedDict()
        self._threads_lock = threading.Lock()
        self.handler = LedgerCallbackHandler(tracker=self)
        """Attach to chat models (the model catalog does) to check and record every call."""
        _TRACKERS.add(self)

    def engine(self) -> Engine:
        """The relational store, opened (and migrated) on first use."""
        with self._engine_lock:
            if self._engine is None:
                self._engine = open_database(self.settings.relational_url)
            return self._engine

    # -- estimates ----------------------------------------------------------------------

    def estimate_llm(
        self, model: ModelRef, *, prompt: Sequence[str], max_tokens: int | None = None
    ) -> Decimal | None:
        """The most a chat call may cost: its prompt, counted offline, and a full reply."""
        if model.local:
            return Decimal(0)
        units = Units(
            input_tokens=tokens.count_messages(prompt, model.name),
            output_tokens=max_tokens or self.settings.max_tokens,
        )
        return self.prices.price(
            kind="llm", provider=model.provider, model=model.name, units=units
        ).cost

    # -- a turn's budget check ----------------------------------------------------------

    async def admit(
        self,
        *,
        attribution: Attribution,
        model: ModelRef,
        prompt: Sequence[str],
        degrade_to: ModelRef | None = None,
    ) -> Admission:
        """Decide on a turn's generation and reserve its cost, atomically.

        The reservation (and the attribution) wait for the model call of the same thread,
        which takes them instead of reserving again. Without a thread id nothing is
        reserved here: the call reserves for itself.
        """
        if not self.policy.enabled or model.local:
            stale = self._remember(attribution)
            if stale is not None:
                await asyncio.to_thread(self.release, stale)
            return Admission(decision=Decision(action="ok"), model=model)
        return await asyncio.to_thread(
            self._admit, attribution=attribution, model=model, prompt=prompt, degrade_to=degrade_to
        )

    def _admit(
        self,
        *,
        attribution: Attribution,
        model: ModelRef,
        prompt: Sequence[str],
        degrade_to: ModelRef | None,
    ) -> Admission:
        thread = attribution.thread_id
        self.ledger.check()
        offers = [store.Offer(model=model.spec, estimate=self._bound(model, prompt))]
        if degrade_to is not None:
            offers.append(
                store.Offer(
                    model=degrade_to.spec, estimate=self._bound(degrade_to, prompt), degraded=True
                )
            )
        now = datetime.now(UTC)
        if thread is None:
            spent = store.standing(self.engine(), self.policy, user_id=attribution.user_id, now=now)
            decision = self.policy.decide(spent, offers[0].estimate)
            if decision.action == "degrade" and degrade_to is not None:
                return Admission(decision=decision, model=degrade_to)
            chosen = None if self.policy.refuses(decision) else model
            return Admission(decision=decision, model=chosen)
        decision, offer, reservation = store.reserve(
            self.engine(),
            self.policy,
            user_id=attribution.user_id,
            offers=offers,
            now=now,
            ttl=RESERVATION_TTL,
        )
        chosen_model = None
        if offer is not None:
            chosen_model = degrade_to if offer.degraded else model
        stale = self._remember(
            attribution, model=offer.model if offer else None, reservation_id=reservation
        )
        if stale is not None:
            self.release(stale)
        return Admission(decision=decision, model=chosen_model)

    def _bound(self, model: ModelRef, prompt: Sequence[str]) -> Decimal:
        estimate = self.estimate_llm(model, prompt=prompt)
        return estimate if estimate is not None else Decimal(0)  # unpriced: cannot be capped

    def _remember(
        self,
        attribution: Attribution,
        *,
        model: str | None = None,
        reservation_id: str | None = None,
    ) -> str | None:
        """Hand a turn's attribution (and reservation) to its thread's next model call.

        Returns the reservation of an earlier turn of the thread that never made its call,
        for the caller to release.
        """
        thread = attribution.thread_id
        if thread is None:
            return None
        with self._threads_lock:
            old = self._threads.pop(thread, None)
            self._threads[thread] = Pending(
                attribution=attribution, model=model, reservation_id=reservation_id
            )
            while len(self._threads) > _REMEMBERED_THREADS:
                _, evicted = self._threads.popitem(last=False)
                if evicted.reservation_id:  # expires in the database by itself
                    log.warning("Forgetting the reservation of an idle thread.")
        return old.reservation_id if old is not None else None

    def take_pending(self, thread_id: str, model: str) -> tuple[Attribution, str | None] | None:
        """The attribution of ``thread_id``'s current turn, and its reservation if for ``model``.

        The reservation is handed out once; a reservation made for another model is
        released (the call reserves for itself).
        """
        with self._threads_lock:
            pending = self._threads.get(thread_id)
            if pending is None:
                return None
            reservation = pending.reservation_id
            if reservation is not None:
                self._threads[thread_id] = Pending(attribution=pending.attribution)
        if reservation is not None and pending.model != model:
            store.release(self.engine(), [reservation])
            reservation = None
        return pending.attribution, reservation

    # -- a single call's budget check ---------------------------------------------------

    def reserve_call(
        self, *, attribution: Attribution, model: str, estimate: Decimal | None
    ) -> str | None:
        """Reserve ``estimate`` for one call, or raise ``BudgetExceededError``.

        Returns the reservation id (None when nothing needs reserving).
        """
        self.ledger.check()
        if not self.policy.enabled or not self.policy.enforces or not estimate:
            return None
        decision, offer, reservation = store.reserve(
            self.engine(),
            self.policy,
            user_id=attribution.user_id,
            offers=[store.Offer(model=model, estimate=estimate)],
            now=datetime.now(UTC),
            ttl=RESERVATION_TTL,
        )
        if offer is None:
            raise decision.error()
        return reservation

    def release(self, reservation_id: str) -> None:
        """Drop a reservation whose call will not be recorded."""
        store.release(self.engine(), [reservation_id])

    # -- calls that are not chat models --------------------------------------------------

    @asynccontextmanager
    async def meter(
        self,
        *,
        kind: Kind,
        provider: str,
        model: str,
        attribution: Attribution,
        local: bool = False,
        estimate: Units | None = None,
    ) -> AsyncIterator[Meter]:
        """Check the budget, run the body, and record what it set in ``meter.units``.

        With ``estimate`` (the most the call may consume) the budget is checked and the
        cost reserved first; ``BudgetExceededError`` is raised if the call would cross an
        enforced cap. A body that raises is recorded with ``status="error"``.
        """
        reservation = None
        if estimate is not None and not local:
            bound = self.prices.price(
                kind=kind, provider=provider, model=model, units=estimate
            ).cost
            reservation = await asyncio.to_thread(
                self.reserve_call, attribution=attribution, model=model, estimate=bound
            )
        meter = Meter()
        started_at, start = datetime.now(UTC), time.perf_counter()
        status: str = "ok"
        try:
            yield meter
        except BaseException:
            status = "error"
            raise
        finally:
            self.ledger.record(
                Call(
                    started_at=started_at,
                    attribution=attribution,
                    kind=kind,
                    provider=provider,
                    model=model,
                    units=meter.units or Units(),
                    local=local,
                    latency_ms=(time.perf_counter() - start) * 1000,
                    status="ok" if status == "ok" else "error",
                    reservation_id=reservation,
                )
            )

    # -- lifecycle ----------------------------------------------------------------------

    async def aflush(self) -> None:
        """Wait until every finished call is in the ledger; raise if writing failed."""
        await asyncio.to_thread(self.ledger.flush)

    def flush(self) -> None:
        """Wait until every finished call is in the ledger; raise if writing failed."""
        self.ledger.flush()


_TRACKERS: weakref.WeakSet[CostTracker] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    """Write what is still queued before the process exits."""
    for tracker in list(_TRACKERS):
        try:
            tracker.flush()
        except Exception as exc:  # at exit there is no one left to raise to: say it
            import sys

            print(f"miolumi: usage ledger not fully written: {exc}", file=sys.stderr)
