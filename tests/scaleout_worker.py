"""A worker process for the scale-out tests: runs turns it reads from stdin, one per line.

Like one of several server workers, it shares nothing with the others but the
configured database and Chroma server (its MIOLUMI_HOME is its own). Each input line is
JSON ``{"user": ..., "product": ..., "thread": ..., "text": ...}``; each output line is
JSON ``{"reply": ..., "turn": ..., "history": [[role, text], ...]}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from miolumi.services import default_services
from miolumi.session import ChatSession


async def run_turn(request: dict[str, Any]) -> dict[str, Any]:
    services = default_services()
    async with ChatSession.open(
        user_id=request["user"],
        product=request.get("product", "mio"),
        thread_id=request["thread"],
        services=services,
    ) as chat:
        reply, turn = "", 0
        async for event in chat.turn(request["text"]):
            if event["type"] == "turn_end":
                reply, turn = event["reply"], event["turn"]
        history = [[m.type, m.text] for m in await chat.history()]
    await services.cost.aflush()
    return {"reply": reply, "turn": turn, "history": history}


async def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            answer = await run_turn(json.loads(line))
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
