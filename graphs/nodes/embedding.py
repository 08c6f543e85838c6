"""The memory embedding of the user's message, computed once per turn and shared.

``guard_input`` and ``emotion`` read it (their local classifiers are sharper with it), and
``retrieve_memories`` searches with it: `MemoryManager.query_embedding` keeps the last
vectors it computed, so the message is embedded once, however many nodes ask.

``receive`` starts the embedding in a worker thread (:func:`start_message_embedding`) as
soon as the message is valid, so it runs while the graph moves on; a reader then finds it
cached (no thread hop at all) or joins the computation under way instead of starting
another one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from miolumi.core.memory import MemoryManager
from miolumi.errors import MiolumiError
from miolumi.services import Services

Vector = npt.NDArray[np.float32]


def _readers_want(services: Services) -> bool:
    """Whether a node of the turn reads the message's embedding (memory embeds alike)."""
    model = services.memory.embedding_model
    if services.guardrails.embedding_model == model:
        return True
    return services.settings.emotion_mode == "local" and services.emotion.embedding_model == model


def _embed_or_none(memory: MemoryManager, text: str) -> Vector | None:
    try:
        return memory.query_embedding(text)
    except MiolumiError:
        return None


def _warm(memory: MemoryManager, text: str) -> None:
    # Only warms the cache: a reader that needs the vector embeds again and meets the error.
    with contextlib.suppress(Exception):
        memory.query_embedding(text)


def start_message_embedding(services: Services, text: str) -> None:
    """Start embedding ``text`` in a worker thread, if a node of the turn will read it.

    Returns at once; nothing is started when no reader wants memory's embedding (another
    model, or a remote one that would cost a call) or when it is cached already.
    """
    memory = services.memory
    if not _readers_want(services) or memory.cached_query_embedding(text) is not None:
        return
    asyncio.get_running_loop().run_in_executor(None, _warm, memory, text)


def lazy_message_embedding(
    services: Services, text: str, *, model: str
) -> Vector | Callable[[], Vector | None] | None:
    """The embedding of ``text`` if cached, else a function that gets it in a worker thread.

    None if memory does not embed with ``model``. The function waits for a computation
    under way (see :func:`start_message_embedding`) and returns None when memory cannot
    embed now, like :func:`message_embedding`; a caller hands it to the thread that reads
    the vector, so getting and reading it take one thread hop.
    """
    memory = services.memory
    if memory.embedding_model != model:
        return None
    cached = memory.cached_query_embedding(text)
    if cached is not None:
        return cached
    return lambda: _embed_or_none(memory, text)


async def message_embedding(services: Services, text: str, *, model: str) -> Vector | None:
    """The memory embedding of ``text`` if memory embeds with ``model``, else None.

    None too when memory cannot embed now, or does not search by such text (empty, or over
    8,000 characters): the caller then reads the text alone, and ``retrieve_memories``
    reports a failure to embed if it persists. A cached vector costs no thread hop.
    """
    found = lazy_message_embedding(services, text, model=model)
    if callable(found):
        return await asyncio.to_thread(found)
    return found
