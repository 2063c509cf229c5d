"""Objects, not only tiles: a ring cut by a tile edge is found whole and ranks as high as a whole one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from scipy import ndimage

from radioexplore.ranking.object_run import overlapping_tiles
from radioexplore.ranking.object_score import rank_objects, tile_object_scores
from radioexplore.ranking.object_stamps import cut_stamps
from radioexplore.ranking.objects import OBJECT_COLUMNS, SHAPE_FEATURES, ObjectConfig, find_objects
from radioexplore.run.rundir import RunDir
from radioexplore.run.tiling import tile_grid
from radioexplore.simulation import field_wcs
from tests.conftest import run_cli
from tests.object_sky import beam_noise

SIZE, TILE, FWHM, RMS = 512, 128, 5.0, 1e-5
BEAM_AREA = 1.1331 * FWHM**2
RING = (192.0, 192.0, 26.0)  # x, y, radius: whole inside the tile at x0 = y0 = 128
SHIFT = 64  # rolled by this many px in x, the ring's centre sits on the tile edge at x = 256


def sky(seed: int = 3) -> np.ndarray:
    """Beam-correlated noise (rms RMS), compact sources, extended elliptical blobs and a ring."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    sig_b = FWHM / 2.3548
    taken = [RING]
    placed = 0
    while placed < 40:  # compact sources and extended blobs away from the wrap-around strip and the ring
        x, y = rng.uniform(20, SIZE - 100), rng.uniform(20, SIZE - 20)
        if any(np.hypot(x - tx, y - ty) < tr + 30 for tx, ty, tr in taken):
            continue
        extended = placed % 2 == 0
        smaj = rng.uniform(4, 9) if extended else sig_b
        smin = smaj / rng.uniform(1.0, 2.5) if extended else sig_b
        pa = rng.uniform(0, np.pi)
        u = (xx - x) * np.cos(pa) + (yy - y) * np.sin(pa)
        v = -(xx - x) * np.sin(pa) + (yy - y) * np.cos(pa)
        image += rng.uniform(15, 60) * RMS * np.exp(-0.5 * ((u / smaj) ** 2 + (v / smin) ** 2))
        taken.append((x, y, 2 * smaj))
        placed += 1
    x, y, radius = RING
    r = np.hypot(xx - x, yy - y)
    image += 10 * RMS * np.exp(-0.5 * ((r - radius) / 2.5) ** 2) * (1 + 0.3 * np.cos(np.arctan2(yy - y, xx - x)))
    return image.astype(np.float32)


def tiles_table() -> pd.DataFrame:
    boxes = tile_grid(SIZE, SIZE, TILE)
    return pd.DataFrame(
        {"tile_id": np.arange(len(boxes)), "x0": [b.x0 for b in boxes], "y0": [b.y0 for b in boxes], "size": TILE}
    )


def objects_of(image: np.ndarray) -> pd.DataFrame:
    table = find_objects(image, BEAM_AREA, ObjectConfig(), pixel_arcsec=1.5).table
    main, lists = overlapping_tiles(table, tiles_table())
    table["tile_id"], table["tile_ids"] = main, lists
    return rank_objects(table)


def ring_of(objects: pd.DataFrame, x: float, y: float) -> pd.DataFrame:
    """Objects whose box covers the ring's centre (a ring found whole is exactly one)."""
    hit = (objects["box_x0"] <= x) & (objects["box_x1"] >= x) & (objects["box_y0"] <= y) & (objects["box_y1"] >= y)
    return objects[hit]


@pytest.fixture(scope="module")
def whole_and_cut():
    image = sky()
    whole = objects_of(image)
    cut = objects_of(np.roll(image, SHIFT, axis=1))
    return whole, cut


def test_ring_cut_by_a_tile_edge_is_one_object_with_the_same_features(whole_and_cut):
    whole, cut = whole_and_cut
    x, y, radius = RING
    a, b = ring_of(whole, x, y), ring_of(cut, x + SHIFT, y)
    assert len(a) == 1 and len(b) == 1
    a, b = a.iloc[0], b.iloc[0]
    # whole: one tile; cut: the tiles either side of x = 256
    assert list(a["tile_ids"]) == [5]
    assert sorted(b["tile_ids"]) == [5, 6]
    # the whole ring, not a half: its box spans the ring's diameter in both cases
    for o in (a, b):
        assert o["box_x1"] - o["box_x0"] > 1.8 * radius
        assert o["box_y1"] - o["box_y0"] > 1.8 * radius
    assert b["x"] == pytest.approx(a["x"] + SHIFT, abs=1.0)
    assert a["hole_fraction"] > 0.5
    for name in SHAPE_FEATURES:
        assert b[name] == pytest.approx(a[name], rel=0.1, abs=0.05), name


