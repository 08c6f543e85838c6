"""Train the local emotion classifier and write the weights shipped in the package.

For each language head (``en``: GoEmotions train; ``zh``: the training part of the
SMP2020 dev sets plus CPED at a lower sample weight, see ``emotion_data.py``):

1. featurize with :class:`miolumi.core.emotion.features.Featurizer` (hashed word and
   character n-grams, the same code that runs in the package), tf-idf from the training texts;
2. fit a one-vs-rest linear SVM (scikit-learn ``LinearSVC``) with balanced class weights;
3. on 3-fold out-of-fold scores of the training data only, fit per-class score offsets that
   maximise macro-F1 (prior calibration) and a softmax temperature (least log-loss);
4. write ``miolumi/core/emotion/weights/emotion_<lang>.npz`` (float16 weights, idf) and
   ``emotion_model.json`` (labels, bits, offsets, temperature, data description).

Needs scikit-learn (a development dependency, not needed at run time):
``python benchmarks/train_emotion.py --data ../shared/data``. Takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from emotion_data import LABELS, Example, cped, goemotions, smp
from sklearn.metrics import f1_score
from sklearn.svm import LinearSVC

from miolumi.core.emotion.features import Featurizer, normalize

WEIGHTS = Path(__file__).resolve().parent.parent / "miolumi" / "core" / "emotion" / "weights"
BITS = 18
FOLDS = 3


def counts_matrix(texts: Sequence[str], featurizer: Featurizer) -> sp.csr_matrix:
    """Sublinear term frequencies (no idf yet) of ``texts``, one row each."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for row, text in enumerate(texts):
        counts = featurizer.counts(normalize(text))
        rows.extend([row] * len(counts))
        cols.extend(counts)
        vals.extend(1.0 + math.log(c) for c in counts.values())
    shape = (len(texts), 1 << featurizer.bits)
    return sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float32)


def idf_of(matrix: sp.csr_matrix) -> npt.NDArray[np.float32]:
    """Smoothed inverse document frequency per bucket (as scikit-learn computes it)."""
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    return (np.log((1 + matrix.shape[0]) / (1 + df)) + 1).astype(np.float32)


def tfidf(matrix: sp.csr_matrix, idf: npt.NDArray[np.float32]) -> sp.csr_matrix:
    """Apply idf and L2-normalise rows, exactly as ``Featurizer.vector`` does."""
    weighted = sp.csr_matrix(matrix.multiply(idf[np.newaxis, :]))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ weighted)


def svm(c: float) -> LinearSVC:
    return LinearSVC(C=c, class_weight="balanced")


def full_scores(model: LinearSVC, x: sp.csr_matrix) -> npt.NDArray[np.float64]:
    """Decision scores over all of LABELS (classes absent from training get -inf-ish)."""
    part = model.decision_function(x)
    out = np.full((x.shape[0], len(LABELS)), -10.0)
    out[:, model.classes_] = part
    return out


def fit_offsets(scores: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> list[float]:
    """Per-class offsets maximising macro-F1 on out-of-fold scores (coordinate search)."""
    present = sorted(set(y.tolist()))
    offsets = np.zeros(len(LABELS))
    for _ in range(3):
        for k in present:
            best = (-1.0, offsets[k])
            for delta in np.linspace(-1.0, 1.0, 41):
                trial = offsets.copy()
                trial[k] = delta
                pred = (scores + trial).argmax(axis=1)
                f1 = float(f1_score(y, pred, labels=present, average="macro"))
                if f1 > best[0]:
                    best = (f1, delta)
            offsets[k] = best[1]
    return [round(float(v), 4) for v in offsets]


def fit_temperature(scores: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    """Softmax temperature with the least log-loss on out-of-fold scores."""
    best = (math.inf, 1.0)
    for temperature in np.geomspace(0.05, 2.0, 40):
        z = scores / temperature
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(-logp[np.arange(len(y)), y].mean())
        if loss < best[0]:
            best = (loss, float(temperature))
    return round(best[1], 4)


def train_head(
    lang: str, examples: list[Example], weights: npt.NDArray[np.float64], c: float, out: Path
) -> dict[str, object]:
    """Fit one language head and write its npz; returns its metadata."""
    start = time.perf_counter()
    featurizer = Featurizer(bits=BITS)
    counts = counts_matrix([e.text for e in examples], featurizer)
    idf = idf_of(counts)
    x = tfidf(counts, idf)
    y = np.array([LABELS.index(e.label) for e in examples])
    folds = np.random.default_rng(0).integers(0, FOLDS, len(examples))
    oof = np.zeros((len(examples), len(LABELS)))
    for fold in range(FOLDS):
        train = folds != fold
        model = svm(c).fit(x[train], y[train], sample_weight=weights[train])
        oof[~train] = full_scores(model, x[~train])
    # Offsets and temperature come from the main source only (weight 1), not the auxiliary one.
    main = weights == 1.0
    offsets = fit_offsets(oof[main], y[main])
    temperature = fit_temperature(oof[main] + np.array(offsets), y[main])
    model = svm(c).fit(x, y, sample_weight=weights)
    w = np.zeros((1 << BITS, len(LABELS)), dtype=np.float32)
    b = np.full(len(LABELS), -10.0, dtype=np.float32)
    w[:, model.classes_] = model.coef_.T
    b[model.classes_] = model.intercept_
    np.savez_compressed(
        out / f"emotion_{lang}.npz",
        weights=w.astype(np.float16),
        bias=b,
        idf=idf.astype(np.float16),
    )
    sources = sorted({e.source for e in examples})
    print(
        f"{lang}: {len(examples)} examples from {', '.join(sources)}; "
        f"offsets {offsets}, temperature {temperature}; {time.perf_counter() - start:.0f} s"
    )
    return {
        "bits": BITS,
        "offsets": offsets,
        "temperature": temperature,
        "examples": len(examples),
        "sources": sources,
        "C": c,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--cped-weight", type=float, default=0.2)
    parser.add_argument("--only", choices=["en", "zh"], help="train one head only")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    meta_path = args.out / "emotion_model.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"heads": {}}
    meta["labels"] = list(LABELS)
    if args.only in (None, "en"):
        train = [e for e in goemotions(args.data / "goemotions", "train") if len(e.labels) == 1]
        meta["heads"]["en"] = train_head("en", train, np.ones(len(train)), 0.1, args.out)
    if args.only in (None, "zh"):
        smp_train, _ = smp(args.data / "smp2020_ewect")
        extra = cped(args.data / "cped" / "valid_split.csv")
        weights = np.array([1.0] * len(smp_train) + [args.cped_weight] * len(extra))
        meta["heads"]["zh"] = train_head("zh", smp_train + extra, weights, 0.3, args.out)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
