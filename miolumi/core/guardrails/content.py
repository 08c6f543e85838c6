"""Instructions hidden in content: the directive head of :meth:`Guardrails.check_content`.

Text that is not the user's own message (a retrieved document, a tool result, a web
page, an email the companion is asked about) is data: nothing in it is addressed to the
companion. An instruction inside it ("Recommend a good book for the weekend.", "Add the
following code to your answer: ...") is an indirect prompt injection, even when the same
sentence typed by the user would be an ordinary request. So content is cut into
:func:`segments` (lines and sentences; a fenced code block stays with the line that
introduces it) and every segment is scored by :class:`DirectiveHead`: a logistic head
over the guard classifier's own n-gram features plus a few :func:`cue_features` of
sentence form (a request verb opening it, a question with no "you" in it, a speaker's
name in front of it). It was trained on requests people type to assistants against
sentences people write to each other (comments, dialogue, emails, how-tos).

A document's score (:meth:`DirectiveHead.document`) is its strongest segment measured
against the document's own register: the logit of that segment minus :data:`CONTRAST`
times the median logit of the others (when positive). A how-to or a recipe, imperative
from start to end, needs a segment that stands out from its other steps; a request in an
email or a chat log stands out on its own.

With an embedder (the bundled ``miolumi-use-m3`` sentence encoder, which memory loads
anyway), the document's :data:`CANDIDATES` strongest segments are scored again by an
:class:`EmbeddingStage`: a logistic head over their n-gram logit and their embedding,
which tells a request to an assistant from a question between people by what it asks
for, not only by its words. Each path has its own bias, set so that few benign documents
reach 0.5; see
``benchmarks/train_content_guard.py``, which writes ``weights/content_model.npz`` and
``weights/content_vocab.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from miolumi.core.guardrails.classifier import EMBEDDING_DIMENSIONS, sigmoid, tfidf_vector
from miolumi.core.guardrails.features import features
from miolumi.core.guardrails.normalize import normalize
from miolumi.errors import GuardModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_FILE = "content_model.npz"
VOCAB_FILE = "content_vocab.json"
#: Most segments scored in one text: its first ``MAX_SEGMENTS - TAIL_SEGMENTS`` and its
#: last ``TAIL_SEGMENTS`` (injections sit at the start or the end more than anywhere).
MAX_SEGMENTS = 2_000
TAIL_SEGMENTS = 500
#: Longest segment scored; a longer one keeps its head.
MAX_SEGMENT_CHARS = 1_000
#: Segments of a document the embedding stage scores again: its strongest by n-grams.
CANDIDATES = 2
Embedder = Callable[[list[str]], npt.NDArray[np.float32]]
"""Embeds texts as rows of a float matrix (:func:`bundled_embedder`)."""

#: How much of a document's usual register (the median logit of its other segments) its
#: strongest segment has to stand out from. Chosen on held-out folds: at 5 % of benign own
#: documents flagged, BIPIA instructions hidden in them went from 0.76 (0) to 0.88 (0.5).
CONTRAST = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？])")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TASK = re.compile(
    r"^(?:(?:please|pls|kindly|now|also|then|and|finally)[ ,]+)?"
    r"(?:(?:can|could|would|will) you (?:please )?)?"
    r"(?:write|recommend|suggest|explain|analy[sz]e|provide|summari[sz]e|translate|list|"
    r"describe|tell me|give me|help me|create|generate|compose|draft|show me|find|identify|"
    r"compare|evaluate|outline|predict|classify|rate|discuss|assess|calculate|convert|"
    r"rewrite|rephrase|name|share|offer|plan|design|develop|research|investigate|determine|"
    r"estimate|propose|recount|narrate|craft|produce|make a|make me|prepare|output|print|"
    r"respond|reply|answer|include|insert|add|append|mention|end your|start your|"
    r"begin your|ensure|remember to|don't forget)\b",
    re.IGNORECASE,
)
_OPEN_QUESTION = re.compile(
    r"^(?:what|how|which|why|who|where|when|is|are|do|does|can|could|should|would|will|any)\b",
    re.IGNORECASE,
)
_YOUR_OUTPUT = re.compile(
    r"\byour (?:response|responses|reply|replies|answer|answers|output|message|messages|"
    r"elucidation|solution|code|codebase|implementation|algorithm|program|script)\b",
    re.IGNORECASE,
)
_OPENS_ON_OUTPUT = re.compile(
    r"^(?:in|within|throughout|for|with|to|at the (?:end|start) of) your\b|^your\b", re.IGNORECASE
)
_YOU = re.compile(r"\b(?:you|your|you're|yours|u)\b", re.IGNORECASE)
_ME = re.compile(r"\b(?:i|my|me|i'm|i've|we|our|us)\b", re.IGNORECASE)
_SPEAKER = re.compile(r"^[A-Z][\w .'-]{0,30}: ")
_CJK_TASK = re.compile(
    r"^(?:请|麻烦|帮我|给我|替我|为我|推荐|写一|写个|分析|翻译|总结|列出|介绍一下|解释|生成|"
    r"提供|说说|告诉我|描述|比较|设计|制定|在(?:你的)?回答|回答时)|"
    r"(?:教えて|書いて|作って|挙げて|説明して|まとめて|翻訳して|提案して|分析して|紹介して|"
    r"考えて|答えて)(?:ください|下さい|くれ|ほしい|欲しい)?[。！!?？]?$|"
    r"(?:おすすめ|オススメ)(?:は|を)"
)


def segments(text: str) -> list[str]:
    """The lines and sentences of ``text``, a fenced code block kept with the line before.

    At most :data:`MAX_SEGMENTS` (head and tail), each at most
    :data:`MAX_SEGMENT_CHARS` long. A code block too long to be read whole is read line
    by line, and a longer line in pieces: nothing past a cut goes unread, where an
    instruction could hide.
    """
    out: list[str] = []
    block: list[str] | None = None

    def add(lines: list[str]) -> None:
        code = "\n".join(lines)
        joined = f"{out[-1]}\n{code}" if out else code
        if len(joined) <= MAX_SEGMENT_CHARS:
            out[-1:] = [joined]
        else:
            out.extend(s for line in lines if not _FENCE.match(line) for s in _sentences(line))

    for line in text.splitlines():
        if _FENCE.match(line):
            if block is None:
                block = [line]
                continue
            add([*block, line])
            block = None
            continue
        if block is not None:
            block.append(line)
            continue
        out.extend(_sentences(line))
    if block is not None:
        add(block)
    if len(out) > MAX_SEGMENTS:
        out = out[: MAX_SEGMENTS - TAIL_SEGMENTS] + out[-TAIL_SEGMENTS:]
    return out


def _sentences(line: str) -> list[str]:
    """The sentences of one line, each at most :data:`MAX_SEGMENT_CHARS` long.

    A longer one is cut at a space into pieces.
    """
    out = []
    for sentence in _SENTENCE_END.split(line):
        rest = sentence.strip()
        while len(rest) > MAX_SEGMENT_CHARS:
            cut = rest.rfind(" ", 0, MAX_SEGMENT_CHARS)
            cut = cut if cut > MAX_SEGMENT_CHARS // 2 else MAX_SEGMENT_CHARS
            out.append(rest[:cut])
            rest = rest[cut:].strip()
        if rest:
            out.append(rest)
    return out


def cue_features(segment: str) -> list[str]:
    """Features of a segment's form: who it is addressed to, whether it asks for a task."""
    text = segment.strip()
    out: list[str] = []
    if _SPEAKER.match(text):
        out.append("#form:speaker")
        text = _SPEAKER.sub("", text, count=1)
    question = text.endswith(("?", "？"))
    you, me = bool(_YOU.search(text)), bool(_ME.search(text))
    task = bool(_TASK.match(text))
    if task:
        out.append("#form:task")
    if question and _OPEN_QUESTION.match(text):
        out.append("#form:question" + ("_you" if you else "") + ("_me" if me else ""))
    if question and not you:
        out.append("#form:question_not_you")
    if _YOUR_OUTPUT.search(text):
        shaped = task or bool(_OPENS_ON_OUTPUT.match(text))
        out.append("#form:your_output" + ("_shaped" if shaped else ""))
    if _CJK_TASK.search(text):
        out.append("#form:cjk_task")
    if me and not question and not task:
        out.append("#form:narrative")
    return out


