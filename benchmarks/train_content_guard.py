"""Train the directive head of the content check and write the weights shipped in the package.

The head (:class:`miolumi.core.guardrails.content.DirectiveHead`) scores one segment of a
document: does it read as an instruction to an assistant?

1. Positives: requests people type to assistants, of at most ``MAX_SEGMENTS`` segments
   (the head scores segments): WildGuard benign prompts, NotInject prompts, the forbidden
   questions, BIPIA instructions, short jailbreak prompts, and the own written requests
   (harmful, advice, injection, jailbreak, sexual, scary-but-benign) in en, zh and ja,
   with ``benchmarks/data/content_requests.tsv``: own plain requests and instructions on
   how to reply (language, format, links, advertising), mostly Chinese and Japanese,
   which the shared sets lack.
2. Negatives: sentences people write to each other: GoEmotions Reddit comments (en),
   CPED TV dialogue utterances (zh), the own benign documents cut into segments (en, zh,
   ja) and the own sad-but-safe messages. Nothing non-commercial is trained on.
3. Features: :func:`miolumi.core.guardrails.content.directive_features` (the guard
   classifier's n-grams plus sentence-form cues), sublinear tf times smoothed idf,
   L2-normalised; logistic regression (scikit-learn, balanced class weights).
4. Calibration: on 5-fold out-of-fold logits, benign documents (own documents, CPED
   dialogues, GoEmotions comments in bundles of six) are scored as at run time
   (:func:`miolumi.core.guardrails.content.document_logit`); the bias moves so that at
   most ``--document-fpr`` of the documents of each source reach 0.5, the
   prompt-injection flag threshold of the default policy (the own documents, full of
   imperatives, set it). Folds are taken by document (a prompt is its own).
5. Writes ``miolumi/core/guardrails/weights/content_model.npz`` (float16 weights and idf,
   bias) and ``content_vocab.json`` (vocabulary, what was trained on); features whose
   weight rounds to nothing are left out.

Needs scikit-learn (a development dependency):
``python benchmarks/train_content_guard.py --data ../shared/data`` (about a minute).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from guardrails_data import everything, fold_of, own_documents, own_requests
from sklearn.linear_model import LogisticRegression

from miolumi.core.guardrails.content import (
    CONTRAST,
    MODEL_FILE,
    VOCAB_FILE,
    WEIGHTS_DIR,
    DirectiveHead,
    directive_features,
    document_logit,
    segments,
)

FOLDS = 5
C = 4.0
MIN_DF = 2
#: Prompts longer than this many segments are left out of the positives: the head scores
#: segments, and the sentences of a long role-play prompt are mostly not requests.
MAX_SEGMENTS = 4
#: Sources whose texts are requests to an assistant.
POSITIVE_SOURCES = frozenset({"wildguard", "notinject", "forbidden", "bipia", "jailbreak"})
POSITIVE_OWN = frozenset({"harmful", "advice", "injection", "jailbreak", "sexual", "benign_scary"})
#: GoEmotions comments are bundled this many to a calibration document.
BUNDLE = 6
#: Weights smaller than this are not shipped (they move no logit by a visible amount).
PRUNE = 0.01


@dataclass(frozen=True, kw_only=True)
class Item:
    """One training text: a segment of a document, or a whole request."""

    text: str
    directive: bool
    group: str
    """Texts of one group share a fold and, for benign documents, a calibration score."""
    source: str


def directive_items(data: Path) -> list[Item]:
    """Every training text: requests (positive) and sentences between people (negative)."""
    items: list[Item] = []
    for e in everything(data):
        source, _, own = e.source.partition(":")
        positive = source in POSITIVE_SOURCES or (source == "own" and own in POSITIVE_OWN)
        if positive and len(segments(e.text)) <= MAX_SEGMENTS:
            items.append(Item(text=e.text, directive=True, group=e.text, source=e.source))
        elif e.source == "own:benign_sad":
            items.append(Item(text=e.text, directive=False, group=e.text, source=e.source))
    items.extend(
        Item(text=text, directive=True, group=text, source=f"own:request:{lang}")
        for lang, text in own_requests()
    )
    for doc in own_documents():
        items.extend(
            Item(text=s, directive=False, group=doc.text, source="own:document")
            for s in segments(doc.text)
        )
    with (data / "cped" / "valid_split.csv").open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            items.append(Item(text=row["Utterance"], directive=False,
                              group=f"cped:{row['Dialogue_ID']}", source="cped"))  # fmt: skip
    with (data / "goemotions" / "train.tsv").open(encoding="utf-8") as fh:
        comments = [line.split("\t", 1)[0] for line in fh if line.strip()]
    random.Random(0).shuffle(comments)
    for i, text in enumerate(comments):
        items.append(Item(text=text, directive=False, group=f"goemotions:{i // BUNDLE}",
                          source="goemotions"))  # fmt: skip
    return items


@dataclass(frozen=True, kw_only=True)
class Fitted:
    """A fitted head before calibration."""

    vocab: dict[str, int]
    idf: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]
    bias: float

    def head(self, shift: float = 0.0, info: dict[str, object] | None = None) -> DirectiveHead:
        """The run-time head, its bias moved by ``shift``."""
        return DirectiveHead(vocab=self.vocab, idf=self.idf, weights=self.weights,
                             bias=self.bias - shift, info=info or {})  # fmt: skip


def tfidf(
    grams: Sequence[Sequence[str]], vocab: dict[str, int], idf: npt.NDArray[np.float32]
) -> sp.csr_matrix:
    """Sublinear tf-idf rows, L2-normalised (as :meth:`DirectiveHead.logit` computes them)."""
    rows, cols, vals = [], [], []
    for r, gs in enumerate(grams):
        counts = Counter(vocab[g] for g in gs if g in vocab)
        for c, n in counts.items():
            rows.append(r)
            cols.append(c)
            vals.append((1.0 + math.log(n)) * float(idf[c]))
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(grams), len(vocab)), dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def fit(grams: Sequence[Sequence[str]], labels: npt.NDArray[np.bool_]) -> Fitted:
    """Vocabulary, idf and a logistic head from featurised texts."""
    df: Counter[str] = Counter()
    for gs in grams:
        df.update(set(gs))
    vocab = {g: i for i, g in enumerate(sorted(g for g, n in df.items() if n >= MIN_DF))}
    n = len(grams)
    idf = np.array([math.log((1 + n) / (1 + df[g])) + 1.0 for g in vocab], dtype=np.float32)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
    model.fit(tfidf(grams, vocab, idf), labels)
    weights = model.coef_[0].astype(np.float32)
    keep = np.flatnonzero(np.abs(weights) >= PRUNE)
    terms = list(vocab)
    pruned = {terms[i]: k for k, i in enumerate(keep)}
    return Fitted(vocab=pruned, idf=idf[keep], weights=weights[keep],
                  bias=float(model.intercept_[0]))  # fmt: skip


def folds_of(items: Sequence[Item]) -> npt.NDArray[np.int64]:
    """The fold of each item, by its group (``fold_of``, as every guard script splits)."""
    return np.array([fold_of(i.group, FOLDS) for i in items])


def out_of_fold(items: Sequence[Item], grams: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
    """Each item's logit from the head fitted without its fold."""
    folds = folds_of(items)
    labels = np.array([i.directive for i in items])
    out = np.zeros(len(items))
    for f in range(FOLDS):
        train, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        head = fit([grams[i] for i in train], labels[train]).head()
        out[test] = [head.logit(grams[i]) for i in test]
    return out


