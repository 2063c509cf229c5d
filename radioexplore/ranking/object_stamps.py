"""Source-centred stamps of objects, sized to each object (seed 001's curated set: 2.5x the island's box).

Each stamp is read from its own box (``stamp_x0``, ``stamp_y0``, ``stamp_size`` of the object table)
and resampled to one size, NaN beyond the image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage


def cut_stamps(image: np.ndarray, objects: pd.DataFrame, size_px: int = 128) -> np.ndarray:
    """Source-centred stamps ``[N, size_px, size_px]`` (float32, image units) resampled from each
    object's stamp box (``stamp_x0``, ``stamp_y0``, ``stamp_size``); pixels beyond the image are NaN.

    ``image`` is a 2-D array or anything with ``read_box(x0, y0, width)`` (a
    :class:`radioexplore.io.fits.FitsImage`), so a stamp reads only its own box.
    """
    out = np.full((len(objects), size_px, size_px), np.nan, dtype=np.float32)
    for i, (x0, y0, side) in enumerate(
        zip(objects["stamp_x0"], objects["stamp_y0"], objects["stamp_size"], strict=True)
    ):
        box = _read_box(image, int(x0), int(y0), int(side))
        finite = np.isfinite(box)
        zoom = size_px / box.shape[0]
        values = ndimage.zoom(np.where(finite, box, 0.0), zoom, order=1, grid_mode=True, mode="nearest")
        cover = ndimage.zoom(finite.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")
        values = values[:size_px, :size_px]
        cover = cover[:size_px, :size_px]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i, : values.shape[0], : values.shape[1]] = np.where(cover > 0.5, values / cover, np.nan)
    return out


def _read_box(image, x0: int, y0: int, side: int) -> np.ndarray:
    if hasattr(image, "read_box"):
        return image.read_box(x0, y0, side)
    image = np.asarray(image, dtype=np.float32)
    out = np.full((side, side), np.nan, dtype=np.float32)
    ny, nx = image.shape
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, nx), min(y0 + side, ny)
    if xb > xa and yb > ya:
        out[ya - y0 : yb - y0, xa - x0 : xb - x0] = image[ya:yb, xa:xb]
    return out
