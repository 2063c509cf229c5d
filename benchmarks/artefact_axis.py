"""How well the artefact axis finds the tiles that imaging artefacts dominate, over several simulated skies.

Simulates surveys with strong artefacts (each its own seed and ``artefact_strength``; every DQF
equally likely, so half the fields carry DQF 2-3 ripples), ingests them and scores the artefact
axis (:mod:`radioexplore.ranking.artefacts`) against the simulator's truth (a tile whose artefact
reaches 5 sigma of the local noise, :func:`radioexplore.simulation.tile_artefact_truth`). Per survey,
then as mean +- std over the surveys (issue 24: never one survey):

- ROC AUC of the artefact score against the artefact truth;
- the share of artefact tiles in the top 5% of the artefact score (its precision there), beside
  their share of all tiles;
- with the pixel-statistics embedding ranked as ``rank_run`` ranks it (Isolation Forest), the
  artefact tiles and the peculiar tiles in the top 5% of the peculiarity ranking, before and after
  discounting the artefact axis (ranking by anomaly x (1 - artefact score)).

Every figure is over the tiles the ranking ranks (``rank_run``'s exclusions: blank and partial).
The artefact score is the one ``rank_run`` writes beside the anomaly score in ``scores/``.

    python benchmarks/artefact_axis.py
    python benchmarks/artefact_axis.py --surveys 1:3,2:4,3:6 --fields 6 --size 1024 --tile 128
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import header, parse_surveys  # benchmarks/ is not a package: _common sits beside this script
from sklearn.metrics import roc_auc_score

from radioexplore.embed.pixelstats import pixel_statistics_run
from radioexplore.ingest.images import IngestConfig, ingest
from radioexplore.ranking.artefact_run import artefact_features_run
from radioexplore.ranking.config import RankConfig
from radioexplore.ranking.exclusion import flags_to_exclude
from radioexplore.ranking.rank import rank_run
from radioexplore.run.rundir import RunDir
from radioexplore.simulation import SimulationConfig, simulate_survey, tile_artefact_truth, tile_truth
from radioexplore.simulation.folder import SimulationDir


def top(score: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the ``fraction`` highest scores (at least one), ties broken by position."""
    k = max(1, int(round(fraction * len(score))))
    order = np.lexsort((np.arange(len(score)), -score))
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:k]] = True
    return mask