def test_ring_ranks_first_whole_and_cut_and_its_tiles_take_its_score(whole_and_cut):
    whole, cut = whole_and_cut
    x, y, _ = RING
    assert len(whole) >= 10 and len(cut) >= 10  # the extended blobs are objects too
    a, b = ring_of(whole, x, y).iloc[0], ring_of(cut, x + SHIFT, y).iloc[0]
    assert a["rank"] == 1 and b["rank"] == 1
    assert a["score"] == pytest.approx(1.0) and b["score"] == pytest.approx(1.0)
    per_tile = tile_object_scores(cut, tiles_table()["tile_id"].to_numpy())
    assert per_tile[5] == pytest.approx(b["score"]) and per_tile[6] == pytest.approx(b["score"])
    empty = [t for t in range(len(per_tile)) if not any(t in ids for ids in cut["tile_ids"])]
    assert empty and np.all(per_tile[empty] == 0)


def test_compact_sources_are_not_objects_and_stamps_are_centred():
    image = sky()
    table = find_objects(image, BEAM_AREA, ObjectConfig(), pixel_arcsec=1.5).table
    assert (table["area_beams"] >= ObjectConfig().min_beams).all()
    x, y, radius = RING
    ring = ring_of(table, x, y)
    stamps = cut_stamps(image, ring, size_px=64)
    assert stamps.shape == (1, 64, 64)
    assert ring["stamp_size"].iloc[0] >= 2.5 * 2 * radius
    # the ring, brighter than the noise, sits in the middle of the stamp: a hole there, the ring around it
    s = stamps[0]
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(xx - 31.5, yy - 31.5) * ring["stamp_size"].iloc[0] / 64
    assert s[np.abs(r - radius) < 2].mean() > 5 * RMS
    assert abs(s[r < radius / 3].mean()) < 3 * RMS


def write_fits(path, image: np.ndarray) -> None:
    wcs = field_wcs(150.0, -30.0, SIZE, 1.5)
    hdu = fits.PrimaryHDU(image)
    hdu.header.update(wcs.to_header())
    hdu.header["BUNIT"] = "JY/BEAM"
    hdu.header["BMAJ"] = hdu.header["BMIN"] = FWHM * 1.5 / 3600
    hdu.header["BPA"] = 0.0
    hdu.writeto(path)


def test_objects_cli_writes_the_table_with_sky_positions(tmp_path):
    fits_path = tmp_path / "ringfield.fits"
    write_fits(fits_path, sky())
    root = tmp_path / "run"
    run_cli("ingest", fits_path, "--run", root, "--tile", TILE)
    run_cli("objects", "--run", root)
    run = RunDir(root)
    table = pd.read_parquet(run.objects)
    for col in OBJECT_COLUMNS:
        assert col in table.columns, col
    np.testing.assert_allclose(table["score"], table["shape_score"] * (1 - table["artefact_score"]), rtol=1e-6)
    assert table["artefact_score"].between(0, 1).all() and (table["artefact_score"] < 0.2).all()  # no ripples here
    for name in SHAPE_FEATURES:
        assert table[name].notna().all()
    assert (table["field"] == "ringfield").all()
    assert sorted(table["rank"]) == list(range(1, len(table) + 1))
    from radioexplore.io.fits import read_image

    ra, dec = read_image(fits_path).pixel_to_world(table["x"].to_numpy(), table["y"].to_numpy())
    np.testing.assert_allclose(table["ra"], ra, atol=1e-9)
    np.testing.assert_allclose(table["dec"], dec, atol=1e-9)
    ring = ring_of(table, RING[0], RING[1]).iloc[0]
    wcs = field_wcs(150.0, -30.0, SIZE, 1.5)
    x, y = wcs.world_to_pixel_values(ring["ra"], ring["dec"])
    # the flux-weighted centroid of a lopsided ring: near its centre, pulled toward the brighter side
    assert np.hypot(x - RING[0], y - RING[1]) < RING[2] / 4
    assert ring["rank"] == 1
    tiles = run.read_tiles()
    assert set(tiles["tile_id"]) >= {t for ids in table["tile_ids"] for t in ids}
    config = run.stage_config("objects")
    assert config["n_objects"] == len(table) and config["n_estimators"] == 200
    # sources: every object belongs to one (its own or a double's), partners name each other by object id
    assert table["source_id"].isin(table["object_id"]).all()
    paired = table[table["partner"] >= 0]
    partners = table.set_index("object_id").loc[paired["partner"]]
    assert (partners["partner"].to_numpy() == paired["object_id"].to_numpy()).all()
    assert config["source_association"]["max_separation_beams"] > 0


