"""Objects seen by the network: one embedding row per object, and the score that uses it is written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.assets import demo_checkpoint
from radioexplore.ranking.object_embed import EMBED_SCORE, EMBED_SHAPE_SCORE, embedding_features, scaled_stamps
from radioexplore.ranking.objects import FOREST_FEATURES, ObjectConfig
from radioexplore.run.rundir import RunDir
from tests.conftest import run_cli
from tests.test_objects import RING, TILE, objects_of, ring_of, sky, write_fits


def test_stamps_are_scaled_to_the_unit_range_and_centred_on_the_object():
    image = sky()
    objects = objects_of(image)
    stamps = scaled_stamps(image, objects, 64)
    assert stamps.shape == (len(objects), 1, 64, 64) and stamps.dtype == np.float32
    assert np.isfinite(stamps).all() and stamps.min() >= 0 and stamps.max() <= 1
    ring = stamps[ring_of(objects, RING[0], RING[1]).index[0], 0]
    # the ring's stamp is 2.5x its box: its emission sits round the centre, the hole and the margin darker
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(xx - 31.5, yy - 31.5)
    assert ring[(r > 8) & (r < 16)].mean() > 2 * ring[r > 28].mean()


def test_embedding_features_add_standardised_principal_components():
    objects = objects_of(sky())
    emb = np.random.default_rng(0).normal(size=(len(objects), 20))
    x = embedding_features(objects, emb, 4)
    assert x.shape == (len(objects), len(FOREST_FEATURES) + 4)
    with pytest.raises(ValueError, match="rows"):
        embedding_features(objects, emb[:-1], 4)


def test_objects_cli_embeds_each_object_and_writes_the_embedding_score(tmp_path):
    fits_path = tmp_path / "ringfield.fits"
    write_fits(fits_path, sky())
    root = tmp_path / "run"
    run_cli("ingest", fits_path, "--run", root, "--tile", TILE)
    run_cli("objects", "--run", root, "--score", "shape_embedding", "--device", "cpu")
    run = RunDir(root)
    table = pd.read_parquet(run.objects)
    emb = np.load(run.object_embeddings())
    assert emb.ndim == 2 and emb.shape[0] == len(table) and emb.shape[1] > 0 and np.isfinite(emb).all()
    for col in (EMBED_SCORE, EMBED_SHAPE_SCORE):
        assert table[col].between(0, 1).all(), col
    # the option's score is the object's score: sky score x (1 - its own artefact score), ranked by it
    np.testing.assert_allclose(table["score"], table[EMBED_SCORE], rtol=1e-6)
    np.testing.assert_allclose(table[EMBED_SCORE], table[EMBED_SHAPE_SCORE] * (1 - table["artefact_score"]), rtol=1e-6)
    assert sorted(table["rank"]) == list(range(1, len(table) + 1))
    assert table.loc[table["rank"] == 1, "score"].iloc[0] == table["score"].max()
    record = run.stage_config("object_embed", "vit")
    assert record["n"] == len(table) and record["dim"] == emb.shape[1]
    if demo_checkpoint() is not None:
        assert record["stamp_px"] == record["spec"]["input_px"]


def test_unknown_score_source_is_refused():
    with pytest.raises(ValueError, match="score_from"):
        ObjectConfig(score_from="pixels")


def _rotated_ring_run(tmp_path):
    """A run whose field holds the ring's stamp box, a quarter-turned copy and a mirrored copy of it,
    with an object table naming the three boxes; and a small random ViT (not invariant by training)."""
    import torch

    from radioexplore.models import BackboneSpec, build_backbone
    from radioexplore.models.checkpoint import save_backbone

    image = sky()
    x0, side = 152, 80  # the ring (x = y = 192, radius 26, brighter on one side) with its margin
    box = image[x0 : x0 + side, x0 : x0 + side].copy()
    image[352 : 352 + side, 352 : 352 + side] = np.rot90(box)
    image[352 : 352 + side, 40 : 40 + side] = box[:, ::-1]
    fits_path = tmp_path / "ringfield.fits"
    write_fits(fits_path, image)
    root = tmp_path / "run"
    run_cli("ingest", fits_path, "--run", root, "--tile", TILE)
    run = RunDir(root)
    field = run.read_tiles(columns=["field"])["field"].iloc[0]
    objects = pd.DataFrame({"field": field, "stamp_x0": [x0, 352, 40], "stamp_y0": [x0, 352, 352], "stamp_size": side})
    spec = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=64, depth=2)
    torch.manual_seed(0)
    ckpt = tmp_path / "vit.pt"
    save_backbone(ckpt, build_backbone(spec), spec)
    return run, objects, ckpt


def test_objects_embedded_with_dihedral_tta_are_the_same_turned_or_mirrored(tmp_path):
    from radioexplore.ranking.object_embed import embed_objects

    run, objects, ckpt = _rotated_ring_run(tmp_path)
    for pool in ("cls", "mean"):
        tta = np.load(embed_objects(run, objects, str(ckpt), "cpu", name="tta", tta="dihedral", pool=pool))
        np.testing.assert_allclose(tta[1:], np.repeat(tta[:1], 2, axis=0), rtol=1e-4, atol=1e-5)
        record = run.stage_config("object_embed", "tta")
        assert record["tta"] == "dihedral" and record["pool"] == pool and record["n"] == 3
    plain = np.load(embed_objects(run, objects, str(ckpt), "cpu", name="plain"))
    assert not np.allclose(plain[1], plain[0], atol=1e-3)  # the orientation the tta takes away
    assert run.stage_config("object_embed", "plain")["tta"] == "none"
    with pytest.raises(ValueError, match="unknown tta"):
        embed_objects(run, objects, str(ckpt), "cpu", name="bad", tta="d8")


def test_objects_cli_embeds_with_the_tta_and_read_out_asked_and_records_them(tmp_path):
    run, _, ckpt = _rotated_ring_run(tmp_path)
    args = ("objects", "--run", run.root, "--embed", "--checkpoint", ckpt, "--device", "cpu")
    run_cli(*args, "--tta", "dihedral", "--read-out", "mean")
    record = run.stage_config("object_embed", "vit")
    assert record["tta"] == "dihedral" and record["pool"] == "mean"
    assert np.load(run.object_embeddings()).shape[0] == len(pd.read_parquet(run.objects))
    assert run_cli(*args, "--tta", "d8", check=False).returncode != 0
