"""Per-turn overhead of the miolumi turn graph over a bare one-node LangGraph graph.

Measured, with a zero-latency ScriptedChatModel streaming a short reply (``--words``
words, one chunk each), on one thread per variant, every graph compiled with an
AsyncSqliteSaver on its own file (as ``miolumi.db.checkpoints.open_checkpointer`` opens
it) and run with ``stream_mode="custom"`` and ``durability="exit"``:

- ``bare``: one node that streams the model's reply through ``runtime.stream_writer``
  and appends it to ``messages`` (``add_messages``), trimmed to the same window as ours;
  its model is a second ScriptedChatModel with the same replies, outside miolumi's
  model catalog (so without the cost ledger's callback);
- ``graph``: the whole ``miolumi.graphs.mio.builder`` graph (receive, generate, finish
  and Mio's own nodes) with a ``TurnContext`` holding the services;
- ``session``: ``ChatSession.turn`` (the graph, then checkpoint pruning and the
  conversation record in SQLite).

Wall time per turn, from the call to the last event consumed (checkpoint write
included). The variants are interleaved turn by turn, with a rotating order, so that
load from other processes falls on all of them alike; the fsync latency of the data
directory is printed too, because every SQLite commit at ``synchronous=FULL`` waits for
one. ``--synchronous normal`` measures the same turns with ``PRAGMA synchronous=NORMAL``
on every SQLite connection. The issue's target is an overhead p50 of at most 5 ms above
the bare graph.

``--nodes`` then prints the wall time of each node of the graph (threads it waits for
included); ``--profile VARIANT`` runs cProfile (main thread only) over more turns.

Run: ``python benchmarks/turn_overhead.py [--turns 300] [--synchronous normal] [--nodes]
[--profile session]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from uuid import UUID

from _scripted import (
    bare_graph,
    engines_synchronous,
    isolated_environment,
    mio_system_prompt,
    percentile,
    print_table,
    replies_of,
    savers_synchronous,
    scripted_services,
)
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from miolumi.config import Settings
from miolumi.db.checkpoints import open_checkpointer
from miolumi.graphs import mio
from miolumi.graphs.context import TurnContext
from miolumi.session import ChatSession
from miolumi.testing import ScriptedChatModel

DURABILITY: Final = "exit"
TARGET_MS = 5.0

Turn = Callable[[str], Awaitable[int]]
"""Runs one turn on a variant and returns the number of token events it streamed."""


def _config(thread_id: str, callbacks: list[BaseCallbackHandler] | None = None) -> RunnableConfig:
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    if callbacks:
        config["callbacks"] = callbacks
    return config


def bare_turn(graph: CompiledStateGraph[Any, Any, Any, Any]) -> Turn:
    async def turn(text: str) -> int:
        tokens = 0
        async for event in graph.astream(
            {"messages": [HumanMessage(text)]},
            _config("bare"),
            stream_mode="custom",
            durability=DURABILITY,
        ):
            tokens += event["type"] == "token"
        return tokens

    return turn


def graph_turn(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    context: TurnContext,
    callbacks: list[BaseCallbackHandler] | None = None,
) -> Turn:
    async def turn(text: str) -> int:
        tokens = 0
        async for event in graph.astream(
            {"user_input": text},
            _config("graph", callbacks),
            context=context,
            stream_mode="custom",
            durability=DURABILITY,
        ):
            tokens += event["type"] == "token"
        return tokens

    return turn


def session_turn(chat: ChatSession) -> Turn:
    async def turn(text: str) -> int:
        tokens = 0
        async for event in chat.turn(text):
            tokens += event["type"] == "token"
        return tokens

    return turn


async def measure(
    variants: dict[str, Turn], *, models: list[ScriptedChatModel], turns: int, warmup: int
) -> dict[str, list[float]]:
    """Interleave the variants turn by turn; return each one's turn times in ms."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + turns):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            await variants[name](f"message {i}: how was your day, and what are you reading?")
            elapsed = (time.perf_counter() - start) * 1000
            if i >= warmup:
                times[name].append(elapsed)
            for model in models:
                model.calls.clear()  # a scripted model records every prompt otherwise
        if i == warmup - 1:
            gc.collect()
    return times


