"""A pixel-statistics baseline embedding: a few dozen hand-made numbers per tile, no network.

A baseline every learned embedding must beat, and a usable ranking while no trained checkpoint
exists (a randomly initialised network gives an embedding that mostly encodes brightness).
Per tile (first channel of the scaled pixels in ``tiles.zarr``): moments and percentiles of the
pixel values, fractions above fixed levels, the islands above half the scale (their number, the
two largest areas, the largest one's elongation, as in the compactness measures of source
finders), the mean gradient, and the share of power in four rings of the 2-D power spectrum
(structure on large and small scales; Segal et al. 2023, cited in seed 002 sec. 5, rank frames by
a related complexity measure). Each feature is standardised by its median and interquartile range
over the run, and those numbers are recorded so that a cutout can be described the same way.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from radioexplore.run.atomic import write_npy
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store

log = logging.getLogger(__name__)

FEATURES = (
    ["mean", "std", "skew", "kurtosis", "p50", "p90", "p99", "p999", "max"]
    + [f"above_{lvl}" for lvl in ("0.25", "0.5", "0.75", "0.9")]
    + ["n_islands", "largest_area", "second_area", "elongation", "gradient"]
    + [f"power_ring{i}" for i in range(4)]
)
METHOD = "pixel_statistics"


def tile_statistics(tile: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` of one tile ``[C, S, S]`` or ``[S, S]`` with values in [0, 1]."""
    x = np.asarray(tile, dtype=np.float32)
    x = x[0] if x.ndim == 3 else x
    v = x.ravel()
    mean, std = float(v.mean()), float(v.std())
    z = (v - mean) / std if std > 0 else np.zeros_like(v)
    pct = np.percentile(v, [50, 90, 99, 99.9])
    islands, n_islands = ndimage.label(x > 0.5)
    areas = np.sort(np.bincount(islands.ravel())[1:])[::-1] if n_islands else np.zeros(0)
    elongation = _elongation(islands == (np.argmax(np.bincount(islands.ravel())[1:]) + 1)) if n_islands else 0.0
    gy, gx = np.gradient(x)
    power = np.abs(np.fft.fftshift(np.fft.fft2(x - mean))) ** 2
    s = x.shape[0]
    yy, xx = np.indices(power.shape)
    r = np.hypot(yy - s // 2, xx - s // 2) / (s / 2)
    rings = np.array([power[(r >= a) & (r < b)].sum() for a, b in ((0, 0.05), (0.05, 0.15), (0.15, 0.4), (0.4, 2))])
    rings = rings / rings.sum() if rings.sum() > 0 else rings
    return np.array(
        [mean, std, float((z**3).mean()), float((z**4).mean()), *pct, float(v.max())]
        + [float((v > lvl).mean()) for lvl in (0.25, 0.5, 0.75, 0.9)]
        + [n_islands, areas[0] if areas.size else 0, areas[1] if areas.size > 1 else 0, elongation]
        + [float(np.hypot(gx, gy).mean())]
        + list(rings),
        dtype=np.float32,
    )


def _elongation(mask: np.ndarray) -> float:
    """Ratio of the major to minor axis of a region from its second moments (1 = round)."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return 1.0
    cov = np.cov(np.vstack([xs, ys]).astype(float))
    lo, hi = np.sort(np.linalg.eigvalsh(cov))
    return float(np.sqrt(hi / lo)) if lo > 1e-9 else float(np.sqrt(hi) + 1.0)


def standardise(raw: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return ((raw - centre) / scale).astype(np.float32)


def pixel_statistics_run(run: RunDir, name: str = "pixstats", batch: int = 256) -> np.ndarray:
    """Compute the baseline for every tile into ``embeddings/<name>.npy`` and record it (with its standardisation)."""
    run.check_consistent(stages=("ingest",))
    built_from = run.provenance()
    store = open_tile_store(run.tile_pixels)
    raw = np.empty((store.shape[0], len(FEATURES)), dtype=np.float32)
    for start in range(0, store.shape[0], batch):
        block = np.asarray(store[start : start + batch], dtype=np.float32)
        raw[start : start + len(block)] = [tile_statistics(t) for t in block]
    centre = np.median(raw, axis=0)
    q1, q3 = np.percentile(raw, [25, 75], axis=0)
    scale = np.where(q3 - q1 > 0, q3 - q1, np.where(raw.std(0) > 0, raw.std(0), 1.0)).astype(np.float32)
    emb = standardise(raw, centre, scale)
    write_npy(emb, run.embeddings(name))
    record = {
        "method": METHOD,
        "features": FEATURES,
        "centre": centre.tolist(),
        "scale": scale.tolist(),
        "dim": len(FEATURES),
        "n": len(emb),
        "built_from": dict(built_from, embedding_checksum=run.embedding_checksum(name)),
    }
    run.record("embed", record, key=name)
    log.info("pixel statistics of %d tiles into %s", len(emb), run.embeddings(name))
    return emb
