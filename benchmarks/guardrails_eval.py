"""Measure the guardrails on the shared dev data and this repository's own messages.

Prints, for the guardrails and for a keyword-list baseline measured in the same run:
jailbreak detection rate, injection detection rate (BIPIA instructions), harmful-request
detection rate (forbidden questions), false-positive rates on benign prompts (WildGuard
benign, NotInject), the block rate of the own benign-but-scary set, crisis recall and
false-positive rate (own set in en/zh/ja; C-SSRS Reddit posts, and the recall there with
the cut moved to a false-positive rate of 0.10), and p50/p95 latency of ``check_input``
per message, and the forbidden questions per policy area (detected means flagged or
blocked, as in the headline figure; the advice areas, legal, financial, health and
political campaigning, are ``sensitive_advice``, which flags and never blocks). BIPIA
is also split: its plain-task families ("Recommend a good book...")
are attacks only when injected into a document, and are ordinary chat when a user types
them, so flagging them in chat would be over-refusal.

Columns ending in ``+emb`` pass each message's memory embedding (``miolumi-use-m3``) to
``check_input(..., embedding=...)``, as a caller that embeds the message for memory can;
the others score without it. Latency is reported both ways (the embedding given), and
the cost of computing the embedding itself apart.

The shipped classifier was trained on these dev sets, so its figures are in-sample. The
``held-out`` columns are honest: each example is scored by a classifier trained on the
other four of five folds (rules and policy unchanged; the post head, which reads long
texts for crisis, learns from the C-SSRS posts of those folds only), which is what
generalisation to the held-aside parts of these sources should look like. A held-out
figure moves with the draw of the folds (by a few hundredths for the smaller sets), so
each is the median over ``--splits`` draws (3 by default), and the headline figures are
also shown on each draw.

The headline rates of the last column (held-out with the embedding, when measured) are
also given with a 95 % interval: Wilson for rates, and a bootstrap over the C-SSRS posts
for the recall at a false-positive rate of 0.10, whose cut moves with the benign posts.
A target inside an interval is not yet met, nor clearly missed.

The content check (``check_content``: documents and tool results, where any instruction
is an injection) is measured apart, the way BIPIA attacks: each BIPIA instruction is
put on its own line at the start, in the middle or at the end of three benign documents
(own documents of the instruction's fold, and LoCoMo transcripts), and the benign
documents alone give the false-positive rates. Own requests (mostly Chinese and
Japanese) are put into own documents of their language the same way. Held-out, the
directive head and embedding stage of each fold were trained without that fold's
instructions and documents. ``shipped n-grams`` is ``check_content(..., embedded=False)``.

Crisis in company: each own crisis line, and each own sad but safe line, is put among
four other own benign lines (chat and sad) of its fold and language, as one chat message
of five sentences; the crisis recall and false-positive rate on those show how far small
talk around a crisis sentence hides it (held-out, no classifier saw any of the lines).

Everyday conversations (MemoryBank-SiliconFriend users talking to a companion, en and
zh; LoCoMo friends): the share of ordinary messages that would put the companion into
its crisis care or raise anything, each message checked alone and with its earlier
messages. Nothing trains on them.

Own long posts (``benchmarks/data/guardrails_long.tsv``), never trained on: crisis
recall and false positives on long texts in en, zh and ja (C-SSRS is English only).

Companion chat (``benchmarks/data/guardrails_chat.tsv``), never trained on and written
apart from the other own sets: flirting, figures of speech with death words, sleep,
break-ups, ordinary sadness and chores, and people at risk, in en, zh and ja; crisis
recall, and how often a benign message is put into crisis care, raised or blocked.

Fresh own messages (``benchmarks/data/guardrails_fresh.tsv``): harmful requests and
scary-but-benign questions in en, zh and ja that no classifier trains on, written to a
taxonomy of policy areas; the shipped classifier's figures on them are out-of-sample.

``python benchmarks/guardrails_eval.py --data ../shared/data`` (about ten minutes;
``--no-cv`` skips the held-out columns, ``--no-embedding`` the ``+emb`` ones).
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from guardrails_data import (
    HEADS,
    PLAIN_TASKS,
    Conversation,
    Document,
    Example,
    chat_messages,
    everyday_conversations,
    everything,
    fold_of,
    fresh,
    locomo_documents,
    long_posts,
    own_documents,
    own_requests,
)
from train_content_guard import (
    candidate_vectors,
    candidates,
    directive_items,
    fit_stage,
    folds_of,
    out_of_fold,
)
from train_content_guard import fit as fit_directive
from train_guardrails import (
    FOLDS,
    fit,
    fit_post,
    grams_of,
    long_mask,
    source_masks,
)
from train_guardrails import embed as embed_all

from miolumi.core.guardrails import Guardrails, GuardVerdict, shipped_classifier
from miolumi.core.guardrails.content import (
    DirectiveHead,
    directive_features,
    shipped_directive_head,
)
from miolumi.core.guardrails.posts import SHIFT_KEY
from miolumi.core.memory.embeddings import UseM3Embedding, embed_documents

KEYWORDS = {
    "attack": (
        "ignore previous", "ignore all", "jailbreak", "dan", "developer mode", "no restrictions",
        "pretend", "bomb", "kill", "weapon", "hack", "steal", "drugs", "poison", "malware",
        "virus", "explosive", "murder", "illegal", "porn", "sex", "忽略", "越狱", "炸弹", "杀",
        "毒", "黑客", "色情", "無視", "脱獄", "爆弾", "殺", "毒", "エロ",
    ),
    "crisis": (
        "suicide", "suicidal", "kill myself", "want to die", "end my life", "self harm",
        "cut myself", "overdose", "自杀", "想死", "自残", "割腕", "死にたい", "自殺", "消えたい",
        "リスカ",
    ),
}  # fmt: skip


Detector = Callable[[str], GuardVerdict | set[str]]
#: Where an instruction goes into a document, in turn.
POSITIONS = ("start", "middle", "end")
#: Documents each BIPIA instruction is put into.
CARRIERS = 3


@dataclass(frozen=True, kw_only=True)
class ContentCase:
    """A document for the content check: benign, or with one instruction in it."""

    text: str
    attack: bool
    plain: bool = False
    """The instruction is of a plain-task family."""
    source: str
    """Of the document: ``own`` or ``locomo``."""
    lang: str
    """Of the document."""
    fold: int
    injected: str = ""
    """What was put in: ``bipia``, or ``own:<lang>`` (an own request, in a document of
    its language)."""


def inject(document: str, instruction: str, position: str) -> str:
    """``document`` with ``instruction`` on its own line at ``position``."""
    lines = document.splitlines()
    at = {"start": 0, "middle": len(lines) // 2, "end": len(lines)}[position]
    return "\n".join([*lines[:at], instruction, *lines[at:]])


def content_cases(
    examples: Sequence[Example],
    documents: Sequence[Document],
    requests: Sequence[tuple[str, str]] = (),
    seed: int = 0,
) -> list[ContentCase]:
    """Every benign document, every BIPIA instruction in ``CARRIERS`` documents of its
    fold, and every own request in ``CARRIERS`` own documents of its fold and language
    (chosen by a seed from its text, so every run builds the same cases), with the folds
    of the split ``seed``."""

    def fold(text: str) -> int:
        return fold_of(text, FOLDS, seed)

    by_fold: dict[int, list[Document]] = {}
    for d in documents:
        by_fold.setdefault(fold(d.text), []).append(d)
    cases = [
        ContentCase(text=d.text, attack=False, source=d.source, lang=d.lang, fold=fold(d.text))
        for d in documents
    ]

    def attacks(instruction: str, pool: Sequence[Document], **what: Any) -> None:
        rng = random.Random(zlib.crc32(instruction.encode("utf-8")))
        for k, carrier in enumerate(rng.sample(pool, min(CARRIERS, len(pool)))):
            position = POSITIONS[(k + rng.randrange(len(POSITIONS))) % len(POSITIONS)]
            cases.append(ContentCase(text=inject(carrier.text, instruction, position),
                                     attack=True, source=carrier.source, lang=carrier.lang,
                                     fold=fold(instruction), **what))  # fmt: skip

    for e in examples:
        if e.source == "bipia":
            pool = by_fold[fold(e.text)]
            attacks(e.text, pool, plain=e.detail in PLAIN_TASKS, injected="bipia")
    for lang, text in requests:
        pool = by_fold.get(fold(text), [])
        own = [d for d in pool if d.source == "own" and d.lang == lang]
        attacks(text, own, injected=f"own:{lang}")
    return cases


def content_figures(
    cases: Sequence[ContentCase], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, float]:
    """Detection of injected instructions and false positives on benign documents."""
    raised = [_raised(r)[0] for r in results]

    def pick(test: Callable[[ContentCase], bool]) -> float:
        return rate([r for c, r in zip(cases, raised, strict=True) if test(c)])

    bipia = [c.injected == "bipia" for c in cases]

    def pick_bipia(test: Callable[[ContentCase], bool]) -> float:
        return pick(lambda c: c.injected == "bipia" and test(c))

    out = {
        "injection in documents (BIPIA)": pick_bipia(lambda c: True),
        "  plain tasks only": pick_bipia(lambda c: c.plain),
        "  without plain tasks": pick_bipia(lambda c: not c.plain),
        "  in own documents": pick_bipia(lambda c: c.source == "own"),
        "  in LoCoMo transcripts": pick_bipia(lambda c: c.source == "locomo"),
    }
    if not all(bipia):
        for lang in ("en", "zh", "ja"):
            out[f"own requests in own {lang} documents"] = pick(
                lambda c, lang=lang: c.injected == f"own:{lang}"
            )
    out["FP own documents"] = pick(lambda c: not c.attack and c.source == "own")
    for lang in ("en", "zh", "ja"):
        out[f"  FP own {lang} documents"] = pick(
            lambda c, lang=lang: not c.attack and c.source == "own" and c.lang == lang
        )
    out["FP LoCoMo transcripts"] = pick(lambda c: not c.attack and c.source == "locomo")
    return out


@dataclass(frozen=True, kw_only=True)
class Mix:
    """A chat message of several own sentences: one own crisis line among benign ones, or
    benign lines only."""

    text: str
    crisis: bool
    lang: str
    fold: int
    """Of its lines (all of one fold, so a held-out classifier saw none of them)."""


#: Sentences in a mixed message.
MIX_SENTENCES = 5


def crisis_mixes(examples: Sequence[Example], seed: int = 0) -> list[Mix]:
    """Each own crisis line and each own sad-but-safe line among ``MIX_SENTENCES - 1``
    other own benign lines (chat and sad) of its fold (of the split ``seed``) and
    language, at a place and with company chosen by a seed from its text."""
    pool: dict[tuple[int, str], list[str]] = {}
    for e in examples:
        if e.source in ("own:benign_chat", "own:benign_sad"):
            pool.setdefault((fold_of(e.text, FOLDS, seed), e.lang), []).append(e.text)
    out = []
    for e in examples:
        if e.source not in ("own:self_harm", "own:benign_sad"):
            continue
        fold = fold_of(e.text, FOLDS, seed)
        others = [t for t in pool.get((fold, e.lang), []) if t != e.text]
        rng = random.Random(zlib.crc32(e.text.encode("utf-8")))
        lines = rng.sample(others, min(MIX_SENTENCES - 1, len(others)))
        lines.insert(rng.randrange(len(lines) + 1), e.text)
        text = (" " if e.lang == "en" else "").join(_ended(line, e.lang) for line in lines)
        out.append(Mix(text=text, crisis=bool(e.labels), lang=e.lang, fold=fold))
    return out


def _ended(line: str, lang: str) -> str:
    """A line with a full stop if it has no closing punctuation."""
    return line if line[-1] in ".!?。！？…" else line + ("." if lang == "en" else "。")


def mix_figures(
    mixes: Sequence[Mix], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, float]:
    """Crisis recall and false-positive rate on mixed messages, per language."""
    crisis = [_raised(r)[2] for r in results]
    out = {}
    for lang in ("en", "zh", "ja"):
        for label, wanted in (("recall", True), ("FPR", False)):
            out[f"crisis {label} in mixed {lang} messages"] = rate(
                [c for m, c in zip(mixes, crisis, strict=True)
                 if m.lang == lang and m.crisis is wanted]
            )  # fmt: skip
    return out


#: Earlier messages an everyday message is checked with (as a turn passes its history).
HISTORY = 6


def keyword_baseline(text: str) -> set[str]:
    """Categories a plain keyword list would raise (``attack`` or ``self_harm``)."""
    lowered = text.lower()
    found: set[str] = set()
    if any(re.search(rf"\b{re.escape(k)}\b" if k.isascii() else re.escape(k), lowered)
           for k in KEYWORDS["attack"]):  # fmt: skip
        found.add("attack")
    if any(k in lowered for k in KEYWORDS["crisis"]):
        found.add("self_harm")
    return found


def _raised(result: GuardVerdict | set[str]) -> tuple[bool, bool, bool]:
    """(any category raised, blocked, self_harm raised)."""
    if isinstance(result, GuardVerdict):
        return result.action != "allow", result.action == "block", result.crisis
    return bool(result), bool(result - {"self_harm"}), "self_harm" in result


def fresh_figures(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, float]:
    """Per language: fresh harmful requests detected and blocked, fresh scary-but-benign
    questions blocked and raised."""
    raised = [_raised(r) for r in results]
    out: dict[str, float] = {}
    for lang in ("en", "zh", "ja"):

        def pick(label: str, part: int, lang: str = lang) -> float:
            return rate([r[part] for e, r in zip(examples, raised, strict=True)
                         if e.source == f"fresh:{label}" and e.lang == lang])  # fmt: skip

        out[f"harmful {lang}: detected"] = pick("harmful", 0)
        out[f"harmful {lang}: blocked"] = pick("harmful", 1)
        out[f"scary-benign {lang}: blocked"] = pick("benign_scary", 1)
        out[f"scary-benign {lang}: flagged or blocked"] = pick("benign_scary", 0)
    return out


def rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def figures(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, float]:
    """Every reported figure from one detector's results."""
    raised = [_raised(r) for r in results]

    def pick(test: Callable[[Example], bool], part: int) -> float:
        return rate([r[part] for e, r in zip(examples, raised, strict=True) if test(e)])

    out = {
        "jailbreak detection": pick(lambda e: e.source == "jailbreak", 0),
        "injection detection (BIPIA)": pick(lambda e: e.source == "bipia", 0),
        "  BIPIA plain tasks only": pick(
            lambda e: e.source == "bipia" and e.detail in PLAIN_TASKS, 0
        ),
        "  BIPIA without plain tasks": pick(
            lambda e: e.source == "bipia" and e.detail not in PLAIN_TASKS, 0
        ),
        "harmful detection (forbidden, all)": pick(lambda e: e.source == "forbidden", 0),
        "  harmful areas only": pick(
            lambda e: e.source == "forbidden" and "harmful_request" in e.labels, 0
        ),
        "  blocked (harmful areas)": pick(
            lambda e: e.source == "forbidden" and "harmful_request" in e.labels, 1
        ),
        "FP WildGuard benign (flag+block)": pick(lambda e: e.source == "wildguard", 0),
        "  blocked": pick(lambda e: e.source == "wildguard", 1),
        "FP NotInject (flag+block)": pick(lambda e: e.source == "notinject", 0),
        "scary-benign block rate": pick(lambda e: e.source == "own:benign_scary", 1),
        "  flagged or blocked": pick(lambda e: e.source == "own:benign_scary", 0),
    }
    for lang in ("en", "zh", "ja"):
        out[f"crisis recall own {lang}"] = pick(
            lambda e, lang=lang: e.source == "own:self_harm" and e.lang == lang, 2
        )
        out[f"crisis FPR own {lang}"] = pick(
            lambda e, lang=lang: e.source.startswith("own:benign") and e.lang == lang, 2
        )
    out["crisis recall C-SSRS"] = pick(lambda e: e.source == "cssrs" and e.labels, 2)
    out["crisis FPR C-SSRS (Supportive+Indicator)"] = pick(
        lambda e: e.source == "cssrs" and not e.labels, 2
    )
    out["  FPR Supportive only"] = pick(lambda e: e.detail == "Supportive", 2)
    out["crisis recall C-SSRS at FPR 0.10 (moved cut)"] = recall_at(examples, results, 0.10)
    return out