def calibration_shift(items: Sequence[Item], logits: npt.NDArray[np.float64], fpr: float) -> float:
    """How far to lower the bias so that at most ``fpr`` of each source's benign
    documents reach 0.5 (returned with the document logits it was set on, by source)."""
    documents: dict[tuple[str, str], list[float]] = {}
    for item, z in zip(items, logits, strict=True):
        if not item.directive and item.source != "own:benign_sad":
            documents.setdefault((item.source, item.group), []).append(float(z))
    by_source: dict[str, list[float]] = {}
    for (source, _), segment_logits in documents.items():
        by_source.setdefault(source, []).append(document_logit(segment_logits))
    cuts = []
    for scores in by_source.values():
        ordered = np.sort(np.array(scores))
        allowed = math.floor(fpr * len(ordered))
        cuts.append(float(ordered[len(ordered) - 1 - allowed]))
    return max(cuts) + 1e-3


def train(data: Path, *, document_fpr: float) -> tuple[DirectiveHead, dict[str, object]]:
    """The shipped head and a description of how it was made."""
    items = directive_items(data)
    grams = [directive_features(i.text) for i in items]
    shift = calibration_shift(items, out_of_fold(items, grams), document_fpr)
    fitted = fit(grams, np.array([i.directive for i in items]))
    info: dict[str, object] = {
        "items": len(items),
        "sources": dict(Counter(i.source.split(":")[0] for i in items)),
        "positives": sum(i.directive for i in items),
        "C": C,
        "min_df": MIN_DF,
        "max_segments": MAX_SEGMENTS,
        "folds": FOLDS,
        "document_fpr": document_fpr,
        "contrast": CONTRAST,
        "bias_shift": round(shift, 4),
    }
    return fitted.head(shift, info), info


def write(head: DirectiveHead, directory: Path = WEIGHTS_DIR) -> None:
    """Write the weights (npz, float16) and the vocabulary (JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        directory / MODEL_FILE,
        weights=head.weights.astype(np.float16),
        idf=head.idf.astype(np.float16),
        bias=np.float32(head.bias),
    )
    meta = {"vocab": list(head.vocab), "info": dict(head.info)}
    (directory / VOCAB_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--document-fpr", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()
    if not (args.data / "goemotions").is_dir() or not (args.data / "injecguard").is_dir():
        parser.error(f"no shared data under {args.data}: pass --data PATH/TO/shared/data")
    start = time.perf_counter()
    head, info = train(args.data, document_fpr=args.document_fpr)
    write(head, args.out)
    size = sum(p.stat().st_size for p in args.out.glob("content_*"))
    print(f"{len(head.vocab)} features, {size / 1e6:.2f} MB in "
          f"{time.perf_counter() - start:.0f} s -> {args.out}")  # fmt: skip
    print(f"{info['items']} items ({info['positives']} requests); bias shift {info['bias_shift']}")


if __name__ == "__main__":
    main()
