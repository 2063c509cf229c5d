"""Tiles as pictures: a 2-D array through a colour map into PNG bytes, without pyplot."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from PIL import Image


def colourise(
    array: np.ndarray, cmap: str = "inferno", vmin: float | None = None, vmax: float | None = None
) -> np.ndarray:
    """RGB uint8 ``[H, W, 3]`` of ``array`` (NaN drawn black); limits default to the finite min and max."""
    a = np.asarray(array, dtype=np.float32)
    finite = np.isfinite(a)
    lo = float(np.min(a[finite])) if vmin is None and finite.any() else (vmin or 0.0)
    hi = float(np.max(a[finite])) if vmax is None and finite.any() else (vmax if vmax is not None else 1.0)
    norm = np.clip((a - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    rgb = (matplotlib.colormaps[cmap](np.nan_to_num(norm))[..., :3] * 255).astype(np.uint8)
    rgb[~finite] = 0
    return rgb


def png_bytes(
    array: np.ndarray,
    cmap: str = "inferno",
    vmin: float | None = None,
    vmax: float | None = None,
    size: int | None = None,
) -> bytes:
    """PNG of ``array`` with the image's row 0 at the bottom (astronomical orientation)."""
    img = Image.fromarray(colourise(array, cmap, vmin, vmax)[::-1])
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