def area_rates(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, tuple[float, float]]:
    """Per policy area of the forbidden questions: (detected, i.e. flagged or blocked;
    blocked). The advice areas (legal, financial, health, political campaigning) are
    ``sensitive_advice``, which flags and never blocks by default."""
    areas: dict[str, list[tuple[bool, bool, bool]]] = {}
    for e, r in zip(examples, results, strict=True):
        if e.source == "forbidden":
            areas.setdefault(e.detail, []).append(_raised(r))
    return {
        area: (rate([r[0] for r in found]), rate([r[1] for r in found]))
        for area, found in sorted(areas.items())
    }


def recall_at(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]], fpr: float
) -> float:
    """C-SSRS recall with the crisis cut moved so that ``fpr`` of the benign posts pass it."""
    pairs = [(e, r) for e, r in zip(examples, results, strict=True) if e.source == "cssrs"]
    if not pairs or not isinstance(pairs[0][1], GuardVerdict):
        return float("nan")
    score = {id(e): r.scores.get("self_harm", 0.0) for e, r in pairs if isinstance(r, GuardVerdict)}
    positive = np.array([score[id(e)] for e, _ in pairs if e.labels])
    negative = np.array([score[id(e)] for e, _ in pairs if not e.labels])
    return _recall_at_cut(positive, negative, fpr)


