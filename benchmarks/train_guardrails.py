"""Train the guard classifier and write the weights shipped in the package.

1. Every example (see ``guardrails_data.py``) is normalised and featurized with the
   package's own code (:func:`miolumi.core.guardrails.normalize.normalize`,
   :func:`miolumi.core.guardrails.features.features`).
2. The vocabulary keeps features seen in at least ``--min-df`` training texts; weights
   are sublinear tf times smoothed idf, L2-normalised (as at run time).
3. One logistic-regression head per category (scikit-learn, balanced class weights).
   The crisis head learns from texts shorter than ``LONG_TEXT`` only: long ones are read
   sentence by sentence at run time (:mod:`miolumi.core.guardrails.posts`). The
   injection head does not learn from BIPIA's plain tasks (``PLAIN_TASKS``): typed by the
   user, "Recommend a good book for a relaxing weekend read" is a request, and learned
   as an injection, it made one of "rewatching a movie this weekend" (blocked, 0.91).
   Held out, NotInject false positives rose from 15 to 16 of 339 (the head's calibrated
   bias moves with its cleaner benign scores); the content check still learns them.
4. Each head's bias is then shifted so that, on 5-fold out-of-fold scores, at most its
   share (``BUDGET``) of ``--benign-fpr`` of the benign messages reach the head's flag
   threshold in the default policy. The pool is every benign text but the C-SSRS posts
   and the own scary-but-benign set: a flag only records a message, and for that set the
   figure that counts is how many are blocked (checked by ``guardrails_eval.py``). The
   shift goes either way: a head whose benign scores sit far below its threshold gets
   more recall. The long-text crisis reading gets its own shift (``long_crisis_shift``):
   ``--long-fpr`` of the long benign C-SSRS posts (Supportive and Indicator users, who
   write about suicide without being at risk themselves) reach the crisis threshold.
5. The post head (:class:`miolumi.core.guardrails.classifier.PostHead`): logistic
   regression over what :func:`miolumi.core.guardrails.posts.post_features` reads of the
   long C-SSRS posts (English) with the shifted crisis head (sentence scores; first- and
   second-person sentences), and over those with each post's embedding; each bias moved
   so that ``--long-fpr`` of the benign posts reach the crisis threshold on out-of-fold
   scores (``fit_post``).
6. Joint heads for the intent categories and short crisis messages
   (``EMBEDDING_HEADS``): logistic regression over
   the same tf-idf features side by side with the message's memory embedding
   (``miolumi-use-m3``, 512 dimensions, scaled by ``ALPHA``), calibrated like step 4 on
   their own out-of-fold scores (``EMBEDDING_BUDGET``). The harmful, advice, sexual and
   crisis joint heads also add the similarity to the nearest own written example of
   their category minus that to the nearest other example (own messages of every label
   and WildGuard benign prompts, ``NEIGHBOUR_*``), in a 64-dimension PCA of the
   embedding; the crisis head for short texts only, as it learns.
   At run time the joint heads answer when the caller passes ``embedding=``; without it
   the n-gram heads do. Also tried, on held-out folds: separately trained embedding
   scores added to the n-gram ones, a small MLP over the embedding, other scales, and
   joint heads for the attack categories; each gained less harmful-request recall per
   benign false positive, and the attack heads lost recall with the embedding (their
   long prompts are poorly summarised by it).
7. Writes ``miolumi/core/guardrails/weights/guard_model.npz`` (float16 weights, idf,
   bias; the joint heads and neighbours; the post head, in float32) and
   ``guard_vocab.json`` (vocabulary, heads, what was trained on).

Needs scikit-learn (a development dependency):
``python benchmarks/train_guardrails.py --data ../shared/data``. Takes about four
minutes on two shared cores (embedding every text takes more than a minute of it).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from guardrails_data import HEADS, PLAIN_TASKS, Example, everything, fold_of
from sklearn.linear_model import LogisticRegression

from miolumi.core.guardrails.classifier import (
    EMBEDDING_DIMENSIONS,
    EMBEDDING_MODEL,
    MODEL_FILE,
    VOCAB_FILE,
    WEIGHTS_DIR,
    EmbeddingHeads,
    GuardClassifier,
    PostHead,
    is_long,
    tfidf_vector,
)
from miolumi.core.guardrails.features import features
from miolumi.core.guardrails.neighbours import fit_neighbours
from miolumi.core.guardrails.normalize import normalize
from miolumi.core.guardrails.policy import DEFAULT_THRESHOLDS
from miolumi.core.guardrails.posts import SHIFT_KEY, mean_crisis, post_features
from miolumi.core.memory.embeddings import UseM3Embedding, embed_documents

FOLDS = 5
C = 16.0
#: Each head's share of the benign false-positive budget (times ``--benign-fpr``): the
#: harmful-request head needs the most room (a flag there only records the message),
#: the long-text attack heads the least (long role-play prompts are mostly benign); a
#: crisis flag refuses nothing (the reply gains care and resources), and its target is
#: a false-positive rate of at most 0.10, so the crisis head gets more room too. The
#: harmful share was 1.5 until the own set gained some 270 sad but safe messages: easy
#: negatives widen the pool, so the same share let one more WildGuard prompt through
#: on held-out folds (0.031); 1.35 keeps it at 0.029.
BUDGET = {
    "prompt_injection": 0.5,
    "jailbreak": 0.3,
    "harmful_request": 1.35,
    "sensitive_advice": 0.3,
    "sexual": 0.3,
    "self_harm": 3.0,
}
#: Categories with a joint n-gram and embedding head. The crisis head (short messages)
#: too: the embedding tells indirect warning signs ("I told my sister she can have my
#: guitar") from sadness that is safe, now that the own set holds about ninety sad but
#: safe look-alikes per language to learn that from (with fewer, the joint crisis head
#: flagged "I feel a bit lost lately"). Not the attack heads: a joint jailbreak and
#: injection head lost held-out recall (0.903 against 0.922 for jailbreaks) and raised
#: NotInject false positives; long prompts are poorly summarised by the embedding.
EMBEDDING_HEADS = ("harmful_request", "sensitive_advice", "sexual", "self_harm")
#: Scale of the embedding next to the (unit-length) tf-idf vector in the joint heads.
ALPHA = 1.0
#: Categories whose joint heads also read the nearest labelled examples
#: (:mod:`miolumi.core.guardrails.neighbours`), and how: the PCA size and the weight of
#: the similarity difference in the logit (both chosen on held-out folds: 64 dimensions
#: lose nothing against 512; weights 5 to 10 are alike). The crisis head's neighbours
#: are short messages and count for short texts only
#: (:data:`~miolumi.core.guardrails.classifier.SHORT_NEIGHBOUR_HEADS`): a paraphrase of a
#: written warning sign ("I gave my guitar away, I won't need it") lies next to it,
#: where the linear head alone missed many. Held out: own crisis recall en 0.896 ->
#: 0.938, zh 0.946 -> 0.967 at lower false-positive rates; read for long posts too, the
#: C-SSRS recall at FPR 0.10 fell (0.608 -> 0.584: a post's whole-text score, which
#: decides whether its sentences are read, fell under the cut for many).
NEIGHBOUR_HEADS = ("harmful_request", "sensitive_advice", "sexual", "self_harm")
NEIGHBOUR_DIMENSIONS = 64
NEIGHBOUR_WEIGHT = 7.5
#: The examples kept as neighbours: the own written messages (every label) and the
#: WildGuard benign prompts. Only written examples stand for a harmful category, so no
#: shared harmful item is stored; with the shared ones added, held-out recall was lower.
NEIGHBOUR_SOURCES = ("own:", "wildguard")
#: Examples only the joint crisis head and the attack heads (``EVERYDAY_HEADS``) learn
#: from: own everyday conversation (thanks, plans, hobbies, small worries, goodbyes),
#: which they flagged in ordinary chats. The request heads neither learn from them nor
#: keep them as neighbours: as rows of every head they lowered fresh harmful detection
#: (en 0.823 -> 0.797), their first persons' plans ("I want to...") pulling requests
#: towards benign. Nor does the n-gram crisis head: their common words learned as safe, a
#: text of unknown words ("I love astronomy") was left to the calibrated bias, and scored
#: 0.73.
EVERYDAY_SOURCES = ("own:everyday",)
#: The heads of attacks on the companion learn from the everyday lines too. Read only
#: from the other rows, a friendly message of 130 to 250 characters looked like one: the
#: length marker and "and", "very", "do you" weighed towards a jailbreak, and "thank you
#: for your advice. I'll follow your guidance." was an injection. Measured on everyday
#: chats (MemoryBank, never trained on), messages raised: en 0.019 -> 0.011 (jailbreak
#: flags 6 -> 3 of 566, injection 2 -> 0), zh 0.012 -> 0.009, LoCoMo 0.013 -> 0.010;
#: held out, one to two jailbreak prompts fewer were found (0.943 -> 0.938), the
#: other figures alike.
EVERYDAY_HEADS = ("jailbreak", "prompt_injection")
#: Examples the crisis heads do not learn from: the own companion lines (flirting, figures
#: of speech with death words, sleep, break-ups). As rows of the crisis heads, they cost
#: held-out crisis recall on independently written chat messages ("this is goodbye. thank
#: you for everything", また手首切っちゃった fell below the flag threshold) for fewer false
#: alarms; they teach the sexual and request heads what flirting, romance as a taste (a
#: love story, a wedding) and chores look like.
NOT_CRISIS_SOURCES = ("own:companion",)
#: The joint heads' budget: they separate harmful requests from benign look-alikes
#: better, so the harmful head keeps its recall with a smaller share; the joint crisis
#: head keeps held-out recall near 0.9 or above in en, zh and ja with two thirds of the
#: n-gram head's share (three: false positives on sad messages rose, recall barely).
EMBEDDING_BUDGET = {**BUDGET, "harmful_request": 1.0, "self_harm": 2.0}
#: The post head's inverse regularisation on standardised features, without and with
#: the embedding: chosen by 10-fold cross-validation on the long C-SSRS posts (recall at
#: a false-positive rate of 0.10, median of five shuffles: the mean sentence score
#: alone 0.42; the features 0.52 at 0.03, 0.49 at 1; with the embedding 0.60 at 0.003,
#: 0.57 at 0.01, 0.53 at 0.03). Sentence scores of first-person sentences only, and
#: pronoun rates per word rather than per sentence, added nothing.
POST_C = 0.03
POST_JOINT_C = 0.003


@dataclass(frozen=True, kw_only=True)
class Trained:
    """A fitted classifier's arrays, before they are written."""

    vocab: list[str]
    idf: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    joint: EmbeddingHeads | None = None
    """The joint heads (``EMBEDDING_HEADS``), the embedding scale folded into them."""
    post: PostHead | None = None
    """The crisis head of long texts (:func:`fit_post`), fitted on the shifted heads."""

    def classifier(self, info: dict[str, object] | None = None) -> GuardClassifier:
        """The run-time classifier of these arrays."""
        return GuardClassifier(
            heads=HEADS,
            vocab={t: i for i, t in enumerate(self.vocab)},
            idf=self.idf,
            weights=self.weights,
            bias=self.bias,
            info=info or {},
            embedding=self.joint,
            post=self.post,
        )

    def shifted(
        self, shift: npt.NDArray[np.float32], joint_shift: npt.NDArray[np.float32]
    ) -> Trained:
        """The same model with every head's bias moved down by its shift."""
        joint = self.joint
        if joint is not None:
            joint = replace(joint, bias=joint.bias - joint_shift)
        return replace(self, bias=self.bias - shift, joint=joint)


