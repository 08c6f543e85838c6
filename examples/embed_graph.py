"""Embed a companion in your own app: compile a turn graph with your own checkpointer.

Run it with ``python examples/embed_graph.py``; it talks to the configured model (the
local one when nothing is configured) and shows that the second turn remembers the first.
"""

import asyncio

from langgraph.checkpoint.memory import InMemorySaver

from miolumi.graphs.context import TurnContext
from miolumi.graphs.lumi import builder


async def main() -> None:
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "demo"}}
    context = TurnContext(user_id="ada")
    for text in ["Hi, I'm Ada and I love astronomy.", "What do I love?"]:
        print(f"you> {text}")
        print("lumi> ", end="")
        async for event in graph.astream(
            {"user_input": text}, config, context=context, stream_mode="custom"
        ):
            if event["type"] == "token":
                print(event["text"], end="", flush=True)
        print()
    state = await graph.aget_state(config)
    print(f"({len(state.values['messages'])} messages in the thread)")


if __name__ == "__main__":
    asyncio.run(main())
