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
