"""Similarity search (exact and approximate, tile / selection / FITS cutout) and candidate export."""

from __future__ import annotations

import io
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table
from astropy.table import Table

from radioexplore.review.export import EXPORTERS, candidate_table, export, export_bytes, select_tiles
from radioexplore.run.labels.store import LabelStore
from radioexplore.run.rundir import RunDir
from radioexplore.simulation.planted import PlantedConfig, planted_embeddings
from radioexplore.space.cutout.query import embed_cutout
from radioexplore.space.index import IndexConfig, build_index, choose_factory, exact_search, recall_at_k, search
from radioexplore.space.similarity import SimilaritySearch


@pytest.fixture(scope="module")
def survey_embeddings():
    emb, _ = planted_embeddings(PlantedConfig(n=12_000, dim=96, seed=5))
    return emb


def test_size_threshold_picks_exact_or_approximate_index():
    assert choose_factory(1000, 64) == "Flat"
    assert choose_factory(100_000, 64) == "IVF1024,Flat"
    assert choose_factory(100_000, 64, "hnsw") == "HNSW32,Flat"
    assert choose_factory(5000, 64, "hnsw", exact_below=1000) == "HNSW32,Flat"
    with pytest.raises(ValueError, match="choose one of ivf, hnsw"):
        choose_factory(100_000, 64, "lsh")


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_recall_at_10_against_exact_search(survey_embeddings, kind):
    emb = survey_embeddings
    config = IndexConfig(approximate=kind, exact_below=10_000)
    index = build_index(emb, config)
    assert index.ntotal == len(emb) and "Flat" != choose_factory(len(emb), emb.shape[1], kind, 10_000)
    queries = emb[np.random.default_rng(0).choice(len(emb), 300, replace=False)]
    _, approx = search(index, queries, 10)
    _, exact = exact_search(emb, queries, 10)
    assert recall_at_k(approx, exact) >= 0.95
    assert recall_at_k(exact, exact) == 1.0


def test_similar_tiles_from_one_tile_and_from_a_selection(survey_embeddings):
    emb = survey_embeddings[:2000]
    s = SimilaritySearch(emb)  # small: exact
    one = s.from_tile(7, k=5)
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    brute = [int(i) for i in np.argsort(-(x @ x[7])) if i != 7][:5]
    assert list(one["tile_id"]) == brute and one["distance"].is_monotonic_increasing
    mean = s.from_tiles([7, 8, 9], k=5)
    centre = x[[7, 8, 9]].mean(0)
    assert list(mean["tile_id"]) == [int(i) for i in np.argsort(-(x @ centre)) if i not in (7, 8, 9)][:5]
    union = s.from_tiles([7, 900], k=6, mode="union")
    assert not union["tile_id"].isin([7, 900]).any() and set(union["query"]) <= {7, 900}
    assert union["distance"].is_monotonic_increasing and union["tile_id"].is_unique
    with pytest.raises(IndexError, match="tiles 0..1999"):
        s.from_tile(5000)
    with pytest.raises(ValueError, match="empty"):
        s.from_tiles([])


@pytest.fixture(scope="module")
def loop_run(tiny_run, tmp_path_factory) -> RunDir:
    """A copy of the tiny run with a few labels, for tests that write into it."""
    run = RunDir(tmp_path_factory.mktemp("loop") / "run")
    shutil.copytree(tiny_run.root, run.root)
    store = LabelStore.for_run(run, who="ada")
    store.add(3, ["PECULIAR", "EXTENDED"], interest=5, tags=["ring"])
    store.add(4, "COMPACT", interest=1)
    store.add(9, "PECULIAR", interest=4)
    return run


def test_candidate_table_has_geometry_scores_and_labels(loop_run):
    ids = select_tiles(loop_run, "vit", top=5)
    scores = loop_run.read_scores("vit").set_index("tile_id")
    assert list(scores.loc[ids, "rank"]) == [1, 2, 3, 4, 5]
    assert list(select_tiles(loop_run, label="peculiar")) == [3, 9]
    table = candidate_table(loop_run, [9, 3, 4], "vit")
    assert list(table["tile_id"]) == [9, 3, 4]
    assert {"field", "ra", "dec", "x0", "y0", "size", "score", "rank", "labels", "interest"} <= set(table.columns)
    assert table.loc[1, "labels"] == "EXTENDED;PECULIAR" and table.loc[1, "tags"] == "ring"
    assert list(table["interest"]) == [4, 5, 1]
    with pytest.raises(ValueError, match="exactly one"):
        select_tiles(loop_run, "vit", top=3, label="PECULIAR")
    with pytest.raises(IndexError, match="do not exist"):
        select_tiles(loop_run, tiles=[10_000])


