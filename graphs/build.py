"""The shape every turn graph shares; products differ by their system prompt."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

from langgraph.graph import END, START, StateGraph

from miolumi.graphs.context import TurnContext
from miolumi.graphs.nodes.budget import (
    BudgetMessage,
    after_budget,
    default_budget_message,
    make_budget,
)
from miolumi.graphs.nodes.documents import make_guard_documents
from miolumi.graphs.nodes.emotion import emotion
from miolumi.graphs.nodes.finish import finish
from miolumi.graphs.nodes.generate import (
    Node,
    PromptFacts,
    SystemPrompt,
    make_generate,
    no_facts,
)
from miolumi.graphs.nodes.guard import after_guard, make_guard_input
from miolumi.graphs.nodes.memory import retrieve_memories, write_memories
from miolumi.graphs.nodes.receive import receive
from miolumi.graphs.state import TurnInput, TurnOutput, TurnState


def after_input(state: TurnState) -> Literal["documents", "continue", "finish"]:
    """Where a turn goes after ``guard_input``.

    To ``guard_documents`` when the message came with documents (a turn without them
    does not pay for the node), else where :func:`after_guard` says.
    """
    route = after_guard(state)
    return "documents" if route == "continue" and state.documents else route


def turn_builder(
    system_prompt: SystemPrompt,
    *,
    before_generate: Sequence[tuple[str, Node]] = (),
    after_generate: Sequence[tuple[str, Node]] = (),
    budget_message: BudgetMessage = default_budget_message,
    after_turn: Sequence[tuple[str, Node]] = (),
    product: str | None = None,
    prompt_facts: PromptFacts = no_facts,
) -> StateGraph[TurnState, TurnContext, TurnInput, TurnOutput]:
    """Wire ``receive -> generate -> finish`` for a product's system prompt.

    A product adds its own nodes, in order, right before or right after ``generate``
    (Mio: plan the relationship stage before, store it after). The ``budget`` check runs
    right before ``generate`` and sends a stopped turn (with ``budget_message``) to ``finish``.
    ``emotion`` reads the user's message right after ``receive`` (emotion and orb events);
    ``after_turn`` nodes run once ``turn_end`` is out (Lumi: its seed and snapshots).
    ``retrieve_memories`` runs after ``emotion``, beside the ``before_generate`` nodes (the
    prompt gets the memories with their dates; those nodes must not read them);
    ``write_memories`` right after ``finish`` hands the exchange to the background
    writer, so the reply never waits for it.
    ``guard_input`` checks the message right after ``receive`` with ``product``'s policy;
    a blocked message is refused and goes straight to ``finish``, which keeps a placeholder
    in the thread in its place, never its text (see ``finish``). ``guard_documents``
    then checks the documents given with the message, if any (see its module).
    ``prompt_facts`` names what of the system prompt the replies may say (a persona's
    identity and story): the reply gate does not count it as leaking the prompt.
    """
    builder = StateGraph(
        TurnState, context_schema=TurnContext, input_schema=TurnInput, output_schema=TurnOutput
    )
    builder.add_node("receive", receive)
    builder.add_node("guard_input", make_guard_input(product))
    builder.add_node("guard_documents", make_guard_documents(product))
    builder.add_node("emotion", emotion)
    builder.add_node("budget", make_budget(system_prompt, budget_message))
    builder.add_node("generate", make_generate(system_prompt, prompt_facts))
    builder.add_node("finish", finish)
    builder.add_node("retrieve_memories", retrieve_memories)
    builder.add_node("write_memories", write_memories)
    builder.add_edge(START, "receive")
    for name, node in (*before_generate, *after_generate):
        builder.add_node(name, node)
    chain = ["receive", "guard_input", "emotion", *(n for n, _ in before_generate), "budget"]
    chain += ["generate", *(n for n, _ in after_generate), "finish"]
    for source, target in pairwise(chain):
        if source not in ("budget", "guard_input") and target != "budget":
            builder.add_edge(source, target)
    # Recall runs beside the product's nodes before the budget (one step, not two in a
    # row: its thread hop overlaps theirs); the budget waits for both.
    builder.add_edge("emotion", "retrieve_memories")
    beside = [n for n, _ in before_generate][-1:]
    builder.add_edge(["retrieve_memories", *beside], "budget")
    builder.add_conditional_edges(
        "guard_input",
        after_input,
        {"documents": "guard_documents", "continue": "emotion", "finish": "finish"},
    )
    builder.add_edge("guard_documents", "emotion")
    builder.add_conditional_edges("budget", after_budget, ["generate", "finish"])
    tail = ["finish", "write_memories", *(n for n, _ in after_turn), END]
    for name, node in after_turn:
        builder.add_node(name, node)
    for source, target in pairwise(tail):
        builder.add_edge(source, target)
    return builder
