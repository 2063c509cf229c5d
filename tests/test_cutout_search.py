"""Searching with an uploaded FITS cutout finds the tile it was cut from (issue 23).

A cutout of exactly one tile's pixel box (with its WCS, in Jy/beam) must return that tile first;
a cutout of another size centred on a bright source of a tile must return that tile in the top 5.
"""

from __future__ import annotations

import io
import shutil

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from radioexplore.io.fits import read_image
from radioexplore.review.export import cutout_hdu
from radioexplore.run.rundir import RunDir
from radioexplore.space.cutout.query import embed_cutout
from radioexplore.space.similarity import SimilaritySearch


@pytest.fixture(scope="module")
def run(tiny_run, tmp_path_factory) -> RunDir:
    copy = RunDir(tmp_path_factory.mktemp("cutout") / "run")
    shutil.copytree(tiny_run.root, copy.root)
    return copy


@pytest.fixture(scope="module")
def searcher(run) -> SimilaritySearch:
    return SimilaritySearch.from_run(run, "vit")


def _write_box(image, x0: int, y0: int, size: int, path) -> None:
    """The image's pixels in a ``size`` box at (x0, y0), blank beyond the image, with the image's header and
    its WCS moved to the box (CRPIX shifted: ``wcs.slice`` would read a negative x0 or y0 as from the end)."""
    header = image.header.copy()
    wcs = image.wcs.deepcopy()
    wcs.wcs.crpix = wcs.wcs.crpix - np.array([x0, y0], dtype=float)
    header.update(wcs.to_header())
    fits.PrimaryHDU(image.read_box(x0, y0, size), header).writeto(path)


def _tile(run: RunDir, tile_id: int):
    """The tiles-table row of ``tile_id`` as a named tuple (``cutout_hdu`` reads ``row.size``)."""
    return next(run.read_tiles().iloc[[tile_id]].itertuples(index=False))


def _rank(searcher: SimilaritySearch, vector: np.ndarray, tile_id: int) -> int:
    """The tile's rank among hits of one query vector, or of several (best distance kept per tile)."""
    hits = searcher.from_vectors(vector, len(searcher))
    return int(np.flatnonzero(hits["tile_id"].to_numpy() == tile_id)[0]) + 1


def test_a_cutout_of_a_tile_returns_that_tile_first(run, searcher, tmp_path):
    chosen = np.random.default_rng(23).choice(len(run.read_tiles()), 5, replace=False)
    ranks = []
    for tile_id in chosen:
        row = _tile(run, int(tile_id))
        path = tmp_path / f"tile_{tile_id}.fits"
        cutout_hdu(read_image(row.file), row).writeto(path)
        cut = embed_cutout(run, "vit", path)  # the default: the field it lies in, found from its WCS
        assert cut.scaling_from == row.field and cut.shape == (128, 128)
        assert f"field {row.field}'s recorded scaling" in cut.describe()
        ranks.append(_rank(searcher, cut.vector, int(tile_id)))
    print(f"exact tile cutouts: ranks {ranks}")
    assert ranks == [1] * len(chosen)


def _bright_sources(run, survey, n: int) -> pd.DataFrame:
    """The ``n`` brightest catalogue sources lying in the central half of a tile, with that tile's id and
    their pixel position in the field."""
    catalogue = pd.read_csv(survey / "catalogue.csv").sort_values("Peak_flux", ascending=False)
    tiles = run.read_tiles()
    rows = []
    for src in catalogue.itertuples():
        field = tiles[tiles["field"] == src.Field]
        image = read_image(field["file"].iloc[0])
        x, y = image.world_to_pixel(np.array([src.RA]), np.array([src.DEC]))
        dx = x[0] - (field["x0"] + (field["size"] - 1) / 2)
        dy = y[0] - (field["y0"] + (field["size"] - 1) / 2)
        inner = field[(dx.abs() < field["size"] / 4) & (dy.abs() < field["size"] / 4)]
        if len(inner):
            rows.append(dict(tile_id=int(inner["tile_id"].iloc[0]), file=image.path, x=x[0], y=y[0]))
        if len(rows) == n:
            break
    return pd.DataFrame(rows)


@pytest.mark.parametrize("factor", [1.5, 0.75])
def test_a_cutout_of_another_size_returns_the_tile_in_the_top_5(run, searcher, small_survey, tmp_path, factor):
    sources = _bright_sources(run, small_survey, 4)
    assert len(sources) == 4
    size = int(round(128 * factor))
    ranks = []
    for i, src in enumerate(sources.itertuples()):
        image = read_image(src.file)
        path = tmp_path / f"src_{i}.fits"
        _write_box(image, int(round(src.x)) - size // 2, int(round(src.y)) - size // 2, size, path)
        cut = embed_cutout(run, "vit", path)
        ranks.append(_rank(searcher, cut.queries(), src.tile_id))
        padded = any("padded" in n for n in cut.notes)
        assert padded == (factor < 1) and cut.shape == (128, 128)
    print(f"{factor}x cutouts centred on bright sources: ranks {ranks}")
    assert max(ranks) <= 5


def test_a_cutout_at_another_pixel_scale_is_resampled_to_the_runs(run, searcher, tmp_path):
    """A 2x coarser image of a tile (twice the arcsec per pixel) is read at the run's pixel scale."""
    tiles = run.read_tiles()
    row = tiles.iloc[21]
    image = read_image(row["file"])
    x0, y0, size = int(row["x0"]), int(row["y0"]), int(row["size"])
    pixels = image.read_box(x0, y0, size).reshape(size // 2, 2, size // 2, 2).mean(axis=(1, 3))
    header = image.header.copy()
    header.update(image.wcs.slice((slice(y0, y0 + size, 2), slice(x0, x0 + size, 2))).to_header())
    path = tmp_path / "coarse.fits"
    fits.PrimaryHDU(pixels, header).writeto(path)
    cut = embed_cutout(run, "vit", path)
    assert any("resampled from" in n for n in cut.notes) and cut.scaling_from == row["field"]
    assert _rank(searcher, cut.queries(), 21) <= 5


def test_a_cutout_off_the_runs_fields_is_scaled_in_units_of_its_noise(run, searcher, tmp_path):
    row = _tile(run, 5)
    image = read_image(row.file)
    hdu = cutout_hdu(image, row)
    hdu.header["CRVAL1"] = (hdu.header["CRVAL1"] + 90.0) % 360.0  # the same pixels, elsewhere on the sky
    hdu.writeto(tmp_path / "elsewhere.fits")
    cut = embed_cutout(run, "vit", tmp_path / "elsewhere.fits")
    assert cut.scaling_from == "cutout" and "in units of its own noise" in cut.describe()
    assert "lies in no field of this run" in cut.describe()
    print(f"off-field cutout of tile 5, noise-aware scaling: rank {_rank(searcher, cut.vector, 5)}")
    assert np.isfinite(cut.vector).all()


def test_the_apps_upload_returns_the_tile_first(run, tmp_path):
    import holoviews as hv

    from app.state import ExplorerState
    from app.views.search import SearchView

    hv.extension("bokeh")
    view = SearchView(state=ExplorerState(run, who="tester"), k=5)
    assert view.scaling_from == "auto"
    row = _tile(run, 9)
    buf = io.BytesIO()
    cutout_hdu(read_image(row.file), row).writeto(buf)
    view.from_upload("tile_9.fits", buf.getvalue())
    assert view.hits["tile_id"].iloc[0] == 9
    assert view.message.startswith("5 tiles most like tile_9.fits: scaled with field")
    assert f"{row.field}'s recorded scaling (the cutout lies in it)" in view.message
