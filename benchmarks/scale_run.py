"""A synthetic run of N tiles (default 10^6 x 384) through index, map and rank: time and peak memory per stage.

Issue 7's acceptance run: a 10^6-tile run whose embeddings come from
radioexplore.simulation.synthetic.make_synthetic_run (no images) builds its index, its maps (UMAP fitted on a
sample and the rest placed with its transform; PCA) and its scores. Each stage runs as its own
process through the ``radioexplore`` CLI, as a user would run it, so its peak resident memory is
its own (``ru_maxrss`` from ``wait4``). After the index, 200 tiles are searched one at a time
(latency, recall@10 against exact search, for a range of nprobe); the last stage loads the
artefacts column-wise, as the app does: tiles and scores from parquet, embeddings memory-mapped.

    python benchmarks/scale_run.py                         # 10^6 tiles into a temporary folder
    python benchmarks/scale_run.py --tiles 100000 --run /tmp/scale100k --keep
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, header, load, peak_rss_gib, run_measured


def make_run(run: Path, tiles: int, dim: int) -> None:
    from radioexplore.run.rundir import RunDir
    from radioexplore.simulation.synthetic import SyntheticConfig, make_synthetic_run

    make_synthetic_run(RunDir(run), SyntheticConfig(tiles=tiles, dim=dim))


def load_columns(run: Path) -> None:
    """Read what the app reads of a large run, and print how long each read took and what it holds."""
    import numpy as np

    from radioexplore.run.rundir import RunDir

    rd = RunDir(run)
    for what, read in (
        ("tiles (5 columns)", lambda: rd.read_tiles(columns=["tile_id", "field", "ra", "dec", "noise_rms"])),
        ("scores", lambda: rd.read_scores("synthetic")),
        ("umap map", lambda: rd.read_map("synthetic", "umap")),
        ("embeddings (memory map)", lambda: rd.read_embeddings("synthetic")),
    ):
        t0 = time.perf_counter()
        obj = read()
        seconds = time.perf_counter() - t0
        if isinstance(obj, np.ndarray):
            kind = f"{type(obj).__name__} {obj.shape} {obj.dtype}"
        else:
            kind = ", ".join(f"{c}:{t}" for c, t in obj.dtypes.astype(str).items())
        print(f"  load {what}: {seconds:.2f} s; {kind}; peak RSS so far {peak_rss_gib():.2f} GiB", flush=True)


def search_stage(run: Path, queries: int = 200, k: int = 10) -> None:
    """Latency (one query at a time, one thread) and recall@k of the run's index against exact search.

    Queries are tiles of the run; each one's own row is left out of both answers.
    """
    import faiss
    import numpy as np

    from radioexplore.run.rundir import RunDir

    rd = RunDir(run)
    emb = rd.read_embeddings("synthetic")
    index = faiss.read_index(str(rd.index("synthetic")))
    ids = np.sort(np.random.default_rng(1).choice(len(emb), queries, replace=False))
    q = np.array(emb[ids], dtype=np.float32)
    faiss.normalize_L2(q)
    sims = np.empty((queries, 0), np.float32)
    owners = np.empty((queries, 0), np.int64)
    for start in range(0, len(emb), 100_000):  # exact answers, block by block of the memory map
        block = np.array(emb[start : start + 100_000], dtype=np.float32)  # a copy: the memory map is read-only
        faiss.normalize_L2(block)
        s = q @ block.T
        top = np.argpartition(-s, k, axis=1)[:, : k + 1]
        sims = np.hstack([sims, np.take_along_axis(s, top, 1)])
        owners = np.hstack([owners, top + start])
    order = np.argsort(-sims, axis=1)
    exact = np.take_along_axis(owners, order, 1)
    truth = [[i for i in row if i != own][:k] for row, own in zip(exact, ids, strict=True)]
    factory = rd.stage_config("index", "synthetic").get("factory_used", "?")
    print(f"  search {factory}: {queries} tiles as queries, recall@{k} against exact, 1 thread")
    faiss.omp_set_num_threads(1)
    for nprobe in (8, 16, 32, 64, 96, 128) if factory.startswith("IVF") else (None,):
        if nprobe is not None:
            faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
        times, hits = [], 0
        for row, own, want in zip(q, ids, truth, strict=True):
            t0 = time.perf_counter()
            found = index.search(row[None], k + 1)[1][0]
            times.append(time.perf_counter() - t0)
            hits += len(set(found[found != own][:k].tolist()) & set(want))
        print(
            f"  {f'nprobe={nprobe}' if nprobe else 'exact':12s} recall@{k} {hits / (k * queries):.3f}  median {1e3 * np.median(times):.2f} ms  "
            f"p95 {1e3 * np.percentile(times, 95):.2f} ms  ({load()})",
            flush=True,
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiles", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--run", type=Path, help="run directory (default: a temporary folder, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the run directory")
    p.add_argument("--stage", choices=("synthetic", "load", "search"), help=argparse.SUPPRESS)  # a child's job
    args = p.parse_args()
    if args.stage == "synthetic":
        make_run(args.run, args.tiles, args.dim)
        return 0
    if args.stage == "load":
        load_columns(args.run)
        return 0
    if args.stage == "search":
        search_stage(args.run)
        return 0

    header(f"scale run: {args.tiles:,} synthetic tiles x {args.dim}")
    run = args.run or Path(tempfile.mkdtemp(prefix="radioexplore-scale-")) / "run"
    cli = [sys.executable, "-m", "radioexplore", "-q"]
    me = [sys.executable, str(Path(__file__).resolve())]
    where = ["--run", str(run)]
    stages = [
        ("synthetic run", [*me, "--stage", "synthetic", *where, "--tiles", str(args.tiles), "--dim", str(args.dim)]),
        ("index (default factory)", [*cli, "index", *where, "--name", "synthetic"]),
        ("search: latency and recall@10", [*me, "--stage", "search", *where]),
        ("map: UMAP (sample + transform)", [*cli, "map", *where, "--name", "synthetic", "--method", "umap"]),
        ("map: PCA", [*cli, "map", *where, "--name", "synthetic", "--method", "pca"]),
        ("rank: Isolation Forest", [*cli, "rank", *where, "--name", "synthetic"]),
        ("load column-wise", [*me, "--stage", "load", *where]),
    ]
    rows = []
    try:
        for name, cmd in stages:
            before = load()
            print(f"{name} ... ({before})", flush=True)
            seconds, peak, code = run_measured(cmd, env={"PYTHONPATH": str(ROOT)}, cwd=ROOT)
            rows.append((name, seconds, peak, before))
            print(f"{name}: {seconds:.1f} s, peak RSS {peak:.2f} GiB", flush=True)
            if code != 0:
                print(f"error: stage {name!r} failed with status {code}: {' '.join(cmd)}", file=sys.stderr)
                return code
        from radioexplore.run.rundir import RunDir

        rd = RunDir(run)
        meta = rd.stage_config("map", "synthetic.umap")
        print(
            f"UMAP fitted on {meta.get('fitted_on')} of {meta.get('n')} tiles; index {rd.stage_config('index', 'synthetic').get('factory_used')}"
        )
        sizes = {p.relative_to(run).as_posix(): p.stat().st_size for p in run.rglob("*") if p.is_file()}
        big = sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
        print("largest artefacts: " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in big))
    finally:
        if not args.keep and args.run is None:
            shutil.rmtree(run.parent, ignore_errors=True)
    print()
    print("| stage | time (s) | peak RSS (GiB) | load before |")
    print("| --- | ---: | ---: | --- |")
    for name, seconds, peak, before in rows:
        print(f"| {name} | {seconds:.1f} | {peak:.2f} | {before} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