def test_negative_troughs_round_an_island_show_in_its_artefact_hint():
    rng = np.random.default_rng(5)
    n = 256
    image = beam_noise(rng, n, FWHM, RMS)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    for x, y in ((70.0, 128.0), (190.0, 128.0)):
        image += 40 * RMS * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / 6.0**2)
    # a ripple round the right-hand source only: a trough of -10 sigma 25 px from it, as calibration errors leave
    r = np.hypot(xx - 190, yy - 128)
    image -= 10 * RMS * np.exp(-0.5 * ((r - 25) / 2.0) ** 2)
    table = find_objects(image.astype(np.float32), BEAM_AREA, ObjectConfig()).table.sort_values("x")
    assert len(table) == 2
    clean, rippled = table["negative_fraction"].to_numpy()
    assert clean == 0 and rippled > 0.05


def test_objects_cli_on_a_run_without_tiles_says_what_to_run(tmp_path, cli_main):
    code, _, err = cli_main("objects", "--run", tmp_path / "empty", check=False)
    assert code == 2
    assert err.startswith("error:") and "radioexplore ingest" in err and "Traceback" not in err


def ripple_arc_field(troughs: bool) -> np.ndarray:
    """Noise, a 2000 sigma source and, 40-60 px from it, an arc 25 sigma bright: with ``troughs`` the
    arc is a ripple crest flanked by troughs as deep (period 8 px), without them a positive arc."""
    rng = np.random.default_rng(11)
    n = 256
    image = beam_noise(rng, n, FWHM, RMS)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    r = np.hypot(xx - 128, yy - 128)
    image += 2000 * RMS * np.exp(-0.5 * (r / (FWHM / 2.3548)) ** 2)
    arc = np.exp(-0.5 * ((np.arctan2(yy - 128, xx - 128) - 0.5) / 0.5) ** 2) * ((r > 36) & (r < 64))
    wave = np.cos(2 * np.pi * (r - 48) / 8.0)
    image += 25 * RMS * arc * (wave if troughs else np.clip(wave, 0, None))
    return image.astype(np.float32)


def test_a_ripple_crest_is_discounted_by_its_own_troughs_and_a_positive_arc_is_not():
    found = {}
    for troughs in (True, False):
        table = rank_objects(find_objects(ripple_arc_field(troughs), BEAM_AREA, ObjectConfig()).table)
        far = table[np.hypot(table["x"] - 128, table["y"] - 128) > 30]  # the arcs, not the bright source
        assert len(far) >= 1
        found[troughs] = far
    assert (found[True]["negative_ratio"] > 0.5).all() and (found[True]["artefact_score"] > 0.6).all()
    assert (found[False]["negative_ratio"] < 0.05).all() and (found[False]["artefact_score"] < 0.1).all()
    for far in found.values():
        np.testing.assert_allclose(far["score"], far["shape_score"] * (1 - far["artefact_score"]), rtol=1e-6)


def test_a_tile_takes_an_object_only_where_the_object_lies():
    """An L-shaped island: its box covers four tiles, its pixels only three; the fourth tile sees a
    corner of the box and none of the object, and does not take its score."""
    rng = np.random.default_rng(2)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    # one arm along y = 100 from x = 60 to 200, one along x = 60 from y = 100 to 200 (tiles of 128 px)
    arm1 = (np.abs(yy - 100) < 4) & (xx > 60) & (xx < 200)
    arm2 = (np.abs(xx - 60) < 4) & (yy > 100) & (yy < 200)
    image += 20 * RMS * ndimage.gaussian_filter((arm1 | arm2).astype(float), 1.5)
    found = find_objects(image.astype(np.float32), BEAM_AREA, ObjectConfig())
    table = found.table
    big = int(np.argmax(table["area_beams"].to_numpy()))
    row = table.iloc[[big]]
    assert row["box_x1"].iloc[0] > TILE and row["box_y1"].iloc[0] > TILE  # the box reaches tile 5 (x, y >= 128)
    _, by_box = overlapping_tiles(row, tiles_table())
    _, by_pixels = overlapping_tiles(
        row, tiles_table(), found.labels, found.label_ids[[big]], ObjectConfig().min_beams * BEAM_AREA
    )
    assert sorted(by_box[0]) == [0, 1, 4, 5]
    assert sorted(by_pixels[0]) == [0, 1, 4]
