"""Drawing emission onto a model sky in Jy/pixel, before the restoring beam: points, Gaussians, paths.

The compact population follows a power-law differential count dN/dS ~ S^-slope, drawn by
inverse-transform sampling; everything else (radio galaxies, diffuse emission) is built from the
Gaussian blobs, paths and profiles defined here (see :mod:`radioexplore.simulation.morphology`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def power_law_fluxes(rng: np.random.Generator, n: int, s_min: float, s_max: float, slope: float) -> np.ndarray:
    """``n`` fluxes from dN/dS ~ S^-slope between ``s_min`` and ``s_max`` (any unit), by inverse transform."""
    u = rng.random(n)
    a = 1.0 - slope
    return (s_min**a + u * (s_max**a - s_min**a)) ** (1.0 / a)


def counts_above(density_ref: float, s_ref: float, s: float, slope: float) -> float:
    """Integral count N(>s) of a power law dN/dS ~ S^-slope normalised to ``density_ref`` sources above ``s_ref``."""
    return density_ref * (s / s_ref) ** (1.0 - slope)


def add_point(sky: np.ndarray, x: float, y: float, flux: float) -> None:
    """Add a point source of ``flux`` Jy at (x, y), split bilinearly over the four nearest pixels."""
    add_points(sky, np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(flux))


def add_points(sky: np.ndarray, x: np.ndarray, y: np.ndarray, flux: np.ndarray) -> None:
    """Add many point sources at once (vectorised bilinear split; positions off the grid are dropped)."""
    ny, nx = sky.shape
    x, y, flux = (np.asarray(a, dtype=np.float64) for a in (x, y, flux))
    ix, iy = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - ix, y - iy
    for ddx, ddy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        px, py = ix + ddx, iy + ddy
        ok = (px >= 0) & (px < nx) & (py >= 0) & (py < ny)
        np.add.at(sky, (py[ok], px[ok]), (flux * w)[ok])


def add_gaussian(
    sky: np.ndarray, x: float, y: float, flux: float, sigma_px: float, axis_ratio: float = 1.0, angle: float = 0.0
) -> None:
    """Add an elliptical Gaussian of total ``flux`` (Jy) centred at (x, y).

    ``sigma_px`` is the major-axis standard deviation in pixels, ``axis_ratio`` minor/major and
    ``angle`` the major axis's angle from the x axis in radians. Very small Gaussians become points.
    """
    ny, nx = sky.shape
    if sigma_px < 0.3:
        add_point(sky, x, y, flux)
        return
    half = int(np.ceil(4 * sigma_px))
    x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, nx)
    y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, ny)
    if x1 <= x0 or y1 <= y0:
        return
    c, s = np.cos(angle), np.sin(angle)
    dx = np.arange(x0, x1, dtype=np.float64)[None, :] - x
    dy = np.arange(y0, y1, dtype=np.float64)[:, None] - y
    u = (dx * c + dy * s) / sigma_px
    v = (-dx * s + dy * c) / (sigma_px * axis_ratio)
    g = np.exp(-0.5 * (u**2 + v**2))
    norm = 2.0 * np.pi * sigma_px**2 * axis_ratio
    sky[y0:y1, x0:x1] += flux * g / norm


def add_path(
    sky: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    fluxes: np.ndarray,
    widths: np.ndarray,
    axis_ratio: float = 1.0,
) -> None:
    """Add Gaussian blobs along a path (jets, tails, filaments), elongated along the local direction."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    direction = np.arctan2(np.gradient(ys), np.gradient(xs)) if len(xs) > 1 else np.zeros(1)
    for x, y, f, w, a in zip(xs, ys, fluxes, widths, direction, strict=True):
        add_gaussian(sky, x, y, f, w, axis_ratio=axis_ratio, angle=a)


def add_profile(sky: np.ndarray, x0: int, y0: int, stamp: np.ndarray) -> None:
    """Add a pre-computed stamp whose lower-left pixel goes at (x0, y0), clipped to the sky."""
    ny, nx = sky.shape
    h, w = stamp.shape
    xa, ya = max(x0, 0), max(y0, 0)
    xb, yb = min(x0 + w, nx), min(y0 + h, ny)
    if xb > xa and yb > ya:
        sky[ya:yb, xa:xb] += stamp[ya - y0 : yb - y0, xa - x0 : xb - x0]


def texture(rng: np.random.Generator, shape: tuple[int, int], scale_px: float, strength: float) -> np.ndarray:
    """A positive log-normal modulation, smooth on ``scale_px``, mean about 1: the clumps of diffuse emission."""
    field = gaussian_filter(rng.standard_normal(shape), max(scale_px, 0.5), mode="wrap")
    sd = field.std()
    if sd > 0:
        field /= sd
    return np.exp(strength * field - 0.5 * strength**2)
