"""Tiles seen object by object: a tile's pooled row is its objects' stamp embeddings, an ordinary embedding set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.object_pool import ObjectPoolConfig, pool_objects, tile_members
from radioexplore.ranking.object_score import forest_features
from radioexplore.ranking.objects import FOREST_FEATURES, SHAPE_FEATURES
from radioexplore.run.rundir import RunDir
from tests.conftest import run_cli
from tests.object_sky import beam_noise
from tests.test_objects import FWHM, RING, RMS, SIZE, TILE, ring_of, write_fits


def ring_sky(seed: int = 5) -> np.ndarray:
    """Beam-correlated noise, a ring alone with compact sources in its tile (x, y 128-255) and extended
    blobs in other tiles."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    beam = FWHM / 2.3548
    for x, y in [(140, 140), (245, 150), (150, 240), (240, 240)]:  # compact: islands under 3 beam areas
        image += 12 * RMS * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / beam**2)
    for x, y in [(400, 400), (60, 420), (420, 60), (330, 200)]:  # extended blobs in other tiles
        image += 30 * RMS * np.exp(-0.5 * (((xx - x) / 8) ** 2 + ((yy - y) / 5) ** 2))
    x, y, radius = RING
    r = np.hypot(xx - x, yy - y)
    image += 10 * RMS * np.exp(-0.5 * ((r - radius) / 2.5) ** 2)
    return image.astype(np.float32)


