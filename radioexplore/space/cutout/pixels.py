"""A cutout's pixels on the run's tile grid: resampled to its pixel scale, windowed, padded with noise like its own."""

from __future__ import annotations

import numpy as np


def resample(raw: np.ndarray, ratio: float) -> np.ndarray:
    """``raw`` resampled by ``ratio`` (output pixels per input pixel); Jy/beam is kept (it is per beam,
    not per pixel); pixels more than half blanked stay NaN."""
    from scipy.ndimage import zoom

    finite = np.isfinite(raw)
    out = zoom(np.where(finite, raw, 0.0), ratio, order=1, mode="nearest", grid_mode=True)
    cover = zoom(finite.astype(np.float32), ratio, order=1, mode="nearest", grid_mode=True)
    out = np.where(cover >= 0.5, out / np.maximum(cover, 1e-6), np.nan)
    return out.astype(np.float32)


def to_tile(
    raw: np.ndarray, tile_px: int, rms: float, beam_px: float | None, offset: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, str]:
    """The ``tile_px`` square window of ``raw`` centred ``offset`` = (dy, dx) px from its centre; what
    falls outside ``raw`` is noise of ``rms`` Jy/beam, smoothed to the beam when it is known, so the
    margin looks like the sky around a tile's sources. Also a note when padding was needed."""
    h, w = raw.shape
    y0, x0 = (h - tile_px) // 2 + offset[0], (w - tile_px) // 2 + offset[1]  # the window's corner in raw
    if (y0, x0) == (0, 0) and (h, w) == (tile_px, tile_px):
        return raw, ""
    ry0, rx0 = max(y0, 0), max(x0, 0)
    ry1, rx1 = min(y0 + tile_px, h), min(x0 + tile_px, w)
    out = _noise_floor(tile_px, rms, beam_px)
    if ry1 > ry0 and rx1 > rx0:
        out[ry0 - y0 : ry1 - y0, rx0 - x0 : rx1 - x0] = raw[ry0:ry1, rx0:rx1]
    if (ry1 - ry0, rx1 - rx0) == (tile_px, tile_px):
        return out, ""
    return (
        out,
        f"padded its {min(w, tile_px)} x {min(h, tile_px)} px with noise of its rms to the run's {tile_px} px tile",
    )


def _noise_floor(size: int, rms: float, beam_px: float | None) -> np.ndarray:
    """A ``size`` square of Gaussian noise of ``rms``, correlated over the beam when ``beam_px`` (FWHM) is given.

    Seeded: the same upload always gives the same hits.
    """
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(0).standard_normal((size, size))
    if beam_px and beam_px > 1:
        noise = gaussian_filter(noise, beam_px / 2.3548, mode="wrap")
    std = noise.std()
    return (noise / (std if std > 0 else 1.0) * rms).astype(np.float32)
