"""Square crops of a wide-field image with full coverage and the least overlap.

Lastufka et al. 2024 (seed 000, sec. 2.1) take the closest integer number of 256 px crops per
axis and spread them so that adjacent crops overlap by at most about ten pixels. We take
``ceil(length / size)`` crops per axis, so that every pixel is covered, and spread their origins
evenly; for a 3500 px MGCLS image that is 14 crops overlapping by 6.5 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TileBox:
    """A crop's pixel box: origin (x0, y0) of the lower-left corner in 0-based pixels, and its size."""

    x0: int
    y0: int
    size: int

    @property
    def centre(self) -> tuple[float, float]:
        """Pixel centre (x, y) of the crop, 0-based."""
        return self.x0 + (self.size - 1) / 2.0, self.y0 + (self.size - 1) / 2.0


def axis_origins(length: int, size: int) -> np.ndarray:
    """Origins of ``ceil(length/size)`` crops of ``size`` px covering ``length`` px evenly.

    An axis shorter than one crop gets a single crop at 0 that reaches past the image edge (the
    caller pads it). Consecutive origins differ by at most one pixel from ``(length-size)/(n-1)``.
    """
    if length <= 0 or size <= 0:
        raise ValueError(f"axis length ({length}) and crop size ({size}) must be positive")
    if length <= size:
        return np.zeros(1, dtype=np.int64)
    n = math.ceil(length / size)
    return np.round(np.linspace(0, length - size, n)).astype(np.int64)


def tile_grid(nx: int, ny: int, size: int) -> list[TileBox]:
    """Crops covering an ``nx`` x ``ny`` image, row by row from the lower-left corner."""
    xs = axis_origins(nx, size)
    ys = axis_origins(ny, size)
    return [TileBox(int(x), int(y), size) for y in ys for x in xs]


def max_overlap(length: int, size: int) -> int:
    """Largest overlap in pixels between neighbouring crops along an axis of ``length`` px."""
    origins = axis_origins(length, size)
    if len(origins) < 2:
        return 0
    return int(size - np.min(np.diff(origins)))


def tile_adjacency(field: np.ndarray, x0: np.ndarray, y0: np.ndarray, size: np.ndarray, reach: float = 1.25):
    """Which tiles touch: a symmetric boolean ``scipy.sparse.csr_matrix`` [N, N].

    Two tiles touch when they belong to the same field and their origins differ by at most ``reach``
    tile sizes on each axis: the 8 neighbours of a tile on a grid, whether the grid's crops overlap
    by a few pixels (:func:`axis_origins`) or not. A stamps run, where every stamp is its own field,
    has none. Large sources (giant and X-shaped radio galaxies) span touching tiles, which is why
    active learning lets a label reach them (:mod:`radioexplore.ranking.active`).
    """
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    field = np.asarray(field)
    xy = np.column_stack([np.asarray(x0, dtype=np.float64), np.asarray(y0, dtype=np.float64)])
    size = np.asarray(size, dtype=np.float64)
    n = len(xy)
    if not (len(field) == len(size) == n):
        raise ValueError(f"field, x0, y0 and size must have one entry per tile ({len(field)}, {n}, {len(size)})")
    rows, cols = [], []
    codes = np.unique(field, return_inverse=True)[1] if n else np.zeros(0, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        pairs = cKDTree(xy[members]).query_pairs(reach * size[members].max(), p=np.inf, output_type="ndarray")
        rows.append(members[pairs[:, 0]])
        cols.append(members[pairs[:, 1]])
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    data = np.ones(2 * len(r), dtype=bool)
    return coo_matrix((data, (np.r_[r, c], np.r_[c, r])), shape=(n, n)).tocsr()
