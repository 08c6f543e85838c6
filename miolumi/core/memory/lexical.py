"""CJK-aware lexical matching: a tokenizer and a small BM25 index.

Latin-script words are lower-cased, stripped of English stop words and stemmed
(Snowball); runs of Chinese, Japanese or Korean characters, which carry no spaces,
become their characters plus overlapping character bigrams, so "我喜欢猫" matches
"猫" and "喜欢" without a word segmenter.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_CJK_RUN = re.compile(rf"[{_CJK}]+")

_STOP_TEXT = """a an the and or but if of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no
    nor not only own same so than too very s t can will just don should now i me my myself
    we our ours ourselves you your yours yourself yourselves he him his himself she her hers
    herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing
    would could ever kind"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65_536)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def tokenize(text: str) -> list[str]:
    """Split ``text`` into index terms (stemmed words, CJK characters and bigrams)."""
    terms: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        word = match.group()
        if _CJK_RUN.fullmatch(word):
            terms.extend(word)
            terms.extend(word[i : i + 2] for i in range(len(word) - 1))
        elif word not in STOP_WORDS:
            terms.append(_stem(word))
    return terms


@dataclass
class BM25Index:
    """Okapi BM25 over a growing list of documents, addressed by position."""

    k1: float = 1.2
    b: float = 0.75
    _lengths: list[int] = field(default_factory=list)
    _postings: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    _total: int = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, text: str) -> int:
        """Index one document; returns its position."""
        position = len(self._lengths)
        counts = Counter(tokenize(text))
        for term, count in counts.items():
            self._postings[term].append((position, count))
        length = sum(counts.values())
        self._lengths.append(length)
        self._total += length
        return position

    def extend(self, texts: Iterable[str]) -> None:
        """Index several documents in order."""
        for text in texts:
            self.add(text)

    def scores(self, query: str, *, skip: Sequence[bool] = ()) -> dict[int, float]:
        """BM25 score of every document sharing a term with ``query`` (position -> score).

        ``skip[i]`` true leaves out document ``i`` (deleted or replaced).
        """
        n = len(self._lengths)
        if not n:
            return {}
        average = self._total / n or 1.0
        result: dict[int, float] = defaultdict(float)
        for term in set(tokenize(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = math.log(1.0 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for position, count in postings:
                if skip and skip[position]:
                    continue
                norm = self.k1 * (1.0 - self.b + self.b * self._lengths[position] / average)
                result[position] += idf * count * (self.k1 + 1.0) / (count + norm)
        return dict(result)
