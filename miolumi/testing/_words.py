"""Splitting replies into streamable pieces."""

from __future__ import annotations

import re

_WORD = re.compile(r"\s*\S+\s*|\s+")


def split_words(text: str) -> list[str]:
    """Split `text` into word pieces that keep their spaces: `"".join(pieces) == text`."""
    return _WORD.findall(text)
