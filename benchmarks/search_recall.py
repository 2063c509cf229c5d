"""Recall@10 and query time of the approximate FAISS indexes (IVF, HNSW) against exact search.

On planted synthetic embeddings of 384 dimensions (low intrinsic dimension, clusters, as real
embeddings have); the tests check the same at 12k tiles.

    python benchmarks/search_recall.py --n 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _data import ROOT  # noqa: F401  (puts the checkout on sys.path)

from radioexplore.simulation.planted import PlantedConfig, planted_embeddings
from radioexplore.space.index import IndexConfig, build_index, exact_search, factory_for, recall_at_k, search


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=1000)
    args = p.parse_args()
    emb, _ = planted_embeddings(PlantedConfig(n=args.n))
    q = emb[np.random.default_rng(0).choice(len(emb), args.queries, replace=False)]
    t0 = time.perf_counter()
    _, exact = exact_search(emb, q, 10)
    print(f"exact: {1000 * (time.perf_counter() - t0) / len(q):.2f} ms/query")
    for kind in ("ivf", "hnsw"):
        config = IndexConfig(approximate=kind, exact_below=0)
        t0 = time.perf_counter()
        index = build_index(emb, config)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, ids = search(index, q, 10)
        per = 1000 * (time.perf_counter() - t0) / len(q)
        print(
            f"{factory_for(*emb.shape, config):14s} build {built:6.1f} s  {per:.3f} ms/query  recall@10 {recall_at_k(ids, exact):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
