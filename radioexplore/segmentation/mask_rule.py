"""Hysteresis mask rule: a region of the probability map is kept only when it holds a core above a high threshold.

Diffuse emission is contiguous over many beams: its probability is high on a core and falls off smoothly
towards its faint edges, while a noise blob or a fluctuation of the network's background is an isolated
patch of moderate probability. So the map is thresholded twice, as PyBDSF forms islands (Mohan & Rafferty
2015, ASCL 1502.007: an island is the connected pixels above the island threshold that holds a peak above
the pixel threshold) and as source finders flood-fill from a seed (Hancock et al. 2012, MNRAS 422, 1812):
connected regions above the low ``threshold`` (the mask's own threshold) are kept only when one of their
pixels exceeds ``core_threshold``; the others are set to 0. The region tests of
:mod:`radioexplore.segmentation.regions` then judge the whole region at the low threshold, not its core.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import label, maximum


def drop_coreless(prob: np.ndarray, threshold: float, core_threshold: float | None) -> tuple[np.ndarray, int]:
    """``prob`` (a copy) with every connected region above ``threshold`` whose maximum is not above
    ``core_threshold`` set to 0 (NaN kept), and how many regions were dropped; unchanged when
    ``core_threshold`` is None or not above ``threshold`` (every region holds its own core then)."""
    out = np.array(prob, dtype=np.float32, copy=True)
    if core_threshold is None or core_threshold <= threshold:
        return out, 0
    filled = np.nan_to_num(out, nan=0.0)
    regions, n = label(filled > threshold)
    if n == 0:
        return out, 0
    peak = np.asarray(maximum(filled, regions, index=np.arange(1, n + 1)))
    drop = np.concatenate([[False], peak <= core_threshold])
    out[drop[regions] & np.isfinite(out)] = 0.0
    return out, int(drop.sum())


def hysteresis_mask(prob: np.ndarray, threshold: float, core_threshold: float | None) -> np.ndarray:
    """Pixels above ``threshold`` in connected regions that hold a pixel above ``core_threshold`` (bool)."""
    kept, _ = drop_coreless(prob, threshold, core_threshold)
    return np.nan_to_num(kept, nan=0.0) > threshold


def resolve_thresholds(
    threshold: float | None, core_threshold: float | None, meta: dict[str, Any], default: float = 0.5
) -> tuple[float, float | None]:
    """(mask threshold, core threshold) for a run: a given ``threshold`` wins and takes only the given
    ``core_threshold`` with it (None: no core test); with none given, the checkpoint's calibrated pair
    (``meta["calibration"]``: ``threshold`` and, when calibrated so, ``core_threshold``), a given
    ``core_threshold`` replacing the stored one; ``default`` and no core test without a calibration."""
    if threshold is not None:
        return float(threshold), core_threshold
    calibration = meta.get("calibration", {})
    low = float(calibration.get("threshold", default))
    if core_threshold is not None:
        return low, core_threshold
    stored = calibration.get("core_threshold")
    return low, (float(stored) if stored is not None else None)
