"""A curated pre-training set: a run's extended objects become source-centred stamps in a stamps run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.object_curated import CurateConfig, select_objects
from radioexplore.run.rundir import RunDir
from radioexplore.run.tilestore import open_tile_store
from radioexplore.run.tiletable.schema import is_stamps_run
from radioexplore.ssl.data import training_tiles
from radioexplore.ssl.recipe import load_recipe
from tests.conftest import run_cli
from tests.test_objects import RING, TILE, ring_of, sky, write_fits

PX = 64


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curate")
    fits_path = tmp / "ringfield.fits"
    write_fits(fits_path, sky())
    source, out = tmp / "run", tmp / "curated"
    run_cli("ingest", fits_path, "--run", source, "--tile", TILE)
    run_cli("objects", "--run", source)
    run_cli("curate", "--run", source, "--out", out, "--stamp-px", PX)
    return RunDir(source), RunDir(out)


def test_a_planted_ring_becomes_a_centred_stamp(curated):
    source, out = curated
    objects = pd.read_parquet(source.objects)
    ring = ring_of(objects, RING[0], RING[1]).iloc[0]
    tiles = out.read_tiles()
    row = tiles[(tiles["x0"] == ring["stamp_x0"]) & (tiles["y0"] == ring["stamp_y0"])]
    assert len(row) == 1
    # the stamp box is centred on the ring (2.5x its box) and the ring sits round the stamp's centre
    centre = row["x0"].iloc[0] + (row["size"].iloc[0] - 1) / 2, row["y0"].iloc[0] + (row["size"].iloc[0] - 1) / 2
    assert np.hypot(centre[0] - RING[0], centre[1] - RING[1]) < 3
    stamp = np.asarray(open_tile_store(out.tile_pixels)[int(row["tile_id"].iloc[0])], dtype=np.float32)[0]
    yy, xx = np.mgrid[0:PX, 0:PX]
    r = np.hypot(xx - (PX - 1) / 2, yy - (PX - 1) / 2)
    radius = RING[2] * PX / row["size"].iloc[0]
    annulus = stamp[np.abs(r - radius) < 2].mean()
    assert annulus > 2 * stamp[r < radius / 3].mean() and annulus > 2 * stamp[r > 0.45 * PX].mean()


def test_the_curated_run_is_a_stamps_run_pretrain_reads(curated):
    source, out = curated
    objects = pd.read_parquet(source.objects)
    tiles = out.read_tiles()
    assert is_stamps_run(out)
    record = out.stage_config("ingest")
    assert record["curated_from"] == str(source.root.resolve())
    assert sorted(record["object_ids"]) == sorted(objects.loc[objects["artefact_score"] < 0.5, "object_id"])
    assert open_tile_store(out.tile_pixels).shape == (len(tiles), 1, PX, PX)
    assert training_tiles(out, load_recipe("demo_cpu")).n_train > 0


def test_selection_keeps_the_most_extended_and_leaves_artefacts_out():
    objects = pd.DataFrame(
        {"object_id": [0, 1, 2, 3, 4], "area_beams": [3.0, 40.0, 8.0, 25.0, 60.0], "artefact_score": [0, 0, 0, 0, 0.9]}
    )
    assert list(select_objects(objects, CurateConfig(max_stamps=2))["object_id"]) == [1, 3]
    assert list(select_objects(objects, CurateConfig(min_beams=5))["object_id"]) == [1, 2, 3]
    assert list(select_objects(objects, CurateConfig(min_beams=5, keep_artefacts=True))["object_id"]) == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="max_stamps"):
        CurateConfig(max_stamps=0)


def test_a_patch_8_backbone_trained_from_the_command_line_embeds_stamps_at_its_own_input(curated, tmp_path):
    """`pretrain --set backbone.patch=8` on the curated stamps gives a ViT/8 whose checkpoint carries its patch
    and input size, and `embed_objects(checkpoint=PATH)` embeds each stamp at that input (48 px: a 6 x 6 grid),
    not at the shipped demo's 96 px (issue 21, branch stamp-res: the stamps' resolution)."""
    import torch

    from radioexplore.io.fits import read_image
    from radioexplore.models.checkpoint import load_backbone
    from radioexplore.ranking.object_embed import embed_objects, scaled_stamps

    source, out = curated
    ckpt = tmp_path / "p8.pt"
    small = ["backbone.patch=8", "backbone.input_px=48", "simclr_augment.out_px=48", "backbone.depth=1"]
    small += ["optim.batch_size=4", "optim.epochs=1", "optim.warmup_epochs=0", "monitor.every_epochs=0"]
    sets = [arg for item in small for arg in ("--set", item)]
    args = ("--run", out.root, "--recipe", "demo_cpu", "--name", "p8", "--device", "cpu", "--export", ckpt)
    run_cli("pretrain", *args, *sets)
    model, spec, _ = load_backbone(ckpt)
    assert (spec.patch, spec.input_px) == (8, 48)
    assert model.patch_embed.proj.kernel_size == (8, 8) and model.pos_embed.shape[1] == 1 + 6 * 6

    objects = pd.read_parquet(source.objects).head(6)
    emb = np.load(embed_objects(source, objects, checkpoint=str(ckpt), device="cpu", name="p8"))
    record = source.stage_config("object_embed", "p8")
    assert record["stamp_px"] == 48 and record["spec"]["patch"] == 8 and record["checkpoint_used"] == str(ckpt)
    # the rows are the network applied to the stamps cut at 48 px, not at 96 px
    field = objects["field"].iloc[0]
    files = source.read_tiles(columns=["field", "file"]).drop_duplicates("field").set_index("field")["file"]
    part = objects[objects["field"] == field]
    with torch.no_grad():
        for px, same in ((48, True), (96, False)):
            direct = model(torch.from_numpy(scaled_stamps(read_image(files[field]), part, px))).numpy()
            assert np.allclose(emb[: len(part)], direct, atol=1e-4) is same, px
