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

from radioexplore.run.atomic import atomic_path
from radioexplore.run.rundir import RunDir

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


def tile_corners(tiles: pd.DataFrame, per_side: int = 1) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """ICRS vertices of each tile's pixel box: ``(lon [n, 4 * per_side], lat [n, 4 * per_side], pixel sizes in arcsec)``.

    Vertices lie on the outer edges of the box, ``per_side`` along each side from its corner (more
    follow the projection on large boxes); rows of images without a celestial WCS are NaN.
    ``tiles`` needs ``file``, ``x0``, ``y0`` and ``size`` (or ``width`` and ``height``).
    """
    from radioexplore.io.fits import read_image
    from radioexplore.io.fits_checks import FitsReadError

    missing = {"file", "x0", "y0"} - set(tiles.columns)
    if missing or not ({"size"} <= set(tiles.columns) or {"width", "height"} <= set(tiles.columns)):
        raise ValueError(f"the tiles table lacks columns {sorted(missing) or ['size']}: re-run `radioexplore ingest`")
    n, k = len(tiles), 4 * per_side
    lon = np.full((n, k), np.nan)
    lat = np.full((n, k), np.nan)
    pixels: list[float] = []
    files = tiles["file"].astype(str).to_numpy()
    x0 = tiles["x0"].to_numpy(dtype=float) - 0.5
    y0 = tiles["y0"].to_numpy(dtype=float) - 0.5
    width = tiles["width" if "width" in tiles else "size"].to_numpy(dtype=float)
    height = tiles["height" if "height" in tiles else "size"].to_numpy(dtype=float)
    t = np.arange(per_side) / per_side
    # walk the outline: bottom edge left to right, right edge up, top edge right to left, left edge down
    fx = np.concatenate([t, np.ones(per_side), 1 - t, np.zeros(per_side)])
    fy = np.concatenate([np.zeros(per_side), t, np.ones(per_side), 1 - t])
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
        xs = x0[rows, None] + width[rows, None] * fx[None, :]
        ys = y0[rows, None] + height[rows, None] * fy[None, :]
        sky = image.wcs.pixel_to_world(xs, ys).icrs
        lon[rows], lat[rows] = sky.ra.deg, sky.dec.deg
    return lon, lat, pixels


def tiles_moc(tiles: pd.DataFrame, order: int | None = None, per_side: int = 1) -> TilesMoc:
    """The MOC of the union of ``tiles``' pixel boxes, at ``order`` (default: :func:`order_for_pixel`)."""
    from mocpy import MOC

    if order is not None and not 0 <= int(order) <= 29:
        raise ValueError(f"MOC order must lie in 0..29, not {order}")
    lon, lat, pixels = tile_corners(tiles, per_side)
    placed = np.isfinite(lon).all(axis=1) & np.isfinite(lat).all(axis=1)
    if order is None:
        order = order_for_pixel(min(pixels)) if pixels else FALLBACK_ORDER
    order = int(order)
    if placed.any():
        vertices = np.empty((2 * int(placed.sum()), lon.shape[1]))
        vertices[0::2], vertices[1::2] = lon[placed], lat[placed]
        mocs = MOC.from_polygons(vertices, max_depth=order)
        moc = mocs[0].union(*mocs[1:]) if len(mocs) > 1 else mocs[0]
    else:
        moc = MOC.new_empty(order)
    return TilesMoc(moc, order, len(tiles), int((~placed).sum()))


def footprint_moc(tiles: pd.DataFrame, order: int | None = None) -> TilesMoc:
    """The MOC of the survey: per field (source image), the box that its tiles span.

    One polygon per field instead of one per tile, so it takes seconds for a survey of 100k tiles;
    it equals the union of the tiles where they tile that box without gaps, as the grid tiling
    does (blank tiles are tiles too).
    """
    boxes = (
        tiles.assign(x1=tiles["x0"] + tiles["size"], y1=tiles["y0"] + tiles["size"])
        .groupby("file", sort=False)
        .agg(tile_id=("tile_id", "first"), x0=("x0", "min"), y0=("y0", "min"), x1=("x1", "max"), y1=("y1", "max"))
        .reset_index()
    )
    boxes["width"], boxes["height"] = boxes["x1"] - boxes["x0"], boxes["y1"] - boxes["y0"]
    result = tiles_moc(boxes, order, per_side=16)
    n_without = int(tiles["file"].isin(_files_without_wcs(boxes)).sum()) if result.n_without_wcs else 0
    return TilesMoc(result.moc, result.order, len(tiles), n_without)


def _files_without_wcs(boxes: pd.DataFrame) -> list[str]:
    from radioexplore.io.fits import read_image

    return [f for f in boxes["file"] if read_image(f).wcs is None]


def reviewed_tiles(run: RunDir) -> np.ndarray:
    """Tile ids whose current state carries a label or an interest score (empty without a label store)."""
    from radioexplore.run.labels.store import LabelStore

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
