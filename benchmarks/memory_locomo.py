"""LoCoMo retrieval: recall@5/@10 of the evidence turns, MemoryManager vs two baselines.

Each conversation's turns are stored as the memories of one user (``dia_id`` and the
session date in metadata; the session as episode; the turn before as context), every QA
question is run as a search, and recall is the share of a question's evidence turns
found in the top k. Two baselines run in the same process on one document per turn:
BM25 alone (the same CJK-aware tokenizer) and plain Chroma cosine with the same
embedding function. Ablations of the relevance weights show what each part adds.

    python benchmarks/memory_locomo.py --data ../shared/data/locomo/locomo_dev.json
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from miolumi.config import load_settings
from miolumi.core.memory import MemoryManager, NewMemory
from miolumi.core.memory.lexical import BM25Index

print = functools.partial(print, flush=True)

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    date: datetime
    date_text: str


@dataclass(frozen=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int


def parse_date(text: str) -> datetime:
    """LoCoMo's '1:56 pm on 8 May, 2023'."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load(path: Path) -> list[tuple[str, list[Turn], list[Question]]]:
    conversations = []
    for sample in json.loads(path.read_text(encoding="utf-8")):
        conv = sample["conversation"]
        sessions = sorted(
            (k for k in conv if re.fullmatch(r"session_\d+", k)), key=lambda k: int(k[8:])
        )
        turns: list[Turn] = []
        for key in sessions:
            date_text = conv[f"{key}_date_time"]
            for raw in conv[key]:
                text = raw["text"]
                if raw.get("blip_caption"):
                    text += f" [shares a photo of {raw['blip_caption']}]"
                turns.append(
                    Turn(
                        dia_id=raw["dia_id"],
                        speaker=raw["speaker"],
                        text=text,
                        session=int(key[8:]),
                        date=parse_date(date_text),
                        date_text=date_text,
                    )
                )
        known = {t.dia_id for t in turns}
        questions = []
        for qa in sample["qa"]:
            evidence = set()
            for item in qa.get("evidence", []):
                for part in re.split(r"[;\s]+", item):
                    match = _EVIDENCE.fullmatch(part.strip())
                    if match:
                        evidence.add(f"D{int(match.group(1))}:{int(match.group(2))}")
            evidence &= known
            if evidence:
                questions.append(Question(qa["question"], frozenset(evidence), qa["category"]))
        conversations.append((sample["sample_id"], turns, questions))
    return conversations


def document(turn: Turn) -> str:
    return f"{turn.speaker}: {turn.text}"


def memories(turns: list[Turn]) -> list[NewMemory]:
    items = []
    for i, turn in enumerate(turns):
        before = turns[i - 1] if i and turns[i - 1].session == turn.session else None
        items.append(
            NewMemory(
                text=document(turn),
                metadata={"dia_id": turn.dia_id, "session_date": turn.date_text},
                timestamp=turn.date,
                context=document(before) if before else None,
                episode=f"session_{turn.session}",
            )
        )
    return items


Searcher = Callable[[str, str, int], list[str]]


def evaluate(
    conversations: list[tuple[str, list[Turn], list[Question]]], search: Searcher
) -> tuple[dict[tuple[int, int], float], list[float]]:
    recalls: dict[tuple[int, int], list[float]] = defaultdict(list)
    latencies = []
    for user, _turns, questions in conversations:
        for q in questions:
            start = time.perf_counter()
            found = search(user, q.text, 10)
            latencies.append((time.perf_counter() - start) * 1000)
            for k in (5, 10):
                r = len(set(found[:k]) & q.evidence) / len(q.evidence)
                recalls[(k, 0)].append(r)
                recalls[(k, q.category)].append(r)
    return {key: statistics.fmean(v) for key, v in recalls.items()}, latencies


