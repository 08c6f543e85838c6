"""The shape every turn graph shares; products differ by their system prompt."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.finish import finish
from miolumi.graphs.nodes.generate import SystemPrompt, make_generate
from miolumi.graphs.nodes.receive import receive
from miolumi.graphs.state import TurnInput, TurnOutput, TurnState


def turn_builder(
    system_prompt: SystemPrompt,
) -> StateGraph[TurnState, TurnContext, TurnInput, TurnOutput]:
    """Wire ``receive -> generate -> finish`` for a product's system prompt."""
    builder = StateGraph(
        TurnState, context_schema=TurnContext, input_schema=TurnInput, output_schema=TurnOutput
    )
    builder.add_node("receive", receive)
    builder.add_node("generate", make_generate(system_prompt))
    builder.add_node("finish", finish)
    builder.add_edge(START, "receive")
    builder.add_edge("receive", "generate")
    builder.add_edge("generate", "finish")
    builder.add_edge("finish", END)
    return builder
