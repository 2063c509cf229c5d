"""Where an uploaded cutout lies among a run's fields on the sky, and each field's pixel scale from its tiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from radioexplore.io.fits import FitsImage


def field_pixel_arcsec(tiles: pd.DataFrame) -> pd.Series:
    """Arcsec per pixel of each field, from its tiles' sky and pixel positions (no image is read).

    For each field: the angle between its first tile's centre and the tile farthest from it in
    pixels, over their pixel distance; NaN for a field of one tile (read from its file instead).
    """
    tiles = tiles.dropna(subset=["ra", "dec"])
    out = {}
    for name, group in tiles.groupby("field", sort=False):
        x, y = group["x0"].to_numpy(float), group["y0"].to_numpy(float)
        far = int(np.argmax(np.abs(x - x[0]) + np.abs(y - y[0])))
        pixels = np.hypot(x[far] - x[0], y[far] - y[0])
        if pixels > 0:
            angle = angle_deg(group["ra"].iloc[0], group["dec"].iloc[0], group["ra"].iloc[far], group["dec"].iloc[far])
            out[name] = float(angle) * 3600.0 / pixels
        else:
            out[name] = _file_pixel_arcsec(str(group["file"].iloc[0]))
    return pd.Series(out, dtype=float)


def _file_pixel_arcsec(path: str) -> float:
    from radioexplore.io.fits import read_image

    try:
        return float(read_image(path).pixel_arcsec or np.nan)
    except Exception:  # a moved or unreadable field image: its scale is simply unknown
        return np.nan


def angle_deg(
    ra1: float | np.ndarray, dec1: float | np.ndarray, ra2: float | np.ndarray, dec2: float | np.ndarray
) -> np.ndarray:
    """Great-circle angle in degrees between positions in degrees (haversine, exact at small angles)."""
    r1, d1, r2, d2 = (np.deg2rad(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    a = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.rad2deg(2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def _centre_sky(image: FitsImage) -> tuple[float, float]:
    ra, dec = image.pixel_to_world(np.array([(image.nx - 1) / 2]), np.array([(image.ny - 1) / 2]))
    return float(ra[0]), float(dec[0])


def nearest_tile(tiles: pd.DataFrame, image: FitsImage) -> tuple[pd.Series, float]:
    """The tile whose centre is nearest to the cutout's centre, and that distance in degrees."""
    if image.wcs is None:
        raise ValueError(f"{image.path}: no celestial WCS, so the nearest field is unknown; use scaling_from='cutout'")
    sky = tiles.dropna(subset=["ra", "dec"])
    if sky.empty:
        raise ValueError("the run's tiles have no sky positions; use scaling_from='cutout' or a field name")
    ra, dec = _centre_sky(image)
    angle = angle_deg(ra, dec, sky["ra"].to_numpy(), sky["dec"].to_numpy())
    i = int(np.argmin(angle))
    return sky.iloc[i], float(angle[i])


def nearest_field(tiles: pd.DataFrame, image: FitsImage) -> str:
    """The field of the tile nearest to the cutout's centre (``scaling_from="nearest"``)."""
    return str(nearest_tile(tiles, image)[0]["field"])


def field_of_cutout(tiles: pd.DataFrame, scales: pd.Series, image: FitsImage) -> str | None:
    """The field whose tiles cover the cutout's centre on the sky, or None (off the run's fields)."""
    try:
        tile, angle = nearest_tile(tiles, image)
    except ValueError:
        return None
    arcsec = scales.get(tile["field"], np.nan)
    if not np.isfinite(arcsec):
        arcsec = image.pixel_arcsec or np.nan
    reach = float(tile["size"]) / np.sqrt(2.0) * arcsec / 3600.0  # a tile's half diagonal, in degrees
    return str(tile["field"]) if np.isfinite(reach) and angle <= 1.01 * reach else None
