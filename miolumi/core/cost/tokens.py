"""Offline token counting, for calls whose provider reports no usage and for estimates.

``toktok-rs`` (import name ``toktok``) compiles the OpenAI vocabularies into its
extension module, so counting never downloads anything (``tiktoken`` fetches its tables
at run time and fails offline). Models of the GPT-4o family and later use ``o200k_base``;
every other model is counted with ``cl100k_base``, which for non-OpenAI models is an
approximation (the count is then marked as estimated in the ledger anyway).

Chat messages are counted the way OpenAI bills them: the text of each message, plus
:data:`TOKENS_PER_MESSAGE` for its role and separators, plus :data:`REPLY_PRIMING` for
the start of the reply.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import toktok

TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
_lock = threading.Lock()
_warm: set[str] = set()


def encoding_for(model: str) -> str:
    """The toktok encoding that counts ``model``'s tokens (or approximates them)."""
    name = model.lower().rsplit("/", 1)[-1]
    if name.startswith("gpt-oss"):
        return "o200k_harmony"
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def count_texts(texts: Sequence[str], model: str) -> int:
    """Tokens in ``texts`` together, as ``model`` counts them."""
    if not texts:
        return 0
    return int(sum(toktok.batch_count(list(texts), encoding_for(model), threads=1)))


def count_messages(texts: Sequence[str], model: str) -> int:
    """Prompt tokens of chat messages with these texts, as billed."""
    return count_texts(texts, model) + TOKENS_PER_MESSAGE * len(texts) + REPLY_PRIMING


def warm_up(model: str) -> None:
    """Load ``model``'s vocabulary now (a fraction of a second, once per process)."""
    encoding = encoding_for(model)
    with _lock:
        if encoding in _warm:
            return
        _warm.add(encoding)
    toktok.batch_count([""], encoding, threads=1)
