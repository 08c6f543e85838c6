"""The small trained classifier shipped with the package: one logistic head per category.

Crisis has two heads: ``self_harm`` learned from chat messages and ``self_harm_long``
learned from long texts (Reddit posts, long venting), each calibrated on its own kind of
text, because a long post about a hard life reads very differently from a short message
that says the same. :meth:`GuardClassifier.scores` reports the one that fits the text's
length as ``self_harm``.

Weights are plain arrays (``weights/guard_model.npz``: float16 weights and idf) and the
vocabulary is JSON (``weights/guard_vocab.json``), both written by
``benchmarks/train_guardrails.py``; nothing is unpickled. Scoring a message is a
dictionary lookup per feature and one small matrix product.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from miolumi.core.guardrails.features import features
from miolumi.core.guardrails.normalize import Normalized
from miolumi.errors import GuardModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_FILE = "guard_model.npz"
VOCAB_FILE = "guard_vocab.json"
#: Normalised texts this long or longer are scored by the ``self_harm_long`` head.
LONG_TEXT = 400
LONG_HEAD = "self_harm_long"


def is_long(normalized: Normalized) -> bool:
    """Whether a text is scored by the long-text crisis head."""
    return len(normalized.text) >= LONG_TEXT


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
        except (OSError, ValueError, KeyError) as exc:
            raise GuardModelError(
                f"Cannot load the guard classifier from {directory}: {exc}. Reinstall "
                "miolumi, or rebuild it with `python benchmarks/train_guardrails.py`."
            ) from exc
        vocab = {term: i for i, term in enumerate(meta["vocab"])}
        heads = tuple(meta["heads"])
        if weights.shape != (len(vocab), len(heads)) or idf.shape != (len(vocab),):
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
        )

    def vector(
        self, normalized: Normalized
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The sparse, L2-normalised tf-idf vector of a text: (indices, values)."""
        counts: dict[int, int] = {}
        vocab = self.vocab
        for gram in features(normalized):
            index = vocab.get(gram)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(
            (1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts)
        )
        values: npt.NDArray[np.float32] = tf * self.idf[rows]
        norm = float(np.sqrt(np.dot(values, values)))
        return rows, (values / np.float32(norm) if norm else values)

    def scores(self, normalized: Normalized) -> dict[str, float]:
        """Probability per category for a normalised text (the crisis head by length)."""
        index, values = self.vector(normalized)
        logits = self.bias + (values @ self.weights[index] if len(index) else 0.0)
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
        found = {head: float(p) for head, p in zip(self.heads, probs, strict=True)}
        long_score = found.pop(LONG_HEAD, None)
        if long_score is not None and is_long(normalized):
            found["self_harm"] = long_score
        return found


@cache
def shipped_classifier() -> GuardClassifier:
    """The classifier shipped in the package, loaded once per process."""
    return GuardClassifier.load()
