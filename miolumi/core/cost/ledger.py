"""The usage ledger: calls are queued as they finish and written in batches off the call path.

A call's reservation stays in the database until its row is written (in the same
transaction), so budgets stay conservative while rows wait in the queue. Token counting
for calls whose provider reported no usage happens here too, off the call path. A write
that fails is retried with the next batch; the error is kept, logged, and raised by
:meth:`Ledger.flush` and by the next budget check, so a ledger that cannot write refuses
paid calls instead of losing their records.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from miolumi.core.cost import store, tokens
from miolumi.core.cost.prices import PriceBook, Units
from miolumi.errors import LedgerError, StorageError

log = logging.getLogger(__name__)

Kind = Literal["llm", "embedding", "tts", "stt", "vision"]
BATCH = 512
IDLE_SECONDS = 2.0
#: How long the writer waits after a first call for others to batch with it.
LINGER_SECONDS = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    """Whom a call served, and in which conversation."""

    user_id: str = "local"
    product: str | None = None
    agent_id: str | None = None
    """The Mio persona; None for the user's global stream (Lumi)."""
    thread_id: str | None = None
    turn: int | None = None
    """The turn's number in its thread, from 1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Texts:
    """What to count when the provider reported no usage."""

    prompt: Sequence[str]
    """The text of each prompt message."""
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """A finished call, not yet priced."""

    started_at: datetime
    attribution: Attribution
    kind: Kind
    provider: str
    model: str
    units: Units | None
    """None: count ``texts`` locally (the row is then marked estimated)."""
    local: bool
    latency_ms: float
    texts: Texts | None = None
    status: Literal["ok", "error"] = "ok"
    reservation_id: str | None = None


class Ledger:
    """Prices finished calls and writes them, in batches, from a worker thread."""

    def __init__(self, *, engine: Callable[[], Engine], prices: PriceBook) -> None:
        self._engine = engine
        self._prices = prices
        self._queue: queue.Queue[Call] = queue.Queue()
        self._failed: list[store.Row] = []
        self._error: LedgerError | None = None
        self._lock = threading.Lock()
        self._running = False

    def record(self, call: Call) -> None:
        """Queue a finished call; returns at once."""
        with self._lock:
            self._queue.put(call)
            if not self._running:
                self._running = True
                threading.Thread(target=self._work, name="miolumi-ledger", daemon=True).start()

    def check(self) -> None:
        """Raise the last write failure, if the ledger has not recovered from it."""
        with self._lock:
            error = self._error
        if error is not None:
            raise error

    def flush(self) -> None:
        """Wait until every queued call is written; raise if writing failed."""
        self._queue.join()
        with self._lock:
            pending = bool(self._failed)
        if pending:
            self._write([])
        self.check()

    # -- worker

    def _work(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._running = False
                        return
                continue
            # Let a burst of calls gather: one transaction per batch instead of per call
            # keeps the writer from competing with the event loop on every call.
            time.sleep(LINGER_SECONDS)
            calls = [first]
            while len(calls) < BATCH:
                try:
                    calls.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write([self.row(call) for call in calls])
            finally:
                for _ in calls:
                    self._queue.task_done()

    def row(self, call: Call) -> store.Row:
        """Count (when needed) and price a call."""
        units, estimated = call.units, False
        if units is None:
            units, estimated = _count(call), True
        try:
            cost = self._prices.price(
                kind=call.kind,
                provider=call.provider,
                model=call.model,
                units=units,
                local=call.local,
                when=call.started_at,
            ).cost
        except Exception:  # a broken price entry must not lose the row: record it unpriced
            log.exception(
                "Pricing %s:%s failed; its cost is recorded as null.", call.provider, call.model
            )
            cost = None
        who = call.attribution
        return store.Row(
            created_at=call.started_at,
            user_id=who.user_id,
            product=who.product,
            agent_id=who.agent_id,
            thread_id=who.thread_id,
            turn=who.turn,
            kind=call.kind,
            provider=call.provider,
            model=call.model,
            input_tokens=units.input_tokens,
            output_tokens=units.output_tokens,
            characters=units.characters,
            audio_seconds=units.audio_seconds,
            images=units.images,
            estimated=estimated,
            cost=cost,
            latency_ms=call.latency_ms,
            status=call.status,
            reservation_id=call.reservation_id,
        )

    def _write(self, rows: list[store.Row]) -> None:
        with self._lock:
            batch, self._failed = [*self._failed, *rows], []
        try:
            store.write(self._engine(), batch, now=datetime.now(UTC))
        except (SQLAlchemyError, StorageError) as exc:
            error = LedgerError(
                f"The usage ledger cannot write {len(batch)} row(s) ({exc}); paid calls are "
                "refused until it can: check MIOLUMI_DATABASE_URL, disk space and permissions."
            )
            log.error("%s", error)
            with self._lock:
                self._failed = batch + self._failed
                self._error = error
            return
        with self._lock:
            self._error = None


def _count(call: Call) -> Units:
    """Token counts of a call whose provider reported none."""
    if call.texts is None:
        return Units()
    prompt = tokens.count_messages(call.texts.prompt, call.model) if call.texts.prompt else 0
    output = tokens.count_texts([call.texts.output], call.model) if call.texts.output else 0
    return Units(input_tokens=prompt, output_tokens=output)
