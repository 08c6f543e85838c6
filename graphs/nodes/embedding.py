"""The embedding of the user's message, computed once per turn and shared.

``guard_input`` and ``emotion`` read it (their local classifiers are sharper with it), and
``retrieve_memories`` searches with it: `MemoryManager.query_embedding` keeps the last
vectors it computed, so the message is embedded once, however many nodes ask. When
memory embeds with another model than the one the classifiers read (``openai:<model>``,
``e5-small``), the message is embedded for them with the bundled model, once too
(``Services.classifier_embeddings``), unless the ``classifier_embeddings`` setting is off.

A reader finds the vector cached (no thread hop) or gets it in a worker thread; a
reader that runs one anyway, as ``guard_input`` does to check, gets it in that same thread
(:func:`lazy_message_embedding`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from miolumi.core.memory.embeddings import QueryEmbeddings
from miolumi.core.memory.types import MAX_MEMORY_CHARS
from miolumi.errors import MiolumiError
from miolumi.services import Services

Vector = npt.NDArray[np.float32]
logger = logging.getLogger(__name__)


def _embed_or_none(embed: Callable[[str], Vector], text: str) -> Vector | None:
    try:
        return embed(text)
    except MiolumiError:
        return None  # retrieve_memories reports it, if it persists


def _classifier_vector_or_none(embeddings: QueryEmbeddings, text: str) -> Vector | None:
    try:
        return embeddings.embed(text)
    except MiolumiError as exc:
        logger.warning(
            "The guardrails and emotion classifiers read this message without its %s "
            "embedding (%s); fix the install, or set MIOLUMI_CLASSIFIER_EMBEDDINGS=false "
            "to stop trying.",
            embeddings.model,
            exc,
        )
        return None


def _embeddable(text: str) -> bool:
    """Whether memory would embed ``text`` as a query (not empty, not too long)."""
    return 0 < len(text.strip()) <= MAX_MEMORY_CHARS


def lazy_message_embedding(
    services: Services, text: str, *, model: str
) -> Vector | Callable[[], Vector | None] | None:
    """The embedding of ``text`` with ``model`` if cached, else a function that gets it.

    None if neither memory nor ``services.classifier_embeddings`` embeds with ``model``,
    and, for the latter, if memory would not embed the text either (empty, too long). The
    function returns None when the text cannot be embedded now, like
    :func:`message_embedding` (logged when the classifiers' own model fails); a caller
    hands it to the worker thread that reads the vector, so getting and reading it take
    one thread hop.
    """
    memory = services.memory
    extra = services.classifier_embeddings
    if memory.embedding_model == model:
        found = memory.cached_query_embedding(text)
        return found if found is not None else lambda: _embed_or_none(memory.query_embedding, text)
    if extra is not None and extra.model == model and _embeddable(text):
        found = extra.cached(text)
        return found if found is not None else lambda: _classifier_vector_or_none(extra, text)
    return None


async def message_embedding(services: Services, text: str, *, model: str) -> Vector | None:
    """The embedding of ``text`` with ``model`` (:func:`lazy_message_embedding`), or None.

    None too when the text cannot be embedded now, or memory does not search by such text
    (empty, or over 8,000 characters): the caller then reads the text alone, and
    ``retrieve_memories`` reports a failure to embed if it persists. A cached vector costs
    no thread hop.
    """
    found = lazy_message_embedding(services, text, model=model)
    if callable(found):
        return await asyncio.to_thread(found)
    return found