def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """The memory embedding of each text (what ``MemoryManager`` computes for a message)."""
    if UseM3Embedding.name() != EMBEDDING_MODEL:
        raise SystemExit(f"{EMBEDDING_MODEL} is not the bundled embedding model")
    function = UseM3Embedding()
    chunks = [
        embed_documents(function, list(texts[i : i + 128])) for i in range(0, len(texts), 128)
    ]
    out = np.concatenate(chunks).astype(np.float32)
    if out.shape[1] != EMBEDDING_DIMENSIONS:
        raise SystemExit(f"{EMBEDDING_MODEL} gave {out.shape[1]} dimensions")
    return out


def grams_of(texts: Sequence[str]) -> list[list[str]]:
    """The features of each text, as the package computes them."""
    return [features(normalize(t)) for t in texts]


def neighbour_mask(examples: Sequence[Example]) -> npt.NDArray[np.bool_]:
    """Which examples may be kept as neighbours (``NEIGHBOUR_SOURCES``, not the
    ``EVERYDAY_SOURCES``)."""
    sources = np.array([e.source.startswith(NEIGHBOUR_SOURCES) for e in examples], dtype=bool)
    return sources & ~everyday_mask(examples)


def everyday_mask(examples: Sequence[Example]) -> npt.NDArray[np.bool_]:
    """Which examples only the crisis and attack heads learn from (``EVERYDAY_SOURCES``)."""
    return np.array([e.source in EVERYDAY_SOURCES for e in examples], dtype=bool)


