"""The memory embedding of the user's message, computed once per turn and shared.

``guard_input`` and ``emotion`` read it (their local classifiers are sharper with it), and
``retrieve_memories`` searches with it: `MemoryManager.query_embedding` keeps the last
vectors it computed, so the message is embedded once, however many nodes ask.
"""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

from miolumi.errors import MiolumiError
from miolumi.services import Services


async def message_embedding(
    services: Services, text: str, *, model: str
) -> npt.NDArray[np.float32] | None:
    """The memory embedding of ``text`` if memory embeds with ``model``, else None.

    None too when memory cannot embed now, or does not search by such text (empty, or over
    8,000 characters): the caller then reads the text alone, and ``retrieve_memories``
    reports a failure to embed if it persists.
    """
    memory = services.memory
    if memory.embedding_model != model:
        return None
    try:
        return await asyncio.to_thread(memory.query_embedding, text)
    except MiolumiError:
        return None
