"""Robust noise estimates of radio images, in the image's own units (usually Jy/beam).

``mad`` and ``sigma_clip`` see only the pixel values. ``masked`` (the ingest default) also uses
where they are, as source finders do: it masks pixels beyond 5 sigma together with a margin of
about half a beam round them (the wings of sources, which a plain clip keeps), sigma-clips the
rest at 3 sigma and takes their MAD, iterating until it settles. On a crop full of bright
emission a plain MAD reads high; this does not, while on ordinary crops it agrees with the MAD
(seed 000, sec. 2.3: catalogues use a local rms; the brief of issue 4 asks for a sigma-clipped or
masked MAD). ``local`` first removes a smooth background measured on a mesh of 32 px box medians
(as PyBDSF's rms map and BANE do): it measures the small-scale thermal noise under diffuse
emission and ripples, but on images whose noise has power on large scales (a sparse array such as
ATCA) it reads well below the MAD, so it is an option, not the default.
"""

from __future__ import annotations

import numpy as np
from astropy.stats import sigma_clipped_stats
from scipy.ndimage import maximum_filter1d

from radioexplore.registry import lookup

#: Scale from the median absolute deviation to the standard deviation of a Gaussian.
MAD_TO_SIGMA = 1.482602218505602


def mad_rms(values: np.ndarray) -> float:
    """Robust rms from the median absolute deviation of the finite values; NaN if there are none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    med = np.median(v)
    return float(MAD_TO_SIGMA * np.median(np.abs(v - med)))


def clipped_rms(values: np.ndarray, sigma: float = 3.0, maxiters: int = 5) -> float:
    """Standard deviation after iterative sigma clipping of the finite values; NaN if there are none."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    _, _, std = sigma_clipped_stats(v, sigma=sigma, maxiters=maxiters)
    return float(std)


