"""The noise a tile or an island is measured against: robust MAD, the field's noise envelope from below, a mesh rms map.

Ripples and bright sources inflate a local rms; the envelope (the least noise at a distance from
the image centre) does not, so troughs are measured against it (see :func:`noise_envelope`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from radioexplore.ingest.noise import MAD_TO_SIGMA, mad_rms, masked_rms


def mad_sigma(tiles: np.ndarray, step: int = 2) -> np.ndarray:
    """Robust rms (MAD) of each tile ``[T, S, S]`` on a ``step`` px sub-grid, ignoring NaN; NaN if empty."""
    sub = tiles[:, ::step, ::step].reshape(len(tiles), -1).astype(np.float32)
    out = np.full(len(sub), np.nan)
    blanked = np.isnan(sub).any(axis=1)
    whole = np.flatnonzero(~blanked)
    if whole.size:  # one vectorised median for the tiles without blanks, the common case
        v = sub[whole]
        med = np.median(v, axis=1)
        out[whole] = MAD_TO_SIGMA * np.median(np.abs(v - med[:, None]), axis=1)
    for i in np.flatnonzero(blanked):
        out[i] = mad_rms(sub[i])
    return out


def noise_envelope(image: np.ndarray, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The field's noise as a function of distance from the image centre, from below: ``(radius, sigma)``.

    The MAD of every ``block`` px block (on a 2 px sub-grid) is binned by the block's distance from
    the centre in steps of one block; each bin gives its lower quartile, and the envelope at a radius
    is the least of those at that radius and beyond. In a primary-beam-corrected image the noise
    only rises outwards, as 1/PB (seed 000, fig. 3), and in a flat mosaic it is the same everywhere,
    so the noise at a radius is no more than any quiet block's farther out: a ripple that covers
    every tile near a bright source raises their MADs, not the envelope.
    """
    ny, nx = image.shape
    b = max(8, min(block, ny, nx)) // 2 * 2  # even: the blocks are read on a 2 px sub-grid
    my, mx = ny // b, nx // b
    if my == 0 or mx == 0:
        return np.zeros(1), np.full(1, np.nan)
    cut = image[: my * b : 2, : mx * b : 2].reshape(my, b // 2, mx, b // 2).transpose(0, 2, 1, 3)
    mad = mad_sigma(cut.reshape(my * mx, b // 2, b // 2), step=1).reshape(my, mx)
    cy, cx = (ny - 1) / 2.0, (nx - 1) / 2.0
    yc = (np.arange(my) + 0.5) * b - 0.5
    xc = (np.arange(mx) + 0.5) * b - 0.5
    ring = np.floor(np.hypot(yc[:, None] - cy, xc[None, :] - cx) / b).astype(int)
    good = np.isfinite(mad) & (mad > 0)
    n = int(ring.max()) + 1
    q = np.full(n, np.inf)
    for k in np.unique(ring[good]):
        q[k] = np.percentile(mad[good & (ring == k)], 25)
    env = np.minimum.accumulate(q[::-1])[::-1]
    env[~np.isfinite(env)] = np.nan
    return (np.arange(n) + 0.5) * b, env


def local_sigma(
    mad: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    size: np.ndarray,
    envelope: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, int],
) -> np.ndarray:
    """Each tile's noise: the smaller of its own MAD and the field's :func:`noise_envelope` at its
    centre's distance from the centre of the image of ``shape`` (a ripple raises the first only)."""
    radius, env = envelope
    mad = np.asarray(mad, dtype=np.float64)
    finite = np.isfinite(env)
    if not finite.any():
        return mad
    env = np.where(finite, env, env[finite][-1])  # beyond the last measured ring: its value
    cy, cx = (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0
    r = np.hypot(x0 + (size - 1) / 2.0 - cx, y0 + (size - 1) / 2.0 - cy)
    return np.fmin(mad, np.interp(r, radius, env))


def noise_map(residual: np.ndarray, box: int) -> np.ndarray:
    """Local rms per pixel: :func:`radioexplore.ingest.noise.masked_rms` on a mesh of ``box`` px blocks,
    bilinearly interpolated between block centres (constant beyond the outer ones)."""

    def rms(block: np.ndarray) -> float:
        return masked_rms(block) if np.isfinite(block).sum() >= 0.1 * block.size else np.nan

    return _mesh_map(residual, box, rms)


#: Median of |x| over the negative half of a zero-mean Gaussian, in sigma (the half-normal's median).
HALF_NORMAL_MEDIAN = 0.6744897501960817


def negative_noise_map(residual: np.ndarray, box: int) -> np.ndarray:
    """Local rms per pixel from the negative side: on a mesh of ``box`` px blocks of a background-subtracted
    image, the median of ``-x`` over its negative pixels over :data:`HALF_NORMAL_MEDIAN`, interpolated as
    :func:`noise_map`. Sky emission is positive, so it cannot lift this; troughs (calibration errors) do.
    For images whose noise is correlated over many pixels (a smoothed image), where masking by a
    per-pixel threshold would not separate emission from noise."""

    def rms_below(block: np.ndarray) -> float:
        neg = block[block < 0]  # NaN compares False
        return float(np.median(-neg)) / HALF_NORMAL_MEDIAN if neg.size >= 0.05 * block.size else np.nan

    return _mesh_map(residual, box, rms_below)


def _mesh_map(residual: np.ndarray, box: int, statistic: Callable[[np.ndarray], float]) -> np.ndarray:
    """``statistic`` (a block -> rms or NaN) on a mesh of ``box`` px blocks, unmeasured blocks set to the
    median of the others, bilinearly interpolated between block centres (constant beyond the outer ones)."""
    ny, nx = residual.shape
    my, mx = max(1, round(ny / box)), max(1, round(nx / box))
    ey = np.linspace(0, ny, my + 1).astype(int)
    ex = np.linspace(0, nx, mx + 1).astype(int)
    grid = np.full((my, mx), np.nan)
    for i in range(my):
        for j in range(mx):
            grid[i, j] = statistic(residual[ey[i] : ey[i + 1], ex[j] : ex[j + 1]])
    good = np.isfinite(grid) & (grid > 0)
    if not good.any():
        return np.full(residual.shape, np.nan, dtype=np.float32)
    grid[~good] = np.median(grid[good])
    wy = _interp_weights(ny, (ey[:-1] + ey[1:] - 1) / 2.0).astype(np.float32)
    wx = _interp_weights(nx, (ex[:-1] + ex[1:] - 1) / 2.0).astype(np.float32)
    return wy @ (grid.astype(np.float32) @ wx.T)  # float32 throughout: a field of 10^8 pixels stays 0.4 GB


def _interp_weights(n: int, centres: np.ndarray) -> np.ndarray:
    """[n, len(centres)] weights of linear interpolation between ``centres`` (constant beyond them)."""
    grid = np.arange(n, dtype=np.float64)
    eye = np.eye(len(centres))
    return np.stack([np.interp(grid, centres, eye[j]) for j in range(len(centres))], axis=1)


def noise_floor_at(
    envelope: tuple[np.ndarray, np.ndarray], x: float, y: float, shape: tuple[int, int], local: float
) -> float:
    """The noise at ``(x, y)``: the smaller of the local mesh rms and the field's noise envelope at that
    distance from the image centre (:func:`noise_envelope`)."""
    radius, env = envelope
    finite = np.isfinite(env)
    if not finite.any():
        return local
    r = np.hypot(x - (shape[1] - 1) / 2.0, y - (shape[0] - 1) / 2.0)
    at = float(np.interp(r, radius[finite], env[finite]))
    return min(local, at) if np.isfinite(local) and local > 0 else at
