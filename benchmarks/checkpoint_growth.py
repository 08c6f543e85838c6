"""Growth of the checkpoint store over a long thread: pruned (ours) against unpruned.

Runs ``--turns`` turns (default 1,000) on one thread with a zero-latency
ScriptedChatModel (replies of ``--words`` words) and ``history_messages`` at its
default, in two stores side by side:

- ``pruned``: ``ChatSession.turn``, i.e. the mio graph, then ``prune_thread`` (only the
  latest checkpoint is kept) and the conversation record; its store is
  ``services.settings.checkpoint_url``;
- ``unpruned``: the same mio graph compiled with the same kind of checkpointer
  (``open_checkpointer`` on another file) and run the same way (``stream_mode="custom"``,
  ``durability="exit"``), with no pruning.

At 10, 100, 250, 500 and 1,000 turns (and the last turn) it prints each store's live
data (pages in use, as a reader sees them, WAL included), the sizes of its SQLite file
and its ``-wal`` file, and its ``checkpoints`` and ``writes`` row counts.
Both stores keep the same bounded message window, so the difference is pruning alone.
The two use separate checkpoint files and users. Every SQLite connection runs with
``PRAGMA synchronous=NORMAL`` unless ``--synchronous default``: that changes when
commits reach the disk, not what is stored, and keeps the run short on a busy disk.

Run: ``python benchmarks/checkpoint_growth.py [--turns 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from contextlib import AsyncExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _scripted import (
    engines_synchronous,
    isolated_environment,
    print_table,
    replies_of,
    savers_synchronous,
    scripted_services,
)
from langgraph.graph.state import CompiledStateGraph

from miolumi.db.checkpoints import open_checkpointer
from miolumi.graphs import mio
from miolumi.graphs.context import TurnContext
from miolumi.session import ChatSession
from miolumi.testing import ScriptedChatModel

MILESTONES = (10, 100, 250, 500, 1000)


@dataclass(frozen=True, kw_only=True)
class StoreSize:
    """What a checkpoint store holds on disk after some turns."""

    data_bytes: int
    """Pages of the database as a reader sees it (WAL content included), free pages excluded."""
    db_bytes: int
    wal_bytes: int
    checkpoints: int
    writes: int

    @property
    def file_bytes(self) -> int:
        """What the store takes on disk: the database file and its WAL."""
        return self.db_bytes + self.wal_bytes


def measure_store(path: Path) -> StoreSize:
    """Sizes of the SQLite file and its WAL, and row counts (read through a read-only link)."""
    wal = path.with_name(path.name + "-wal")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        checkpoints = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        writes = conn.execute("SELECT count(*) FROM writes").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return StoreSize(
        data_bytes=(pages - free) * page_size,
        db_bytes=path.stat().st_size,
        wal_bytes=wal.stat().st_size if wal.exists() else 0,
        checkpoints=checkpoints,
        writes=writes,
    )


async def unpruned_turn(
    graph: CompiledStateGraph[Any, Any, Any, Any], context: TurnContext, text: str
) -> None:
    async for _ in graph.astream(
        {"user_input": text},
        {"configurable": {"thread_id": "unpruned"}},
        context=context,
        stream_mode="custom",
        durability="exit",
    ):
        pass


async def pruned_turn(chat: ChatSession, text: str) -> None:
    async for _ in chat.turn(text):
        pass


async def run(args: argparse.Namespace) -> None:
    milestones = sorted({m for m in MILESTONES if m <= args.turns} | {args.turns})
    with tempfile.TemporaryDirectory(prefix="miolumi-bench-") as tmp:
        root = Path(tmp)
        with isolated_environment(root / "home"):
            model = ScriptedChatModel(replies=replies_of(args.words))
            services = scripted_services(model)
            pruned_path = Path(services.settings.checkpoint_url)
            unpruned_path = root / "unpruned.sqlite"
            rows: list[list[object]] = []
            start = time.perf_counter()
            async with AsyncExitStack() as stack:
                if args.synchronous != "default":
                    stack.enter_context(engines_synchronous(args.synchronous))
                chat = await stack.enter_async_context(
                    ChatSession.open(user_id="pruned-user", thread_id="pruned", services=services)
                )
                saver = await stack.enter_async_context(open_checkpointer(str(unpruned_path)))
                if args.synchronous != "default":
                    await savers_synchronous(args.synchronous, [saver, chat.saver])
                graph = mio.builder.compile(checkpointer=saver, name="mio")
                context = TurnContext(user_id="unpruned-user", services=services)
                for turn in range(1, args.turns + 1):
                    text = f"message {turn}: tell me more about your day"
                    await pruned_turn(chat, text)
                    await unpruned_turn(graph, context, text)
                    model.calls.clear()  # the scripted model records every prompt otherwise
                    if turn in milestones:
                        rows.append(
                            size_row(turn, measure_store(pruned_path), measure_store(unpruned_path))
                        )
                kept = len(await chat.history())
            seconds = time.perf_counter() - start
        print(
            f"{args.turns} turns on one thread, {args.words}-word replies, history window "
            f"{services.settings.history_messages} messages (default; {kept} kept at the end);\n"
            'AsyncSqliteSaver on a file, durability="exit". Sizes in KiB: data = live pages '
            "(WAL included),\ndb+wal = the two files on disk; rows = checkpoints/writes.\n"
        )
        print_table(
            [
                "turns",
                "pruned data",
                "pruned db+wal",
                "pruned rows",
                "unpruned data",
                "unpruned db+wal",
                "unpruned rows",
                "data unpruned/pruned",
            ],
            rows,
        )
        print(
            f"\n{args.turns} turns of both variants in {seconds:.1f} s "
            f"(PRAGMA synchronous: {args.synchronous})"
        )


def size_row(turn: int, pruned: StoreSize, unpruned: StoreSize) -> list[object]:
    def kib(n: int) -> str:
        return f"{n / 1024:,.0f}"

    def columns(size: StoreSize) -> list[object]:
        files = f"{kib(size.db_bytes)}+{kib(size.wal_bytes)}"
        return [kib(size.data_bytes), files, f"{size.checkpoints}/{size.writes}"]

    ratio = unpruned.data_bytes / pruned.data_bytes
    return [turn, *columns(pruned), *columns(unpruned), f"{ratio:.1f}x"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns on the thread")
    parser.add_argument("--words", type=int, default=40, help="words per reply")
    parser.add_argument(
        "--synchronous",
        choices=["default", "normal"],
        default="normal",
        help="PRAGMA synchronous of every SQLite connection ('default': as miolumi opens them)",
    )
    args = parser.parse_args(argv)
    if args.turns < 1 or args.words < 1:
        parser.error("--turns and --words must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