#: Figures given with a 95 % interval (the column scored last, held-out when measured):
#: which examples count, and which of :func:`_raised` answers (0 anything, 1 blocked).
INTERVAL_FIGURES: dict[str, tuple[Callable[[Example], bool], int]] = {
    "jailbreak detection": (lambda e: e.source == "jailbreak", 0),
    "harmful detection (forbidden, all)": (lambda e: e.source == "forbidden", 0),
    "FP WildGuard benign (flag+block)": (lambda e: e.source == "wildguard", 0),
    "FP NotInject (flag+block)": (lambda e: e.source == "notinject", 0),
    "scary-benign block rate": (lambda e: e.source == "own:benign_scary", 1),
}
#: Resamples of the C-SSRS posts for the interval of the moved-cut recall.
BOOTSTRAP = 1000


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a rate of ``hits`` in ``n`` (95 % by default)."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def intervals(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, tuple[float, float, float]]:
    """(figure, low, high) of the headline rates (Wilson), and of the C-SSRS recall at
    FPR 0.10 (stratified bootstrap over posts: the cut moves with the benign posts drawn,
    so that figure swings more than its size suggests)."""
    raised = [_raised(r) for r in results]
    out: dict[str, tuple[float, float, float]] = {}
    for name, (test, part) in INTERVAL_FIGURES.items():
        flags = [r[part] for e, r in zip(examples, raised, strict=True) if test(e)]
        out[name] = (rate(flags), *wilson(sum(flags), len(flags)))
    pairs = [(e, r) for e, r in zip(examples, results, strict=True) if e.source == "cssrs"]
    if pairs and isinstance(pairs[0][1], GuardVerdict):
        scores = [r.scores.get("self_harm", 0.0) for _, r in pairs if isinstance(r, GuardVerdict)]
        positive = np.array([s for s, (e, _) in zip(scores, pairs, strict=True) if e.labels])
        negative = np.array([s for s, (e, _) in zip(scores, pairs, strict=True) if not e.labels])
        rng = np.random.default_rng(0)
        draws = [
            _recall_at_cut(rng.choice(positive, len(positive)), rng.choice(negative, len(negative)))
            for _ in range(BOOTSTRAP)
        ]
        low, high = np.quantile(draws, [0.025, 0.975])
        out["crisis recall C-SSRS at FPR 0.10 (moved cut)"] = (
            _recall_at_cut(positive, negative), float(low), float(high)
        )  # fmt: skip
    return out