class NodeTimer(BaseCallbackHandler):
    """Wall time of each graph node (threads it waits for included), from chain callbacks."""

    run_inline = True  # else LangChain runs each callback in a worker thread

    def __init__(self) -> None:
        self.started: dict[UUID, tuple[str, float]] = {}
        self.times: dict[str, list[float]] = defaultdict(list)

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        node = (metadata or {}).get("langgraph_node")
        if node is not None and kwargs.get("name") == node:
            self.started[run_id] = (node, time.perf_counter())

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        started = self.started.pop(run_id, None)
        if started is not None:
            node, start = started
            self.times[node].append((time.perf_counter() - start) * 1000)


@dataclass(frozen=True, kw_only=True)
class Bench:
    """The variants, and the graph variant again with a `NodeTimer` attached."""

    variants: dict[str, Turn]
    timed_graph: Turn
    timer: NodeTimer


async def time_nodes(bench: Bench, *, models: list[ScriptedChatModel], turns: int) -> None:
    """Run ``turns`` more turns of the timed graph and print each node's p50."""
    timer = bench.timer
    totals: list[float] = []
    for i in range(turns):
        start = time.perf_counter()
        await bench.timed_graph(f"timed message {i}")
        totals.append((time.perf_counter() - start) * 1000)
        for model in models:
            model.calls.clear()
    rows = [[node, f"{percentile(ms, 50):.2f}"] for node, ms in timer.times.items()]
    inside = sum(percentile(ms, 50) for ms in timer.times.values())
    rows.append(["(outside nodes: loop, checkpoint)", f"{percentile(totals, 50) - inside:.2f}"])
    rows.append(["whole turn (with the timer)", f"{percentile(totals, 50):.2f}"])
    print(f"\nWall time per node of 'graph', p50 over {turns} more turns:")
    print_table(["node", "p50 ms"], rows)


async def profile(turn: Turn, *, models: list[ScriptedChatModel], turns: int, top: int) -> None:
    """Run ``turns`` more turns of one variant under cProfile and print the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(turns):
        await turn(f"profiled message {i}")
        for model in models:
            model.calls.clear()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def fsync_ms(directory: Path, *, samples: int = 30) -> float:
    """Median latency of writing 4 KiB and fsyncing it in ``directory``: the disk's state."""
    path = directory / "fsync.probe"
    times: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for _ in range(samples):
            os.write(fd, b"x" * 4096)
            start = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


async def open_variants(
    stack: AsyncExitStack, *, root: Path, models: list[ScriptedChatModel], args: argparse.Namespace
) -> Bench:
    """Open the three variants, each on its own SQLite checkpoint file.

    ``models`` are two scripted models with the same replies: the first serves miolumi
    (its catalog attaches the cost ledger to it), the second the bare graph, untouched.
    """
    ours_model, bare_model = models
    services = scripted_services(ours_model)
    bare_saver = await stack.enter_async_context(open_checkpointer(str(root / "bare.sqlite")))
    graph_saver = await stack.enter_async_context(open_checkpointer(str(root / "graph.sqlite")))
    chat = await stack.enter_async_context(
        ChatSession.open(user_id="session-user", thread_id="session", services=services)
    )
    if args.synchronous != "default":
        await savers_synchronous(args.synchronous, [bare_saver, graph_saver, chat.saver])
    bare = bare_graph(
        model=bare_model,
        system=mio_system_prompt(services),
        window=services.settings.history_messages,
        checkpointer=bare_saver,
    )
    ours = mio.builder.compile(checkpointer=graph_saver, name="mio")
    context = TurnContext(user_id="graph-user", services=services)
    variants = {
        "bare": bare_turn(bare),
        "graph": graph_turn(ours, context),
        "session": session_turn(chat),
    }
    for name, turn in variants.items():
        streamed = await turn("check")
        if streamed != args.words:
            raise SystemExit(f"{name} streamed {streamed} tokens, not {args.words}")
    timer = NodeTimer()
    return Bench(variants=variants, timed_graph=graph_turn(ours, context, [timer]), timer=timer)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="miolumi-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        with isolated_environment(root / "home"):
            models = [ScriptedChatModel(replies=replies_of(args.words)) for _ in range(2)]
            async with AsyncExitStack() as stack:
                if args.synchronous != "default":
                    stack.enter_context(engines_synchronous(args.synchronous))
                bench = await open_variants(stack, root=root, models=models, args=args)
                fsync_before = fsync_ms(root)
                times = await measure(
                    bench.variants, models=models, turns=args.turns, warmup=args.warmup
                )
                fsync_after = fsync_ms(root)
                report(times, args=args, fsync=(fsync_before, fsync_after))
                if args.nodes:
                    await time_nodes(bench, models=models, turns=args.turns)
                if args.profile:
                    print(f"\ncProfile of {args.turns} more turns of '{args.profile}':")
                    turn = bench.variants[args.profile]
                    await profile(turn, models=models, turns=args.turns, top=args.top)


