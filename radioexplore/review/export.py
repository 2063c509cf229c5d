"""Export of candidate tiles: the list the astronomer leaves with.

A selection (tile ids), a label (tiles whose current labels include it) or the top N of a
ranking (the anomaly ranking, or the active one after re-ranking) becomes a *candidate table*
(tile id, field, RA/Dec of the centre, pixel box, source file, noise, scores and current labels)
and is written as CSV, VOTable (with UCDs and units) or FITS table, as a FITS MOC of its sky, as
a DS9 region file (boxes in fk5 where the field has a celestial WCS, in image pixels otherwise),
or as a zip of FITS cutouts, each cut from the source image with its WCS. Every file is written
atomically.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from radioexplore.registry import lookup
from radioexplore.run.atomic import atomic_path
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.labels.values import normalise_labels
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiletable.join import LABEL_MARKERS, join_tiles, with_labels
from radioexplore.run.tiletable.schema import CANDIDATE_ACTIVE_COLUMNS, CANDIDATE_SCORE_COLUMNS, CANDIDATE_TILE_COLUMNS

log = logging.getLogger(__name__)


def select_tiles(
    run: RunDir,
    name: str | None = None,
    *,
    tiles: Any = None,
    label: str | None = None,
    top: int | None = None,
    ranking: str = "anomaly",
) -> np.ndarray:
    """Tile ids of exactly one of: an explicit selection, a label, or the top ``top`` of a ranking.

    ``ranking`` is ``"anomaly"`` (``scores/<name>``) or ``"active"`` (the latest re-ranking).
    Top-N ids come in rank order; a label's tiles in tile order.
    """
    given = [x is not None for x in (tiles, label, top)]
    if sum(given) != 1:
        raise ValueError("give exactly one of: tile ids, a label, or a number of top-ranked tiles")
    n = _n_tiles(run)
    if tiles is not None:
        ids = np.atleast_1d(np.asarray(list(tiles) if not isinstance(tiles, np.ndarray) else tiles, dtype=np.int64))
        bad = ids[(ids < 0) | (ids >= n)]
        if bad.size:
            raise IndexError(f"tiles {bad[:5].tolist()} do not exist: run {run.root} has tiles 0..{n - 1}")
        return ids
    if label is not None:
        (wanted,) = normalise_labels([label])
        if not run.labels_db.is_file():
            return np.empty(0, dtype=np.int64)
        return LabelStore.for_run(run).tiles_with(wanted)
    name = name or run.default_embedding()
    if name is None:
        raise ValueError(f"{run.root} has no embeddings, so no ranking to take the top of")
    if top is None or top < 1:
        raise ValueError(f"top must be a positive number of tiles, not {top!r}")
    table, column = _ranking(run, name, ranking)
    return table.nsmallest(int(top), column)["tile_id"].to_numpy(dtype=np.int64)


def _ranking(run: RunDir, name: str, ranking: str) -> tuple[pd.DataFrame, str]:
    if ranking == "anomaly":
        return run.read_scores(name), "rank"
    if ranking == "active":
        from radioexplore.ranking.active_run import read_active

        return read_active(run, name), "active_rank"
    raise ValueError(f"ranking must be 'anomaly' or 'active', not {ranking!r}")


def _n_tiles(run: RunDir) -> int:
    import pyarrow.parquet as pq

    if not run.tiles_table.is_file():
        run.read_tiles()  # raises with the command that makes it
    return pq.ParquetFile(run.tiles_table).metadata.num_rows


def candidate_table(run: RunDir, tile_ids: Any, name: str | None = None) -> pd.DataFrame:
    """One row per tile id, in the order given: tile geometry, scores of ``name`` and current labels.

    The tiles joined with ``scores/<name>``, its re-ranking when one exists, and the label store
    (:mod:`radioexplore.run.tiletable.join`, as the app joins them), then cut to the candidate
    columns: ``labels`` and ``tags`` joined by ``;``, "" where a tile has none.
    """
    ids = np.asarray(tile_ids, dtype=np.int64)
    tiles = run.read_tiles().set_index("tile_id").loc[ids].reset_index()
    name = name or run.default_embedding()
    scores = run.read_scores(name) if name and run.scores(name).is_file() else None
    active = pd.read_parquet(run.active_scores(name)) if name and run.active_scores(name).is_file() else None
    current = LabelStore.for_run(run).current() if run.labels_db.is_file() else None
    joined = with_labels(join_tiles(tiles, scores, active=active), current, notes=True)
    columns = [
        *CANDIDATE_TILE_COLUMNS,
        *CANDIDATE_SCORE_COLUMNS,
        *(CANDIDATE_ACTIVE_COLUMNS if active is not None else ()),
    ]
    out = joined[[c for c in columns if c in joined.columns]].copy()  # a RangeIndex, as ``tiles``'s
    none = pd.Series("", index=out.index)
    text = joined["user_labels"].astype(str) if "user_labels" in joined else none
    out["labels"] = text.mask(text.isin(LABEL_MARKERS), "")
    interest = joined["user_interest"] if "user_interest" in joined else np.full(len(out), np.nan)
    out["interest"] = pd.array(interest, dtype="Int64")
    for c in ("tags", "note", "who"):
        out[c] = (joined[f"user_{c}"] if f"user_{c}" in joined else none).astype(str)
    return out


# -- writers ----------------------------------------------------------------------------------
def write_csv(table: pd.DataFrame, out: Path) -> Path:
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return out


#: UCD (IVOA UCD1+) of each candidate column, so TOPCAT and Aladin know positions and identifiers.
UCDS = {
    "tile_id": "meta.id;meta.main",
    "field": "meta.id;obs.field",
    "survey": "meta.id;meta.dataset",
    "file": "meta.ref",
    "x0": "pos.cartesian.x;instr.det",
    "y0": "pos.cartesian.y;instr.det",
    "size": "phys.size;instr.pixel",
    "ra": "pos.eq.ra;meta.main",
    "dec": "pos.eq.dec;meta.main",
    "noise_rms": "instr.det.noise;phot.flux.density",
    "score": "stat.value",
    "rank": "meta.number",
    "outlier": "meta.code",
    "active_score": "stat.value",
    "active_rank": "meta.number",
    "predicted_interest": "meta.code.qual",
    "labels": "meta.code.class",
    "interest": "meta.code.qual",
    "tags": "meta.note",
    "note": "meta.note",
    "who": "meta.curation",
}


def flux_unit(bunit: str):
    """The astropy unit of a FITS BUNIT such as ``JY/BEAM`` (FITS writers often shout), or None if unknown."""
    import astropy.units as u

    for text in (bunit, bunit.lower().replace("jy", "Jy")):
        unit = u.Unit(text, parse_strict="silent")
        if not isinstance(unit, u.UnrecognizedUnit):
            return unit
    return None


def _astropy_table(table: pd.DataFrame, bunit: str | None = None):
    import astropy.units as u
    from astropy.table import Table

    t = Table.from_pandas(table)
    for c in ("ra", "dec"):
        if c in t.colnames:
            t[c].unit = u.deg
    for c in ("x0", "y0", "size"):
        if c in t.colnames:
            t[c].unit = u.pix
    unit = flux_unit(bunit) if bunit else None
    if "noise_rms" in t.colnames and unit is not None:
        t["noise_rms"].unit = unit
    t.meta["COMMENT"] = ["radioexplore candidate list: RA/Dec of tile centres; x0, y0 0-based pixel corner"]
    return t


def _bunit(table: pd.DataFrame) -> str | None:
    """The one BUNIT of the tiles' source images, or None when there is none or they differ."""
    if "file" not in table or not len(table):
        return None
    images = _ImageCache()
    units = {images.image(f).bunit.strip() for f in table["file"].unique()}
    return units.pop() if len(units) == 1 and "" not in units else None