def not_crisis_mask(examples: Sequence[Example]) -> npt.NDArray[np.bool_]:
    """Which examples the crisis heads do not learn from (``NOT_CRISIS_SOURCES``)."""
    return np.array([e.source in NOT_CRISIS_SOURCES for e in examples], dtype=bool)


def plain_task_mask(examples: Sequence[Example]) -> npt.NDArray[np.bool_]:
    """Which examples are BIPIA plain tasks (``PLAIN_TASKS``): the injection head does not
    learn from them."""
    return np.array([e.source == "bipia" and e.detail in PLAIN_TASKS for e in examples])


class SourceMasks(TypedDict):
    """The masks :func:`fit` takes, by the examples' sources."""

    neighbours: npt.NDArray[np.bool_]
    everyday: npt.NDArray[np.bool_]
    not_crisis: npt.NDArray[np.bool_]
    plain_tasks: npt.NDArray[np.bool_]


def source_masks(examples: Sequence[Example]) -> SourceMasks:
    """Every mask :func:`fit` reads from the examples' sources, for ``fit(**...)``."""
    return SourceMasks(neighbours=neighbour_mask(examples),
                       everyday=everyday_mask(examples),
                       not_crisis=not_crisis_mask(examples),
                       plain_tasks=plain_task_mask(examples))  # fmt: skip


