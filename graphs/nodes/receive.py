"""``receive``: the first node; validates the user's message before anything is spent."""

from __future__ import annotations

import asyncio
import unicodedata
from typing import Any

from langgraph.runtime import Runtime

from miolumi.errors import EmptyMessageError, MessageTooLongError
from miolumi.graphs.context import TurnContext
from miolumi.graphs.state import TurnState
from miolumi.services import default_services

#: Characters that show nothing although they are neither white space nor format
#: characters (Unicode category ``Cf``: zero-width space and joiners, bidi marks, BOM):
#: the combining grapheme joiner, Hangul fillers, Khmer inherent vowels, the blank
#: Braille pattern and variation selectors.
_BLANKS = frozenset(
    chr(c)
    for c in (
        0x034F,
        0x115F,
        0x1160,
        0x17B4,
        0x17B5,
        0x2800,
        0x3164,
        0xFFA0,
        *range(0xFE00, 0xFE10),
        *range(0xE0100, 0xE01F0),
    )
)


def blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only white space and invisible characters.

    ``str.strip`` keeps zero-width characters, so "\u200b\u200b" would pass for a message.
    """
    return all(c.isspace() or c in _BLANKS or unicodedata.category(c) == "Cf" for c in text)


async def receive(state: TurnState, *, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Strip the message; reject an empty or oversized one with an error naming the fix.

    A message of invisible characters only (zero-width spaces, joiners, see :func:`blank`)
    is empty too.
    """
    if runtime.context.services is None:
        # Built once per process from the environment (plugins, personas on disk): do that
        # off the event loop, which a server shares with every other conversation.
        await asyncio.to_thread(default_services)
    limit = runtime.context.resources().settings.max_message_chars
    text = state.user_input.strip()
    if blank(text):
        raise EmptyMessageError()
    if len(text) > limit:
        raise MessageTooLongError(length=len(text), limit=limit)
    return {"user_input": text, "reply": "", "model": "", "usage": None}
