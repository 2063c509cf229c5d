"""The pixel threshold of a segmentation checkpoint, chosen on several calibration surveys pooled.

A threshold chosen on one survey of 24 fields is noisy (two training runs of one recipe chose 0.65
and 0.80, the top of a 0.30-0.80 grid): the per-kind IoU of a survey turns on a few large halos and
relics. Pooling the intersection and union counts of several calibration surveys (never the test
surveys) before taking the ratio weighs every truth pixel alike, as the benchmark's survey-summed
IoU does within one survey. Strict per-kind IoU as in ``benchmarks/diffuse_segmentation.py``: every
predicted pixel off the other kinds' truth counts against the kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from scipy.ndimage import label as label_regions

from radioexplore.simulation.diffuse import DIFFUSE_KINDS

#: Candidate pixel thresholds: 0.30-0.95 by 0.05 (the shipped checkpoint's 0.80 sat at the top of 0.30-0.80).
THRESHOLD_GRID = tuple(float(t) for t in np.round(np.arange(0.30, 0.951, 0.05), 2))

Counts = dict[str, tuple[int, int]]


def iou_counts(pred: np.ndarray, labels: np.ndarray) -> Counts:
    """(intersection, union) pixel counts of a boolean mask against a field's diffuse truth (0 none, i + 1 for
    ``DIFFUSE_KINDS[i]``): per kind strict (``<kind>``) and object-wise (``<kind>_obj``: only predicted regions
    touching the kind's truth), and for all diffuse truth (``all``)."""
    out: Counts = {}
    regions, _ = label_regions(pred)
    for code, kind in enumerate(DIFFUSE_KINDS, start=1):
        truth = labels == code
        mine = pred & ((labels == code) | (labels == 0))
        out[kind] = (int((mine & truth).sum()), int((mine | truth).sum()))
        touching = np.isin(regions, np.unique(regions[truth & pred])) & mine
        out[f"{kind}_obj"] = (int((touching & truth).sum()), int((touching | truth).sum()))
    out["all"] = (int((pred & (labels > 0)).sum()), int((pred | (labels > 0)).sum()))
    return out


def pooled_iou(counts: Iterable[Counts]) -> dict[str, float]:
    """IoU per key of :func:`iou_counts` from the summed intersections and unions (NaN where the union is empty)."""
    inter: dict[str, int] = {}
    union: dict[str, int] = {}
    for c in counts:
        for key, (i, u) in c.items():
            inter[key] = inter.get(key, 0) + i
            union[key] = union.get(key, 0) + u
    return {k: inter[k] / union[k] if union[k] else float("nan") for k in inter}


def best_threshold(
    counts_at: Callable[[float], Iterable[Counts]], grid: Iterable[float] = THRESHOLD_GRID
) -> tuple[float, dict[float, float]]:
    """The threshold of ``grid`` that maximises the mean strict halo / relic IoU pooled over every field of every
    calibration survey (``counts_at(t)``: their :func:`iou_counts` at threshold ``t``, region cleaning included),
    the lowest on a tie; and the score of each candidate."""
    scores: dict[float, float] = {}
    for t in grid:
        iou = pooled_iou(counts_at(float(t)))
        kinds = [v for v in (iou.get("halo", np.nan), iou.get("relic", np.nan)) if np.isfinite(v)]
        scores[float(t)] = float(np.mean(kinds)) if kinds else float("nan")
    if not scores:
        raise ValueError("best_threshold: the threshold grid is empty; give at least one candidate in (0, 1)")
    best = max(scores, key=lambda t: (np.nan_to_num(scores[t], nan=-np.inf), -t))
    return best, scores


def best_pair(
    counts_at: Callable[[float, float | None], Iterable[Counts]], pairs: Iterable[tuple[float, float | None]]
) -> tuple[tuple[float, float | None], dict[tuple[float, float | None], float]]:
    """The (mask threshold, core threshold) pair of ``pairs`` (hysteresis, :mod:`radioexplore.segmentation.mask_rule`;
    a None core: the plain threshold) that maximises the mean strict halo / relic IoU pooled over the calibration
    surveys (``counts_at(low, high)``), the highest mask threshold, then the highest core, on a tie (fewer pixels
    flagged); and the score of each pair."""
    scores: dict[tuple[float, float | None], float] = {}
    for low, high in pairs:
        iou = pooled_iou(counts_at(float(low), high))
        kinds = [v for v in (iou.get("halo", np.nan), iou.get("relic", np.nan)) if np.isfinite(v)]
        scores[(float(low), high)] = float(np.mean(kinds)) if kinds else float("nan")
    if not scores:
        raise ValueError("best_pair: no (threshold, core threshold) pair to try; give at least one")
    best = max(scores, key=lambda k: (np.nan_to_num(scores[k], nan=-np.inf), k[0], -1.0 if k[1] is None else k[1]))
    return best, scores