def report(
    times: dict[str, list[float]], *, args: argparse.Namespace, fsync: tuple[float, float]
) -> None:
    """Print percentiles, overheads over the bare graph, and ratios."""
    window = Settings.model_fields["history_messages"].default
    print(
        f"{args.turns} turns per variant after {args.warmup} warm-up turns, interleaved; "
        f"{args.words}-word replies ({args.words} chunks), history window {window} messages;\n"
        f"AsyncSqliteSaver on a file for every variant, durability={DURABILITY!r}, "
        f'stream_mode="custom", PRAGMA synchronous: {args.synchronous};\n'
        f"fsync of 4 KiB in the data directory: p50 {fsync[0]:.2f} ms before, "
        f"{fsync[1]:.2f} ms after.\n"
    )
    p50 = {name: percentile(ms, 50) for name, ms in times.items()}
    p95 = {name: percentile(ms, 95) for name, ms in times.items()}
    rows = [
        [
            name,
            f"{p50[name]:.2f}",
            f"{p95[name]:.2f}",
            f"{p50[name] / p50['bare']:.2f}x",
            f"{p95[name] / p95['bare']:.2f}x",
        ]
        for name in times
    ]
    print_table(["variant", "p50 ms", "p95 ms", "p50 / bare", "p95 / bare"], rows)
    print()
    overhead_rows = []
    for name in ("graph", "session"):
        paired = [ours - bare for ours, bare in zip(times[name], times["bare"], strict=True)]
        over = p50[name] - p50["bare"]
        overhead_rows.append(
            [
                f"{name} - bare",
                f"{over:.2f}",
                f"{p95[name] - p95['bare']:.2f}",
                f"{percentile(paired, 50):.2f}",
                "met" if over <= TARGET_MS else "MISSED",
            ]
        )
    print_table(
        ["overhead", "p50 ms", "p95 ms", "paired p50 ms", f"target p50 <= {TARGET_MS:g} ms"],
        overhead_rows,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300, help="measured turns per variant")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured turns per variant")
    parser.add_argument("--words", type=int, default=20, help="words (chunks) per reply")
    parser.add_argument(
        "--profile",
        choices=["bare", "graph", "session"],
        help="then profile that variant with cProfile over --turns more turns",
    )
    parser.add_argument(
        "--nodes",
        action="store_true",
        help="then time each node of the graph variant over --turns more turns",
    )
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    parser.add_argument(
        "--synchronous",
        choices=["default", "normal"],
        default="default",
        help="PRAGMA synchronous of every SQLite connection, checkpointers and relational "
        "stores (default: as miolumi opens them, i.e. FULL)",
    )
    parser.add_argument(
        "--dir", type=Path, help="where the temporary data directory goes (default: system temp)"
    )
    args = parser.parse_args(argv)
    if args.turns < 2 or args.warmup < 1 or args.words < 1:
        parser.error("--turns must be >= 2, --warmup and --words >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
