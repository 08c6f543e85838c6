"""Memory at scale: embedding speed, add throughput and search latency across 100 users.

For each size (default 10k and 100k memories spread over 100 users) the memories are
stored through ``MemoryManager.add_many`` and searched through ``MemoryManager.search``
(query embedding, SQL revision check, Chroma query, BM25, fusion). The baseline, run in
the same process on the same vectors, is the layout the issue measured: one shared
Chroma collection filtered by ``user_id`` AND ``agent_id`` metadata.

Texts come from a pool of distinct synthetic sentences; their embeddings are computed
once (that throughput is printed first), so ``add/s`` is the cost of storing (Chroma
upserts, SQL registry) and a new memory costs the embedding on top.

    python benchmarks/memory_scale.py [--sizes 10000,100000] [--users 100]
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.api.types import Documents, Embeddings
from chromadb.config import Settings as ChromaSettings

from miolumi.config import load_settings
from miolumi.core.memory import MemoryManager, NewMemory
from miolumi.core.memory.embeddings import UseM3Embedding

print = functools.partial(print, flush=True)

SUBJECTS = ["My sister", "My boss", "I", "My best friend", "My dad", "Our neighbour", "My cat"]
VERBS = ["loves", "hates", "visited", "bought", "talked about", "is learning", "dreams of"]
OBJECTS = [
    "hiking in the Alps",
    "a red bicycle",
    "jazz piano",
    "the night market",
    "Japanese cooking",
    "a trip to Lisbon",
    "marathon training",
    "old science fiction films",
    "the new apartment",
    "gardening tomatoes",
    "her job interview",
    "a broken phone",
    "the wedding in June",
    "learning Mandarin",
    "a concert in Berlin",
    "board games",
    "the dentist appointment",
]
WHEN = ["yesterday", "last week", "this morning", "every Sunday", "since 2019", "last summer"]


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add(
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(WHEN)} (note {rng.randint(0, 10**6)})"
        )
    return sorted(out)


class Cached(UseM3Embedding):
    """The default embedding function with its vectors of the text pool precomputed."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.table = table

    def __call__(self, input: Documents) -> Embeddings:
        missing = [t for t in input if t not in self.table]
        if missing:
            for text, vec in zip(missing, super().__call__(missing), strict=True):
                self.table[text] = np.asarray(vec)
        return [self.table[t] for t in input]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--pool", type=int, default=4000, help="distinct texts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    pool = sentences(args.pool, seed=1)
    raw = UseM3Embedding()
    raw(pool[:8])  # load the model
    start = time.perf_counter()
    vectors = [np.asarray(v) for i in range(0, len(pool), 256) for v in raw(pool[i : i + 256])]
    took = time.perf_counter() - start
    print(f"embedding (use-m3, 1 thread): {len(pool) / took:.0f} sentences/s over {len(pool)}")
    table = dict(zip(pool, vectors, strict=True))
    rng = random.Random(7)
    queries = [
        f"what about {rng.choice(OBJECTS)}?"
        if i % 2
        else f"{rng.choice(SUBJECTS)} and {rng.choice(OBJECTS)}"
        for i in range(args.queries)
    ]
    print(
        f"{'memories':>9} {'users':>5} {'add/s':>7} {'search p50':>10} {'p95 ms':>7} "
        f"{'cold p50':>8} | {'filtered':>8} {'p95 ms':>7} {'p95 ratio':>9}"
    )
    for size in sizes:
        per_user = size // args.users
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(home=Path(home))
            embedder = Cached(table)
            manager = MemoryManager(settings=settings, embedder=embedder)
            users = [f"user{u:03d}" for u in range(args.users)]
            start = time.perf_counter()
            for u, user in enumerate(users):
                texts = [pool[(u * 7919 + i) % len(pool)] for i in range(per_user)]
                manager.add_many(
                    user,
                    [NewMemory(text=t, episode=f"e{i // 20}") for i, t in enumerate(texts)],
                    agent_id="kai" if u % 2 else None,
                )
            add_rate = size / (time.perf_counter() - start)
            cold, warm = [], []
            for i, query in enumerate(queries):
                user = users[i % len(users)]
                agent = "kai" if (i % len(users)) % 2 else None
                t0 = time.perf_counter()
                manager.search(user, query, agent_id=agent, k=10)
                (cold if i < len(users) else warm).append((time.perf_counter() - t0) * 1000)
            # Baseline: one shared collection, filtered by user_id AND agent_id.
            client = chromadb.PersistentClient(
                path=str(Path(home) / "shared"), settings=ChromaSettings(anonymized_telemetry=False)
            )
            shared: Any = client.create_collection(
                "shared", configuration={"hnsw": {"space": "cosine"}}
            )
            batch_ids, batch_vecs, batch_meta = [], [], []
            for u, user in enumerate(users):
                for i in range(per_user):
                    text = pool[(u * 7919 + i) % len(pool)]
                    batch_ids.append(f"{user}-{i}")
                    batch_vecs.append(table[text])
                    batch_meta.append({"user_id": user, "agent_id": "kai" if u % 2 else "-"})
                    if len(batch_ids) == 5000:
                        shared.add(ids=batch_ids, embeddings=batch_vecs, metadatas=batch_meta)
                        batch_ids, batch_vecs, batch_meta = [], [], []
            if batch_ids:
                shared.add(ids=batch_ids, embeddings=batch_vecs, metadatas=batch_meta)
            filtered = []
            for i, query in enumerate(queries):
                u = i % len(users)
                where = {"$and": [{"user_id": users[u]}, {"agent_id": "kai" if u % 2 else "-"}]}
                t0 = time.perf_counter()
                vec = embedder.embed_query([query])
                shared.query(query_embeddings=vec, n_results=10, where=where)
                filtered.append((time.perf_counter() - t0) * 1000)
            p95, base95 = percentile(warm, 0.95), percentile(filtered, 0.95)
            print(
                f"{size:>9} {args.users:>5} {add_rate:>7.0f} {statistics.median(warm):>10.1f} "
                f"{p95:>7.1f} {statistics.median(cold):>8.1f} | "
                f"{statistics.median(filtered):>8.1f} {base95:>7.1f} {base95 / p95:>8.1f}x"
            )
            manager.close()
    print(
        "\nsearch = MemoryManager.search (embed query, BM25, Chroma, fusion), warm scope index;"
        "\ncold = first search of a scope in the process; filtered = baseline (shared collection,"
        "\nmetadata filter, query embedding included). Targets: p95 <= 20 ms at 100k, "
        "embedding >= 200/s."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
