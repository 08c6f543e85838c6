"""Per-turn overhead of the miolumi turn graph over a bare one-node LangGraph graph.

Measured, with a zero-latency ScriptedChatModel streaming a short reply (``--words``
words, one chunk each), on one thread per variant, every graph compiled with an
AsyncSqliteSaver on a file (as ``miolumi.db.checkpoints.open_checkpointer`` opens it)
and run with ``stream_mode="custom"`` and ``durability="exit"``:

- ``bare``: one node that streams the model's reply through ``runtime.stream_writer``
  and appends it to ``messages`` (``add_messages``), trimmed to the same window as ours;
- ``graph``: ``miolumi.graphs.mio.builder`` (receive -> generate -> finish) with a
  ``TurnContext`` holding the services;
- ``session``: ``ChatSession.turn`` (the graph, then checkpoint pruning and the
  conversation record in SQLite).

Wall time per turn, from the call to the last event consumed (checkpoint write
included). The variants are interleaved turn by turn, with a rotating order, so that
load from other processes falls on all of them alike. The issue's target is an
overhead p50 of at most 5 ms above the bare graph.

Run: ``python benchmarks/turn_overhead.py [--turns 300] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from _scripted import (
    bare_graph,
    isolated_environment,
    mio_system_prompt,
    percentile,
    print_table,
    replies_of,
    scripted_services,
)
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from miolumi.db.checkpoints import open_checkpointer
from miolumi.graphs import mio
from miolumi.graphs.context import TurnContext
from miolumi.session import ChatSession
from miolumi.testing import ScriptedChatModel

DURABILITY = "exit"
TARGET_MS = 5.0

Turn = Callable[[str], Awaitable[int]]
"""Runs one turn on a variant and returns the number of token events it streamed."""


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


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


def graph_turn(graph: CompiledStateGraph[Any, Any, Any, Any], context: TurnContext) -> Turn:
    async def turn(text: str) -> int:
        tokens = 0
        async for event in graph.astream(
            {"user_input": text},
            _config("graph"),
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


async def measure(variants: dict[str, Turn], *, turns: int, warmup: int) -> dict[str, list[float]]:
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
        if i == warmup - 1:
            gc.collect()
    return times


async def profile(turn: Turn, *, turns: int, top: int) -> None:
    """Run ``turns`` more turns of one variant under cProfile and print the top functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(turns):
        await turn(f"profiled message {i}")
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="miolumi-bench-") as tmp:
        root = Path(tmp)
        with isolated_environment(root / "home"):
            model = ScriptedChatModel(replies=replies_of(args.words))
            services = scripted_services(model)
            window = services.settings.history_messages
            async with AsyncExitStack() as stack:
                bare_saver = await stack.enter_async_context(
                    open_checkpointer(str(root / "bare.sqlite"))
                )
                graph_saver = await stack.enter_async_context(
                    open_checkpointer(str(root / "graph.sqlite"))
                )
                chat = await stack.enter_async_context(
                    ChatSession.open(user_id="bench", thread_id="session", services=services)
                )
                bare = bare_graph(
                    model=model,
                    system=mio_system_prompt(services),
                    window=window,
                    checkpointer=bare_saver,
                )
                ours = mio.builder.compile(checkpointer=graph_saver, name="mio")
                context = TurnContext(user_id="bench", services=services)
                variants = {
                    "bare": bare_turn(bare),
                    "graph": graph_turn(ours, context),
                    "session": session_turn(chat),
                }
                for name, turn in variants.items():
                    streamed = await turn("check")
                    if streamed != args.words:
                        raise SystemExit(f"{name} streamed {streamed} tokens, not {args.words}")
                times = await measure(variants, turns=args.turns, warmup=args.warmup)
                report(times, args=args, window=window)
                if args.profile:
                    print(f"\ncProfile of {args.turns} more turns of '{args.profile}':")
                    await profile(variants[args.profile], turns=args.turns, top=args.top)


def report(times: dict[str, list[float]], *, args: argparse.Namespace, window: int) -> None:
    """Print percentiles, overheads over the bare graph, and ratios."""
    print(
        f"{args.turns} turns per variant after {args.warmup} warm-up turns, interleaved; "
        f"{args.words}-word replies ({args.words} chunks), history window {window} messages;\n"
        f"AsyncSqliteSaver on a file for every variant, durability={DURABILITY!r}, "
        'stream_mode="custom".\n'
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
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    args = parser.parse_args(argv)
    if args.turns < 2 or args.warmup < 1 or args.words < 1:
        parser.error("--turns must be >= 2, --warmup and --words >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