def _bag(n_tiles: int = 4) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Three objects: 0 and 1 in tile 0 (1 scored higher, 0 larger), 2 across tiles 1 and 2; tile 3 empty."""
    rng = np.random.default_rng(0)
    objects = pd.DataFrame({name: rng.uniform(1, 5, 3) for name in SHAPE_FEATURES})
    objects["tile_ids"] = [[0], [0], [1, 2]]
    objects["score"] = [0.2, 0.9, 0.5]
    objects["area_beams"] = [30.0, 10.0, 8.0]
    object_emb = np.array([[1.0, 5.0], [3.0, 2.0], [-1.0, -2.0]])
    tile_emb = np.arange(2 * n_tiles, dtype=float).reshape(n_tiles, 2) + 100
    return objects, object_emb, tile_emb


def test_pools_take_the_top_object_the_max_or_the_area_weighted_mean():
    objects, emb, tiles = _bag()
    members = tile_members(np.arange(4), objects)
    assert [m.tolist() for m in members] == [[0, 1], [2], [2], []]
    bare = dict(beside_tile=False, shape=False)
    top = pool_objects(members, objects, emb, tiles, ObjectPoolConfig(pool="top", **bare))
    np.testing.assert_array_equal(top[0], emb[1])  # the higher score, not the larger object
    high = pool_objects(members, objects, emb, tiles, ObjectPoolConfig(pool="max", **bare))
    np.testing.assert_array_equal(high[0], [3.0, 5.0])
    mean = pool_objects(members, objects, emb, tiles, ObjectPoolConfig(pool="mean", **bare))
    np.testing.assert_allclose(mean[0], (30 * emb[0] + 10 * emb[1]) / 40)
    for pooled in (top, high, mean):
        np.testing.assert_array_equal(pooled[1], emb[2])  # an object across tiles is in each of them
        np.testing.assert_array_equal(pooled[2], emb[2])
        np.testing.assert_array_equal(pooled[3], tiles[3])  # no object: the tile's own embedding


def test_the_tile_and_the_top_objects_shape_stand_beside_the_pool():
    objects, emb, tiles = _bag()
    members = tile_members(np.arange(4), objects)
    out = pool_objects(members, objects, emb, tiles, ObjectPoolConfig())
    shape = forest_features(objects)
    assert out.shape == (4, 2 + 2 + len(FOREST_FEATURES)) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :2], tiles)
    np.testing.assert_allclose(out[0, 4:], shape[1], rtol=1e-6)
    np.testing.assert_allclose(out[3, 4:], shape.min(axis=0), rtol=1e-6)  # no object: the least of each feature
    ablation = pool_objects(members, objects, emb, tiles, ObjectPoolConfig(pool="none"))
    np.testing.assert_array_equal(ablation, out[:, [0, 1, *range(4, out.shape[1])]])


def test_mismatched_inputs_are_refused():
    objects, emb, tiles = _bag()
    members = tile_members(np.arange(4), objects)
    with pytest.raises(ValueError, match="rows for 3 objects"):
        pool_objects(members, objects, emb[:2], tiles)
    with pytest.raises(ValueError, match="columns"):
        pool_objects(members, objects, emb, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pool"):
        ObjectPoolConfig(pool="gem")
    with pytest.raises(ValueError, match="nothing to write"):
        ObjectPoolConfig(pool="none", beside_tile=False, shape=False)


def test_pool_objects_cli_gives_a_ring_tile_the_rings_embedding(tmp_path):
    fits_path = tmp_path / "ringfield.fits"
    write_fits(fits_path, ring_sky())
    root = tmp_path / "run"
    run_cli("ingest", fits_path, "--run", root, "--tile", TILE)
    run_cli("embed", "--run", root, "--name", "tiles", "--device", "cpu")
    early = run_cli("pool-objects", "--run", root, check=False)
    assert early.returncode == 2 and "objects --run" in early.stderr and "--embed" in early.stderr
    run_cli("objects", "--run", root, "--embed", "--device", "cpu")
    run_cli("pool-objects", "--run", root, "--no-tile", "--no-shape", "--name", "ring_pool")
    run_cli("pool-objects", "--run", root)
    nested = run_cli("pool-objects", "--run", root, "--tile-embedding", "ring_pool", check=False)
    assert nested.returncode == 2 and "itself pooled" in nested.stderr
    run = RunDir(root)
    assert set(run.embedding_names()) == {"tiles", "ring_pool", "objects_top_tile_shape"}
    run.check_consistent(embedding="ring_pool")  # an ordinary embedding set: its record matches its file
    tiles = run.read_tiles()
    objects = pd.read_parquet(run.objects)
    object_emb = np.load(run.object_embeddings())
    tile_emb = run.read_embeddings("tiles", mmap=False)
    pooled = run.read_embeddings("ring_pool", mmap=False)
    assert pooled.shape == tile_emb.shape
    # the tile holding the ring's centre holds no other extended object: it gets the ring's own embedding
    ring = ring_of(objects, RING[0], RING[1])
    assert len(ring) == 1 and len(objects) >= 5  # the ring and the blobs; the compact sources are no objects
    row = int(np.flatnonzero(tiles["tile_id"].to_numpy() == ring["tile_id"].iloc[0])[0])
    inside = [j for j, listed in enumerate(objects["tile_ids"]) if int(tiles["tile_id"].iloc[row]) in listed]
    assert inside == [ring.index[0]]
    np.testing.assert_allclose(pooled[row], object_emb[ring.index[0]], rtol=1e-6)
    assert not np.allclose(pooled[row], tile_emb[row])
    full = run.read_embeddings("objects_top_tile_shape", mmap=False)
    assert full.shape == (len(tiles), 2 * tile_emb.shape[1] + len(FOREST_FEATURES))
    np.testing.assert_allclose(full[row, : tile_emb.shape[1]], tile_emb[row], rtol=1e-6)
    record = run.stage_config("embed", "objects_top_tile_shape")
    assert record["pool"] == "top" and record["tile_embedding_used"] == "tiles" and record["n"] == len(tiles)


def test_the_readme_network_only_set_reads_tiles_and_stamps_with_galaxies(tmp_path):
    """README (issue 21): `galaxies` for the tile CLS and the stamps, pooled without shape features."""
    fits_path = tmp_path / "ringfield.fits"
    write_fits(fits_path, ring_sky())
    root = tmp_path / "run"
    run_cli("ingest", fits_path, "--run", root, "--tile", TILE)
    run_cli("embed", "--run", root, "--checkpoint", "galaxies", "--name", "galaxies", "--device", "cpu")
    run_cli("objects", "--run", root, "--embed", "--checkpoint", "galaxies", "--device", "cpu")
    run_cli("pool-objects", "--run", root, "--tile-embedding", "galaxies", "--no-shape", "--name", "galaxies_objects")
    run = RunDir(root)
    assert run.stage_config("object_embed", "vit")["checkpoint_used"] == "galaxies"
    tiles = run.read_tiles()
    objects = pd.read_parquet(run.objects)
    tile_emb = run.read_embeddings("galaxies", mmap=False)
    pooled = run.read_embeddings("galaxies_objects", mmap=False)
    ring = ring_of(objects, RING[0], RING[1])
    row = int(np.flatnonzero(tiles["tile_id"].to_numpy() == ring["tile_id"].iloc[0])[0])
    dim = tile_emb.shape[1]
    assert pooled.shape == (len(tiles), 2 * dim)  # the tile's CLS beside its top object's stamp, nothing else
    np.testing.assert_allclose(pooled[row, :dim], tile_emb[row], rtol=1e-6)
    np.testing.assert_allclose(pooled[row, dim:], np.load(run.object_embeddings())[ring.index[0]], rtol=1e-6)
