"""Issue 21's simulated-survey probes of every embedding set of a run, beside pixel PCA.

1. Source count: PCA-100 + linear regression of ``n_sources`` (counts beyond 3 sigma left out, seed
   000), k-fold MSE; acceptance: at least 40% below pixel PCA (PCA-50 of 64 px pixels).
2. Peculiar morphology: PCA-100 + logistic regression of "the tile holds a ring (orc) or an X-shaped
   (xrg) source" (``truth_kinds``), held-out probabilities from stratified k-fold; the share of those
   tiles among the top 5% of the scores (acceptance: >= 0.6).

    python benchmarks/survey_probes.py --run RUN [--run RUN2 ...] [--embeddings a,b] [--folds 5] [--seeds 0,1,2]

Mean +- std over the fold seeds per survey, then over the surveys when several are given. Run it on
surveys the checkpoints never trained on. The recall divides the hits by the positives, or by the
slots when there are more positives than slots (then it measures precision, not recall): at the
issue's density (2-3% of the tiles ring / X) the top 5% has about twice as many slots as positives.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from radioexplore.evaluation.labels import pixel_features
from radioexplore.evaluation.probes import drop_outliers, linear_probe
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store, read_tiles

PECULIAR_SHAPES = ("orc", "xrg")  # ring and X-shaped sources
PIXEL = "pixel PCA (64 px, 50 comp.)"


def top_recall(scores: np.ndarray, positive: np.ndarray, fraction: float) -> float:
    """Share of the positives among the ``fraction`` highest scores (divided by the positives or the slots)."""
    k = max(1, int(round(fraction * len(scores))))
    top = np.argsort(-scores, kind="stable")[:k]
    return float(positive[top].sum() / min(positive.sum(), k))


def peculiar_scores(X: np.ndarray, y: np.ndarray, dims: int, folds: int, seed: int) -> np.ndarray:
    """Held-out probability of the positive class for every row (stratified k-fold)."""
    out = np.zeros(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        d = min(dims, X.shape[1], len(train) - 1)
        pipe = make_pipeline(StandardScaler(), PCA(d, random_state=seed), LogisticRegression(max_iter=5000))
        pipe.fit(X[train], y[train])
        out[test] = pipe.predict_proba(X[test])[:, 1]
    return out


def survey_rows(root: str, args: argparse.Namespace) -> dict[str, tuple[float, float, float, float]]:
    """Both probes of every embedding set of the run at ``root`` (and pixel PCA): name -> (MSE, its std,
    recall, its std) over the fold seeds."""
    run = RunDir(root)
    tiles = run.read_tiles()
    usable = tiles["flag"].astype(str).to_numpy() != "blank" if "flag" in tiles else np.ones(len(tiles), bool)
    ids = tiles["tile_id"].to_numpy()[usable]
    sub = tiles[usable].reset_index(drop=True)
    names = args.embeddings.split(",") if args.embeddings else run.embedding_names()
    feats = {n: np.asarray(run.read_embeddings(n, mmap=False))[usable] for n in names}
    feats[PIXEL] = pixel_features(read_tiles(open_tile_store(run.tile_pixels), ids))
    seeds = [int(s) for s in args.seeds.split(",")]

    count = sub["n_sources"].to_numpy(dtype=float)
    keep = np.isfinite(count)
    keep[keep] &= drop_outliers(count[keep], 3.0)
    kinds = sub["truth_kinds"].fillna("").astype(str)
    wanted = set(args.kinds.split(","))
    shaped = kinds.map(lambda s: bool(set(s.split(",")) & wanted)).to_numpy()
    slots = max(1, int(round(args.fraction * len(sub))))
    print(
        f"{run.root}: {len(sub)} tiles ({int(keep.sum())} in the count probe), {int(shaped.sum())} with a source of "
        f"kind {args.kinds} ({100 * shaped.mean():.1f}%) for {slots} top-{100 * args.fraction:g}% slots"
        f" ({'recall: hits / positives' if shaped.sum() <= slots else 'more positives than slots: hits / slots'});"
        f" mean +- std over fold seeds {seeds}, {args.folds} folds"
    )
    rows = {}
    for name, X in feats.items():
        dims = 50 if name == PIXEL else 100
        mse = [
            linear_probe(X[keep], count[keep], "regression", pca_dims=dims, folds=args.folds, seed=s).metrics["mse"]
            for s in seeds
        ]
        with threadpool_limits(1, "blas"):
            rec = [top_recall(peculiar_scores(X, shaped, dims, args.folds, s), shaped, args.fraction) for s in seeds]
        rows[name] = (np.mean(mse), np.std(mse), np.mean(rec), np.std(rec))
    pixel = rows[PIXEL][0]
    print(f"  {'features':<32} {'count MSE':>16} {'vs pixel PCA':>13} {f'top-{100 * args.fraction:g}% recall':>16}")
    for name, (m, ms, r, rs) in rows.items():
        print(f"  {name:<32} {m:>9.2f} +- {ms:<4.2f} {100 * (1 - m / pixel):>11.0f}% {r:>9.2f} +- {rs:.2f}")
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, action="append", help="a run; repeat for several surveys")
    p.add_argument("--embeddings", help="comma-separated embedding sets (default: every one)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seeds", default="0,1,2", help="seeds of the fold assignment")
    p.add_argument("--fraction", type=float, default=0.05, help="top fraction for the peculiar recall (5%%)")
    p.add_argument(
        "--kinds", default=",".join(PECULIAR_SHAPES), help="truth kinds that make a tile peculiar (default orc,xrg)"
    )
    args = p.parse_args()
    t0 = time.perf_counter()
    per_run = [survey_rows(root, args) for root in args.run]
    if len(per_run) > 1:
        common = [n for n in per_run[0] if all(n in rows for rows in per_run)]
        print(f"over {len(per_run)} surveys (each the mean over its fold seeds): mean +- std over surveys")
        print(
            f"  {'features':<32} {'count MSE':>16} {'below pixel PCA':>16} {f'top-{100 * args.fraction:g}% recall':>16}"
        )
        for name in common:
            mse = [rows[name][0] for rows in per_run]
            below = [100 * (1 - rows[name][0] / rows[PIXEL][0]) for rows in per_run]
            rec = [rows[name][2] for rows in per_run]
            print(
                f"  {name:<32} {np.mean(mse):>9.2f} +- {np.std(mse):<4.2f} {np.mean(below):>9.0f}% +- "
                f"{np.std(below):<2.0f} {np.mean(rec):>9.3f} +- {np.std(rec):.3f}"
            )
    print(f"  ({time.perf_counter() - t0:.0f} s; acceptance: MSE >= 40% below pixel PCA, recall >= 0.6)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
