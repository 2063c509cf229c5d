"""How far the labels speak: a prediction far from every labelled tile falls back to the prior.

A regressor trained on a handful of labels predicts, far from all of them, whatever its form extrapolates to
(a random forest: about the labels' mean). That carries no information from the labels. A Gaussian process's
posterior mean reverts to its prior mean away from the data (Rasmussen & Williams 2006, "Gaussian Processes for
Machine Learning", sec. 2.2); here the prior is the unsupervised ranking, the tile's anomaly quantile put on the
1-5 interest scale. Each tile's prediction is shrunk toward it by ``exp(-d^2 / 2 l^2)``, ``d`` the tile's distance
to its nearest labelled tile in the regressor's features and ``l`` the typical distance between labelled tiles
(the median distance from a labelled tile to its nearest other one): the labels' own spacing sets the length
scale, no constant is tuned (issue 24, benchmarks/README.md, far-labels).
"""

from __future__ import annotations

import numpy as np

from radioexplore.run.labels.values import INTEREST_RANGE


def label_reach(features: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``[N]`` weight in [0, 1] of the labels' prediction at each tile: 1 on a labelled tile, ``exp(-d^2 / 2 l^2)``
    elsewhere (see the module). With fewer than two distinct labelled positions there is no length scale: all 1."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    n = len(features)
    if ids.size < 2:
        return np.ones(n, dtype=np.float32)
    feats = np.asarray(features, dtype=np.float64)
    labelled = feats[ids]
    sq = np.einsum("ij,ij->i", labelled, labelled)
    between = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * labelled @ labelled.T, 0.0))
    np.fill_diagonal(between, np.inf)
    scale = float(np.median(between.min(axis=1)))
    if not np.isfinite(scale) or scale <= 0:
        return np.ones(n, dtype=np.float32)
    nearest = np.full(n, np.inf)
    for start in range(0, n, 8192):  # tiles x labels in blocks: 10^5 tiles stay a few MB
        block = feats[start : start + 8192]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + sq[None, :] - 2.0 * block @ labelled.T
        nearest[start : start + 8192] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    reach = np.exp(-0.5 * (nearest / scale) ** 2).astype(np.float32)
    reach[ids] = 1.0
    return reach


#: Priors by name: what a prediction falls back to where the labels do not reach. "quantile": the anomaly quantile on
#: the interest scale (``lo + (hi - lo) q``), the unsupervised ranking's place; "lowest": the bottom of the scale, no
#: interest promised without evidence (the mix blend then ranks such a tile by its anomaly share alone).
PRIORS = ("quantile", "lowest")


def shrink_to_prior(
    predicted: np.ndarray, anomaly_q: np.ndarray, reach: np.ndarray, prior: str = "quantile"
) -> np.ndarray:
    """``prior + reach (predicted - prior)``, the prior one of :data:`PRIORS`."""
    lo, hi = INTEREST_RANGE
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, not {prior!r}")
    q = np.asarray(anomaly_q, dtype=np.float32)
    prior = lo + (hi - lo) * q if prior == "quantile" else np.full_like(q, lo)
    return (prior + reach * (np.asarray(predicted, dtype=np.float32) - prior)).astype(np.float32)