def write_votable(table: pd.DataFrame, out: Path) -> Path:
    """A VOTable with units and a UCD per column (:data:`UCDS`): TOPCAT reads RA/Dec as positions."""
    from astropy.io.votable import from_table, writeto

    votable = from_table(_astropy_table(table, _bunit(table)))
    for f in votable.get_first_table().fields:
        if f.name in UCDS:
            f.ucd = UCDS[f.name]
    with atomic_path(out) as tmp:
        writeto(votable, str(tmp))
    return out


def write_fits_table(table: pd.DataFrame, out: Path) -> Path:
    with atomic_path(out) as tmp:
        _astropy_table(table, _bunit(table)).write(tmp, format="fits")
    return out


def write_ds9(table: pd.DataFrame, out: Path) -> Path:
    """A DS9 region file: one box per tile, in fk5 when its field has a celestial WCS, else in image pixels.

    Pixel boxes carry the field in their ``tag`` (they only make sense on that image); every box
    is labelled ``tile <id>``.
    """
    from astropy.coordinates import FK5
    from regions import PixCoord, RectanglePixelRegion, RectangleSkyRegion, Regions

    images = _ImageCache()
    regs = []
    for row in table.itertuples(index=False):
        size = int(row.size)
        centre = PixCoord(row.x0 + (size - 1) / 2.0, row.y0 + (size - 1) / 2.0)
        box = RectanglePixelRegion(centre, width=size, height=size)
        wcs = images.wcs(row.file)
        meta = {"text": f"tile {int(row.tile_id)}", "tag": [str(row.field)]}
        if wcs is not None:
            sky = box.to_sky(wcs)
            box = RectangleSkyRegion(
                sky.center.transform_to(FK5(equinox="J2000")), sky.width, sky.height, angle=sky.angle
            )
        box.meta = meta
        regs.append(box)
    text = Regions(regs).serialize(format="ds9") if regs else "# Region file format: DS9\n"
    # regions names FK5 J2000 "j2000", which DS9 reads as fk5; say fk5, as DS9 itself writes
    text = "\n".join("fk5" if line == "j2000" else line for line in text.splitlines()) + "\n"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return out


