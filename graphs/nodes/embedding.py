"""The memory embedding of the user's message, computed once per turn and shared.

``guard_input`` and ``emotion`` read it (their local classifiers are sharper with it), and
``retrieve_memories`` searches with it: `MemoryManager.query_embedding` keeps the last
vectors it computed, so the message is embedded once, however many nodes ask.

A reader finds the vector cached (no thread hop) or gets it in a worker thread; a
reader that runs one anyway, as ``guard_input`` does to check, gets it in that same thread
(:func:`lazy_message_embedding`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from miolumi.core.memory import MemoryManager
from miolumi.errors import MiolumiError
from miolumi.services import Services

Vector = npt.NDArray[np.float32]


def _embed_or_none(memory: MemoryManager, text: str) -> Vector | None:
    try:
        return memory.query_embedding(text)
    except MiolumiError:
        return None


def lazy_message_embedding(
    services: Services, text: str, *, model: str
) -> Vector | Callable[[], Vector | None] | None:
    """The embedding of ``text`` if cached, else a function that gets it in a worker thread.

    None if memory does not embed with ``model``. The function returns None when memory
    cannot embed now, like :func:`message_embedding`; a caller hands it to the thread that
    reads the vector, so getting and reading it take one thread hop.
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
