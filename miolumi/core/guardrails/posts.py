"""Crisis in long texts (posts, long venting), read sentence by sentence.

Read whole by one linear head, a post by someone who writes *about* suicide (to support
a friend, or about the hardships of a life) scores much like a post by someone at risk:
they share their words. A long text is therefore read as its sentences: each is scored
by the crisis head of chat messages, or by the crisis rules where one matches it and
scores higher. In English, :func:`post_features` sums them up (the mean, the strongest,
how many are sure) next to how much of the text the writer spends on themself and how
much on "you": someone at risk writes of "I"; someone supporting them writes to "you".
A small logistic head over these (:class:`~miolumi.core.guardrails.classifier.PostHead`, with
the text's use-m3 embedding when the caller has it) gives the text's crisis score,
calibrated so that a share of benign long posts reaches the flag threshold
(``benchmarks/train_guardrails.py``). A text with a sentence a crisis rule matches
still scores at least :data:`RULE_FLOOR`, the default flag threshold: one unmistakable
sentence is enough to check in, and only a stricter threshold leaves such a text to the
head. A long text whose crisis score read whole is under :data:`READ_FROM` (a role-play
prompt, a pasted article) keeps that score: reading it sentence by sentence would cost
milliseconds for nothing. Texts in other languages, and all texts when the weights have
no post head, are scored by the mean sentence score, moved by a calibration shift
(``long_crisis_shift`` in the weights' info, set the same way). That shift is learned
from English posts: read by it alone, sad but safe long posts in Chinese and Japanese
(grief, a breakup, a bad month at work) reached the crisis threshold, every one of the
own ones (``benchmarks/data/guardrails_long.tsv``). Given the embedding, the mean
reading and the whole text's joint score must agree, unless the latter reaches
:data:`JOINT_CANDIDATE`.

Measured on the C-SSRS Reddit posts (at-risk users against supportive and indicator
users; no chat head learns from them), held out with the embedding
(``benchmarks/guardrails_eval.py``): the rules read whole lifted every post with "kill
myself" in it to 0.92, and supportive posts quote those words too; the mean of the
sentences took recall at a false-positive rate of 0.10 from 0.32 to 0.44, and the post
head, learning from the posts of the other folds, to 0.53 (0.54 without the embedding).
At the flag threshold, recall is 0.63 with false positives at 0.25. The sentence head
those figures read is taught by chat messages, and they move with it: when it learned
indirect warning signs ("thanks for everything. goodbye.") with their look-alikes, the
posts' figure fell from 0.62 to 0.57 while companion chat messages at risk were found
more often (zh 0.60 to 0.83); nine repeated chat rows taken out of its training set
moved it from 0.57 to 0.53 (the 95 % interval over posts is about 0.13 wide). A sentence
head of the posts' own, learned from the posts of the other folds (each sentence
labelled by its writer's risk), does not replace it: read alone (its mean, strongest
and share of sure sentences) it reached 0.51, and next to these features it added
nothing (0.570 against 0.569, before those rows went); a head over the whole posts'
words reached 0.46.
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

from miolumi.core.emotion.language import detect_language
from miolumi.core.guardrails.classifier import GuardClassifier, agreed, logit, sigmoid
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
#: Given the embedding, a long text the post head does not read counts by its mean
#: reading once its whole-text joint score reaches this, and below it only where the two
#: agree. The mean reading tells little in zh and ja (sad but safe posts and posts at
#: risk alike at 0.77 to 0.96, on the 44 own long posts in those languages); the joint
#: score of posts at risk was 0.40 or more where no crisis rule matched. Bars from 0.25
#: to 0.4 gave the same verdicts on them.
JOINT_CANDIDATE = 0.3
#: Where the weights keep the calibration shift of the fallback (no post head).
SHIFT_KEY = "long_crisis_shift"
#: What :func:`post_features` reads of a long text, in order.
POST_FEATURES = (
    "mean sentence score",
    "mean of the three strongest",
    "strongest",
    "share of sentences at 0.5 or more",
    "share at the flag threshold or more",
    "a crisis rule matched",
    "log of the sentence count",
    "share of sentences in the first person",
    "share of sentences in the second person",
    "first-person share less second-person share",
)
#: The languages the post head reads: it learned from English posts, and the share of
#: sentences in the first person means little where the pronoun is usually dropped
#: (Japanese, often Chinese). Told by script (``detect_language``), so any Latin-script
#: text counts as English. Long texts in other languages are read by the mean.
POST_HEAD_LANGUAGES = frozenset({"en"})
#: The writer speaking of themself ("i.e." is not "I").
_FIRST_PERSON = re.compile(
    r"\b(?:i(?!\.\w)|i'm|im|i've|ive|i'd|i'll|me|my|myself|mine)\b", re.IGNORECASE
)
#: The writer speaking to someone ("U.S." is not "you").
_SECOND_PERSON = re.compile(
    r"\b(?:you|your|you're|youre|yourself|yours|u(?!\.\w))\b", re.IGNORECASE
)


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


def _sentence_scores(classifier: GuardClassifier, read: list[str]) -> tuple[list[float], bool]:
    """The crisis score of each sentence, and whether a crisis rule matched any."""
    normalized = [normalize(s) for s in read]
    rules = crisis_rules_in("\n".join(s.full for s in normalized))
    found = [sentence_crisis(classifier, s, rules) for s in normalized]
    return [score for score, _ in found], any(hit for _, hit in found)


def mean_crisis(classifier: GuardClassifier, text: str) -> tuple[float, bool]:
    """The mean crisis score of the sentences of ``text`` (0 without any); any rule hit."""
    scores, ruled = _sentence_scores(classifier, sentences(text))
    return (sum(scores) / len(scores) if scores else 0.0), ruled


def post_features(classifier: GuardClassifier, text: str) -> npt.NDArray[np.float32]:
    """What the post head reads of a long text (:data:`POST_FEATURES`)."""
    read = sentences(text)
    if not read:
        return np.zeros(len(POST_FEATURES), dtype=np.float32)
    scores, ruled = _sentence_scores(classifier, read)
    ranked = sorted(scores, reverse=True)
    first = sum(bool(_FIRST_PERSON.search(s)) for s in read) / len(read)
    second = sum(bool(_SECOND_PERSON.search(s)) for s in read) / len(read)
    return np.array(
        [
            sum(scores) / len(scores),
            sum(ranked[:3]) / len(ranked[:3]),
            ranked[0],
            sum(s >= 0.5 for s in scores) / len(scores),
            sum(s >= RULE_FLOOR for s in scores) / len(scores),
            float(ruled),
            math.log(len(scores)),
            first,
            second,
            first - second,
        ],
        dtype=np.float32,
    )


def post_crisis(
    classifier: GuardClassifier,
    text: str,
    whole: float = 1.0,
    *,
    embedding: npt.ArrayLike | None = None,
) -> float:
    """The calibrated crisis score of a long text.

    ``whole``: its score read whole (by the joint head when the caller has the
    embedding); ``embedding``: its memory embedding, if the caller has it (the post
    head's joint head then answers). The post head reads texts in
    :data:`POST_HEAD_LANGUAGES`; the others, and all texts when the weights have no post
    head, are read by the mean sentence score, and with the embedding, that and
    ``whole`` must agree while ``whole`` is under :data:`JOINT_CANDIDATE`.
    """
    if whole < READ_FROM:
        return whole
    if classifier.post is not None and detect_language(text) in POST_HEAD_LANGUAGES:
        found = post_features(classifier, text)
        score = sigmoid(classifier.post.logit(found, embedding))
        ruled = bool(found[POST_FEATURES.index("a crisis rule matched")])
    else:
        mean, ruled = mean_crisis(classifier, text)
        shift = float(classifier.info.get(SHIFT_KEY, 0.0))  # type: ignore[arg-type]
        score = sigmoid(logit(mean) + shift)
        if embedding is not None and whole < JOINT_CANDIDATE:
            score = agreed(score, whole)
    return max(score, RULE_FLOOR) if ruled else score
