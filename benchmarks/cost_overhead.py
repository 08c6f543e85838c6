"""Added latency per model call from the cost ledger, and how many rows per second it writes.

Every variant streams the same zero-latency ScriptedChatModel reply (``--words`` words,
one chunk each) with ``astream``, in one asyncio loop, interleaved call by call with a
rotating order so that load from other processes falls on all of them alike:

- ``bare``: the model with no callback at all;
- ``callback``: the model with a LangChain callback handler that does nothing, so the
  callback machinery itself (one event per chunk) is measured apart from the ledger;
- ``ledger``: the model as the catalog hands it out, with the ledger's callback and
  metadata; the row is priced and written by the ledger's worker thread into SQLite;
- ``ledger+budget``: the same, priced as a paid model under an enforced daily cap and
  called outside a graph, so that each call also reserves its cost in SQLite under the
  budget lock before it goes out (a graph turn reserves in its budget node instead).

Latency is the wall time from the call to the last chunk consumed. The added latency is
each variant's percentile minus the baseline's; the ledger's own cost is judged against
``callback`` (what any LangChain callback costs is not the ledger's), and both are printed.
Rows/s: ``--rows`` finished calls queued at once, timed until all are priced and
committed. The issue's target is at most 1 ms added per call at p95 (for the ledger).

Run: ``python benchmarks/cost_overhead.py [--calls 2000] [--rows 20000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from _scripted import isolated_environment, percentile, print_table, reply_of
from langchain_core.callbacks import BaseCallbackHandler

from miolumi.config import load_settings
from miolumi.core.cost import Attribution, Call, CostTracker, Units
from miolumi.core.cost.callback import model_metadata, run_metadata
from miolumi.testing import ScriptedChatModel

TARGET_MS = 1.0
Variant = Callable[[], Awaitable[None]]


class NoOpHandler(BaseCallbackHandler):
    """A callback handler that does nothing, run inline like the ledger's."""

    run_inline = True


def variant(model: ScriptedChatModel, config: dict[str, object] | None = None) -> Variant:
    async def call() -> None:
        async for _ in model.astream("how was your day?", config=config):  # type: ignore[arg-type]
            pass

    return call


def instrumented(
    tracker: CostTracker, words: int, *, provider: str, local: bool
) -> ScriptedChatModel:
    model = ScriptedChatModel(replies=[reply_of(words)])
    model.callbacks = [tracker.handler]
    model.metadata = model_metadata(provider=provider, model="scripted", local=local)
    return model


async def measure(
    variants: dict[str, Variant], *, calls: int, warmup: int
) -> dict[str, list[float]]:
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + calls):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            await variants[name]()
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                times[name].append(elapsed)
    return times


def rows_per_second(tracker: CostTracker, rows: int) -> float:
    who = Attribution(user_id="bench", product="lumi", thread_id="t", turn=1)
    now = datetime.now(UTC)
    start = time.perf_counter()
    for _ in range(rows):
        tracker.ledger.record(
            Call(
                started_at=now,
                attribution=who,
                kind="llm",
                provider="openai",
                model="gpt-4o-mini",
                units=Units(input_tokens=120, output_tokens=40),
                local=False,
                latency_ms=1.0,
            )
        )
    tracker.flush()
    return rows / (time.perf_counter() - start)


async def run(args: argparse.Namespace, home: Path) -> int:
    plain = CostTracker(settings=load_settings())
    budgeted = CostTracker(
        settings=load_settings(
            prices={"llm:bench:scripted": {"input_tokens": "0.000001", "output_tokens": "0"}},
            budget_user_daily_usd="1000000",
        )
    )
    for tracker in (plain, budgeted):
        tracker.engine()  # migrate before timing
    bare = ScriptedChatModel(replies=[reply_of(args.words)])
    noop = ScriptedChatModel(replies=[reply_of(args.words)])
    noop.callbacks = [NoOpHandler()]
    noop.metadata = model_metadata(provider="scripted", model="scripted", local=True)
    config = {"metadata": run_metadata(user_id="bench", product="lumi", turn=1)}
    variants = {
        "bare": variant(bare),
        "callback": variant(noop, config),
        "ledger": variant(instrumented(plain, args.words, provider="scripted", local=True), config),
        "ledger+budget": variant(
            instrumented(budgeted, args.words, provider="bench", local=False), config
        ),
    }
    gc.collect()
    times = await measure(variants, calls=args.calls, warmup=args.warmup)
    plain.flush()
    budgeted.flush()
    base50, base95 = percentile(times["bare"], 50), percentile(times["bare"], 95)
    rows = []
    for name, samples in times.items():
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        rows.append(
            [name, f"{p50:.3f}", f"{p95:.3f}", f"{p50 - base50:+.3f}", f"{p95 - base95:+.3f}"]
        )
    print(f"{args.calls} calls per variant, {args.words}-word replies, SQLite in {home}")
    print_table(["variant", "p50 ms", "p95 ms", "added p50", "added p95"], rows)
    rate = rows_per_second(plain, args.rows)
    print(f"ledger writes: {rate:,.0f} rows/s ({args.rows} rows queued at once, batched)")
    over_bare = percentile(times["ledger"], 95) - base95
    cb50, cb95 = percentile(times["callback"], 50), percentile(times["callback"], 95)
    own50 = percentile(times["ledger"], 50) - cb50
    added = percentile(times["ledger"], 95) - cb95
    verdict = "meets" if added <= TARGET_MS else "misses"
    print(f"ledger over a no-op callback: p50 {own50:+.3f} ms, p95 {added:+.3f} ms")
    print(f"ledger over no callback at all: p95 {over_bare:+.3f} ms")
    print(f"ledger added p95 {added:.3f} ms: {verdict} the {TARGET_MS} ms target")
    return 0 if added <= TARGET_MS else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, isolated_environment(Path(tmp)):
        return asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