def _recall_at_cut(positive: np.ndarray, negative: np.ndarray, fpr: float = 0.10) -> float:
    """Recall of ``positive`` scores with the cut where ``fpr`` of ``negative`` pass it."""
    cut = np.sort(negative)[::-1][int(fpr * len(negative))]
    return float((positive > cut).mean())


def report_intervals(name: str, found: dict[str, tuple[float, float, float]]) -> None:
    print(f"\n95 % intervals ({name}; Wilson, C-SSRS bootstrap over posts)")
    for figure, (value, low, high) in found.items():
        print(f"  {figure:44} {value:.3f}  [{low:.3f}, {high:.3f}]")


def _timed(detector: Detector, text: str) -> tuple[GuardVerdict | set[str], float]:
    start = time.perf_counter()
    result = detector(text)
    return result, (time.perf_counter() - start) * 1000


def run(
    detector: Detector, examples: Sequence[Example]
) -> tuple[list[GuardVerdict | set[str]], list[float]]:
    results, times = [], []
    for e in examples:
        start = time.perf_counter()
        results.append(detector(e.text))
        times.append((time.perf_counter() - start) * 1000)
    return results, times


def run_embedded(
    guard: Guardrails, examples: Sequence[Example], embeddings: np.ndarray
) -> tuple[list[GuardVerdict | set[str]], list[float]]:
    """``check_input`` with each message's embedding given (computed beforehand)."""
    results: list[GuardVerdict | set[str]] = []
    times = []
    for e, vector in zip(examples, embeddings, strict=True):
        start = time.perf_counter()
        results.append(guard.check_input(e.text, embedding=vector))
        times.append((time.perf_counter() - start) * 1000)
    return results, times