def row(name: str, recall: dict[tuple[int, int], float], latencies: list[float]) -> str:
    cats = " ".join(f"{recall.get((10, c), 0):>11.3f}" for c in CATEGORIES)
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    return (
        f"{name:<34} {recall[(5, 0)]:>6.3f} {recall[(10, 0)]:>6.3f} {cats} {p50:>7.1f} {p95:>7.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="locomo_dev.json")
    parser.add_argument("--embeddings", default="use-m3", help="MIOLUMI_EMBEDDINGS to use")
    parser.add_argument("--conversations", type=int, default=None, help="only the first N")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no LoCoMo file at {args.data}", file=sys.stderr)
        return 2
    conversations = load(args.data)[: args.conversations]
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings(home=Path(home), embeddings=args.embeddings)
        manager = MemoryManager(settings=settings)
        ef = manager.embedder
        by_id: dict[str, dict[str, Turn]] = {}
        start = time.perf_counter()
        total = 0
        for user, turns, _ in conversations:
            manager.add_many(user, memories(turns))
            by_id[user] = {t.dia_id: t for t in turns}
            total += len(turns)
        load_s = time.perf_counter() - start

        def ours(mgr: MemoryManager) -> Searcher:
            def search(user: str, query: str, k: int) -> list[str]:
                return [str(h.metadata["dia_id"]) for h in mgr.search(user, query, k=k)]

            return search

        # Baseline 1: BM25 alone, one document per turn.
        bm25: dict[str, tuple[BM25Index, list[str]]] = {}
        for user, turns, _ in conversations:
            index = BM25Index()
            index.extend(document(t) for t in turns)
            bm25[user] = (index, [t.dia_id for t in turns])

        def bm25_search(user: str, query: str, k: int) -> list[str]:
            index, ids = bm25[user]
            scores = index.scores(query)
            return [ids[p] for p in sorted(scores, key=scores.__getitem__, reverse=True)[:k]]

        # Baseline 2: plain Chroma cosine, same embedding function, one document per turn.
        client = chromadb.PersistentClient(
            path=str(Path(home) / "plain"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        plain: dict[str, Any] = {}
        for user, turns, _ in conversations:
            col = client.create_collection(f"plain-{user}", embedding_function=ef)  # type: ignore[arg-type]
            for i in range(0, len(turns), 256):
                chunk = turns[i : i + 256]
                col.add(ids=[t.dia_id for t in chunk], documents=[document(t) for t in chunk])
            plain[user] = col

        def cosine_search(user: str, query: str, k: int) -> list[str]:
            return list(plain[user].query(query_texts=[query], n_results=k)["ids"][0])

        print(
            f"LoCoMo {args.data.name}: {len(conversations)} conversations, {total} turns, "
            f"{sum(len(q) for *_, q in conversations)} questions; embeddings {args.embeddings}"
        )
        print(f"stored {total} memories in {load_s:.1f} s ({total / load_s:.0f}/s)\n")
        cats = " ".join(f"{name:>11}" for name in CATEGORIES.values())
        print(f"{'method':<34} {'R@5':>6} {'R@10':>6} {cats} {'p50 ms':>7} {'p95 ms':>7}")
        results = {}
        for name, search in [
            ("baseline: BM25 alone", bm25_search),
            ("baseline: Chroma cosine", cosine_search),
        ]:
            recall, lat = evaluate(conversations, search)
            results[name] = recall[(10, 0)]
            print(row(name, recall, lat))
        default = manager.weights
        variants = [
            ("MemoryManager (default weights)", default),
            ("  without neighbours", replace(default, neighbours=0.0)),
            ("  without semantic", replace(default, semantic=0.0)),
            ("  without lexical", replace(default, lexical=0.0)),
            ("  semantic=lexical=0.5", replace(default, semantic=0.5, lexical=0.5)),
            ("  neighbours=0.8", replace(default, neighbours=0.8)),
            ("  recency=0.2", replace(default, recency=0.2)),
        ]
        for name, weights in variants:
            mgr = (
                manager
                if weights == default
                else MemoryManager(settings=settings, weights=weights, embedder=ef)
            )
            recall, lat = evaluate(conversations, ours(mgr))
            results[name] = recall[(10, 0)]
            print(row(name, recall, lat))
        best = max(results["baseline: BM25 alone"], results["baseline: Chroma cosine"])
        mine = results["MemoryManager (default weights)"]
        print(
            f"\nrecall@10 {mine:.3f} vs better baseline {best:.3f}: "
            f"{(mine - best) * 100:+.1f} points (targets: >= 0.75 and >= +10)"
        )
        manager.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