def test_every_export_format_reads_back(loop_run, tmp_path):
    ids = [3, 9, 20]
    tiles = loop_run.read_tiles().set_index("tile_id")
    assert set(EXPORTERS) == {"csv", "votable", "fits", "ds9", "cutouts", "moc"}
    csv = pd.read_csv(export(loop_run, ids, "csv", tmp_path / "c.csv", "vit"))
    assert export_bytes(loop_run, ids, "csv", "vit") == (tmp_path / "c.csv").read_bytes()
    assert list(csv["tile_id"]) == ids and csv.loc[0, "labels"] == "EXTENDED;PECULIAR"
    vot = parse_single_table(export(loop_run, ids, "votable", tmp_path / "c.xml", "vit")).to_table()
    assert list(vot["tile_id"]) == ids and str(vot["ra"].unit) == "deg"
    np.testing.assert_allclose(vot["ra"], tiles.loc[ids, "ra"])
    fit = Table.read(export(loop_run, ids, "fits", tmp_path / "c.fits", "vit"))
    assert list(fit["tile_id"]) == ids and fit["interest"].mask.tolist() == [False, False, True]

    from regions import Regions

    regs = Regions.read(export(loop_run, ids, "ds9", tmp_path / "c.reg", "vit"), format="ds9")
    assert "\nfk5\n" in (tmp_path / "c.reg").read_text()
    assert len(regs) == 3 and regs[0].meta["text"] == "tile 3"
    assert regs[0].center.ra.deg == pytest.approx(tiles.loc[3, "ra"], abs=1e-3)
    assert regs[0].center.dec.deg == pytest.approx(tiles.loc[3, "dec"], abs=1e-3)

    with zipfile.ZipFile(export(loop_run, ids, "cutouts", tmp_path / "c.zip", "vit")) as zf:
        names = zf.namelist()
        assert "candidates.csv" in names and len(names) == 4
        hdu = fits.open(io.BytesIO(zf.read(names[0])))[0]
    from astropy.wcs import WCS

    from radioexplore.io.fits import read_image

    box = tiles.loc[3]
    source = read_image(box["file"])
    assert hdu.header["TILE_ID"] == 3 and hdu.data.shape == (box["size"], box["size"])
    np.testing.assert_array_equal(hdu.data, source.read_box(int(box["x0"]), int(box["y0"]), int(box["size"])))
    # the cutout's WCS puts its pixels where the source WCS puts them
    ra, dec = WCS(hdu.header).pixel_to_world_values(10.0, 20.0)
    ra0, dec0 = source.pixel_to_world(np.array([box["x0"] + 10.0]), np.array([box["y0"] + 20.0]))
    assert ra == pytest.approx(ra0[0]) and dec == pytest.approx(dec0[0])


def test_an_uploaded_cutout_finds_its_own_tile(loop_run, tmp_path):
    with zipfile.ZipFile(export(loop_run, [21], "cutouts", tmp_path / "one.zip", "vit")) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".fits"))
        zf.extract(name, tmp_path)
    searcher = SimilaritySearch.from_run(loop_run, "vit")
    cut = embed_cutout(loop_run, "vit", tmp_path / name, scaling_from="nearest")
    field = loop_run.read_tiles().loc[21, "field"]
    assert cut.scaling_from == field and cut.shape == (128, 128)
    hits = searcher.from_vector(cut.vector, 3)
    assert hits.loc[0, "tile_id"] == 21 and hits.loc[0, "distance"] < 1e-4
    own = embed_cutout(loop_run, "vit", tmp_path / name, scaling_from="cutout")  # scaled on the cutout's own noise
    assert own.scaling_from == "cutout" and np.isfinite(own.vector).all()
    with pytest.raises(ValueError, match="no scaling recorded for field 'nowhere'"):
        embed_cutout(loop_run, "vit", tmp_path / name, scaling_from="nowhere")


def test_pixel_statistics_baseline_embeds_tiles_and_cutouts_alike(loop_run, tmp_path):
    from radioexplore.embed.pixelstats import FEATURES, pixel_statistics_run

    emb = pixel_statistics_run(loop_run, "pixstats")
    n = len(loop_run.read_tiles())
    assert emb.shape == (n, len(FEATURES)) and np.isfinite(emb).all()
    assert np.array_equal(loop_run.read_embeddings("pixstats"), emb)
    assert loop_run.stage_config("embed", "pixstats")["method"] == "pixel_statistics"
    # bright tiles (many pixels above half the scale) differ from faint ones
    assert emb[:, FEATURES.index("above_0.5")].std() > 0
    with zipfile.ZipFile(export(loop_run, [12], "cutouts", tmp_path / "one.zip", "vit")) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".fits"))
        zf.extract(name, tmp_path)
    cut = embed_cutout(loop_run, "pixstats", tmp_path / name, scaling_from="nearest")
    hits = SimilaritySearch(emb).from_vector(cut.vector, 1)
    assert hits.loc[0, "tile_id"] == 12
