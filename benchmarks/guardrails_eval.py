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
other four of five folds (rules and policy unchanged), which is what generalisation to
the held-aside parts of these sources should look like.

``python benchmarks/guardrails_eval.py --data ../shared/data`` (about three minutes;
``--no-cv`` skips the held-out columns, ``--no-embedding`` the ``+emb`` ones).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from guardrails_data import HEADS, Example, everything, fold_of
from train_guardrails import FOLDS, fit, grams_of, long_mask, neighbour_mask
from train_guardrails import embed as embed_all

from miolumi.core.guardrails import Guardrails, GuardVerdict, shipped_classifier
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

#: BIPIA task families whose instructions are ordinary requests ("Recommend a good book
#: for a relaxing weekend read."): injected into a document they are attacks, typed by a
#: user they are chat, so they are reported apart.
PLAIN_TASKS = {
    "Task Automation",
    "Business Intelligence",
    "Conversational Agent",
    "Research Assistance",
    "Sentiment Analysis",
}

Detector = Callable[[str], GuardVerdict | set[str]]


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
    negatives = sorted((score[id(e)] for e, _ in pairs if not e.labels), reverse=True)
    cut = negatives[int(fpr * len(negatives))]
    return rate([score[id(e)] > cut for e, _ in pairs if e.labels])


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


def held_out(
    examples: Sequence[Example],
    shifts: tuple[np.ndarray, np.ndarray],
    embeddings: np.ndarray | None,
) -> tuple[list[GuardVerdict], list[GuardVerdict]]:
    """Each example scored by guardrails whose classifier never saw its fold: without its
    embedding, and with it (an empty list without ``embeddings``)."""
    grams = grams_of([e.text for e in examples])
    long = long_mask([e.text for e in examples])
    folds = np.array([fold_of(e.text, FOLDS) for e in examples])
    plain: dict[int, GuardVerdict] = {}
    joint: dict[int, GuardVerdict] = {}
    for f in range(FOLDS):
        train = np.flatnonzero(folds != f)
        vectors = None if embeddings is None else embeddings[train]
        model = fit([grams[i] for i in train], [examples[i].labels for i in train], long[train],
                    min_df=2, embeddings=vectors,
                    neighbours=neighbour_mask([examples[i] for i in train]))  # fmt: skip
        guard = Guardrails(classifier=model.shifted(*shifts).classifier())
        for i in np.flatnonzero(folds == f):
            plain[i] = guard.check_input(examples[i].text)
            if embeddings is not None:
                joint[i] = guard.check_input(examples[i].text, embedding=embeddings[i])
    return [plain[i] for i in range(len(examples))], [joint[i] for i in sorted(joint)]


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
    """Milliseconds to embed one chat message (what memory pays per message anyway)."""
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
    timings = {"keywords": base_times, "guardrails": times}
    if embeddings is not None:
        results["shipped+emb"], timings["guardrails+emb"] = run_embedded(
            guard, examples, embeddings
        )
    if not args.no_cv:
        plain, joint_cv = held_out(examples, shipped_shifts(), embeddings)
        results["held-out"] = plain
        if joint_cv:
            results["held-out+emb"] = joint_cv
    columns = {n: figures(examples, r) for n, r in results.items()}
    names = list(columns)
    print(f"{len(examples)} examples from {args.data} and benchmarks/data/guardrails_own.tsv\n")
    print(f"{'figure':44}" + "".join(f"{n:>13}" for n in names))
    for key in columns["shipped"]:
        print(f"{key:44}" + "".join(f"{columns[n][key]:>13.3f}" for n in names))
    print("\nforbidden questions per policy area, detected / blocked")
    area_columns = {n: area_rates(examples, results[n]) for n in names}
    for area in area_columns["shipped"]:
        print(f"  {area:42}" + "".join(
            f"{area_columns[n][area][0]:>7.2f}/{area_columns[n][area][1]:<5.2f}" for n in names
        ))  # fmt: skip
    report_latency(examples, timings)
    if embeddings is not None:
        cost = embedding_latency(examples)
        cuts = statistics.quantiles(cost, n=100)
        print(f"  embedding one message (paid by memory) p50 {statistics.median(cost):.3f}  "
              f"p95 {cuts[94]:.3f}")  # fmt: skip


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
