"""Text features of the local emotion classifier: word and character n-grams over a vocabulary.

The same functions featurize at training time (``benchmarks/train_emotion.py``) and at
run time, so the shipped weights and the features can never drift apart. A message
becomes a sparse vector over the head's vocabulary (the n-grams seen in at least two of
its training texts): word unigrams and bigrams, and character n-grams (1 to 4, which also
covers Chinese and Japanese, written without spaces), weighted by sublinear term
frequency times inverse document frequency and L2-normalised. N-grams outside the
vocabulary are dropped. A head may also read the counts of the cue lexicon's words per
label (:func:`cue_features`): a few dense columns that pool the rare words of a feeling.

Character n-grams are never built as strings at run time: a rolling 64-bit hash over the
code points yields every n-gram's key in a few numpy operations, and a binary search
over the vocabulary's sorted keys finds their columns. Words (a few per message) are
looked up in a dict. A message costs tens of microseconds, whatever its script.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise, repeat

import numpy as np
import numpy.typing as npt

from miolumi.core.emotion.affect import LABELS, Emotion
from miolumi.core.emotion.lexicon import cue_counts

#: Longest text featurized; longer text keeps its head and its tail (the mood is at the ends).
MAX_CHARS = 1_200
#: Lengths of the character n-grams.
CHAR_SIZES = (1, 2, 3, 4)
#: Marks a word n-gram in the vocabulary, so a word never meets the same characters.
WORD_MARK = "\x01"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{3,}")
_CONTROL = re.compile(r"[\x00-\x1f]")
# FNV-1a's 64-bit offset basis and prime; products wrap modulo 2**64.
_SEED = np.uint64(0xCBF29CE484222325)
_PRIME = np.uint64(0x100000001B3)

Keys = npt.NDArray[np.uint64]


def normalize(text: str) -> str:
    """NFKC, lower case, one space between words, runs of one character capped at three."""
    if len(text) > MAX_CHARS:
        half = MAX_CHARS // 2
        text = f"{text[:half]} {text[-half:]}"
    text = unicodedata.normalize("NFKC", text).lower()
    text = _REPEAT.sub(r"\1\1\1", _CONTROL.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def cue_features(
    text: str, language: str, scale: float, *, counts: Mapping[Emotion, int] | None = None
) -> npt.NDArray[np.float32]:
    """``scale * log(1 + count)`` of ``language``'s cue words per label in a normalised text.

    ``counts``: ``cue_counts(text, language)`` if the caller has counted them already.
    """
    if counts is None:
        counts = cue_counts(text, language)
    return np.array([scale * np.log1p(counts.get(label, 0)) for label in LABELS], dtype=np.float32)


def word_grams(text: str) -> list[str]:
    """Marked word unigrams and bigrams of a normalised text."""
    words = [WORD_MARK + w for w in _WORD.findall(text)]
    words.extend([f"{a} {b}" for a, b in pairwise(words)])
    return words


def _codes(text: str) -> npt.NDArray[np.uint64]:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def char_keys(text: str) -> Keys:
    """The hash key of every character n-gram of a normalised text padded with spaces."""
    codes = _codes(f" {text} ")
    size = len(codes)
    rolling = np.full(size, _SEED, dtype=np.uint64)
    parts = []
    for n in range(1, max(CHAR_SIZES) + 1):
        if n > size:
            break
        rolling = rolling[: size - n + 1] * _PRIME + codes[n - 1 :]
        if n in CHAR_SIZES:
            parts.append(rolling)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def char_grams(text: str) -> list[str]:
    """The character n-grams of a normalised text as strings (training builds its vocabulary)."""
    padded = f" {text} "
    return [padded[i : i + n] for n in CHAR_SIZES for i in range(len(padded) - n + 1)]


def ngrams(text: str) -> list[str]:
    """Every n-gram of a normalised text: marked words and word bigrams, then characters."""
    return word_grams(text) + char_grams(text)


def gram_keys(grams: Sequence[str]) -> Keys:
    """The hash keys of character n-grams (what :func:`char_keys` yields for each)."""
    out = np.zeros(len(grams), dtype=np.uint64)
    for n in CHAR_SIZES:
        rows = [i for i, gram in enumerate(grams) if len(gram) == n]
        if not rows:
            continue
        codes = _codes("".join(grams[i] for i in rows)).reshape(len(rows), n)
        key = np.full(len(rows), _SEED, dtype=np.uint64)
        for j in range(n):
            key = key * _PRIME + codes[:, j]
        out[rows] = key
    return out


@dataclass(frozen=True, kw_only=True)
class Featurizer:
    """Maps n-grams to vocabulary columns and weights them by tf-idf."""

    words: Mapping[str, int]
    """Marked word n-gram -> column."""
    keys: Keys
    """Sorted hash keys of the vocabulary's character n-grams."""
    key_columns: npt.NDArray[np.int64]
    """Column of each key in `keys`."""
    idf: npt.NDArray[np.float32]
    """Inverse document frequency per column."""

    @classmethod
    def build(cls, vocabulary: Iterable[str], idf: npt.NDArray[np.float32]) -> Featurizer:
        """A featurizer whose column ``i`` is the ``i``-th n-gram of ``vocabulary``."""
        words: dict[str, int] = {}
        chars: list[str] = []
        char_columns: list[int] = []
        for column, gram in enumerate(vocabulary):
            if gram.startswith(WORD_MARK):
                words[gram] = column
            else:
                chars.append(gram)
                char_columns.append(column)
        keys = gram_keys(chars)
        order = np.argsort(keys, kind="stable")
        if len(keys) and bool(np.any(keys[order][1:] == keys[order][:-1])):
            raise ValueError("two character n-grams share a hash key")
        return cls(
            words=words,
            keys=keys[order],
            key_columns=np.asarray(char_columns, dtype=np.int64)[order],
            idf=idf,
        )

    def columns(self, text: str) -> npt.NDArray[np.int64]:
        """The vocabulary column of every in-vocabulary n-gram of ``text`` (normalised)."""
        grams = word_grams(text)
        words = np.fromiter(map(self.words.get, grams, repeat(-1)), np.int64, len(grams))
        keys = char_keys(text)
        if len(self.keys):
            at = np.searchsorted(self.keys, keys)
            at[at == len(self.keys)] = 0
            chars = self.key_columns[at[self.keys[at] == keys]]
        else:
            chars = np.zeros(0, dtype=np.int64)
        return np.concatenate((words[words >= 0], chars))

    def vector(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The sparse tf-idf vector of a normalised text: (sorted columns, values)."""
        index, counts = np.unique(self.columns(text), return_counts=True)
        if not len(index):
            return index, np.zeros(0, dtype=np.float32)
        values = (1.0 + np.log(counts.astype(np.float32))) * self.idf[index]
        norm = float(np.sqrt(np.dot(values, values)))
        return index, (values / norm if norm else values).astype(np.float32)
