"""Test helpers for miolumi and its plugins: fake models and a fake OpenAI endpoint.

- :class:`FakeOpenAIServer`: a real HTTP server on 127.0.0.1 speaking enough of the OpenAI
  API (``/v1/chat/completions``, streaming or not, ``/v1/models``, ``/v1/embeddings``
  and speech) for the ``openai`` client and ``langchain_openai.ChatOpenAI``, with
  scripted replies.
- :func:`running`: an ASGI app (the miolumi server, say) under real uvicorn on 127.0.0.1.
- :func:`free_port`: a local port where nothing listens, for "unreachable" endpoints.
- :class:`ScriptedChatModel`, :class:`FailingChatModel`: LangChain chat models with
  scripted replies (and scripted failures), for graph tests and benchmarks.
- :class:`ScriptedPlugin`: a plugin serving one such model as the ``scripted`` provider.
"""

from miolumi.testing._words import split_words
from miolumi.testing.asgi import running
from miolumi.testing.models import FailingChatModel, ScriptedChatModel
from miolumi.testing.plugin import ScriptedPlugin
from miolumi.testing.server import (
    EMBEDDING_DIMENSIONS,
    TOKENS_PER_MESSAGE,
    FakeOpenAIServer,
    RecordedRequest,
    free_port,
)

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "TOKENS_PER_MESSAGE",
    "FailingChatModel",
    "FakeOpenAIServer",
    "RecordedRequest",
    "ScriptedChatModel",
    "ScriptedPlugin",
    "free_port",
    "running",
    "split_words",
]