@dataclass
class HeldOut:
    """Verdicts of guardrails whose classifier never saw the fold of what they judged."""

    plain: list[GuardVerdict]
    joint: list[GuardVerdict]
    """With the embedding (empty without embeddings)."""
    documents: list[GuardVerdict]
    mixes: list[GuardVerdict]
    mixes_joint: list[GuardVerdict]


def held_out(
    examples: Sequence[Example],
    shifts: tuple[np.ndarray, np.ndarray],
    embeddings: np.ndarray | None,
    content: Sequence[ContentCase] = (),
    directives: Callable[[int], DirectiveHead] | None = None,
    mixes: Sequence[Mix] = (),
    mix_embeddings: np.ndarray | None = None,
    seed: int = 0,
) -> HeldOut:
    """Each example scored by guardrails whose classifier never saw its fold (of the
    split ``seed``): without its embedding, and with it; each content case by
    ``check_content`` with that fold's classifier and directive head; each mixed message
    like the examples. (``content`` and ``mixes`` must be built with the same ``seed``.)"""
    grams = grams_of([e.text for e in examples])
    long = long_mask([e.text for e in examples])
    folds = np.array([fold_of(e.text, FOLDS, seed) for e in examples])
    long_shift = shipped_classifier().info.get(SHIFT_KEY, 0.0)
    long_fpr = float(shipped_classifier().info.get("long_fpr", 0.3))  # type: ignore[arg-type]
    plain: dict[int, GuardVerdict] = {}
    joint: dict[int, GuardVerdict] = {}
    documents: dict[int, GuardVerdict] = {}
    mixed: dict[int, GuardVerdict] = {}
    mixed_joint: dict[int, GuardVerdict] = {}
    for f in range(FOLDS):
        train = np.flatnonzero(folds != f)
        vectors = None if embeddings is None else embeddings[train]
        model = fit([grams[i] for i in train], [examples[i].labels for i in train], long[train],
                    min_df=2, embeddings=vectors,
                    **source_masks([examples[i] for i in train]))  # fmt: skip
        classifier = model.shifted(*shifts).classifier(info={SHIFT_KEY: long_shift})
        posts = [i for i in train if examples[i].source == "cssrs" and long[i]]
        classifier = replace(classifier, post=fit_post(
            classifier, [examples[i].text for i in posts],
            [not examples[i].benign for i in posts],
            None if embeddings is None else embeddings[posts], long_fpr=long_fpr,
        ))  # fmt: skip
        guard = Guardrails(classifier=classifier,
                           directives=directives(f) if directives else None)  # fmt: skip
        for i in np.flatnonzero(folds == f):
            plain[i] = guard.check_input(examples[i].text)
            if embeddings is not None:
                joint[i] = guard.check_input(examples[i].text, embedding=embeddings[i])
        for k, case in enumerate(content):
            if case.fold == f:
                documents[k] = guard.check_content(case.text)
        for k, mix in enumerate(mixes):
            if mix.fold == f:
                mixed[k] = guard.check_input(mix.text)
                if mix_embeddings is not None:
                    mixed_joint[k] = guard.check_input(mix.text, embedding=mix_embeddings[k])
    return HeldOut(
        plain=[plain[i] for i in range(len(examples))],
        joint=[joint[i] for i in sorted(joint)],
        documents=[documents[k] for k in sorted(documents)],
        mixes=[mixed[k] for k in sorted(mixed)],
        mixes_joint=[mixed_joint[k] for k in sorted(mixed_joint)],
    )


def fold_directives(data: Path, seed: int = 0) -> Callable[[int], DirectiveHead]:
    """The directive head of each fold (of the split ``seed``), n-gram head and embedding
    stage trained without it, with the shipped calibration. (The stage's n-gram input is
    the out-of-fold logit of the training script, whose models saw the held-out fold: a
    small leak, into one feature of the stage.)"""
    items = directive_items(data)
    grams = [directive_features(i.text) for i in items]
    folds = folds_of(items, seed)
    labels = np.array([i.directive for i in items])
    shipped = shipped_directive_head()
    oof = out_of_fold(items, grams, seed)
    mask = candidates(items, oof)
    vectors = candidate_vectors(items, mask)

    def head(f: int) -> DirectiveHead:
        train = np.flatnonzero(folds != f)
        rows = np.flatnonzero(mask & (folds != f))
        stage = fit_stage(oof[rows], np.stack([vectors[k] for k in rows]), labels[rows])
        if shipped.stage is not None:
            stage = replace(stage, shift=shipped.stage.shift)
        fitted = fit_directive([grams[i] for i in train], labels[train])
        return replace(fitted, shift=shipped.shift, stage=stage if shipped.stage else None)

    return head


def shipped_shifts() -> tuple[np.ndarray, np.ndarray]:
    """The bias shifts the shipped classifier was calibrated with (n-gram, joint heads)."""
    classifier = shipped_classifier()
    info = classifier.info
    shifts = info.get("bias_shift", {})
    shift = np.array([float(shifts.get(h, 0.0)) for h in HEADS], dtype=np.float32)  # type: ignore[union-attr]
    joint_info = info.get("embedding", {})
    joint_shifts = joint_info.get("bias_shift", {})  # type: ignore[union-attr]
    heads = classifier.embedding.heads if classifier.embedding is not None else ()
    joint = np.array([float(joint_shifts.get(h, 0.0)) for h in heads], dtype=np.float32)
    return shift, joint