def long_mask(texts: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Which texts are long (the crisis head does not learn from them)."""
    return np.array([is_long(normalize(t)) for t in texts], dtype=bool)


def head_rows(
    head: str,
    long: npt.NDArray[np.bool_],
    everyday: npt.NDArray[np.bool_] | None = None,
    *,
    joint: bool = False,
    not_crisis: npt.NDArray[np.bool_] | None = None,
    plain_tasks: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_]:
    """The rows a head learns from: the joint crisis head short texts, the n-gram crisis
    head short texts but the ``everyday`` ones, the ``EVERYDAY_HEADS`` all, the rest
    all but those; no crisis head the ``not_crisis`` ones, nor the injection head the
    ``plain_tasks``."""
    everyone = everyday is None or head in EVERYDAY_HEADS
    others = np.ones_like(long) if everyone else ~everyday
    if head == "self_harm":
        rows = ~long if joint else ~long & others
        return rows if not_crisis is None else rows & ~not_crisis
    if head == "prompt_injection" and plain_tasks is not None:
        return others & ~plain_tasks
    return others


def flag_logit(head: str) -> float:
    """The logit of the default policy's flag threshold of a head's category."""
    flag_at = DEFAULT_THRESHOLDS[head].flag_at  # type: ignore[index]
    p = 0.5 if flag_at is None else flag_at
    return math.log(p / (1.0 - p))


def vocabulary(
    grams: Sequence[Sequence[str]], *, min_df: int
) -> tuple[dict[str, int], npt.NDArray[np.float32]]:
    """The features seen in at least ``min_df`` texts (sorted, to their index), and their
    smoothed idf."""
    df = Counter(g for doc in grams for g in set(doc))
    vocab = {g: i for i, g in enumerate(sorted(g for g, n in df.items() if n >= min_df))}
    n = len(grams)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in vocab], dtype=np.float32)
    return vocab, idf


def matrix(
    grams: Sequence[Sequence[str]],
    vocab: dict[str, int],
    idf: npt.NDArray[np.float32],
    dtype: type[np.floating[Any]] = np.float32,
) -> sp.csr_matrix:
    """L2-normalised tf-idf rows over ``vocab`` (stored as ``dtype``), each the package's
    :func:`~miolumi.core.guardrails.classifier.tfidf_vector`, so that training reads a
    text exactly as scoring does."""
    rows: list[int] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float32]] = []
    for r, doc in enumerate(grams):
        index, values = tfidf_vector(doc, vocab, idf)
        rows.extend([r] * len(index))
        cols.append(index)
        vals.append(values)
    if not rows:
        return sp.csr_matrix((len(grams), len(vocab)), dtype=dtype)
    return sp.csr_matrix(
        (np.concatenate(vals), (rows, np.concatenate(cols))),
        shape=(len(grams), len(vocab)),
        dtype=dtype,
    )


def fit(
    grams: Sequence[Sequence[str]],
    labels: Sequence[frozenset[str]],
    long: npt.NDArray[np.bool_],
    *,
    min_df: int,
    embeddings: npt.NDArray[np.float32] | None = None,
    neighbours: npt.NDArray[np.bool_] | None = None,
    everyday: npt.NDArray[np.bool_] | None = None,
    not_crisis: npt.NDArray[np.bool_] | None = None,
    plain_tasks: npt.NDArray[np.bool_] | None = None,
) -> Trained:
    """Vocabulary, idf and one logistic head per category (and the joint heads, given
    the texts' embeddings; ``neighbours``: which texts they may keep as neighbours;
    ``everyday``: which texts only the crisis and ``EVERYDAY_HEADS`` learn from;
    ``not_crisis``: which ones the crisis heads do not)."""
    vocab, idf = vocabulary(grams, min_df=min_df)
    vocab_list = list(vocab)
    x = matrix(grams, vocab, idf)
    weights = np.zeros((len(vocab), len(HEADS)), dtype=np.float32)
    bias = np.zeros(len(HEADS), dtype=np.float32)
    for k, head in enumerate(HEADS):
        rows = np.flatnonzero(head_rows(head, long, everyday, not_crisis=not_crisis,
                                        plain_tasks=plain_tasks))  # fmt: skip
        y = np.array([head in labels[i] for i in rows], dtype=np.int8)
        if y.sum() == 0 or y.sum() == len(y):
            bias[k] = -10.0
            continue
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
        model.fit(x[rows], y)
        weights[:, k] = model.coef_[0]
        bias[k] = model.intercept_[0]
    joint = (None if embeddings is None
             else fit_joint(x, embeddings, labels, long, everyday, not_crisis))  # fmt: skip
    if joint is not None and embeddings is not None and neighbours is not None:
        kept = np.flatnonzero(neighbours)
        near = fit_neighbours(embeddings[kept], [labels[i] for i in kept], basis=embeddings,
                              heads=NEIGHBOUR_HEADS, dimensions=NEIGHBOUR_DIMENSIONS,
                              weight=NEIGHBOUR_WEIGHT)  # fmt: skip
        joint = replace(joint, neighbours=near)
    return Trained(vocab=vocab_list, idf=idf, weights=weights, bias=bias, joint=joint)


def fit_joint(
    x: sp.csr_matrix,
    embeddings: npt.NDArray[np.float32],
    labels: Sequence[frozenset[str]],
    long: npt.NDArray[np.bool_],
    everyday: npt.NDArray[np.bool_] | None = None,
    not_crisis: npt.NDArray[np.bool_] | None = None,
) -> EmbeddingHeads:
    """One logistic head per ``EMBEDDING_HEADS`` category over tf-idf and embedding."""
    both = sp.hstack([x, sp.csr_matrix(ALPHA * embeddings)]).tocsr()
    vocab = x.shape[1]
    weights = np.zeros((vocab, len(EMBEDDING_HEADS)), dtype=np.float32)
    embedding_weights = np.zeros((EMBEDDING_DIMENSIONS, len(EMBEDDING_HEADS)), dtype=np.float32)
    bias = np.zeros(len(EMBEDDING_HEADS), dtype=np.float32)
    for k, head in enumerate(EMBEDDING_HEADS):
        rows = np.flatnonzero(head_rows(head, long, everyday, joint=True,
                                        not_crisis=not_crisis))  # fmt: skip
        y = np.array([head in labels[i] for i in rows], dtype=np.int8)
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
        model.fit(both[rows], y)
        weights[:, k] = model.coef_[0][:vocab]
        embedding_weights[:, k] = ALPHA * model.coef_[0][vocab:]
        bias[k] = model.intercept_[0]
    return EmbeddingHeads(heads=EMBEDDING_HEADS, weights=weights,
                          embedding_weights=embedding_weights, bias=bias)  # fmt: skip


def logits(
    trained: Trained,
    grams: Sequence[Sequence[str]],
    embeddings: npt.NDArray[np.float32] | None = None,
    long: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float32]:
    """Raw head logits of featurized texts: the n-gram heads, or with ``embeddings`` the
    joint heads (one column per ``EMBEDDING_HEADS`` category); ``long``: which texts are
    long (as at run time, :meth:`EmbeddingHeads.near`)."""
    vocab = {g: i for i, g in enumerate(trained.vocab)}
    x = matrix(grams, vocab, trained.idf)
    if embeddings is None or trained.joint is None:
        out: npt.NDArray[np.float32] = np.asarray(x @ trained.weights) + trained.bias
        return out
    joint = trained.joint
    mixed: npt.NDArray[np.float32] = (
        np.asarray(x @ joint.weights) + embeddings @ joint.embedding_weights + joint.bias
    )
    if joint.neighbours is not None:
        flags = np.zeros(len(embeddings), dtype=bool) if long is None else long
        mixed += np.stack(
            [joint.near(e, long=bool(f)) for e, f in zip(embeddings, flags, strict=True)]
        )
    return mixed


def out_of_fold(
    examples: Sequence[Example],
    grams: Sequence[Sequence[str]],
    long: npt.NDArray[np.bool_],
    *,
    min_df: int,
    embeddings: npt.NDArray[np.float32],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Logits of every example from the model trained without its fold: n-gram heads,
    and joint heads (the n-gram ones, with each joint head in its category's column)."""
    result = np.zeros((len(examples), len(HEADS)), dtype=np.float32)
    joint = np.zeros((len(examples), len(EMBEDDING_HEADS)), dtype=np.float32)
    folds = np.array([fold_of(e.text, FOLDS) for e in examples])
    for f in range(FOLDS):
        train = np.flatnonzero(folds != f)
        test = np.flatnonzero(folds == f)
        model = fit(
            [grams[i] for i in train],
            [examples[i].labels for i in train],
            long[train],
            min_df=min_df,
            embeddings=embeddings[train],
            **source_masks([examples[i] for i in train]),
        )
        result[test] = logits(model, [grams[i] for i in test])
        joint[test] = logits(model, [grams[i] for i in test], embeddings[test], long[test])
    with_embedding = result.copy()
    for k, head in enumerate(EMBEDDING_HEADS):
        with_embedding[:, HEADS.index(head)] = joint[:, k]
    return result, with_embedding


def bias_shift(
    examples: Sequence[Example],
    oof: npt.NDArray[np.float32],
    long: npt.NDArray[np.bool_],
    *,
    benign_fpr: float,
    budget: dict[str, float] = BUDGET,
) -> npt.NDArray[np.float32]:
    """Per head: how far to move the bias so that a ``benign_fpr`` share of benign chat
    texts reach the head's flag threshold.

    Not counted: the own everyday lines, which are easy; in the pool, they would loosen
    every head by as many prompts as their number allows. Nor the own companion lines,
    which are few and aimed at two heads: they teach those heads, not the calibration.
    """
    excluded = ("cssrs", "own:benign_scary", *EVERYDAY_SOURCES, *NOT_CRISIS_SOURCES)
    chat = np.array([e.benign and e.source not in excluded for e in examples])
    shift = np.zeros(len(HEADS), dtype=np.float32)
    for k, head in enumerate(HEADS):
        pool, share = chat & head_rows(head, long), benign_fpr * budget.get(head, 1.0)
        shift[k] = _cutoff(oof[pool, k], share) + 1e-3 - flag_logit(head)
    return shift


def _cutoff(logits: npt.NDArray[np.float32], share: float) -> float:
    """The logit that only a ``share`` of ``logits`` lie above."""
    scores = np.sort(logits)
    allowed = math.floor(share * len(scores))
    return float(scores[len(scores) - 1 - allowed] if allowed < len(scores) else scores[-1])


def long_crisis_shift(
    examples: Sequence[Example],
    long: npt.NDArray[np.bool_],
    classifier: GuardClassifier,
    *,
    long_fpr: float,
) -> float:
    """How far to move the mean sentence crisis logit of a long text so that
    ``long_fpr`` of the long benign C-SSRS posts reach the crisis flag threshold."""
    posts = [e.text for e, is_long_text in zip(examples, long, strict=True)
             if is_long_text and e.benign and e.source == "cssrs"]  # fmt: skip
    means = np.clip([mean_crisis(classifier, t)[0] for t in posts], 1e-6, 1 - 1e-6)
    logits = np.log(means / (1 - means)).astype(np.float32)
    return flag_logit("self_harm") - (_cutoff(logits, long_fpr) + 1e-3)


def fit_post(
    classifier: GuardClassifier,
    texts: Sequence[str],
    at_risk: Sequence[bool],
    embeddings: npt.NDArray[np.float32] | None,
    *,
    long_fpr: float,
) -> PostHead:
    """The post head over the long ``texts`` (``at_risk``: whether each writer is), read
    by ``classifier``; calibrated so that ``long_fpr`` of the benign ones reach the crisis
    flag threshold on out-of-fold scores. Without ``embeddings`` the joint head is the
    plain one (the embedding weighs nothing)."""
    found = np.stack([post_features(classifier, t) for t in texts])
    labels = np.array(at_risk)
    weights, bias = _post_logistic(found, labels, POST_C, long_fpr)
    if embeddings is None:
        joint = np.concatenate([weights, np.zeros(EMBEDDING_DIMENSIONS, dtype=np.float32)])
        joint_bias = bias
    else:
        joint, joint_bias = _post_logistic(
            np.hstack([found, embeddings]), labels, POST_JOINT_C, long_fpr
        )
    return PostHead(weights=weights, bias=bias, joint_weights=joint, joint_bias=joint_bias)


def _post_logistic(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.bool_], c: float, long_fpr: float
) -> tuple[npt.NDArray[np.float32], float]:
    """Weights and bias of a logistic head on standardised ``x``, the scaling folded in,
    the bias moved as :func:`fit_post` says."""
    mean, spread = x.mean(axis=0), x.std(axis=0)
    spread[spread == 0] = 1.0

    def fitted(rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float32], float]:
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit((x[rows] - mean) / spread, y[rows])
        weights = (model.coef_[0] / spread).astype(np.float32)
        return weights, float(model.intercept_[0] - weights @ mean)

    oof = np.zeros(len(y), dtype=np.float32)
    for f in range(FOLDS):
        test = np.arange(len(y)) % FOLDS == f
        weights, bias = fitted(np.flatnonzero(~test))
        oof[test] = x[test] @ weights + bias
    weights, bias = fitted(np.arange(len(y)))
    return weights, bias + flag_logit("self_harm") - (_cutoff(oof[~y], long_fpr) + 1e-3)