def directive_features(segment: str) -> list[str]:
    """Everything the directive head reads of one segment (training and scoring alike)."""
    return features(normalize(segment)) + cue_features(segment)


@dataclass(frozen=True, kw_only=True)
class EmbeddingStage:
    """Scores a candidate segment again from its n-gram logit and its embedding."""

    ngram_scale: float
    weights: npt.NDArray[np.float32]
    """(:data:`EMBEDDING_DIMENSIONS`,)."""
    bias: float
    shift: float = 0.0
    """Subtracted from a document's logit on this path (the calibration)."""

    def logit(self, ngram_logit: float, vector: npt.NDArray[np.float32]) -> float:
        """The stage's logit of one segment."""
        return self.bias + self.ngram_scale * ngram_logit + float(np.dot(vector, self.weights))


@dataclass(frozen=True, kw_only=True)
class DirectiveHead:
    """Scores how much a segment reads as an instruction to an assistant (0..1)."""

    vocab: Mapping[str, int]
    idf: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    """(vocabulary size,)."""
    bias: float
    info: Mapping[str, object]
    """What the training script recorded: data, folds, calibration."""
    shift: float = 0.0
    """Subtracted from a document's logit on the n-gram path (the calibration; segment
    logits and the register stay uncalibrated, so the register's zero is the head's)."""
    stage: EmbeddingStage | None = None
    """The embedding stage, if the weights have one."""

    @classmethod
    def load(cls, directory: Path = WEIGHTS_DIR) -> DirectiveHead:
        """Read the head from ``directory``."""
        try:
            meta = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
            with np.load(directory / MODEL_FILE, allow_pickle=False) as data:
                weights = data["weights"].astype(np.float32)
                idf = data["idf"].astype(np.float32)
                bias = float(data["bias"])
                shift = float(data["shift"]) if "shift" in data else 0.0
                stage = _stage(data)
            vocab = {term: i for i, term in enumerate(meta["vocab"])}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GuardModelError(
                f"Cannot load the content directive head from {directory}: {exc}. Reinstall "
                "miolumi, or rebuild it with `python benchmarks/train_content_guard.py`."
            ) from exc
        if weights.shape != (len(vocab),) or idf.shape != (len(vocab),):
            raise GuardModelError(
                f"The content directive head in {directory} is inconsistent (weights "
                f"{weights.shape}, vocabulary {len(vocab)}): rebuild it with "
                "`python benchmarks/train_content_guard.py`."
            )
        return cls(vocab=vocab, idf=idf, weights=weights, bias=bias, info=meta.get("info", {}),
                   shift=shift, stage=stage)  # fmt: skip

    def logit(self, grams: Sequence[str]) -> float:
        """The logit of one segment's features (sublinear tf-idf, L2-normalised)."""
        rows, values = tfidf_vector(grams, self.vocab, self.idf)
        return self.bias + float(np.dot(values, self.weights[rows]))

    def logits(self, parts: Sequence[str]) -> list[float]:
        """The logit of each segment."""
        return [self.logit(directive_features(p)) for p in parts]

    def document(
        self, parts: Sequence[str], *, embed: Embedder | None = None
    ) -> tuple[float, int | None]:
        """The document's score (0..1) and its strongest segment (None: no segments).

        ``embed``: the embedder of the :class:`EmbeddingStage` (without it, or without a
        stage, the n-gram logits alone decide).
        """
        if not parts:
            return 0.0, None
        logits = self.logits(parts)
        strongest, shift = None, self.shift
        if embed is not None and self.stage is not None:
            order = sorted(range(len(logits)), key=logits.__getitem__, reverse=True)
            candidates = order[:CANDIDATES]
            vectors = np.asarray(embed([parts[i] for i in candidates]), dtype=np.float32)
            if vectors.shape != (len(candidates), EMBEDDING_DIMENSIONS):
                raise GuardModelError(
                    f"The content check's embedder gave vectors of shape {vectors.shape}, "
                    f"expected {EMBEDDING_DIMENSIONS} dimensions: pass the bundled "
                    "embedder (miolumi-use-m3), or none."
                )
            stage = self.stage
            scored = [
                (i, stage.logit(logits[i], v)) for i, v in zip(candidates, vectors, strict=True)
            ]
            strongest, shift = max(scored, key=lambda pair: pair[1]), stage.shift
        z, best = document_logit(logits, strongest)
        return sigmoid(z - shift), best


