"""Crisis in long texts (posts, long venting), read sentence by sentence.

Read whole by one linear head, a post by someone who writes *about* suicide (to support
a friend, or about the hardships of a life) scores much like a post by someone at risk:
they share their words. A long text is therefore read as its sentences: each is scored
by the crisis head of chat messages, and the text's crisis score is the mean over them,
moved by a calibration shift (``long_crisis_shift`` in the weights' info, which
``benchmarks/train_guardrails.py`` sets so that a share of benign long posts reaches the
flag threshold). The mean rewards a text that keeps returning to its own wish to die
over one that mentions it once among other things; a single unmistakable sentence is
still caught by the rules. A long text whose crisis score read whole is under
:data:`READ_FROM` (a role-play prompt, a pasted article) keeps that score: reading it
sentence by sentence would cost milliseconds for nothing.

Measured on the C-SSRS Reddit posts, which no head learns from (at-risk users against
supportive and indicator users), the sentence mean alone ranks at AUC 0.79, recall 0.49
at a false-positive rate of 0.10, against AUC 0.74 and recall 0.24 for a long-text head
trained on the posts themselves (held out by 5-fold cross-validation). With the rules
over it, as ``check_input`` scores, ``benchmarks/guardrails_eval.py`` reports 0.32 held
out: a rule hit lifts a whole post, and supportive posts quote the words too.
"""

from __future__ import annotations

import math

from miolumi.core.guardrails.classifier import GuardClassifier, sigmoid
from miolumi.core.guardrails.content import segments
from miolumi.core.guardrails.normalize import normalize, spread

#: Long texts scoring this much read whole are read sentence by sentence (on the dev
#: sets: 9 % of long chat prompts, 98 % of the C-SSRS posts of users not at risk and
#: all but one of the others).
READ_FROM = 0.1
#: At most this many sentences are read, evenly spread over the text.
LONG_SENTENCES = 48
#: Shorter segments ("ok.", "lol") are not sentences worth a score.
MIN_SENTENCE_CHARS = 8
#: Where the weights keep the calibration shift.
SHIFT_KEY = "long_crisis_shift"


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` that are read: at most :data:`LONG_SENTENCES`, spread."""
    return spread([s for s in segments(text) if len(s) >= MIN_SENTENCE_CHARS], LONG_SENTENCES)


def mean_crisis(classifier: GuardClassifier, text: str) -> float:
    """The mean crisis probability of the sentences of ``text`` (0 without any)."""
    read = sentences(text)
    if not read:
        return 0.0
    return sum(classifier.scores(normalize(s)).get("self_harm", 0.0) for s in read) / len(read)


def post_crisis(classifier: GuardClassifier, text: str, whole: float = 1.0) -> float:
    """The calibrated crisis score of a long text (``whole``: its score read whole)."""
    if whole < READ_FROM:
        return whole
    mean = min(max(mean_crisis(classifier, text), 1e-6), 1 - 1e-6)
    shift = float(classifier.info.get(SHIFT_KEY, 0.0))  # type: ignore[arg-type]
    return sigmoid(math.log(mean / (1 - mean)) + shift)
