"""Crisis in long texts (posts, long venting), read sentence by sentence.

Read whole by one linear head, a post by someone who writes *about* suicide (to support
a friend, or about the hardships of a life) scores much like a post by someone at risk:
they share their words. A long text is therefore read as its sentences: each is scored
by the crisis head of chat messages, or by the crisis rules where one matches it and
scores higher, and the text's crisis score is the mean over them, moved by a
calibration shift (``long_crisis_shift`` in the weights' info, which
``benchmarks/train_guardrails.py`` sets so that a share of benign long posts reaches the
flag threshold). The mean rewards a text that keeps returning to its own wish to die
over one that mentions it once among other things. A text with a sentence a crisis
rule matches still scores at least :data:`RULE_FLOOR`, the default flag threshold: one
unmistakable sentence is enough to check in, and only a stricter threshold leaves such
a text to the mean. A long text whose crisis score read whole is under
:data:`READ_FROM` (a role-play prompt, a pasted article) keeps that score: reading it
sentence by sentence would cost milliseconds for nothing.

Measured on the C-SSRS Reddit posts, which no head learns from (at-risk users against
supportive and indicator users): the rules read whole lifted every post with "kill
myself" in it to 0.92, and supportive posts quote those words too. Read per sentence
and averaged instead, held out with the embedding (``benchmarks/guardrails_eval.py``),
recall at a false-positive rate of 0.10 goes from 0.32 to 0.43; at the flag threshold,
recall from 0.68 to 0.71 and false positives from 0.28 to 0.31.
"""

from __future__ import annotations

from miolumi.core.guardrails.classifier import GuardClassifier, logit, sigmoid
from miolumi.core.guardrails.content import segments
from miolumi.core.guardrails.normalize import Normalized, normalize, spread
from miolumi.core.guardrails.rules import Rule, crisis_rule, crisis_rules_in

#: Long texts scoring this much read whole are read sentence by sentence (on the dev
#: sets: 9 % of long chat prompts, 98 % of the C-SSRS posts of users not at risk and
#: all but one of the others).
READ_FROM = 0.1
#: At most this many sentences are read, evenly spread over the text.
LONG_SENTENCES = 48
#: Shorter segments ("ok.", "lol") are not sentences worth a score.
MIN_SENTENCE_CHARS = 8
#: A long text with a sentence the crisis rules match scores at least this (the default
#: crisis flag threshold of :mod:`miolumi.core.guardrails.policy`).
RULE_FLOOR = 0.7
#: Where the weights keep the calibration shift.
SHIFT_KEY = "long_crisis_shift"


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` that are read: at most :data:`LONG_SENTENCES`, spread."""
    return spread([s for s in segments(text) if len(s) >= MIN_SENTENCE_CHARS], LONG_SENTENCES)


def sentence_crisis(
    classifier: GuardClassifier, sentence: Normalized, rules: tuple[Rule, ...]
) -> tuple[float, bool]:
    """The crisis score of one sentence (head or rule, the stronger); whether a rule hit.

    ``rules``: the crisis rules to try (those found in the whole text).
    """
    rule = crisis_rule(sentence.full, rules) if rules else 0.0
    return max(classifier.scores(sentence).get("self_harm", 0.0), rule), rule > 0


def mean_crisis(classifier: GuardClassifier, text: str) -> tuple[float, bool]:
    """The mean crisis score of the sentences of ``text`` (0 without any); any rule hit."""
    read = [normalize(s) for s in sentences(text)]
    if not read:
        return 0.0, False
    rules = crisis_rules_in("\n".join(s.full for s in read))
    found = [sentence_crisis(classifier, s, rules) for s in read]
    return sum(score for score, _ in found) / len(found), any(hit for _, hit in found)


def post_crisis(classifier: GuardClassifier, text: str, whole: float = 1.0) -> float:
    """The calibrated crisis score of a long text (``whole``: its score read whole)."""
    if whole < READ_FROM:
        return whole
    mean, ruled = mean_crisis(classifier, text)
    shift = float(classifier.info.get(SHIFT_KEY, 0.0))  # type: ignore[arg-type]
    score = sigmoid(logit(mean) + shift)
    return max(score, RULE_FLOOR) if ruled else score
