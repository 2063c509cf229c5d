"""Fitting a stamp to the run's square tile: pad, resample or crop, with the source box and the zoom.

See :mod:`radioexplore.ingest.stamps` for when each is used; blank (NaN) pixels fill whatever
the stamp does not cover, and resampling is NaN-aware.
"""

from __future__ import annotations

import numpy as np

STAMP_FITS = ("pad", "resample", "crop")


def fit_stamp(pixels: np.ndarray, tile_px: int, how: str = "pad") -> tuple[np.ndarray, tuple[int, int, int], float]:
    """Fit a stamp to a ``tile_px`` square; returns the tile, the source box ``(x0, y0, size)`` in
    stamp pixels (it may reach past the stamp, where the tile is blank) and the zoom factor."""
    if how not in STAMP_FITS:
        raise ValueError(f"stamp fit must be one of {', '.join(STAMP_FITS)}; got {how!r}")
    h, w = pixels.shape
    if how == "pad" or (how == "crop" and min(h, w) >= tile_px):
        side = tile_px
    elif how == "resample":
        side = max(h, w)
    else:  # crop a stamp smaller than the tile: enlarge its shorter side to the tile
        side = min(h, w)
    x0, y0 = (w - side) // 2, (h - side) // 2
    square = stamp_box(pixels, x0, y0, side)
    if side == tile_px:
        return square, (x0, y0, side), 1.0
    return resize(square, tile_px), (x0, y0, side), tile_px / side


def stamp_box(pixels: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``pixels[y0:y0+side, x0:x0+side]`` with NaN where the box leaves the array (a box may reach past a stamp)."""
    h, w = pixels.shape
    out = np.full((side, side), np.nan, dtype=np.float32)
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xb > xa and yb > ya:
        out[ya - y0 : yb - y0, xa - x0 : xb - x0] = pixels[ya:yb, xa:xb]
    return out


def resize(square: np.ndarray, size: int) -> np.ndarray:
    """Resize a square array to ``size`` x ``size``: antialiased bilinear (Pillow), NaN-aware."""
    from PIL import Image

    finite = np.isfinite(square)
    values = Image.fromarray(np.where(finite, square, 0.0).astype(np.float32), mode="F")
    weight = Image.fromarray(finite.astype(np.float32), mode="F")
    v = np.asarray(values.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    wt = np.asarray(weight.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = v / wt
    out[wt < 0.5] = np.nan
    return out