def train(
    data: Path, *, min_df: int, benign_fpr: float, long_fpr: float
) -> tuple[Trained, dict[str, object]]:
    """The shipped model and a description of how it was made."""
    examples = everything(data)
    grams = grams_of([e.text for e in examples])
    long = long_mask([e.text for e in examples])
    embeddings = embed([e.text for e in examples])
    oof, oof_joint = out_of_fold(examples, grams, long, min_df=min_df, embeddings=embeddings)
    shift = bias_shift(examples, oof, long, benign_fpr=benign_fpr)
    shift_joint = bias_shift(examples, oof_joint, long, benign_fpr=benign_fpr,
                             budget=EMBEDDING_BUDGET)  # fmt: skip
    joint_shift = np.array([shift_joint[HEADS.index(h)] for h in EMBEDDING_HEADS])
    model = fit(grams, [e.labels for e in examples], long, min_df=min_df, embeddings=embeddings,
                **source_masks(examples))  # fmt: skip
    model = model.shifted(shift, joint_shift)
    posts_shift = long_crisis_shift(examples, long, model.classifier(), long_fpr=long_fpr)
    posts = [i for i, e in enumerate(examples) if e.source == "cssrs" and long[i]]
    model = replace(model, post=fit_post(
        model.classifier(), [examples[i].text for i in posts],
        [not examples[i].benign for i in posts], embeddings[posts], long_fpr=long_fpr,
    ))  # fmt: skip
    info: dict[str, object] = {
        "examples": len(examples),
        "sources": dict(Counter(e.source.split(":")[0] for e in examples)),
        "min_df": min_df,
        "C": C,
        "folds": FOLDS,
        "benign_fpr": benign_fpr,
        "long_fpr": long_fpr,
        "bias_shift": {h: round(float(s), 4) for h, s in zip(HEADS, shift, strict=True)},
        SHIFT_KEY: round(posts_shift, 4),
        "post_head": {"posts": len(posts), "C": POST_C, "joint_C": POST_JOINT_C},
        "embedding": {"model": EMBEDDING_MODEL, "alpha": ALPHA,
                      "neighbours": {"sources": list(NEIGHBOUR_SOURCES),
                                     "dimensions": NEIGHBOUR_DIMENSIONS,
                                     "weight": NEIGHBOUR_WEIGHT},
                      "bias_shift": {h: round(float(s), 4)
                                     for h, s in zip(EMBEDDING_HEADS, joint_shift, strict=True)}},
    }  # fmt: skip
    return model, info


