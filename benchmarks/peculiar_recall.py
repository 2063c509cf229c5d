"""How well the unsupervised anomaly ranking finds peculiar tiles, printed like seed 002's Table 4.

For each embedding set and feature set (every dimension, then the top-k LightGBM features learnt
from labels on a random 10% of the tiles, as seed 002 annotated about 10%), ranked as
``rank_run`` ranks (tiles flagged blank or partial left out, embedding columns standardised per
field; ``--exclude-flags`` and ``--standardise`` change that): the recall of
peculiar tiles in the top 2% of the ranking (acceptance of issue 6: at least half), and the
metrics at the threshold where peculiar recall and precision cross (seed 002, Table 4).

    python benchmarks/peculiar_recall.py --run RUN
    python benchmarks/peculiar_recall.py --simulate /tmp/bench --fields 16 --size 2048
    python benchmarks/peculiar_recall.py --synthetic --n 20000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _data import add_data_args, load  # benchmarks/ is not a package: _data sits beside this script

from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.exclusion import check_flags, flags_to_exclude, parse_flags
from radioexplore.ranking.metrics import crossing_threshold_metrics, recall_in_top
from radioexplore.ranking.rank import rank_embeddings
from radioexplore.ranking.standardise import STANDARDISE


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(p)
    p.add_argument("--fraction", type=float, default=0.02, help="top fraction for the recall (issue 6: 2%%)")
    p.add_argument("--top-k", default="0,5,10", help="feature sets: 0 = every dimension, else top-k LightGBM features")
    p.add_argument("--labelled", type=float, default=0.1, help="fraction of tiles labelled for feature selection")
    d = RankConfig()
    p.add_argument(
        "--standardise",
        choices=STANDARDISE,
        default=d.standardise,
        help="robust per-column scaling before the forest, per field of the run (default, as rank_run), "
        "over the run, or none",
    )
    p.add_argument(
        "--exclude-flags",
        default=",".join(d.exclude_flags),
        help="comma-separated tile flags left out of the ranking (default as rank_run: blank,partial; 'none')",
    )
    p.add_argument(
        "--min-group", type=int, default=d.min_group, help="--standardise field: smallest own-statistics field"
    )
    args = p.parse_args()
    flags = check_flags(parse_flags(args.exclude_flags))
    data = load(args)
    flags, notes = flags_to_exclude(data.flag, flags)  # as rank_run decides (mosaics: not a stamps run)
    exclude = data.exclude(flags)
    complex_ = data.extended & ~data.peculiar
    n = len(data.peculiar)
    print(f"data: {data.source}")
    print(f"tiles {n}, peculiar {int(data.peculiar.sum())}, complex {int(complex_.sum())}")
    n_fields = len(np.unique(data.field)) if data.field is not None else 0
    per_field = f" (min_group {args.min_group}, {n_fields or 'no'} fields)" if args.standardise == "field" else ""
    print(
        f"settings: standardise={args.standardise}{per_field}, "
        f"exclude_flags={','.join(flags) or 'none'} ({0 if exclude is None else int(exclude.sum())} tiles excluded, "
        f"{0 if exclude is None else int((exclude & data.peculiar).sum())} of them peculiar), seed {args.seed}"
    )
    for note in notes:
        print(f"note: {note}")
    rng = np.random.default_rng(args.seed)
    labelled = rng.choice(n, max(2, int(args.labelled * n)), replace=False)
    labels = pd.DataFrame(
        {"tile_id": labelled, "labels": [("EXTENDED",) if data.extended[i] else ("COMPACT",) for i in labelled]}
    )
    rows = []
    for name, emb in data.embeddings.items():
        for k in (int(x) for x in args.top_k.split(",")):
            t0 = time.perf_counter()
            try:
                config = RankConfig(
                    top_k=k or None,
                    exclude_flags=flags,
                    standardise=args.standardise,
                    min_group=args.min_group,
                    seed=args.seed,
                )
                df, sel = rank_embeddings(emb, config, labels if k else None, exclude, data.field)
            except ValueError as exc:
                print(f"{name} top{k}: skipped ({exc})")
                continue
            score = df["score"].to_numpy()
            m = crossing_threshold_metrics(score, data.peculiar, complex_)
            rows.append(
                {
                    "embedding": name,
                    "features": f"top{k}" if k else f"all {emb.shape[1]}",
                    f"R@top{args.fraction:.0%}": 100 * recall_in_top(score, data.peculiar, args.fraction),
                    "Thr.": m["threshold"],
                    "R": 100 * m["recall"],
                    "P": 100 * m["precision"],
                    "P_pec+complex": 100 * m["precision_pec_complex"],
                    "C_complex": 100 * m["contamination_complex"],
                    "C_ordinary": 100 * m["contamination_ordinary"],
                    "seconds": time.perf_counter() - t0,
                }
            )
    table = pd.DataFrame(rows)
    print("\nrecall in the top fraction, and seed 002 Table 4 metrics (%) at the recall = precision threshold:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}" if abs(v) < 1 else f"{v:.1f}"))
    col = f"R@top{args.fraction:.0%}"
    if len(table):
        best = table.loc[table[col].idxmax()]
        verdict = "PASS" if best[col] >= 50 else "FAIL"
        print(
            f"\nacceptance (issue 6): at least half of the peculiar tiles in the top {args.fraction:.0%}: {verdict} "
            f"(best {best[col]:.1f}% with {best['embedding']} {best['features']}; "
            f"every dimension: {', '.join(f'{e} {r:.1f}%' for e, r in table[table['features'].str.startswith('all')][['embedding', col]].itertuples(index=False))})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
