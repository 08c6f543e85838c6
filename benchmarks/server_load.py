"""Concurrent WebSocket sessions against ``miolumi serve``: first-token delay, events/s, RSS.

The server runs in its own process (``--serve``, started by this script) with a scripted
streaming model: ``--first-ms`` before its first token, then ``--rate`` tokens/s. For each
N in ``--sessions``, N clients (one user each) connect at once, authenticate, send one
message and read to ``turn_end``. Per level we print:

- time to the first ``token`` frame, p50/p95, and the same minus the model's own time,
  measured in this run on the model alone. The reply is released sentence by sentence
  once each sentence passes the output guardrails, and a streamed sentence is known to
  be complete only when the next chunk arrives: the model's own time is to that chunk
  (its first chunk is printed too);
- events/s over the level, errors, frames lost or out of order, peak server RSS.

Target: 100 sessions with p95 first-token delay <= 50 ms above the model's own, and zero
lost or reordered events.

    python benchmarks/server_load.py [--sessions 10,100,500] [--timeout 300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _scripted import isolated_environment, percentile, print_table, scripted_services
from websockets.asyncio.client import connect

from miolumi.db.engine import open_database
from miolumi.server import tokens
from miolumi.testing import ScriptedChatModel, free_port

FIRST = "Hello there, friend."
REST = (
    "It is good to hear from you again today. I kept thinking about the walk you "
    "described, the quiet one by the river."
)


def _model(first_ms: float, rate: float) -> ScriptedChatModel:
    return ScriptedChatModel(
        replies=[f"{FIRST} {REST}"], first_delay=first_ms / 1000, delay=1 / rate
    )


# --------------------------------------------------------------------------- server


def create_app() -> Any:
    """The app of one server worker: the scripted model, settings from the environment."""
    from miolumi.server import create_app as miolumi_app

    services = scripted_services(
        _model(float(os.environ["LOAD_FIRST_MS"]), float(os.environ["LOAD_RATE"])),
        rate_limit="100000/minute",
        memory_extraction="off",
        ws_send_queue=256,
    )
    return miolumi_app(services)


def serve(home: Path, port: int, first_ms: float, rate: float, workers: int) -> None:
    """Run the server with the scripted model until killed (the ``--serve`` mode)."""
    import uvicorn

    from miolumi.db.engine import open_database

    os.environ.update(LOAD_FIRST_MS=str(first_ms), LOAD_RATE=str(rate))
    with isolated_environment(home):
        open_database(f"sqlite:///{home / 'miolumi.db'}").dispose()  # migrate once
        uvicorn.run(
            "server_load:create_app",
            factory=True,
            host="127.0.0.1",
            port=port,
            workers=workers,
            log_level="warning",
            backlog=4096,
        )


# --------------------------------------------------------------------------- clients


@dataclass
class Level:
    """What one level of concurrency measured."""

    sessions: int
    first_token: list[float] = field(default_factory=list)
    events: int = 0
    errors: list[str] = field(default_factory=list)
    disorder: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0


async def _session(url: str, token: str, level: Level, timeout: float, wait: float) -> None:
    try:
        async with asyncio.timeout(timeout):
            async with connect(url, max_size=None, open_timeout=timeout) as ws:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                await asyncio.sleep(wait)  # connected: the message comes when its user types it
                expected = 1
                sent = 0.0
                got_token = False
                text = []
                await ws.send(json.dumps({"type": "message", "text": "How was your day?"}))
                sent = time.perf_counter()
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["frame"] != expected:
                        level.disorder += 1
                    expected = frame["frame"] + 1
                    level.events += 1
                    kind = frame["type"]
                    if kind == "token":
                        if not got_token:
                            level.first_token.append(time.perf_counter() - sent)
                            got_token = True
                        text.append(frame["text"])
                    elif kind == "error":
                        level.errors.append(frame["code"])
                        return
                    elif kind == "turn_end":
                        if "".join(text) != frame["reply"]:
                            level.disorder += 1
                        return
    except (TimeoutError, OSError) as exc:
        level.errors.append(type(exc).__name__)


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the workers), in MB."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_rss_mb(int(child)) for child in children)


async def run_level(
    url: str, pid: int, users: list[str], level: Level, timeout: float, spread: float
) -> Level:
    """N sessions connected at once, their messages sent over ``spread`` seconds."""
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            level.peak_rss_mb = max(level.peak_rss_mb, _rss_mb(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    waits = [spread * i / len(users) for i in range(len(users))]
    random.Random(len(users)).shuffle(waits)
    await asyncio.gather(
        *(
            _session(url, token, level, timeout, wait)
            for token, wait in zip(users, waits, strict=True)
        )
    )
    level.seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return level


async def model_alone(first_ms: float, rate: float, runs: int = 10) -> tuple[float, float]:
    """The model's own median time to its first chunk, and to the first moment its first
    sentence is known to be complete (the chunk after its full stop arrives)."""
    firsts, sentences = [], []
    for _ in range(runs):
        model = _model(first_ms, rate)
        start = time.perf_counter()
        text = ""
        first = None
        async for chunk in model.astream("How was your day?"):
            first = first or time.perf_counter() - start
            if FIRST in text:  # the sentence was complete before this chunk came
                sentences.append(time.perf_counter() - start)
                break
            text += chunk.text
        assert first is not None
        firsts.append(first)
    return statistics.median(firsts), statistics.median(sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="10,100,500")
    parser.add_argument("--first-ms", type=float, default=200.0)
    parser.add_argument("--rate", type=float, default=30.0, help="model tokens per second")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per level")
    parser.add_argument(
        "--spread",
        default="0,10",
        help="seconds over which the connected sessions send their messages (0: all at once)",
    )
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--serve", nargs=2, metavar=("HOME", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.first_ms, args.rate, args.workers)
        return

    levels = [int(n) for n in args.sessions.split(",")]
    spreads = [float(s) for s in args.spread.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        home, port = Path(tmp), free_port()
        with isolated_environment(home):
            engine = open_database(f"sqlite:///{home / 'miolumi.db'}")
            users = [tokens.issue(engine, user_id=f"u{i}").token for i in range(max(levels))]
            engine.dispose()
        command = [sys.executable, __file__, "--serve", str(home), str(port)]
        options = ["--first-ms", str(args.first_ms), "--rate", str(args.rate)]
        server = subprocess.Popen(
            [*command, *options, "--workers", str(args.workers)],
            env={**os.environ, "MIOLUMI_HOME": str(home), "PYTHONPATH": str(Path(__file__).parent)},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            first, sentence = asyncio.run(model_alone(args.first_ms, args.rate))
            # Warm up: imports, classifiers and the first connection's costs.
            ws_url = f"ws://127.0.0.1:{port}/v1/ws"
            asyncio.run(run_level(ws_url, server.pid, users[:2], Level(sessions=2), 60, 0))
            idle_rss = _rss_mb(server.pid)
            rows = []
            for spread, n in itertools.product(spreads, levels):
                level = asyncio.run(
                    run_level(
                        ws_url, server.pid, users[:n], Level(sessions=n), args.timeout, spread
                    )
                )
                ft = sorted(level.first_token) or [float("nan")]
                p50, p95 = statistics.median(ft), percentile(ft, 95)
                rows.append(
                    [
                        n,
                        f"{spread:g}",
                        f"{p50 * 1000:.0f}",
                        f"{p95 * 1000:.0f}",
                        f"{(p95 - sentence) * 1000:+.0f}",
                        f"{level.events / level.seconds:.0f}",
                        len(level.errors),
                        level.disorder,
                        f"{level.peak_rss_mb:.0f}",
                        f"{level.seconds:.1f}",
                    ]
                )
                if level.errors:
                    print(f"N={n} errors: {sorted(set(level.errors))}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"model alone (median of 10): first chunk {first * 1000:.0f} ms, "
        f"first sentence known complete {sentence * 1000:.0f} ms; "
        f"server RSS idle {idle_rss:.0f} MB ({args.workers} worker(s))"
    )
    print_table(
        [
            "sessions",
            "spread s",
            "first token p50 ms",
            "p95 ms",
            "p95 - model ms",
            "events/s",
            "errors",
            "lost/reordered",
            "peak RSS MB",
            "seconds",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
