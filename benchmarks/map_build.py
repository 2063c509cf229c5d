"""Map build time for 10^5 tiles: UMAP and t-SNE (openTSNE, FFT-accelerated), as ``radioexplore map`` builds them.

Embeddings come from radioexplore.simulation.synthetic (clusters in 384 dimensions); both methods run on the
50 PCA components radioexplore.space.maps uses, fitted on every tile (10^5 is below the default
``sample_above``). The first UMAP call in a process also pays numba's compilation; the script
reports it separately by mapping 2,000 tiles first.

    python benchmarks/map_build.py                          # 10^5 tiles, UMAP and t-SNE
    python benchmarks/map_build.py --tiles 20000 --methods umap
"""

from __future__ import annotations

import argparse
import time

from _common import header, load, peak_rss_gib

from radioexplore.simulation.synthetic import synthetic_embeddings
from radioexplore.space.maps import MapConfig, compute_map


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiles", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--methods", default="umap,tsne")
    args = p.parse_args()
    header(f"map build: {args.tiles:,} tiles x {args.dim}")
    emb, _ = synthetic_embeddings(args.tiles, args.dim, clusters=20, outlier_fraction=0.002)
    rows = []
    for method in args.methods.split(","):
        config = MapConfig(method=method)
        t0 = time.perf_counter()
        compute_map(emb[:2000], config)
        warm = time.perf_counter() - t0
        before = load()
        t0 = time.perf_counter()
        xy = compute_map(emb, config)
        seconds = time.perf_counter() - t0
        assert xy.shape == (args.tiles, 2)
        rows.append((method, seconds, warm, before))
        print(f"{method}: {seconds:.1f} s for {args.tiles:,} tiles (2,000-tile warm-up {warm:.1f} s; {before})")
    print(f"peak RSS {peak_rss_gib():.2f} GiB")
    print()
    print("| method | tiles | time (s) | warm-up on 2,000 tiles (s) | load before |")
    print("| --- | ---: | ---: | ---: | --- |")
    for method, seconds, warm, before in rows:
        print(f"| {method} | {args.tiles:,} | {seconds:.1f} | {warm:.1f} | {before} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