def one_survey(work: Path, seed: int, strength: float, args: argparse.Namespace) -> dict[str, float]:
    sim, run_dir = work / f"sim_{seed}_{strength:g}", work / f"run_{seed}_{strength:g}"
    for p in (sim, run_dir):
        shutil.rmtree(p, ignore_errors=True)
    t0 = time.perf_counter()
    cfg = SimulationConfig(
        fields=args.fields,
        size_px=args.size,
        seed=seed,
        artefact_strength=strength,
        dqf_probabilities=(0.25, 0.25, 0.25, 0.25),
    )
    simulate_survey(sim, cfg, progress=False)
    run = RunDir(run_dir)
    ingest(SimulationDir(sim).images(), run, IngestConfig(tile_px=args.tile, detect=False), progress=False)
    pixel_statistics_run(run, "pixstats")
    rank_run(run, "pixstats", RankConfig())
    t1 = time.perf_counter()
    art = artefact_features_run(run)
    t_axis = time.perf_counter() - t1
    tiles = run.read_tiles()
    flags, _ = flags_to_exclude(tiles["flag"].to_numpy(), RankConfig().exclude_flags)
    ranked = ~tiles["flag"].isin(flags).to_numpy()
    truth = tile_artefact_truth(sim, tiles)["truth_artefact"].to_numpy()[ranked]
    peculiar = tile_truth(sim, tiles)["truth_peculiar"].to_numpy()[ranked]
    a = np.nan_to_num(art["artefact_score"].to_numpy(dtype=float)[ranked], nan=0.0)
    scores = run.read_scores("pixstats").set_index("tile_id").loc[tiles["tile_id"]]
    anomaly = scores["score"].to_numpy()[ranked]
    in_scores = np.nan_to_num(scores["artefact_score"].to_numpy(dtype=float)[ranked], nan=0.0)
    if not np.allclose(in_scores, a):
        raise SystemExit(f"{run.scores('pixstats')}: artefact_score differs from artefact_features_run's")
    discounted = anomaly * (1.0 - a)
    f = args.fraction
    row = dict(
        seed=seed,
        strength=strength,
        tiles=int(ranked.sum()),
        artefact_tiles=int(truth.sum()),
        peculiar_tiles=int(peculiar.sum()),
        base_rate=truth.mean(),
        auc=roc_auc_score(truth, a) if 0 < truth.sum() < len(truth) else np.nan,
        precision_top=truth[top(a, f)].mean(),
        artefacts_in_top_before=int(truth[top(anomaly, f)].sum()),
        artefacts_in_top_after=int(truth[top(discounted, f)].sum()),
        peculiar_in_top_before=int(peculiar[top(anomaly, f)].sum()),
        peculiar_in_top_after=int(peculiar[top(discounted, f)].sum()),
        top_size=int(top(a, f).sum()),
        seconds_total=time.perf_counter() - t0,
        seconds_axis=t_axis,
    )
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--surveys", default="1:3,2:4,3:6", help="SEED:ARTEFACT_STRENGTH,... (default 1:3,2:4,3:6)")
    p.add_argument("--fields", type=int, default=6)
    p.add_argument("--size", type=int, default=1024, help="field size in px")
    p.add_argument("--tile", type=int, default=128, help="tile size in px")
    p.add_argument("--fraction", type=float, default=0.05, help="top fraction (issue 24: 5%%)")
    p.add_argument("--out", type=Path, default=Path("/tmp/artefact_axis"), help="working directory (overwritten)")
    args = p.parse_args()
    header("artefact axis: the artefact score against the simulator's artefact truth, several strong-artefact skies")
    rows = []
    for seed, strength in parse_surveys(args.surveys):
        rows.append(one_survey(args.out, seed, strength, args))
        r = rows[-1]
        print(
            f"seed {seed} strength {strength:g}: {r['tiles']} tiles ranked, {r['artefact_tiles']} artefact, "
            f"{r['peculiar_tiles']} peculiar; AUC {r['auc']:.3f}; top {100 * args.fraction:g}% "
            f"({r['top_size']} tiles) of the artefact score {100 * r['precision_top']:.0f}% artefact "
            f"(of all {100 * r['base_rate']:.0f}%); "
            f"artefact tiles in the top {100 * args.fraction:g}% of the pixel-statistics forest "
            f"{r['artefacts_in_top_before']} -> {r['artefacts_in_top_after']} discounted, peculiar "
            f"{r['peculiar_in_top_before']} -> {r['peculiar_in_top_after']}; "
            f"axis {r['seconds_axis']:.1f} s, all {r['seconds_total']:.0f} s",
            flush=True,
        )
    df = pd.DataFrame(rows)
    print(f"\nover {len(df)} surveys (mean +- std):")
    for col, what in (
        ("auc", "ROC AUC of the artefact score"),
        ("base_rate", "artefact share of all ranked tiles"),
        ("precision_top", f"artefact share of the artefact score's top {100 * args.fraction:g}%"),
        ("artefacts_in_top_before", f"artefact tiles in the forest's top {100 * args.fraction:g}%, as ranked"),
        ("artefacts_in_top_after", "  ... ranked by anomaly x (1 - artefact score)"),
        ("peculiar_in_top_before", f"peculiar tiles in the forest's top {100 * args.fraction:g}%, as ranked"),
        ("peculiar_in_top_after", "  ... ranked by anomaly x (1 - artefact score)"),
        ("top_size", "tiles in the top"),
        ("seconds_axis", "seconds for the artefact axis per survey"),
    ):
        v = df[col].astype(float)
        print(f"  {what}: {v.mean():.3f} +- {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
