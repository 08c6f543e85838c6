"""Checking a reply while it streams: hold back only the sentence still being written.

:class:`GuardedStream` feeds streamed text to the shared
:class:`~miolumi.core.voice.SentenceSplitter`; each sentence is checked as soon as it is
complete and released (with the white space around it, exactly as the model wrote it),
or replaced when it fails. The listener never sees a blocked sentence, and never waits
for more than the sentence in progress.

A sentence without punctuation is cut into pieces (``max_chars`` of the splitter). A
piece after a cut is checked with the end of the piece before it (:data:`CONTEXT_CHARS`),
so a phrase split by the cut ("as an AI" | "language model") is still read whole; that
end is held back until the next piece passes too, so no word of a blocked phrase is shown
("you should kill" | "yourself"). Once a piece is replaced, the rest of its sentence is
dropped, up to the sentence's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from miolumi.core.guardrails.guardrails import Guardrails, OutputContext
from miolumi.core.guardrails.verdict import GuardVerdict
from miolumi.core.voice import SentenceSplitter

#: How much of a piece cut mid-sentence is read again with the next piece: more than a
#: shingle of the leak check (7 words) or a pattern rule ("as an AI language model").
CONTEXT_CHARS = 80


@dataclass(frozen=True, kw_only=True)
class Piece:
    """Text ready to emit; ``verdict`` is set when it replaces a blocked sentence."""

    text: str
    verdict: GuardVerdict | None = None
    parts: tuple[str, ...] = ()
    """A passed sentence as the streamed chunks it came in (a chunk that straddles two
    sentences is cut at the boundary); they join to ``text``."""


@dataclass(kw_only=True)
class GuardedStream:
    """Sentence-by-sentence output checks over a token stream."""

    guardrails: Guardrails
    context: OutputContext
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    blocked: list[GuardVerdict] = field(default_factory=list)
    """Verdicts of every sentence replaced so far."""
    _raw: str = ""
    _chunks: list[str] = field(default_factory=list)
    _out: list[str] = field(default_factory=list)
    _context: str = ""
    """The end of the last piece when it was cut mid-sentence: read again with the next,
    and held back until that one passes too."""
    _dropping: bool = False
    """A piece of the sentence in progress was replaced: the rest of it is dropped."""

    @property
    def text(self) -> str:
        """Everything released so far."""
        return "".join(self._out)

    def push(self, text: str) -> list[Piece]:
        """Add streamed text; return the pieces now safe to emit."""
        self._raw += text
        self._chunks.append(text)
        pieces = (self._release(s.text, cut=s.cut) for s in self.splitter.push_split(text))
        return [p for p in pieces if p is not None]

    def flush(self) -> list[Piece]:
        """End of the reply: check and release the last sentence."""
        rest = self.splitter.flush()
        piece = self._release(rest, cut=False) if rest else None
        if piece is None and self._context:
            self._out.append(self._context)
            piece = Piece(text=self._context, parts=(self._context,))
        self._clear()
        return [piece] if piece is not None else []

    def reset(self) -> None:
        """Drop the sentence in progress (the reply was interrupted)."""
        self.splitter.reset()
        self._clear()

    def _clear(self) -> None:
        self._raw = ""
        self._chunks.clear()
        self._context = ""
        self._dropping = False

    def _take(self, sentence: str) -> list[str]:
        """The raw chunks of ``sentence`` and the space around it, removed from the buffer."""
        at = self._raw.find(sentence)
        if at < 0:  # the splitter reshaped it: fall back to the sentence itself
            lead = " " if self._out and not sentence[:1].isspace() else ""
            self._raw = ""
            self._chunks.clear()
            return [lead + sentence]
        end = at + len(sentence)
        rest = self._raw[end:]
        end += len(rest) - len(rest.lstrip())  # the space after it goes with it
        self._raw = self._raw[end:]
        parts: list[str] = []
        while end > 0 and self._chunks:
            chunk = self._chunks.pop(0)
            if len(chunk) > end:
                parts.append(chunk[:end])
                self._chunks.insert(0, chunk[end:])
                break
            parts.append(chunk)
            end -= len(chunk)
        return parts

    def _release(self, sentence: str, *, cut: bool) -> Piece | None:
        """Check a sentence (``cut``: a piece of one, more to come) and release it."""
        parts = self._take(sentence)
        raw = "".join(parts)
        if self._dropping:
            return self._drop(raw, cut=cut)
        held = self._context
        self._context = _context(raw) if cut else ""
        verdict = self.guardrails.check_output(held + sentence, context=self.context)
        if verdict.action != "block":
            parts = _without_tail([held, *parts], len(self._context))
            shown = "".join(parts)
            self._out.append(shown)
            return Piece(text=shown, parts=tuple(p for p in parts if p)) if shown else None
        self.blocked.append(verdict)
        self._dropping = cut
        self._context = ""  # what was replaced is no context for the next sentence
        replacement = verdict.replacement or ""
        lead = raw[: len(raw) - len(raw.lstrip())] if self._out else ""
        tail = "" if cut else raw[len(raw.rstrip()) :]  # a cut sentence's comes at its end
        text = f"{lead}{replacement}{tail}" if replacement else ""
        self._out.append(text)
        return Piece(text=text, verdict=verdict, parts=(text,) if text else ())

    def _drop(self, raw: str, *, cut: bool) -> Piece | None:
        """Drop a piece of a replaced sentence; its last piece leaves the space after it."""
        self._dropping = cut
        tail = "" if cut else raw[len(raw.rstrip()) :]
        if not tail:
            return None
        self._out.append(tail)
        return Piece(text=tail, parts=(tail,))


def _without_tail(parts: list[str], size: int) -> list[str]:
    """``parts`` without their last ``size`` characters."""
    out = list(parts)
    while size > 0 and out:
        last = out.pop()
        if len(last) > size:
            out.append(last[: len(last) - size])
            break
        size -= len(last)
    return out


def _context(piece: str) -> str:
    """The end of a piece cut mid-sentence, from a word's start when it has spaces."""
    if len(piece) <= CONTEXT_CHARS:
        return piece
    end = piece[-CONTEXT_CHARS:]
    space = end.find(" ")
    return end[space + 1 :] if 0 <= space < len(end) - 1 else end
