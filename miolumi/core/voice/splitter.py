"""Split a stream of tokens into sentences, as early as each sentence is known to be complete.

Used to start speaking the first sentence while the rest of the reply is still being
generated, and to check a reply sentence by sentence. A sentence ends:

- at CJK terminators (``。！？``, and fullwidth ``．``) with any closing quotes, as soon
  as the next character shows that no further closing quote follows;
- at ``.``, ``!``, ``?`` (or ``…``) followed by white space and then something that
  starts a sentence (not a lower-case letter), unless the word before is a known
  abbreviation (``Mr.``, ``e.g.``) or a single initial;
- at a blank line;
- when no such boundary comes for ``max_chars`` characters, at the last comma, semicolon
  or space before that point, so a long run without punctuation still flows. Such a
  piece is not a whole sentence: :meth:`SentenceSplitter.push_split` marks it ``cut``
  (a check of the reply drops the rest of a sentence whose first piece it replaced).

Decimals and prices (``$29.95``) never split: a terminator must be followed by space.

So a sentence is only known to be complete once the text after it arrives.
:meth:`SentenceSplitter.tentative` names the sentence the pending text makes if what
comes next starts a new one, so that work on it (speech) can start a token early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e",
        "a.m", "p.m", "u.s", "u.k", "fig", "approx", "dept", "inc", "ltd", "co",
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "mt", "ave", "capt", "gen", "gov", "sgt", "lt", "col",
    }
)  # fmt: skip

_CJK_END = "。！？．"
_CLOSERS = "\"'”’)]}」』】》）〉"
_LATIN_END = ".!?…"
_SOFT_BREAKS = ",;:、，；：—"
# Not the end of a contraction: the "t" of "can't." is no initial.
_WORD_BEFORE = re.compile(r"(?<![\w'’])([A-Za-z][A-Za-z.]*)\.$")
#: Abbreviations only before a number: "No. 5", not "I said no. Then...".
_BEFORE_NUMBER = frozenset({"no"})


@dataclass(frozen=True, slots=True)
class Split:
    """A sentence out of :meth:`SentenceSplitter.push_split`, or a piece of one."""

    text: str
    """The sentence (or piece), stripped."""
    cut: bool = False
    """Cut at ``max_chars`` without punctuation: the sentence goes on in the next one."""


class SentenceSplitter:
    """Incremental sentence splitter: ``push`` tokens, get completed sentences back."""

    def __init__(self, *, max_chars: int = 200) -> None:
        if max_chars < 20:
            raise ValueError("max_chars must be at least 20")
        self.max_chars = max_chars
        self._buffer = ""

    @property
    def pending(self) -> str:
        """Text received but not yet returned as a sentence."""
        return self._buffer

    def push(self, text: str) -> list[str]:
        """Add streamed text; return the sentences it completed, in order, stripped."""
        return [split.text for split in self.push_split(text)]

    def push_split(self, text: str) -> list[Split]:
        """:meth:`push`, each sentence marked ``cut`` when it is a piece cut at ``max_chars``."""
        self._buffer += text
        sentences: list[Split] = []
        while (found := self._split_at(self._buffer)) is not None:
            end, cut = found
            sentence, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
            if sentence:
                sentences.append(Split(sentence, cut=cut))
        return sentences

    def flush(self) -> str | None:
        """End of stream: return what is left as a last sentence (None if nothing)."""
        rest, self._buffer = self._buffer.strip(), ""
        return rest or None

    def reset(self) -> None:
        """Drop everything pending (e.g. the user interrupted)."""
        self._buffer = ""

    def tentative(self) -> str | None:
        """The sentence ``push`` will return if the next text starts a new sentence.

        The pending text must end like a sentence (a terminator that is not an
        abbreviation, then perhaps closing quotes and space); None otherwise. What comes
        next can still prove it wrong ("3." then "14", "Well..." then "you know").
        """
        text = self._buffer
        if not text.strip():
            return None
        probe = "A" if text[-1].isspace() else " A"  # starts a sentence in every rule
        cut = self._boundary(text + probe)
        if cut is None or cut > len(text) or text[cut:].strip():
            return None
        return text[:cut].strip() or None

    # Boundaries ----------------------------------------------------------------------------

    def _boundary(self, text: str) -> int | None:
        """Index just past the first complete sentence in ``text``, or None."""
        found = self._split_at(text)
        return None if found is None else found[0]

    def _split_at(self, text: str) -> tuple[int, bool] | None:
        """Where the first sentence of ``text`` ends, and whether it is cut; or None."""
        for i, char in enumerate(text):
            if char in _CJK_END:
                end = _after_closers(text, i + 1)
                # Wait for one more character: a closing quote may still follow.
                return (end, False) if end < len(text) else None
            if char == "\n" and text[i + 1 : i + 2] == "\n" and text[:i].strip():
                return i + 2, False
            if char in _LATIN_END and self._latin_end(text, i):
                return _after_closers(text, i + 1), False
            if i >= self.max_chars:
                return _soft_break(text, self.max_chars), True
        return None

    def _latin_end(self, text: str, i: int) -> bool:
        end = _after_closers(text, i + 1)
        while end < len(text) and text[end] in _LATIN_END:  # "?!", "..."
            end = _after_closers(text, end + 1)
        if end >= len(text) or not text[end].isspace():
            return False  # "$29.95", "e.g." mid-stream, or not known yet
        if end != _after_closers(text, i + 1) and i != end - 1:
            # A run of terminators: decide on its last one only.
            last = end - 1
            while text[last] in _CLOSERS:
                last -= 1
            if last != i:
                return False
        following = text[end:].lstrip()
        if not following:
            return False  # wait for what comes next
        if following[0].islower():
            return False  # "Well... you know", "e.g. this"
        return not (text[i] == "." and _is_abbreviation(text[: i + 1], following))


def _after_closers(text: str, index: int) -> int:
    while index < len(text) and text[index] in _CLOSERS:
        index += 1
    return index


def _is_abbreviation(head: str, following: str) -> bool:
    """Whether the full stop ending ``head`` ends an abbreviation or an initial.

    ``following``: the text after it ("No. 5" is one; "no. Then" is not).
    """
    match = _WORD_BEFORE.search(head)
    if not match:
        return False
    word = match.group(1).lower()
    if word in _BEFORE_NUMBER:
        return following[:1].isdigit()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _soft_break(text: str, limit: int) -> int:
    window = text[:limit]
    for marks in (_SOFT_BREAKS, " "):
        cut = max(window.rfind(mark) for mark in marks)
        if cut > limit // 2:
            return cut + 1
    return limit
