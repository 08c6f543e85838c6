"""Macro-F1 and latency of the local emotion engine, next to two baselines in the same run.

- English: GoEmotions ``dev.tsv`` mapped to Ekman + neutral. Primary figure: the examples
  whose labels map to one class (*exclusive*, 95 %); also all examples, where a prediction
  is right when it is one of the example's classes.
- Chinese: the evaluation part (30 %, hash split, never trained on) of the SMP2020-EWECT
  dev sets ``usual`` and ``virus``; SMP has no disgust class, so a predicted disgust counts
  as anger there.
- Japanese: the hand-labelled ``benchmarks/data/emotion_ja.tsv``.
- Baselines: the majority class of each test set, and the cue lexicon
  (``miolumi.core.emotion.lexicon``: most cues wins, neutral without cues).
- ``engine``: ``EmotionEngine.analyze(text)``; ``+embedding``: the same given the memory
  embedding of the message (``analyze(text, embedding=...)``, which memory computes anyway
  for retrieval; computed here beforehand with the memory's own function).
- Latency: ``EmotionEngine.analyze`` per message over a mix of the test messages (weights
  loaded beforehand), with and without the embedding, and the lexicon baseline's, p50/p95;
  and, for reference, what the embedding costs memory for one message.

Run: ``python benchmarks/emotion_eval.py --data ../shared/data``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from emotion_data import LABELS, Example, goemotions, japanese, smp

from miolumi.core.emotion import EmotionEngine
from miolumi.core.emotion.classifier import WEIGHTS_DIR
from miolumi.core.emotion.features import normalize
from miolumi.core.emotion.language import detect_language
from miolumi.core.emotion.lexicon import lexicon_label
from miolumi.core.memory.embeddings import UseM3Embedding, embed_documents

HERE = Path(__file__).resolve().parent
Predict = Callable[[str], str]


def macro_f1(
    examples: Sequence[Example], predictions: Sequence[str], labels: Sequence[str]
) -> float:
    """Macro-F1 over ``labels``; a prediction is right when it is among an example's labels."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for example, predicted in zip(examples, predictions, strict=True):
        if predicted in example.labels:
            tp[predicted] += 1
        else:
            fp[predicted] += 1
        for gold in example.labels:
            if gold != predicted:
                fn[gold] += 1
    scores = [
        2 * tp[c] / (2 * tp[c] + fp[c] + fn[c]) if tp[c] + fp[c] + fn[c] else 0.0 for c in labels
    ]
    return sum(scores) / len(scores)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def majority(train: Sequence[Example]) -> str:
    return Counter(label for e in train for label in e.labels).most_common(1)[0][0]