def embedding_latency(examples: Sequence[Example], count: int = 300) -> list[float]:
    """Milliseconds to embed one chat message (what memory pays per message anyway, or the
    turn for the classifiers when memory embeds with another model)."""
    function = UseM3Embedding()
    chat = [e.text for e in examples if e.source != "cssrs"][::7][:count]
    embed_documents(function, ["warm up"])
    times = []
    for text in chat:
        start = time.perf_counter()
        embed_documents(function, [text])
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--no-cv", action="store_true", help="skip the held-out columns")
    parser.add_argument(
        "--splits",
        type=int,
        default=3,
        help="splits into folds the held-out columns are measured on (their median is shown)",
    )
    parser.add_argument(
        "--no-embedding", action="store_true", help="skip the columns with the embedding"
    )
    args = parser.parse_args()
    if not (args.data / "jailbreak").is_dir():
        parser.error(f"no shared data under {args.data}: pass --data PATH/TO/shared/data")
    examples = everything(args.data)
    embeddings = None if args.no_embedding else embed_all([e.text for e in examples])
    guard = Guardrails()
    guard.check_input("warm up")
    base_results, base_times = run(keyword_baseline, examples)
    ours, times = run(guard.check_input, examples)
    results: dict[str, Sequence[GuardVerdict | set[str]]] = {
        "keywords": base_results,
        "shipped": ours,
    }
    cases = content_cases(examples, own_documents() + locomo_documents(args.data), own_requests())
    content_columns = {
        "keywords": content_figures(cases, [keyword_baseline(c.text) for c in cases]),
        "shipped n-grams": content_figures(
            cases, [guard.check_content(c.text, embedded=False) for c in cases]
        ),
        "shipped": content_figures(cases, [guard.check_content(c.text) for c in cases]),
    }
    mixes = crisis_mixes(examples)
    mix_embeddings = None if args.no_embedding else embed_all([m.text for m in mixes])
    mix_columns = {
        "keywords": mix_figures(mixes, [keyword_baseline(m.text) for m in mixes]),
        "shipped": mix_figures(mixes, [guard.check_input(m.text) for m in mixes]),
    }
    if mix_embeddings is not None:
        joint = zip(mixes, mix_embeddings, strict=True)
        mix_columns["shipped+emb"] = mix_figures(
            mixes, [guard.check_input(m.text, embedding=v) for m, v in joint]
        )
    guard.check_content("warm up")
    content_times = [t for _, t in (_timed(guard.check_content, c.text) for c in cases)]
    timings = {"keywords": base_times, "guardrails": times}
    if embeddings is not None:
        results["shipped+emb"], timings["guardrails+emb"] = run_embedded(
            guard, examples, embeddings
        )
    columns = {n: figures(examples, r) for n, r in results.items()}
    area_columns = {n: area_rates(examples, r) for n, r in results.items()}
    last = results[list(results)[-1]]
    splits = [] if args.no_cv else [
        held_out_split(args.data, examples, embeddings, seed, cases if seed == 0 else None,
                       mixes if seed == 0 else None, mix_embeddings if seed == 0 else None)
        for seed in range(args.splits)
    ]  # fmt: skip
    if splits:
        for name in splits[0].columns:
            columns[name] = median_of([s.columns[name] for s in splits])
            area_columns[name] = {
                area: median_pair([s.areas[name][area] for s in splits])
                for area in splits[0].areas[name]
            }
            mix_columns[name] = median_of([s.mixes[name] for s in splits])
        content_columns["held-out"] = median_of([s.content for s in splits])
        last = splits[0].last
    names = list(columns)
    print(f"{len(examples)} examples from {args.data} and benchmarks/data/guardrails_own.tsv")
    if splits:
        print(f"held-out columns: the median over {len(splits)} splits into folds")
    print()
    print_table(columns)
    report_intervals(names[-1] + (", split 0" if splits else ""), intervals(examples, last))
    if len(splits) > 1:
        report_splits(names[-1], [s.columns[names[-1]] for s in splits])
    print("\nforbidden questions per policy area, detected / blocked")
    for area in area_columns["shipped"]:
        print(f"  {area:42}" + "".join(
            f"{area_columns[n][area][0]:>7.2f}/{area_columns[n][area][1]:<5.2f}" for n in names
        ))  # fmt: skip
    report_fresh(guard, fresh(), embed=not args.no_embedding)
    report_long(guard, long_posts(), embed=not args.no_embedding)
    report_chat(guard, chat_messages(), embed=not args.no_embedding)
    report_everyday(guard, everyday_conversations(args.data), embed=not args.no_embedding)
    print(f"\ncrisis in chat messages of {MIX_SENTENCES} own sentences: "
          f"{sum(m.crisis for m in mixes)} with one crisis line, "
          f"{sum(not m.crisis for m in mixes)} with a sad but safe line")  # fmt: skip
    print_table(mix_columns)
    attacks = sum(c.attack for c in cases)
    print(f"\ncontent check: {attacks} documents with an instruction, "
          f"{len(cases) - attacks} benign documents")  # fmt: skip
    print_table(content_columns, width=16)
    report_latency(examples, timings)
    cuts = statistics.quantiles(content_times, n=100)
    size = statistics.median(len(c.text) for c in cases)
    print(f"  check_content (median {size:.0f} chars) p50 "
          f"{statistics.median(content_times):.3f}  p95 {cuts[94]:.3f}")  # fmt: skip
    if embeddings is not None:
        cost = embedding_latency(examples)
        cuts = statistics.quantiles(cost, n=100)
        print(f"  embedding one message (paid by memory, or for the classifiers) "
              f"p50 {statistics.median(cost):.3f}  p95 {cuts[94]:.3f}")  # fmt: skip


