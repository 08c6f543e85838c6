"""The small trained classifier shipped with the package: one logistic head per category.

The crisis head ``self_harm`` learns from chat messages (shorter than
:data:`LONG_TEXT`); a long text is read by it sentence by sentence
(:mod:`miolumi.core.guardrails.posts`), whose :class:`PostHead` (a few dozen weights,
learned from long posts) turns what the sentences say into the text's crisis score.

Given the message's memory embedding (:data:`EMBEDDING_MODEL`, which memory computes for
every message anyway), the intent heads (harmful requests, sensitive advice, sexual
content, short crisis messages) are scored by a second set of heads trained jointly on
the n-gram features and the embedding, with their own calibration: the embedding carries
what a request is for across wordings, the n-grams what it literally says. The first
three also read how much nearer the message is to a written harmful example than to
anything else (:mod:`miolumi.core.guardrails.neighbours`). Without an
embedding, or for the attack heads (whose held-out figures the embedding made
worse), the n-gram heads answer alone.

Weights are plain arrays (``weights/guard_model.npz``: float16 weights and idf, the
post head in float32) and the
vocabulary is JSON (``weights/guard_vocab.json``), both written by
``benchmarks/train_guardrails.py``; nothing is unpickled. Scoring a message is a
dictionary lookup per feature and one small matrix product (two with an embedding).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from miolumi.core.guardrails.features import features, is_marker
from miolumi.core.guardrails.neighbours import Neighbours
from miolumi.core.guardrails.normalize import Normalized
from miolumi.errors import GuardModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The memory embedding the joint heads read (``miolumi.core.memory.embeddings.UseM3Embedding``).
EMBEDDING_MODEL = "miolumi-use-m3"
EMBEDDING_DIMENSIONS = 512
MODEL_FILE = "guard_model.npz"
VOCAB_FILE = "guard_vocab.json"
#: Normalised texts this long or longer are read for crisis sentence by sentence.
LONG_TEXT = 400


def is_long(normalized: Normalized) -> bool:
    """Whether a text is long: read for crisis sentence by sentence."""
    return len(normalized.text) >= LONG_TEXT


Vector = npt.NDArray[np.float32]
#: Heads whose nearest examples are short messages. A long text is read for them
#: sentence by sentence (:mod:`miolumi.core.guardrails.posts`), and a long post is near
#: nothing they keep: their neighbour term applies to short texts only.
SHORT_NEIGHBOUR_HEADS = frozenset({"self_harm"})


@dataclass(frozen=True, kw_only=True)
class EmbeddingHeads:
    """Heads trained on n-gram features and the memory embedding together."""

    heads: tuple[str, ...]
    """The categories these heads score (a subset of the classifier's heads)."""
    weights: Vector
    """(vocabulary size, heads): the n-gram part."""
    embedding_weights: Vector
    """(:data:`EMBEDDING_DIMENSIONS`, heads): the embedding part."""
    bias: Vector
    neighbours: Neighbours | None = None
    """Nearest written examples, added to the logits of their categories."""

    def logits(
        self, index: npt.NDArray[np.int64], values: Vector, embedding: Vector, *, long: bool
    ) -> Vector:
        """Logits of a tf-idf vector (indices, values) and its text's embedding.

        ``long``: whether the text is long (:func:`is_long`).
        """
        out: Vector = (
            self.bias + embedding @ self.embedding_weights + self.near(embedding, long=long)
        )
        if len(index):
            out = out + values @ self.weights[index]
        return out

    def near(self, embedding: Vector, *, long: bool) -> Vector:
        """What the nearest written examples add to each head's logit.

        0 for the heads without, and for :data:`SHORT_NEIGHBOUR_HEADS` when the text is
        ``long``.
        """
        out = np.zeros(len(self.heads), dtype=np.float32)
        if self.neighbours is None:
            return out
        found = self.neighbours.logits(embedding)
        for i, head in enumerate(self.neighbours.heads):
            if not (long and head in SHORT_NEIGHBOUR_HEADS):
                out[self.heads.index(head)] = found[i]
        return out


@dataclass(frozen=True, kw_only=True)
class PostHead:
    """The crisis head of long texts.

    One logistic head over what :func:`miolumi.core.guardrails.posts.post_features`
    reads of a text, and a second over those and the text's memory embedding (the
    feature scaling folded into both).
    """

    weights: Vector
    """(features,)."""
    bias: float
    joint_weights: Vector
    """(features + :data:`EMBEDDING_DIMENSIONS`,): the features, then the embedding."""
    joint_bias: float

    def logit(self, features: Vector, embedding: npt.ArrayLike | None = None) -> float:
        """The crisis logit of a long text: with its embedding when given."""
        if features.shape != self.weights.shape:
            raise GuardModelError(
                f"The post head reads {len(self.weights)} features, this miolumi gives "
                f"{len(features)}: rebuild the weights with "
                "`python benchmarks/train_guardrails.py`, or reinstall miolumi."
            )
        if embedding is None:
            return float(features @ self.weights + self.bias)
        both = np.concatenate([features, as_embedding(embedding)])
        return float(both @ self.joint_weights + self.joint_bias)


def as_embedding(embedding: npt.ArrayLike) -> Vector:
    """A memory embedding as a float32 vector; raises if it has the wrong size."""
    vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if vector.shape != (EMBEDDING_DIMENSIONS,):
        raise GuardModelError(
            f"The guard classifier reads {EMBEDDING_MODEL} embeddings of "
            f"{EMBEDDING_DIMENSIONS} dimensions, got {vector.shape[0]}: pass the vector "
            "memory computed with that model, or no embedding."
        )
    return vector


@dataclass(frozen=True, kw_only=True)
class GuardClassifier:
    """Linear heads over tf-idf features; :meth:`scores` gives a probability per head."""

    heads: tuple[str, ...]
    vocab: Mapping[str, int]
    idf: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    """(vocabulary size, heads)."""
    bias: npt.NDArray[np.float32]
    info: Mapping[str, object]
    """What the training script recorded: data, folds, settings."""
    embedding: EmbeddingHeads | None = None
    """The joint n-gram and embedding heads, if the weights have them."""
    post: PostHead | None = None
    """The crisis head of long texts, if the weights have it."""

    @classmethod
    def load(cls, directory: Path = WEIGHTS_DIR) -> GuardClassifier:
        """Read the weights and vocabulary from ``directory``."""
        model_path, vocab_path = directory / MODEL_FILE, directory / VOCAB_FILE
        try:
            meta = json.loads(vocab_path.read_text(encoding="utf-8"))
            with np.load(model_path, allow_pickle=False) as data:
                weights = data["weights"].astype(np.float32)
                idf = data["idf"].astype(np.float32)
                bias = data["bias"].astype(np.float32)
                joint = _embedding_heads(meta.get("embedding"), data)
                post = _post_head(data)
        except (OSError, ValueError, KeyError) as exc:
            raise GuardModelError(
                f"Cannot load the guard classifier from {directory}: {exc}. Reinstall "
                "miolumi, or rebuild it with `python benchmarks/train_guardrails.py`."
            ) from exc
        vocab = {term: i for i, term in enumerate(meta["vocab"])}
        heads = tuple(meta["heads"])
        if (
            weights.shape != (len(vocab), len(heads))
            or idf.shape != (len(vocab),)
            or (joint is not None and joint.weights.shape != (len(vocab), len(joint.heads)))
        ):
            raise GuardModelError(
                f"The guard classifier in {directory} is inconsistent (weights "
                f"{weights.shape}, vocabulary {len(vocab)}, heads {len(heads)}): rebuild it "
                "with `python benchmarks/train_guardrails.py`."
            )
        return cls(
            heads=heads,
            vocab=vocab,
            idf=idf,
            weights=weights,
            bias=bias,
            info=meta.get("info", {}),
            embedding=joint,
            post=post,
        )

    def vector(
        self, normalized: Normalized
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The sparse, L2-normalised tf-idf vector of a text: (indices, values)."""
        return tfidf_vector(features(normalized), self.vocab, self.idf)

    def scores(
        self, normalized: Normalized, *, embedding: npt.ArrayLike | None = None
    ) -> dict[str, float]:
        """Probability per category for a normalised text.

        ``embedding``: the text's :data:`EMBEDDING_MODEL` vector, if the caller has it;
        the joint heads then score their categories.
        """
        index, values = self.vector(normalized)
        logits = self.bias + (values @ self.weights[index] if len(index) else 0.0)
        found = {head: float(z) for head, z in zip(self.heads, logits, strict=True)}
        if embedding is not None and self.embedding is not None:
            vector = as_embedding(embedding)
            joint = self.embedding.logits(index, values, vector, long=is_long(normalized))
            found.update(zip(self.embedding.heads, (float(z) for z in joint), strict=True))
        return {head: sigmoid(z) for head, z in found.items()}


def tfidf_vector(
    grams: Sequence[str], vocab: Mapping[str, int], idf: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The sparse, L2-normalised sublinear tf-idf vector of features: (indices, values).

    What every head of the guardrails reads (the training scripts build their rows with
    it). A text whose only known features are markers (a script the heads never saw:
    Cyrillic, Hangul, Arabic) has an empty vector: its length alone would otherwise be
    the whole vector, and every head would score it by that.
    """
    counts: dict[int, int] = {}
    read = False
    for gram in grams:
        index = vocab.get(gram)
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
            read = read or not is_marker(gram)
    if not read:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    rows = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(
        (1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts)
    )
    values: npt.NDArray[np.float32] = tf * idf[rows]
    norm = float(np.sqrt(np.dot(values, values)))
    return rows, (values / np.float32(norm) if norm else values)


def sigmoid(z: float) -> float:
    """The logistic function, clamped so that no logit overflows."""
    return 1.0 / (1.0 + math.exp(-min(30.0, max(-30.0, z))))


def logit(p: float) -> float:
    """The inverse of :func:`sigmoid`, for a probability clamped away from 0 and 1."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def agreed(first: float, second: float) -> float:
    """Two scores of one thing as one: the mean of their logits (both must be sure)."""
    return sigmoid((logit(first) + logit(second)) / 2)


def _embedding_heads(
    meta: Mapping[str, object] | None, data: Mapping[str, npt.NDArray[np.generic]]
) -> EmbeddingHeads | None:
    """The joint heads stored next to the n-gram heads; ``None`` for weights without them."""
    if meta is None:
        return None
    if meta.get("model") != EMBEDDING_MODEL or meta.get("dimensions") != EMBEDDING_DIMENSIONS:
        raise ValueError(f"joint heads read {meta.get('model')}, expected {EMBEDDING_MODEL}")
    heads = tuple(str(h) for h in meta["heads"])  # type: ignore[attr-defined]
    weights = data["joint_weights"].astype(np.float32)
    embedding_weights = data["embedding_weights"].astype(np.float32)
    bias = data["joint_bias"].astype(np.float32)
    if embedding_weights.shape != (EMBEDDING_DIMENSIONS, len(heads)) or bias.shape != (len(heads),):
        raise ValueError(f"joint heads of shapes {embedding_weights.shape}, {bias.shape}")
    return EmbeddingHeads(
        heads=heads,
        weights=weights,
        embedding_weights=embedding_weights,
        bias=bias,
        neighbours=_neighbours(meta.get("neighbours"), data),
    )


def _post_head(data: Mapping[str, npt.NDArray[np.generic]]) -> PostHead | None:
    """The crisis head of long texts, if stored."""
    if "post_weights" not in data:
        return None
    weights = data["post_weights"].astype(np.float32)
    joint = data["post_joint_weights"].astype(np.float32)
    bias = data["post_bias"].astype(np.float32)
    width = len(weights) + EMBEDDING_DIMENSIONS
    if weights.ndim != 1 or joint.shape != (width,) or bias.shape != (2,):
        raise ValueError(f"post head of shapes {weights.shape}, {joint.shape}, {bias.shape}")
    return PostHead(weights=weights, bias=float(bias[0]), joint_weights=joint,
                    joint_bias=float(bias[1]))  # fmt: skip


def _neighbours(meta: object, data: Mapping[str, npt.NDArray[np.generic]]) -> Neighbours | None:
    """The nearest-example part of the joint heads, if stored."""
    if not isinstance(meta, dict):
        return None
    heads = tuple(str(h) for h in meta["heads"])
    components = data["neighbour_components"].astype(np.float32)
    vectors = data["neighbour_vectors"].astype(np.float32)
    masks = data["neighbour_masks"].astype(np.uint8)
    mean = data["neighbour_mean"].astype(np.float32)
    if (
        components.shape[0] != EMBEDDING_DIMENSIONS
        or vectors.shape != (len(masks), components.shape[1])
        or mean.shape != (EMBEDDING_DIMENSIONS,)
    ):
        raise ValueError(f"neighbour arrays of shapes {components.shape}, {vectors.shape}")
    return Neighbours(heads=heads, mean=mean, components=components, vectors=vectors,
                      masks=masks, weight=float(meta["weight"]))  # fmt: skip


@cache
def shipped_classifier() -> GuardClassifier:
    """The classifier shipped in the package, loaded once per process."""
    return GuardClassifier.load()
