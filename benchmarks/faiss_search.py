"""FAISS query latency and recall@10 of approximate indexes against exact search, 10^6 x 384 by default.

Issue 7's acceptance: under 5 ms per query at recall@10 >= 0.95 on 10^6 x 384 embeddings. Each
index is named by an ``index_factory`` string (as ``radioexplore index --factory`` takes) over
L2-normalised vectors with inner product (cosine), as radioexplore.space.index builds them; the search
breadth is swept (nprobe for IVF, efSearch for HNSW). Latency is one query at a time (as the app
asks), median and 95th percentile over ``--latency-queries`` queries; recall@10 is over
``--queries`` held-out queries against IndexFlatIP. Two data sets:

- ``clustered``: radioexplore.simulation.synthetic.synthetic_embeddings (clusters + i.i.d. noise in all 384
  dimensions): distances concentrate, the hard case for any approximate index;
- ``lowrank``: clusters in 16 dimensions mixed into 384 (benchmarks/_common.py), closer to real
  self-supervised embeddings.

    python benchmarks/faiss_search.py                      # 10^6, both data sets, IVF4096 and HNSW32
    python benchmarks/faiss_search.py --n 100000 --data lowrank --factories HNSW32,Flat
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np
from _common import header, load, low_rank_embeddings

from radioexplore.simulation.synthetic import synthetic_embeddings

SWEEPS = {"nprobe": (1, 2, 4, 8, 16, 32, 64, 128, 256), "efSearch": (16, 32, 64, 128, 256, 512)}


def dataset(kind: str, n: int, dim: int, seed: int = 0) -> np.ndarray:
    if kind == "clustered":
        return synthetic_embeddings(n, dim, clusters=20, outlier_fraction=0.002, seed=seed)[0]
    if kind == "lowrank":
        return low_rank_embeddings(n, dim, seed=seed)
    raise SystemExit(f"error: --data takes clustered or lowrank, not {kind!r}")


def build(factory: str, x: np.ndarray, train_rows: int) -> tuple[faiss.Index, float]:
    t0 = time.perf_counter()
    index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        rng = np.random.default_rng(0)
        sample = x if len(x) <= train_rows else x[np.sort(rng.choice(len(x), train_rows, replace=False))]
        index.train(sample)
    for start in range(0, len(x), 100_000):
        index.add(x[start : start + 100_000])
    return index, time.perf_counter() - t0


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(np.intersect1d(f[:k], t)) / k for f, t in zip(found, truth, strict=True)]))


def latency_ms(index: faiss.Index, queries: np.ndarray, k: int, threads: int = 0) -> tuple[float, float]:
    """Median and 95th-percentile milliseconds of one-query searches, on ``threads`` OpenMP threads (0: all)."""
    everything = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads or everything)
    times = []
    try:
        for q in queries:
            t0 = time.perf_counter()
            index.search(q[None], k)
            times.append(time.perf_counter() - t0)
    finally:
        faiss.omp_set_num_threads(everything)
    return 1e3 * float(np.median(times)), 1e3 * float(np.percentile(times, 95))


def sweep_name(factory: str) -> str | None:
    if "HNSW" in factory.split(",")[0] and not factory.startswith("IVF"):
        return "efSearch"
    if factory.startswith("IVF"):
        return "nprobe"
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--data", default="clustered,lowrank", help="comma-separated: clustered, lowrank")
    p.add_argument("--factories", default="IVF4096,Flat;HNSW32,Flat", help="index_factory strings, ';'-separated")
    p.add_argument("--queries", type=int, default=1000, help="held-out queries for recall@10")
    p.add_argument("--latency-queries", type=int, default=300, help="single queries timed per setting")
    p.add_argument("--train", type=int, default=131_072, help="rows to train IVF centroids on")
    p.add_argument(
        "--latency-threads",
        type=int,
        default=0,
        help="OpenMP threads for the single-query timings (default: all; 1 avoids fork/join waits on a busy machine)",
    )
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--target-ms", type=float, default=5.0)
    p.add_argument("--target-recall", type=float, default=0.95)
    args = p.parse_args()
    header(f"FAISS search: {args.n:,} x {args.dim}, recall@{args.k} against exact, one query at a time")
    threads = args.latency_threads or faiss.omp_get_max_threads()
    print(f"# faiss: {faiss.omp_get_max_threads()} OpenMP threads, {threads} for single-query timings")
    rows = []
    for kind in args.data.split(","):
        data = dataset(kind, args.n + args.queries, args.dim)
        faiss.normalize_L2(data)
        x, queries = data[: args.n], data[args.n :]
        exact = faiss.IndexFlatIP(args.dim)
        exact.add(x)
        t0 = time.perf_counter()
        truth = exact.search(queries, args.k)[1]
        flat_ms = 1e3 * (time.perf_counter() - t0) / len(queries)
        lat = latency_ms(exact, queries[: min(20, len(queries))], args.k, args.latency_threads)
        rows.append((kind, "Flat (exact)", "", 0.0, 1.0, *lat, load()))
        print(f"{kind}: exact search {lat[0]:.1f} ms per single query ({flat_ms:.2f} ms per query in a batch)")
        del exact
        for factory in args.factories.split(";"):
            index, seconds = build(factory, x, args.train)
            print(f"{kind}: built {factory} in {seconds:.0f} s ({load()})", flush=True)
            name = sweep_name(factory)
            for value in SWEEPS.get(name, (None,)):
                if name is not None:
                    faiss.ParameterSpace().set_index_parameter(index, name, value)
                found = index.search(queries, args.k)[1]
                rec = recall_at(found, truth)
                med, p95 = latency_ms(index, queries[: args.latency_queries], args.k, args.latency_threads)
                setting = f"{name}={value}" if name else ""
                rows.append((kind, factory, setting, seconds, rec, med, p95, load()))
                print(f"  {setting:14s} recall@{args.k} {rec:.3f}  median {med:.2f} ms  p95 {p95:.2f} ms", flush=True)
                if rec >= 0.999:
                    break
            del index
        del data, x, queries
    print()
    print(f"| data | index | setting | build (s) | recall@{args.k} | median ms | p95 ms | load |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- |")
    for kind, factory, setting, seconds, rec, med, p95, ld in rows:
        print(f"| {kind} | {factory} | {setting} | {seconds:.0f} | {rec:.3f} | {med:.2f} | {p95:.2f} | {ld} |")
    print()
    for kind in args.data.split(","):
        ok = [r for r in rows if r[0] == kind and r[4] >= args.target_recall and r[5] < args.target_ms]
        if ok:
            best = min(ok, key=lambda r: r[5])
            print(
                f"{kind}: best setting meeting the target: {best[1]} {best[2]}: {best[5]:.2f} ms, recall {best[4]:.3f}"
            )
        else:
            close = max((r for r in rows if r[0] == kind and r[5] < args.target_ms), key=lambda r: r[4], default=None)
            what = f"best recall under {args.target_ms} ms: {close[1]} {close[2]} at {close[4]:.3f}" if close else ""
            print(f"{kind}: no setting meets {args.target_ms} ms at recall >= {args.target_recall}; {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
