"""Checking a reply while it streams: hold back only the sentence still being written.

:class:`GuardedStream` feeds streamed text to the shared
:class:`~miolumi.core.voice.SentenceSplitter`; each sentence is checked as soon as it is
complete and released (with the white space around it, exactly as the model wrote it),
or replaced when it fails. The listener never sees a blocked sentence, and never waits
for more than the sentence in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from miolumi.core.guardrails.guardrails import Guardrails, OutputContext
from miolumi.core.guardrails.verdict import GuardVerdict
from miolumi.core.voice import SentenceSplitter


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

    @property
    def text(self) -> str:
        """Everything released so far."""
        return "".join(self._out)

    def push(self, text: str) -> list[Piece]:
        """Add streamed text; return the pieces now safe to emit."""
        self._raw += text
        self._chunks.append(text)
        return [self._release(s) for s in self.splitter.push(text)]

    def flush(self) -> list[Piece]:
        """End of the reply: check and release the last sentence."""
        rest = self.splitter.flush()
        pieces = [self._release(rest)] if rest else []
        self._raw = ""
        self._chunks.clear()
        return pieces

    def reset(self) -> None:
        """Drop the sentence in progress (the reply was interrupted)."""
        self.splitter.reset()
        self._raw = ""
        self._chunks.clear()

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

    def _release(self, sentence: str) -> Piece:
        parts = self._take(sentence)
        raw = "".join(parts)
        verdict = self.guardrails.check_output(sentence, context=self.context)
        if verdict.action != "block":
            self._out.append(raw)
            return Piece(text=raw, parts=tuple(p for p in parts if p))
        self.blocked.append(verdict)
        replacement = verdict.replacement or ""
        lead = raw[: len(raw) - len(raw.lstrip())] if self._out else ""
        tail = raw[len(raw.rstrip()) :]
        text = f"{lead}{replacement}{tail}" if replacement else ""
        self._out.append(text)
        return Piece(text=text, verdict=verdict, parts=(text,) if text else ())