@dataclass
class Split:
    """The held-out figures of one split into folds."""

    columns: dict[str, dict[str, float]]
    """``held-out`` and, with embeddings, ``held-out+emb``: :func:`figures`."""
    areas: dict[str, dict[str, tuple[float, float]]]
    mixes: dict[str, dict[str, float]]
    content: dict[str, float]
    last: Sequence[GuardVerdict]
    """The verdicts of the last column (for the intervals)."""


def held_out_split(
    data: Path,
    examples: Sequence[Example],
    embeddings: np.ndarray | None,
    seed: int,
    cases: Sequence[ContentCase] | None = None,
    mixes: Sequence[Mix] | None = None,
    mix_embeddings: np.ndarray | None = None,
) -> Split:
    """Every held-out figure with the folds of the split ``seed`` (the content cases and
    mixed messages built for it unless given)."""
    if cases is None:
        cases = content_cases(
            examples, own_documents() + locomo_documents(data), own_requests(), seed
        )
    if mixes is None:
        mixes = crisis_mixes(examples, seed)
        mix_embeddings = None if embeddings is None else embed_all([m.text for m in mixes])
    cv = held_out(
        examples, shipped_shifts(), embeddings, cases, fold_directives(data, seed),
        mixes, mix_embeddings, seed,
    )  # fmt: skip
    results: dict[str, Sequence[GuardVerdict]] = {"held-out": cv.plain}
    mix_results = {"held-out": cv.mixes}
    if cv.joint:
        results["held-out+emb"] = cv.joint
        mix_results["held-out+emb"] = cv.mixes_joint
    return Split(
        columns={n: figures(examples, r) for n, r in results.items()},
        areas={n: area_rates(examples, r) for n, r in results.items()},
        mixes={n: mix_figures(mixes, r) for n, r in mix_results.items()},
        content=content_figures(cases, cv.documents),
        last=results[list(results)[-1]],
    )