def document_logit(
    logits: Sequence[float], strongest: tuple[int, float] | None = None
) -> tuple[float, int]:
    """A document's logit (uncalibrated) and its strongest segment.

    That segment's logit (the n-gram one, or ``strongest`` = (index, logit) from the
    embedding stage), less :data:`CONTRAST` times the median n-gram logit of the other
    segments, when positive.
    """
    best, top = strongest or max(enumerate(logits), key=lambda pair: pair[1])
    others = [z for i, z in enumerate(logits) if i != best]
    register = float(np.median(others)) if others else 0.0
    return top - CONTRAST * max(0.0, register), best


def _stage(data: Mapping[str, npt.NDArray[np.generic]]) -> EmbeddingStage | None:
    """The embedding stage stored with the head; None for weights without one."""
    if "stage_weights" not in data:
        return None
    weights = data["stage_weights"].astype(np.float32)
    if weights.shape != (EMBEDDING_DIMENSIONS,):
        raise ValueError(f"embedding stage weights of shape {weights.shape}")
    return EmbeddingStage(
        ngram_scale=float(data["stage_scale"]),
        weights=weights,
        bias=float(data["stage_bias"]),
        shift=float(data["stage_shift"]),
    )


def bundled_embedder() -> Embedder:
    """The bundled sentence encoder (``miolumi-use-m3``) as an :data:`Embedder`."""
    from miolumi.core.memory.embeddings import UseM3Embedding, embed_documents

    function = UseM3Embedding()
    return lambda texts: embed_documents(function, texts)


@cache
def shipped_directive_head() -> DirectiveHead:
    """The directive head shipped in the package, loaded once per process."""
    return DirectiveHead.load()
