"""How good the diffuse-emission decision "R >= threshold" is against a truth (seed 004).

Seed 004 scores each cluster by its detection ratio R (sum of probability / number of pixels in
an aperture) and calls it detected at R >= 0.015; on 246 LoTSS-DR2 PSZ2 clusters that gave 73%
accuracy (correctly classified), 72% precision (detections that are true) and 17% false negatives
(diffuse sources missed: FN / (TP + FN)). :func:`detection_metrics` computes the same three
numbers; :func:`r_against_truth` gathers R and a truth for a run: the clusters' truth column
(:func:`radioexplore.segmentation.read.cluster_truth`) when ``segments/clusters.parquet`` has one, else the user's DIFFUSE / DIFFUSE-LARGE labels of the
tiles the clusters lie in, else (no clusters table) the labelled tiles with R = their mean probability.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from radioexplore.run.rundir import RunDir
from radioexplore.segmentation.read import cluster_tiles, cluster_truth, read_clusters, segment_tiles

#: The labels (radioexplore.run.labels.values.VOCABULARY) that say a tile holds diffuse emission (seed 002).
DIFFUSE_LABELS: frozenset[str] = frozenset({"DIFFUSE", "DIFFUSE-LARGE"})


def detection_metrics(r: ArrayLike, truth: ArrayLike, threshold: float) -> dict[str, float | int]:
    """Counts and rates of "detected = R >= threshold" against ``truth`` (bool; NaN or None rows are
    left out): ``n, tp, fp, fn, tn, accuracy, precision, false_negative_rate``; a rate with an empty
    denominator is NaN."""
    r = np.asarray(r, dtype=float)
    truth = pd.array(truth, dtype="boolean")
    if r.shape != (len(truth),):
        raise ValueError(f"R has shape {r.shape} but truth has {len(truth)} values; give one truth per R")
    known = ~np.asarray(truth.isna())
    actual = np.asarray(truth.fillna(False), dtype=bool)[known]
    detected = (r >= threshold)[known]  # a NaN R is not a detection
    tp = int(np.sum(detected & actual))
    fp = int(np.sum(detected & ~actual))
    fn = int(np.sum(~detected & actual))
    tn = int(np.sum(~detected & ~actual))
    n = tp + fp + fn + tn

    def rate(num: int, den: int) -> float:
        return num / den if den else float("nan")

    return {
        "n": n,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "accuracy": rate(tp + tn, n),
        "precision": rate(tp, tp + fp),
        "false_negative_rate": rate(fn, tp + fn),
    }


def diffuse_truth(labels: Iterable[Iterable[str]]) -> np.ndarray:
    """Per label list: True when it holds DIFFUSE or DIFFUSE-LARGE, False when it holds other labels,
    None (unknown) when it is empty (an interest score alone says nothing about the class)."""
    out = [bool(DIFFUSE_LABELS & set(labs)) if len(labs) else None for labs in labels]
    return np.asarray(out, dtype=object)


@lru_cache(maxsize=8)
def _placed(root: str, clusters_mtime: float, tiles_mtime: float) -> np.ndarray:
    """:func:`cluster_tiles` of a run, kept until its cluster table or its tiles change (a label event
    re-scores the clusters but does not move them)."""
    run = RunDir(root)
    return cluster_tiles(run, read_clusters(run))


def r_against_truth(run: RunDir, current: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``(table, source)``: one row per scored object with ``name``, ``R``, ``truth`` (True, False or
    None), and a line saying where R and the truth come from. ``current`` is ``LabelStore.current()``;
    without a cluster table only the tiles labelled with a class are listed."""
    by_tile = {int(t): labs for t, labs in zip(current["tile_id"], current["labels"], strict=True)}
    clusters = read_clusters(run)
    if clusters is not None:
        table = pd.DataFrame(
            {
                "name": clusters["name"].astype(str) if "name" in clusters else clusters.index.astype(str),
                "R": clusters["R"].astype(float),
            }
        )
        given = cluster_truth(run, clusters)
        if given is not None:
            truth = given[0]
            table["truth"] = [None if pd.isna(v) else bool(v) for v in truth]
            return table, f"clusters.parquet: R per cluster against {given[1]}"
        mtime = run.segment_clusters.stat().st_mtime
        tiles = _placed(str(run.root), mtime, run.tiles_table.stat().st_mtime)
        table["tile_id"] = tiles
        table["truth"] = diffuse_truth([by_tile.get(int(t), []) for t in tiles])
        return table, "clusters.parquet: R per cluster against your DIFFUSE / DIFFUSE-LARGE labels of its tile"
    path = segment_tiles(run)
    if path is None:
        return pd.DataFrame({"name": [], "R": [], "truth": []}), "no segmentation in this run"
    judged = dict(zip(current["tile_id"].astype(int), diffuse_truth(current["labels"]), strict=True))
    judged = {t: v for t, v in judged.items() if v is not None}
    scores = pd.read_parquet(path, columns=["tile_id", "diffuse_mean"])
    scores = scores[scores["tile_id"].isin(list(judged))]  # only labelled tiles: a label event stays cheap
    table = pd.DataFrame(
        {
            "name": "tile " + scores["tile_id"].astype(str),
            "R": scores["diffuse_mean"].astype(float),
            "tile_id": scores["tile_id"].astype(int),
            "truth": [judged[int(t)] for t in scores["tile_id"]],
        }
    )
    return table, "no clusters.parquet: R = mean probability per labelled tile, against its DIFFUSE labels"
