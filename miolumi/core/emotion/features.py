"""Text features of the local emotion classifier: hashed word and character n-grams.

The same function featurizes at training time (``benchmarks/train_emotion.py``) and at
run time, so the shipped weights and the features can never drift apart. A message
becomes a sparse vector of ``2**bits`` buckets: word unigrams and bigrams, and
character n-grams (1 to 4, which also covers Chinese and Japanese, written without
spaces), weighted by sublinear term frequency times inverse document frequency and
L2-normalised.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

#: Longest text featurized; longer text keeps its head and its tail (the mood is at the ends).
MAX_CHARS = 1_200

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{3,}")


def normalize(text: str) -> str:
    """NFKC, lower case, one space between words, runs of one character capped at three."""
    if len(text) > MAX_CHARS:
        half = MAX_CHARS // 2
        text = f"{text[:half]} {text[-half:]}"
    text = unicodedata.normalize("NFKC", text).lower()
    text = _REPEAT.sub(r"\1\1\1", text)
    return _SPACE.sub(" ", text).strip()


def ngrams(text: str) -> list[str]:
    """The n-grams of a normalised text, prefixed by kind (``w:`` word, ``c:`` character)."""
    words = _WORD.findall(text)
    grams = [f"w:{w}" for w in words]
    grams.extend(f"w:{a} {b}" for a, b in pairwise(words))
    padded = f" {text} "
    size = len(padded)
    for n in (1, 2, 3, 4):
        grams.extend(f"c:{padded[i : i + n]}" for i in range(size - n + 1))
    return grams


@dataclass(frozen=True, kw_only=True)
class Featurizer:
    """Hashes n-grams into ``2**bits`` buckets and weights them by tf-idf."""

    bits: int
    idf: npt.NDArray[np.float32] | None = None
    """Inverse document frequency per bucket; None weights every bucket 1."""

    def counts(self, text: str) -> dict[int, int]:
        """Bucket -> count of the n-grams of ``text`` (already normalised)."""
        mask = (1 << self.bits) - 1
        out: dict[int, int] = {}
        for gram in ngrams(text):
            bucket = zlib.crc32(gram.encode("utf-8")) & mask
            out[bucket] = out.get(bucket, 0) + 1
        return out

    def vector(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The sparse tf-idf vector of a normalised text: (bucket indices, values)."""
        counts = self.counts(text)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(
            (1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts)
        )
        values = tf * self.idf[index] if self.idf is not None else tf
        norm = float(np.sqrt(np.dot(values, values)))
        return index, (values / norm if norm else values).astype(np.float32)
