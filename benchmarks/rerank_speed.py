"""How long re-ranking takes after one new label, for 10^5 and 10^6 tiles of 384 dimensions.

The app keeps one :class:`radioexplore.ranking.active.ActiveRanker` per session: its PCA is paid once
("prepare"); each new label costs one re-rank (fit the regressor on the labelled tiles, predict
interest for every tile, blend, rank). Issue 6 asks for under 2 s at 10^5 tiles on the 2-core
development machine. Embeddings are random normal (timing does not depend on their content); the
tiles lie on grids of 64 x 64 per field, standardised per field, so that the timing includes what
the app's ranker does (field scaling, labels reaching touching tiles).

    python benchmarks/rerank_speed.py --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from _data import ROOT  # noqa: F401  (puts the checkout on sys.path)

from radioexplore.ranking.active import BLENDS, REGRESSORS, ActiveConfig, ActiveRanker
from radioexplore.ranking.standardise import fit_scaling
from radioexplore.tiling import tile_adjacency


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--labels", type=int, default=50, help="interest scores already given before the timed label")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--regressor", default="all", help=f"one of {', '.join(REGRESSORS)} or 'all'")
    p.add_argument("--blend", choices=sorted(BLENDS), default=ActiveConfig().blend)
    args = p.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; dim {args.dim}, {args.labels} labels + 1")
    regressors = list(REGRESSORS) if args.regressor == "all" else [args.regressor]
    rng = np.random.default_rng(0)
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        emb = rng.standard_normal((n, args.dim), dtype=np.float32)
        anomaly = rng.random(n, dtype=np.float32)
        cell = np.arange(n) % 4096
        field = (np.arange(n) // 4096).astype(str)
        t0 = time.perf_counter()
        scaling = fit_scaling(emb, "field", field)
        adjacency = tile_adjacency(field, (cell % 64) * 128, (cell // 64) * 128, np.full(n, 128))
        artefacts = rng.random((n, 5), dtype=np.float32)  # the artefact block (ranking.active.artefact_block)
        ranker = ActiveRanker(
            emb, anomaly, ActiveConfig(blend=args.blend), scaling, adjacency=adjacency, artefacts=artefacts
        )
        prepare = time.perf_counter() - t0
        ids = rng.choice(n, args.labels + 1, replace=False)
        interest = pd.Series(rng.integers(1, 6, len(ids)), index=ids)
        labelled_artefacts = ids[interest.to_numpy() == 1]  # the boring ones labelled ARTEFACT
        for reg in regressors:
            ranker.config = ActiveConfig(regressor=reg, blend=args.blend)
            ranker.rerank(interest.iloc[:-1], labelled_artefacts)  # the state before the new label
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                ranker.rerank(interest, labelled_artefacts)
                times.append(time.perf_counter() - t0)
            rows.append(
                {"tiles": n, "regressor": reg, "prepare (s, once)": prepare, "re-rank (s, median)": np.median(times)}
            )
            print(rows[-1], flush=True)
        del emb, ranker
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