def evaluate(
    name: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    systems: dict[str, Predict],
    fold: Callable[[str], str] = lambda label: label,
) -> list[str]:
    cells = [name, str(len(examples))]
    for predict in systems.values():
        predictions = [fold(predict(e.text)) for e in examples]
        cells.append(f"{macro_f1(examples, predictions, labels):.3f}")
    return cells


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--ja", type=Path, default=HERE / "data" / "emotion_ja.tsv")
    parser.add_argument("--latency-messages", type=int, default=3000)
    parser.add_argument("--embedding-messages", type=int, default=300)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR, help="weights to measure")
    args = parser.parse_args(argv)

    engine = EmotionEngine(weights_dir=args.weights)
    engine.analyze("warm up")
    engine.analyze("预热")

    def model(text: str) -> str:
        return engine.analyze(text).label

    vectors: dict[str, npt.NDArray[np.float32]] = {}

    def model_embedding(text: str) -> str:
        return engine.analyze(text, embedding=vectors[text]).label

    def lexicon(text: str) -> str:
        norm = normalize(text)
        return lexicon_label(norm, detect_language(norm))

    en_train = goemotions(args.data / "goemotions", "train")
    en_dev = goemotions(args.data / "goemotions", "dev")
    exclusive = [e for e in en_dev if len(e.labels) == 1]
    zh_train, zh_eval = smp(args.data / "smp2020_ewect")
    ja = japanese(args.ja)
    zh_labels = [label for label in LABELS if label != "disgust"]
    embedder = UseM3Embedding()
    if engine.embedding_model != embedder.name():
        raise SystemExit(f"the engine reads {engine.embedding_model}, not {embedder.name()}")
    texts = sorted({e.text for e in [*en_dev, *zh_eval, *ja]})
    for i in range(0, len(texts), 256):
        chunk = texts[i : i + 256]
        vectors.update(zip(chunk, embed_documents(embedder, chunk), strict=True))

    def same(label: str) -> str:
        return label

    def smp_fold(label: str) -> str:
        return "anger" if label == "disgust" else label

    rows = []
    for title, test, train, labels, fold in [
        ("en GoEmotions dev, exclusive", exclusive, en_train, LABELS, same),
        ("en GoEmotions dev, all", en_dev, en_train, LABELS, same),
        ("zh SMP2020 eval part, both", zh_eval, zh_train, zh_labels, smp_fold),
        (
            "zh SMP2020 eval part, usual",
            [e for e in zh_eval if e.source.endswith("usual")],
            zh_train,
            zh_labels,
            smp_fold,
        ),
        (
            "zh SMP2020 eval part, virus",
            [e for e in zh_eval if e.source.endswith("virus")],
            zh_train,
            zh_labels,
            smp_fold,
        ),
        ("ja hand-labelled set", ja, ja, LABELS, same),
    ]:
        top = majority(train)
        systems: dict[str, Predict] = {
            "majority": lambda _text, top=top: top,
            "lexicon": lexicon,
            "engine": model,
            "+embedding": model_embedding,
        }
        rows.append(evaluate(title, test, labels, systems, fold))
    print("Macro-F1 (Ekman + neutral); majority = the most frequent training label\n")
    print_table(["test set", "n", "majority", "lexicon", "engine", "+embedding"], rows)

    sample = [e.text for e in (exclusive[:1200] + zh_eval[:1200] + ja * 8)]
    sample = (sample * (args.latency_messages // len(sample) + 1))[: args.latency_messages]
    timings: dict[str, list[float]] = {
        "engine.analyze": [],
        "engine.analyze, embedding given": [],
        "lexicon": [],
    }
    for text in sample:
        for name, fn in zip(timings, (model, model_embedding, lexicon), strict=True):
            start = time.perf_counter()
            fn(text)
            timings[name].append((time.perf_counter() - start) * 1000)
    for text in sample[: args.embedding_messages]:
        start = time.perf_counter()
        embed_documents(embedder, [text])
        timings.setdefault("(memory's embedding, one message)", []).append(
            (time.perf_counter() - start) * 1000
        )
    long_text = "I am so tired of this. " * 2_200
    start = time.perf_counter()
    engine.analyze(long_text)
    paste_ms = (time.perf_counter() - start) * 1000
    print(f"\nLatency per message over {len(sample)} messages (en/zh/ja mix), ms\n")
    print(f"(the embedding over the first {args.embedding_messages}; one BLAS thread)\n")
    print_table(
        ["method", "p50", "p95", "mean"],
        [
            [
                name,
                f"{percentile(ms, 50):.3f}",
                f"{percentile(ms, 95):.3f}",
                f"{statistics.fmean(ms):.3f}",
            ]
            for name, ms in timings.items()
        ],
    )
    print(f"\n50 kB paste ({len(long_text):,} chars): {paste_ms:.2f} ms")
    sizes = {p.name: p.stat().st_size for p in args.weights.iterdir()}
    largest = max(sizes, key=sizes.__getitem__)
    print(
        f"Shipped weights: {sum(sizes.values()) / 1e6:.2f} MB in {args.weights}/; largest file "
        f"{largest} {sizes[largest] / 1e6:.2f} MB (limit 2 MB a file)"
    )


if __name__ == "__main__":
    main()
