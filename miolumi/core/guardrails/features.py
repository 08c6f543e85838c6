"""Features of the guard classifier: words, word pairs and CJK character n-grams.

The same function runs when the classifier is trained (``benchmarks/train_guardrails.py``)
and when it scores a message, so shipped weights and features cannot drift apart.
Latin-script text gives word unigrams and bigrams; runs of Chinese or Japanese
characters give character unigrams and bigrams; two marker features tell whether the
text was obfuscated and roughly how long it is (instruction-heavy jailbreaks are long).
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

from miolumi.core.guardrails.normalize import Normalized

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[{}<>\[\]#|]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
#: Most words of a text used (head and tail); the rest adds cost, not signal.
MAX_WORDS = 900


def features(normalized: Normalized) -> list[str]:
    """The feature strings of a normalised text (repeats count)."""
    text = normalized.full
    words = _WORD.findall(text)
    if len(words) > MAX_WORDS:
        words = words[: MAX_WORDS * 3 // 4] + words[-MAX_WORDS // 4 :]
    grams = list(words)
    grams.extend(f"{a} {b}" for a, b in pairwise(words))
    for run in _CJK.findall(text):
        grams.extend(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    grams.append(f"#len{min(12, int(math.log2(len(text) + 1)))}")
    if normalized.obfuscated:
        grams.append("#obfuscated")
    return grams