def mesh_background(pixels: np.ndarray, box: int) -> np.ndarray:
    """Smooth background of a 2-D array: the median of each ``box`` x ``box`` block, bilinearly
    interpolated back to full resolution (blocks with no finite pixel take the overall median)."""
    ny, nx = pixels.shape
    my, mx = max(1, round(ny / box)), max(1, round(nx / box))
    if my == 1 and mx == 1:
        return np.full(pixels.shape, np.nanmedian(pixels) if np.isfinite(pixels).any() else 0.0, dtype=np.float32)
    ey = np.linspace(0, ny, my + 1).astype(int)
    ex = np.linspace(0, nx, mx + 1).astype(int)
    if ny % my == 0 and nx % mx == 0 and np.isfinite(pixels).all():
        blocks = pixels.reshape(my, ny // my, mx, nx // mx).transpose(0, 2, 1, 3).reshape(my, mx, -1)
        mesh = np.median(blocks, axis=2).astype(np.float64)
    else:
        mesh = np.full((my, mx), np.nan)
        for i in range(my):
            for j in range(mx):
                block = pixels[ey[i] : ey[i + 1], ex[j] : ex[j + 1]]
                finite = block[np.isfinite(block)]
                if finite.size >= 0.25 * block.size:
                    mesh[i, j] = np.median(finite)
        if not np.isfinite(mesh).any():
            return np.zeros(pixels.shape, dtype=np.float32)
    mesh[~np.isfinite(mesh)] = np.nanmedian(mesh)
    iy, ty = _linear_index(ny, (ey[:-1] + ey[1:] - 1) / 2.0)
    ix, tx = _linear_index(nx, (ex[:-1] + ex[1:] - 1) / 2.0)
    if mesh.shape[0] == 1:
        mesh = np.vstack([mesh, mesh])
    if mesh.shape[1] == 1:
        mesh = np.hstack([mesh, mesh])
    top = mesh[iy][:, ix] * (1 - tx) + mesh[iy][:, ix + 1] * tx
    bottom = mesh[iy + 1][:, ix] * (1 - tx) + mesh[iy + 1][:, ix + 1] * tx
    return (top * (1 - ty)[:, None] + bottom * ty[:, None]).astype(np.float32)


def _linear_index(n: int, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``n`` pixels: the block to its left and the weight of the next one (linear beyond the ends)."""
    if len(centres) == 1:
        return np.zeros(n, dtype=np.int64), np.zeros(n)
    grid = np.arange(n, dtype=np.float64)
    i = np.clip(np.searchsorted(centres, grid, side="right") - 1, 0, len(centres) - 2)
    return i, (grid - centres[i]) / (centres[i + 1] - centres[i])


def masked_rms(
    pixels: np.ndarray,
    box: int | None = None,
    mask_sigma: float = 5.0,
    grow_px: int = 3,
    clip_sigma: float = 3.0,
    iterations: int = 10,
    step: int = 2,
) -> float:
    """Noise rms of a 2-D crop: sources masked with a margin, the rest sigma-clipped, MAD of what is left.

    Parameters
    ----------
    pixels : 2-D array, NaN where blanked (image units, e.g. Jy/beam).
    box : if given, first subtract a background measured on a mesh of ``box`` px medians (several
        beams wide so that each median is stable; 32 px is ~6 MeerKAT beams at 1.5 arcsec/px).
        None subtracts only the crop's median.
    mask_sigma : pixels beyond this many sigma of the background are masked as emission.
    grow_px : the mask is grown by this many pixels (about half a beam) to cover the sources' wings.
    clip_sigma : pixels beyond this many sigma are left out of the next estimate (sigma clipping),
        without the margin; this converges in a few iterations even on a crop full of emission.
    iterations : at most this many rounds of mask, clip and re-estimate.
    step : work on every ``step``-th pixel per axis (box and margin scaled to match); 2 keeps
        2-3 samples per MeerKAT beam.
    """
    data = np.asarray(pixels, dtype=np.float32)
    if data.ndim != 2:
        return mad_rms(data)
    if step > 1 and min(data.shape) >= 8 * step:
        # pixels are correlated over a beam (several pixels), so a sub-grid carries nearly all the
        # information about the noise at a fraction of the cost
        data = data[::step, ::step]
        box = max(box // step, 2) if box else None
        grow_px = max(grow_px // step, 1) if grow_px else 0
    finite = np.isfinite(data)
    if finite.sum() < 16:
        return mad_rms(data)
    residual = data - (mesh_background(data, box) if box else np.float32(np.nanmedian(data)))
    keep = finite
    sigma = _mad32(residual[keep])
    for _ in range(iterations):
        if not np.isfinite(sigma) or sigma == 0:
            break
        dev = np.abs(residual - np.median(residual[keep]))
        loud = finite & (dev > mask_sigma * sigma)
        if grow_px > 0 and loud.any():  # a square dilation, done as two 1-D passes
            loud = maximum_filter1d(maximum_filter1d(loud, 2 * grow_px + 1, axis=0), 2 * grow_px + 1, axis=1)
        keep = finite & ~loud & (dev <= clip_sigma * sigma)
        if keep.sum() < 0.05 * finite.sum():  # nearly all emission: keep the last estimate
            break
        new = _mad32(residual[keep])
        converged = abs(new - sigma) < 1e-2 * sigma
        sigma = new
        if converged:
            break
    return float(sigma)


def _mad32(v: np.ndarray) -> float:
    if v.size == 0:
        return float("nan")
    med = np.median(v)
    return float(MAD_TO_SIGMA * np.median(np.abs(v - med)))


def local_rms(pixels: np.ndarray, box: int = 32) -> float:
    """:func:`masked_rms` after removing a mesh background of ``box`` px: the small-scale (thermal) noise."""
    return masked_rms(pixels, box=box)


NOISE_ESTIMATORS = {"masked": masked_rms, "local": local_rms, "mad": mad_rms, "sigma_clip": clipped_rms}


def robust_rms(values: np.ndarray, method: str = "masked") -> float:
    """Noise rms by the named estimator: ``masked`` or ``local`` (2-D crops), ``mad`` or ``sigma_clip``."""
    return lookup(NOISE_ESTIMATORS, method, "noise estimator")(values)