def write_cutouts(table: pd.DataFrame, out: Path) -> Path:
    """A zip of one FITS cutout per tile (pixels of the source image, its WCS sliced to the box) and the table as CSV."""
    images = _ImageCache()
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for row in table.itertuples(index=False):
                buf = io.BytesIO()
                cutout_hdu(images.image(row.file, row.tile_id), row).writeto(buf)
                zf.writestr(f"tile_{int(row.tile_id):07d}_{row.field}.fits", buf.getvalue())
            zf.writestr("candidates.csv", table.to_csv(index=False))
    return out


def cutout_hdu(image: Any, row: Any):
    """The FITS HDU of one tile (a row with ``tile_id, field, file, x0, y0, size``): its pixels cut
    from ``image`` (a :class:`~radioexplore.io.fits.FitsImage`), the image's WCS sliced to the box."""
    from astropy.io import fits

    x0, y0, size = int(row.x0), int(row.y0), int(row.size)
    data = image.read_box(x0, y0, size)
    header = image.header.copy()
    if image.wcs is not None:
        header.update(image.wcs.slice((slice(y0, y0 + size), slice(x0, x0 + size))).to_header())
    header["TILE_ID"] = (int(row.tile_id), "radioexplore tile id")
    header["FIELD"] = (str(row.field), "field (source image) of the tile")
    header["ORIGFILE"] = (Path(row.file).name, "source image")
    header["X0"], header["Y0"] = (x0, "0-based pixel column of the box in ORIGFILE"), (y0, "0-based row")
    return fits.PrimaryHDU(data, header)


def write_moc_table(table: pd.DataFrame, out: Path) -> Path:
    """A FITS MOC of the union of the tiles' boxes (:mod:`radioexplore.review.moc`), for Aladin and the VO."""
    from radioexplore.review.moc import tiles_moc, write_moc

    result = tiles_moc(table)
    if len(table) and result.n_without_wcs == len(table):
        raise ValueError("none of these tiles' images has a celestial WCS, so they have no sky to map as a MOC")
    return write_moc(result.moc, out)


class _ImageCache:
    """Open each source image once per export."""

    def __init__(self) -> None:
        self._images: dict[str, Any] = {}

    def image(self, file: str, tile_id: Any = None):
        from radioexplore.io.fits import read_image
        from radioexplore.io.fits_checks import FitsReadError

        if file not in self._images:
            try:
                self._images[file] = read_image(file)
            except FitsReadError as exc:
                raise FitsReadError(f"tile {tile_id}: cannot read its source image: {exc}") from None
        return self._images[file]

    def wcs(self, file: str):
        return self.image(file).wcs


#: Export formats by name: ``writer(candidate_table, out_path) -> out_path``.
EXPORTERS: dict[str, Callable[[pd.DataFrame, Path], Path]] = {
    "csv": write_csv,
    "votable": write_votable,
    "fits": write_fits_table,
    "ds9": write_ds9,
    "cutouts": write_cutouts,
    "moc": write_moc_table,
}


def export(run: RunDir, tile_ids: Any, fmt: str, out: str | Path, name: str | None = None) -> Path:
    """Write the candidate table of ``tile_ids`` to ``out`` in format ``fmt`` (a key of :data:`EXPORTERS`).

    ``out`` must name a file that is not an artefact of the run (RunDirError otherwise), and the
    run must agree with itself (:meth:`RunDir.check_consistent`).
    """
    writer = lookup(EXPORTERS, fmt, "export format")
    out = run.check_output_path(out)
    run.check_consistent(name or run.default_embedding(), stages=("ingest", "embed", "rank", "rerank"))
    table = candidate_table(run, tile_ids, name)
    path = writer(table, out)
    log.info("exported %d tiles as %s to %s", len(table), fmt, path)
    return path


#: File name suffix of each format, for downloads.
SUFFIXES = {"csv": ".csv", "votable": ".xml", "fits": ".fits", "ds9": ".reg", "cutouts": ".zip", "moc": ".moc.fits"}


def export_bytes(run: RunDir, tile_ids: Any, fmt: str, name: str | None = None) -> bytes:
    """The export of :func:`export` as bytes (for a browser download), written through a temporary file."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = export(run, tile_ids, fmt, Path(tmp) / f"candidates{SUFFIXES.get(fmt, '')}", name)
        return path.read_bytes()
