"""Multi-Order Coverage maps (IVOA MOC, through mocpy) of tiles: the reviewed sky and the candidates.

A MOC is how Aladin, TOPCAT and the VO services say "this part of the sky": the union of the
tiles' pixel boxes, each projected through its field's WCS into ICRS. HEALPix cells of the MOC's
order that a box only touches are counted in, so a MOC covers a little more than its boxes (up to
about one cell along their outline). The default order puts about two image pixels in a cell.
Tiles of images without a celestial WCS have no place on the sky and are left out (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.rundir import RunDir, atomic_path

#: Square degrees of the whole sky.
SKY_DEG2 = 4 * np.pi * (180 / np.pi) ** 2
#: Order used when no image says its pixel size.
FALLBACK_ORDER = 14


@dataclass(frozen=True)
class TilesMoc:
    """A MOC of some tiles, its order, and how many tiles had no celestial WCS (left out)."""

    moc: Any  # mocpy.MOC
    order: int
    n_tiles: int
    n_without_wcs: int

    @property
    def area_deg2(self) -> float:
        return moc_area_deg2(self.moc)


def moc_area_deg2(moc: Any) -> float:
    """Sky area of a MOC in square degrees."""
    return float(moc.sky_fraction) * SKY_DEG2


def order_for_pixel(pixel_arcsec: float) -> int:
    """The MOC order whose cells are at most two image pixels across (capped at mocpy's 29)."""
    from astropy.coordinates import Angle
    from mocpy import MOC

    return int(min(29, MOC.spatial_resolution_to_order(Angle(2 * pixel_arcsec, unit="arcsec"))))


def tile_corners(tiles: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """ICRS corners of each tile's pixel box: ``(lon [n, 4], lat [n, 4], pixel sizes in arcsec)``.

    Corners are the outer edges of the box's corner pixels; rows of images without a celestial
    WCS are NaN. ``tiles`` needs ``file``, ``x0``, ``y0`` and ``size``.
    """
    from radioexplore.fitsio import FitsReadError, read_image

    missing = {"file", "x0", "y0", "size"} - set(tiles.columns)
    if missing:
        raise ValueError(f"the tiles table lacks columns {sorted(missing)}: re-run `radioexplore ingest`")
    n = len(tiles)
    lon = np.full((n, 4), np.nan)
    lat = np.full((n, 4), np.nan)
    pixels: list[float] = []
    files = tiles["file"].astype(str).to_numpy()
    x0 = tiles["x0"].to_numpy(dtype=float) - 0.5
    y0 = tiles["y0"].to_numpy(dtype=float) - 0.5
    size = tiles["size"].to_numpy(dtype=float)
    for file in np.unique(files):
        rows = np.flatnonzero(files == file)
        try:
            image = read_image(file)
        except FitsReadError as exc:
            raise FitsReadError(
                f"tile {int(tiles['tile_id'].iloc[rows[0]])}: cannot read its source image: {exc}"
            ) from None
        if image.wcs is None:
            continue
        if image.pixel_arcsec:
            pixels.append(float(image.pixel_arcsec))
        xs = np.stack([x0[rows], x0[rows] + size[rows], x0[rows] + size[rows], x0[rows]], axis=1)
        ys = np.stack([y0[rows], y0[rows], y0[rows] + size[rows], y0[rows] + size[rows]], axis=1)
        sky = image.wcs.pixel_to_world(xs, ys).icrs
        lon[rows], lat[rows] = sky.ra.deg, sky.dec.deg
    return lon, lat, pixels


def tiles_moc(tiles: pd.DataFrame, order: int | None = None) -> TilesMoc:
    """The MOC of the union of ``tiles``' pixel boxes, at ``order`` (default: :func:`order_for_pixel`)."""
    from mocpy import MOC

    if order is not None and not 0 <= int(order) <= 29:
        raise ValueError(f"MOC order must lie in 0..29, not {order}")
    lon, lat, pixels = tile_corners(tiles)
    placed = np.isfinite(lon).all(axis=1) & np.isfinite(lat).all(axis=1)
    if order is None:
        order = order_for_pixel(min(pixels)) if pixels else FALLBACK_ORDER
    order = int(order)
    if placed.any():
        vertices = np.empty((2 * int(placed.sum()), 4))
        vertices[0::2], vertices[1::2] = lon[placed], lat[placed]
        mocs = MOC.from_polygons(vertices, max_depth=order)
        moc = mocs[0].union(*mocs[1:]) if len(mocs) > 1 else mocs[0]
    else:
        moc = MOC.new_empty(order)
    return TilesMoc(moc, order, len(tiles), int((~placed).sum()))


def reviewed_tiles(run: RunDir) -> np.ndarray:
    """Tile ids whose current state carries a label or an interest score (empty without a label store)."""
    from radioexplore.labels import LabelStore

    if not run.labels_db.is_file():
        return np.empty(0, dtype=np.int64)
    current = LabelStore.for_run(run).current()
    carries = current["labels"].map(len).gt(0) | current["interest"].notna()
    return np.sort(current.loc[carries, "tile_id"].to_numpy(dtype=np.int64))


def reviewed_moc(run: RunDir, order: int | None = None) -> TilesMoc:
    """The MOC of the tiles that carry a label or an interest score: the sky reviewed so far."""
    tiles = run.read_tiles()
    ids = reviewed_tiles(run)
    return tiles_moc(tiles.set_index("tile_id").loc[ids].reset_index(), order)


def write_moc(moc: Any, out: str | Path) -> Path:
    """Write ``moc`` as a FITS MOC (IVOA MOC 2.0), atomically."""
    out = Path(out)
    with atomic_path(out) as tmp:
        moc.save(str(tmp), format="fits", overwrite=True)
    return out