def write(model: Trained, info: dict[str, object], directory: Path = WEIGHTS_DIR) -> None:
    """Write the weights (npz, float16 but for the post head) and the vocabulary (JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "weights": model.weights.astype(np.float16),
        "idf": model.idf.astype(np.float16),
        "bias": model.bias.astype(np.float32),
    }
    meta: dict[str, object] = {"heads": list(HEADS), "vocab": model.vocab, "info": info}
    if model.joint is not None:
        arrays["joint_weights"] = model.joint.weights.astype(np.float16)
        arrays["embedding_weights"] = model.joint.embedding_weights.astype(np.float16)
        arrays["joint_bias"] = model.joint.bias.astype(np.float32)
        joint: dict[str, object] = {"model": EMBEDDING_MODEL, "heads": list(model.joint.heads),
                                    "dimensions": EMBEDDING_DIMENSIONS}  # fmt: skip
        near = model.joint.neighbours
        if near is not None:
            arrays["neighbour_mean"] = near.mean.astype(np.float32)
            arrays["neighbour_components"] = near.components.astype(np.float32)
            arrays["neighbour_vectors"] = near.vectors.astype(np.float16)
            arrays["neighbour_masks"] = near.masks
            joint["neighbours"] = {"heads": list(near.heads), "weight": near.weight}
        meta["embedding"] = joint
    if model.post is not None:
        arrays["post_weights"] = model.post.weights
        arrays["post_joint_weights"] = model.post.joint_weights
        arrays["post_bias"] = np.array([model.post.bias, model.post.joint_bias], np.float32)
    np.savez_compressed(directory / MODEL_FILE, **arrays)  # type: ignore[arg-type]
    (directory / VOCAB_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("--benign-fpr", type=float, default=0.01)
    parser.add_argument("--long-fpr", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()
    if not (args.data / "jailbreak").is_dir():
        parser.error(f"no shared data under {args.data}: pass --data PATH/TO/shared/data")
    start = time.perf_counter()
    model, info = train(
        args.data, min_df=args.min_df, benign_fpr=args.benign_fpr, long_fpr=args.long_fpr
    )
    write(model, info, args.out)
    size = sum(p.stat().st_size for p in args.out.glob("guard_*"))
    print(f"{len(model.vocab)} features, {len(HEADS)} heads, {size / 1e6:.2f} MB "
          f"in {time.perf_counter() - start:.0f} s -> {args.out}")  # fmt: skip
    print("bias shifts:", info["bias_shift"])


if __name__ == "__main__":
    main()
