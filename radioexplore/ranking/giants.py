"""Giant radio galaxies: a double whose lobe-to-lobe extent lies far beyond the survey's own sources.

A giant radio galaxy is an ordinary double (a core and two lobes) of projected size beyond 0.7 Mpc
(Dabhade et al. 2020, A&A 635, A5; LoTSS DR1's 239 giants), rare because few jets live long enough to
grow so far. Without redshifts a survey cannot measure Mpc; what it can measure is how far a double's
angular extent lies beyond those of its own sources, in a robust z of the log extent: (log extent -
median) / (IQR / 1.349) over the survey's sources, each joined double (:mod:`radioexplore.ranking.sources`)
once with its lobe-to-lobe extent and each other island with its own. Only the objects of a joined
double carry it (its lobes and core; 0 elsewhere and below the median): a lone island's size the
object forest already sees (``extent_beams``), and a giant's lobes, far apart and faint, are each of
ordinary size. Most of a survey's sources are single islands of a few beams, so every joined double
stands above them (simulated development surveys: FR II doubles z ~3-4.5, joined giants ~6-8.5); the
forest isolates the largest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The column: robust z of the log lobe-to-lobe extent of the object's double among the survey's sources.
GIANT_Z = "giant_z"


def source_log_extents(objects: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per object its source's log extent (a joined double's lobe-to-lobe, else its own island's) and
    whether it is in a joined double, and the survey's log extents one per source; None when the table
    has no source columns."""
    if not {"source_components", "source_extent_beams", "source_id", "extent_beams"} <= set(objects.columns):
        return None
    n = len(objects)
    joined = objects["source_components"].fillna(1).to_numpy() > 1
    extent = np.where(joined, objects["source_extent_beams"].to_numpy(float), objects["extent_beams"].to_numpy(float))
    log_extent = np.log(np.maximum(np.nan_to_num(extent, nan=0.0), 1e-3))
    # one value per source: a double's lobes and core share its source id, a lone island is its own
    source = np.where(joined, objects["source_id"].to_numpy(np.int64), -1 - np.arange(n))
    per_source = pd.Series(log_extent).groupby(source).first().to_numpy()
    return log_extent, joined, per_source


def robust_centre_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and IQR / 1.349 (the Gaussian sigma), the standard deviation (or 1) where the IQR is 0."""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    scale = (q3 - q1) / 1.349
    if not scale > 0:
        scale = float(values.std()) or 1.0
    return float(median), float(scale)


def giant_z(objects: pd.DataFrame) -> np.ndarray:
    """Per object, how far its double's extent lies above the survey's sources (robust z of the log
    extent, 0 for no double or below the median); zeros when the table has no source columns or
    fewer than 3 sources."""
    n = len(objects)
    extents = source_log_extents(objects) if n else None
    if extents is None or extents[2].size < 3:
        return np.zeros(n, dtype=np.float32)
    log_extent, joined, per_source = extents
    median, scale = robust_centre_scale(per_source)
    return np.where(joined, np.maximum(0.0, (log_extent - median) / scale), 0.0).astype(np.float32)
