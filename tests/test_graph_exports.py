"""Each product exports ``builder`` and ``graph``; langgraph.json points at them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph, StateGraph

from miolumi.graphs.context import TurnContext
from tests.conftest import ServicesFactory

ROOT = Path(__file__).parents[1]


def load_by_path(spec: str) -> object:
    """Load ``./file.py:attr`` the way LangGraph's server does: by file path."""
    path, _, attr = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("lg_" + Path(path).stem, ROOT / path)
    assert module_spec and module_spec.loader
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, attr)


@pytest.mark.parametrize("product", ["mio", "lumi"])
def test_langgraph_json_points_at_compiled_graphs(product: str) -> None:
    config = json.loads((ROOT / "langgraph.json").read_text())
    graph = load_by_path(config["graphs"][product])
    assert isinstance(graph, CompiledStateGraph)
    assert graph.checkpointer is None  # LangGraph's server brings its own
    assert set(graph.get_graph().nodes) >= {"receive", "generate", "finish"}


@pytest.mark.parametrize("product", ["mio", "lumi"])
async def test_builder_compiles_with_an_app_checkpointer(
    product: str, make_services: ServicesFactory
) -> None:
    module = importlib.import_module(f"miolumi.graphs.{product}")
    assert isinstance(module.builder, StateGraph)
    graph = module.builder.compile(checkpointer=InMemorySaver())
    context = TurnContext(user_id="u1", services=make_services(["Hi there."]))
    config = {"configurable": {"thread_id": "x"}}
    result = await graph.ainvoke({"user_input": "hello"}, config, context=context)
    assert result == {"reply": "Hi there.", "turn": 1}
    state = await graph.aget_state(config)
    assert [m.text for m in state.values["messages"]] == ["hello", "Hi there."]