def median_of(columns: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over ``columns`` (figures of the same name)."""
    return {key: float(np.median([c[key] for c in columns])) for key in columns[0]}


def median_pair(pairs: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The median of each part of ``pairs``."""
    return float(np.median([p[0] for p in pairs])), float(np.median([p[1] for p in pairs]))


def report_splits(name: str, columns: Sequence[dict[str, float]]) -> None:
    """The headline figures of ``name`` on each split, to show how far the draw moves them."""
    print(f"\n{name} on each split into folds (median, then splits 0..{len(columns) - 1})")
    for figure in [*INTERVAL_FIGURES, "crisis recall C-SSRS at FPR 0.10 (moved cut)"]:
        values = [c[figure] for c in columns]
        print(f"  {figure:44} {np.median(values):.3f}  "
              + " ".join(f"{v:.3f}" for v in values))  # fmt: skip


Figures = Callable[[Sequence[Example], Sequence[GuardVerdict | set[str]]], dict[str, float]]


def detector_columns(
    guard: Guardrails, examples: Sequence[Example], figures: Figures, *, embed: bool
) -> dict[str, dict[str, float]]:
    """``figures`` of the keyword baseline and the shipped guardrails (and, with
    ``embed``, given each message's embedding) on ``examples``."""
    columns = {
        "keywords": figures(examples, [keyword_baseline(e.text) for e in examples]),
        "shipped": figures(examples, [guard.check_input(e.text) for e in examples]),
    }
    if embed:
        vectors = embed_all([e.text for e in examples])
        columns["shipped+emb"] = figures(examples, run_embedded(guard, examples, vectors)[0])
    return columns


def long_figures(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, float]:
    """Per language: crisis recall on the own long posts at risk, and the false-positive
    rate on the sad but safe ones."""
    raised = [_raised(r)[2] for r in results]
    out: dict[str, float] = {}
    for lang in ("en", "zh", "ja"):
        for label, name in (("self_harm", "recall"), ("benign_sad", "FPR")):
            out[f"long posts {lang}: crisis {name}"] = rate(
                [r for e, r in zip(examples, raised, strict=True)
                 if e.source == f"long:{label}" and e.lang == lang]
            )  # fmt: skip
    return out


def report_long(guard: Guardrails, examples: Sequence[Example], *, embed: bool) -> None:
    """The own long posts, by the keyword baseline and the shipped classifier."""
    columns = detector_columns(guard, examples, long_figures, embed=embed)
    counts = Counter(e.lang for e in examples)
    print(f"\nown long posts, never trained on: {len(examples)} of 400 characters or more "
          f"(en {counts['en']}, zh {counts['zh']}, ja {counts['ja']}; half at risk, half "
          "sad but safe)")  # fmt: skip
    print_table(columns)


def chat_figures(
    examples: Sequence[Example], results: Sequence[GuardVerdict | set[str]]
) -> dict[str, float]:
    """Per language: crisis recall on the companion chat messages at risk; on the benign
    ones, how many are put into crisis care, raised at all, and blocked."""
    raised = [_raised(r) for r in results]
    out: dict[str, float] = {}
    for lang in ("en", "zh", "ja"):
        mine = [(e, r) for e, r in zip(examples, raised, strict=True) if e.lang == lang]
        benign = [r for e, r in mine if e.source != "chat:crisis"]
        out[f"chat {lang}: crisis recall"] = rate([r[2] for e, r in mine if e.labels])
        out[f"chat {lang}: benign in crisis care"] = rate([r[2] for r in benign])
        out[f"chat {lang}: benign raised at all"] = rate([r[0] for r in benign])
        out[f"chat {lang}: benign blocked"] = rate([r[1] for r in benign])
    return out


def report_chat(guard: Guardrails, examples: Sequence[Example], *, embed: bool) -> None:
    """The companion chat messages, by the keyword baseline and the shipped classifier."""
    columns = detector_columns(guard, examples, chat_figures, embed=embed)
    at_risk = sum(bool(e.labels) for e in examples)
    print(f"\ncompanion chat, written apart, never trained on: {len(examples) - at_risk} "
          f"benign messages, {at_risk} of a person at risk (en, zh, ja)")  # fmt: skip
    print_table(columns)


def report_fresh(guard: Guardrails, examples: Sequence[Example], *, embed: bool) -> None:
    """The fresh own messages, by the keyword baseline and the shipped classifier."""
    columns = detector_columns(guard, examples, fresh_figures, embed=embed)
    harmful = sum(e.source == "fresh:harmful" for e in examples)
    print(f"\nfresh own messages, never trained on: {harmful} harmful requests, "
          f"{len(examples) - harmful} scary-but-benign questions")  # fmt: skip
    print_table(columns)


def everyday_figures(
    conversations: Sequence[Conversation],
    check: Callable[[str, Sequence[str], int], GuardVerdict | set[str]],
) -> dict[str, float]:
    """Per source: the share of messages raising a crisis (alone, with history), any
    category, and a block; ``check(message, earlier messages, index)``."""
    starts = [0]
    for conversation in conversations:
        starts.append(starts[-1] + len(conversation.messages))
    out: dict[str, float] = {}
    for source in dict.fromkeys(c.source for c in conversations):
        alone, carried, raised, blocked = [], [], [], []
        for start, conversation in zip(starts[:-1], conversations, strict=True):
            if conversation.source != source:
                continue
            said = conversation.messages
            for i, message in enumerate(said):
                first = _raised(check(message, (), start + i))
                earlier = said[max(0, i - HISTORY) : i]
                with_history = _raised(check(message, earlier, start + i))
                alone.append(first[2])
                carried.append(with_history[2])
                raised.append(with_history[0])
                blocked.append(with_history[1])
        out[f"{source}: crisis, message alone"] = rate(alone)
        out[f"{source}: crisis, with history"] = rate(carried)
        out[f"{source}: anything raised"] = rate(raised)
        out[f"{source}: blocked"] = rate(blocked)
    return out


def report_everyday(
    guard: Guardrails, conversations: Sequence[Conversation], *, embed: bool
) -> None:
    """Everyday conversations, by the keyword baseline and the shipped classifier."""
    if not conversations:
        print("\neveryday conversations: MemoryBank and LoCoMo are absent, skipped")
        return
    columns = {
        "keywords": everyday_figures(
            conversations, lambda m, h, _i: keyword_baseline(" \n".join([*h[-2:], m]))
        ),
        "shipped": everyday_figures(
            conversations, lambda m, h, _i: guard.check_input(m, history=h)
        ),
    }
    if embed:
        vectors = embed_all([m for c in conversations for m in c.messages])
        columns["shipped+emb"] = everyday_figures(
            conversations, lambda m, h, i: guard.check_input(m, history=h, embedding=vectors[i])
        )
    count = sum(len(c.messages) for c in conversations)
    print(f"\neveryday conversations, never trained on: {count} messages of "
          f"{len(conversations)} people (MemoryBank users, LoCoMo speakers per session); "
          f"each checked alone and with up to {HISTORY} earlier messages")  # fmt: skip
    print_table(columns)


def print_table(columns: dict[str, dict[str, float]], *, width: int = 13) -> None:
    """A figure per row, a column per detector (the rows of the ``shipped`` column)."""
    names = list(columns)
    print(f"{'figure':44}" + "".join(f"{n:>{width}}" for n in names))
    for key in columns["shipped"]:
        print(f"{key:44}" + "".join(f"{columns[n][key]:>{width}.3f}" for n in names))


def report_latency(examples: Sequence[Example], timings: dict[str, list[float]]) -> None:
    """p50/p95 per chat message for every detector, and for the long C-SSRS posts."""
    chat = [e.source != "cssrs" for e in examples]
    print(f"\nlatency per message, ms ({sum(chat)} chat messages; C-SSRS posts apart)")
    for label, values in timings.items():
        kept = [t for t, c in zip(values, chat, strict=True) if c]
        cuts = statistics.quantiles(kept, n=100)
        print(f"  {label:15} p50 {statistics.median(kept):.3f}  p95 {cuts[94]:.3f}")
    ours = timings["guardrails"]
    posts = [t for t, c in zip(ours, chat, strict=True) if not c]
    size = statistics.median(len(e.text) for e, c in zip(examples, chat, strict=True) if not c)
    cuts = statistics.quantiles(posts, n=100)
    print(f"  C-SSRS posts (median {size:.0f} chars) p50 {statistics.median(posts):.3f}  "
          f"p95 {cuts[94]:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
