"""Dihedral test-time augmentation: a tile and its rotated or mirrored copies get one embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radioexplore.commands.space import EMBED_TTAS
from radioexplore.embed.embedding import EmbedConfig, embed_tiles, load_model
from radioexplore.embed.tta import TTA_PASSES, TTAS, dihedral
from radioexplore.models import BackboneSpec, build_backbone

VIT = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=64, depth=2)


def test_every_tta_is_offered_by_the_embed_command():
    assert EMBED_TTAS == TTAS and set(TTA_PASSES) == set(TTAS)


def test_the_eight_transforms_are_distinct_and_form_a_group():
    x = torch.arange(16.0).reshape(1, 4, 4)  # no symmetry: every transform moves it
    images = [dihedral(x, g) for g in range(8)]
    assert len({tuple(im.flatten().tolist()) for im in images}) == 8
    for g in range(8):  # closed under composition: a transform of a transform is one of the 8
        for h in range(8):
            composed = dihedral(images[g], h).flatten().tolist()
            assert any(composed == im.flatten().tolist() for im in images)
    with pytest.raises(ValueError, match="numbered 0-7"):
        dihedral(x, 8)


@pytest.mark.parametrize("pool", ["cls", "mean", "max"])
def test_a_rotated_or_mirrored_tile_has_the_same_tta_embedding(pool):
    torch.manual_seed(0)
    model = build_backbone(VIT).eval()
    tile = torch.from_numpy(np.random.default_rng(0).random((1, 1, 64, 64), dtype=np.float32))
    copies = np.concatenate([dihedral(tile, g).numpy() for g in range(8)])
    tta = embed_tiles(model, VIT, copies, batch_size=3, progress=False, device="cpu", pool=pool, tta="dihedral")
    np.testing.assert_allclose(tta, np.repeat(tta[:1], 8, axis=0), rtol=1e-5, atol=1e-5)
    plain = embed_tiles(model, VIT, copies, batch_size=3, progress=False, device="cpu", pool=pool)
    assert not np.allclose(plain, np.repeat(plain[:1], 8, axis=0), atol=1e-3)  # what the tta takes away
    np.testing.assert_allclose(tta[0], plain.mean(axis=0), rtol=1e-4, atol=1e-5)  # the mean of the 8 read-outs


def test_the_shipped_checkpoint_embeds_a_quarter_turned_tile_alike_with_tta():
    model, spec, _ = load_model(EmbedConfig())
    tile = np.random.default_rng(3).random((1, 1, 128, 128), dtype=np.float32)
    turned = np.ascontiguousarray(np.rot90(tile, 1, axes=(-2, -1)))
    a, b = (embed_tiles(model, spec, t, progress=False, device="cpu", tta="dihedral") for t in (tile, turned))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_an_unknown_tta_is_refused():
    model = build_backbone(VIT).eval()
    with pytest.raises(ValueError, match="unknown tta 'd8'"):
        embed_tiles(model, VIT, np.zeros((1, 1, 64, 64), np.float32), progress=False, device="cpu", tta="d8")


def test_embed_tta_round_trips_into_run_toml_and_cutout_search_uses_it(tiny_run_copy, cli):
    from radioexplore.run.rundir import RunDir
    from radioexplore.run.tilestore import open_tile_store, read_tiles
    from radioexplore.space.cutout.backbone import embed_pixels

    run = tiny_run_copy
    cli("embed", "--run", run.root, "--name", "d4", "--tta", "dihedral")
    run = RunDir(run.root)  # re-read run.toml as written by the command
    record = run.stage_config("embed", "d4")
    assert record["tta"] == "dihedral" and record["pool"] == "cls"
    assert run.stage_config("embed", "vit").get("tta", "none") == "none"
    stored = np.asarray(run.read_embeddings("d4", mmap=False))
    tile = read_tiles(open_tile_store(run.tile_pixels), [2])
    np.testing.assert_allclose(embed_pixels(record, tile, "cpu"), stored[2:3], rtol=1e-4, atol=1e-4)
    turned = np.ascontiguousarray(np.rot90(tile, 3, axes=(-2, -1)))
    np.testing.assert_allclose(embed_pixels(record, turned, "cpu"), stored[2:3], rtol=1e-4, atol=1e-4)
