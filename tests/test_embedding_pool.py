"""ViT read-outs: max, GeM and [CLS, mean, max] pools of the last layer's patch tokens keep a one-patch feature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radioexplore.commands.space import EMBED_POOLS
from radioexplore.embed.embedding import embed_tiles
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.models.vit import GEM_P, POOLS, pool_tokens

VIT = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=64, depth=1)


def test_every_pool_is_offered_by_the_embed_command():
    assert EMBED_POOLS == POOLS


def test_pools_of_hand_made_tokens():
    cls = torch.tensor([[9.0, -9.0]])
    patches = torch.tensor([[[1.0, -2.0], [0.0, -1.0], [-1.0, 3.0], [0.0, 0.0]]])
    tokens = torch.cat([cls[:, None], patches], dim=1)  # [1, 5, 2]
    np.testing.assert_allclose(pool_tokens(tokens, "cls"), [[9.0, -9.0]])
    np.testing.assert_allclose(pool_tokens(tokens, "mean"), [[0.0, 0.0]])
    np.testing.assert_allclose(pool_tokens(tokens, "max"), [[1.0, 3.0]])
    # signed power mean: dim 0 cancels (1 - 1), dim 1 is ((-8 - 1 + 27) / 4) ** (1/3) = 4.5 ** (1/3)
    np.testing.assert_allclose(pool_tokens(tokens, "gem"), [[0.0, 4.5 ** (1 / GEM_P)]], rtol=1e-6)
    np.testing.assert_allclose(pool_tokens(tokens, "cat"), [[9.0, -9.0, 0.0, 0.0, 1.0, 3.0]])
    with pytest.raises(ValueError, match="unknown pool 'sum'"):
        pool_tokens(tokens, "sum")


def test_gem_lies_between_the_mean_and_the_max_of_positive_tokens():
    patches = torch.rand(3, 36, 8) + 0.1
    tokens = torch.cat([torch.zeros(3, 1, 8), patches], dim=1)
    gem = pool_tokens(tokens, "gem")
    assert torch.all(gem >= pool_tokens(tokens, "mean") - 1e-6) and torch.all(gem <= pool_tokens(tokens, "max") + 1e-6)


def test_one_bright_patch_moves_the_max_more_than_the_mean():
    """The reason for the max: a source in one patch of 16 shifts the max as much as a tile-filling change."""
    tokens = torch.zeros(1, 17, 4)
    lit = tokens.clone()
    lit[0, 5] = torch.tensor([8.0, 0.0, 0.0, 0.0])
    assert pool_tokens(lit, "max")[0, 0] == 8.0 and pool_tokens(lit, "mean")[0, 0] == 0.5


@pytest.mark.parametrize("pool", ["max", "gem", "cat"])
def test_embed_tiles_pools_the_last_layers_patch_tokens(pool):
    torch.manual_seed(0)
    model = build_backbone(VIT).eval()
    tiles = np.random.default_rng(0).random((5, 1, 64, 64), dtype=np.float32)
    out = embed_tiles(model, VIT, tiles, batch_size=2, progress=False, device="cpu", pool=pool)
    with torch.no_grad():
        tokens = model.forward_tokens((torch.from_numpy(tiles) - VIT.mean) / VIT.std)
    assert out.shape == (5, 192 * (3 if pool == "cat" else 1))
    np.testing.assert_allclose(out, pool_tokens(tokens, pool).numpy(), rtol=1e-4, atol=1e-5)
    if pool == "cat":  # its parts are the other read-outs
        cls = embed_tiles(model, VIT, tiles, progress=False, device="cpu")
        np.testing.assert_allclose(out[:, :192], cls, rtol=1e-4, atol=1e-5)


def test_a_resnet_refuses_patch_pools():
    resnet = build_backbone(BackboneSpec(arch="resnet18", patch=0, input_px=32))
    tiles = np.zeros((2, 1, 32, 32), np.float32)
    for pool in ("max", "gem", "cat"):
        with pytest.raises(ValueError, match="needs a ViT"):
            embed_tiles(resnet, VIT, tiles, progress=False, device="cpu", pool=pool)


@pytest.mark.parametrize("pool", ["mean", "cat"])
def test_a_cutout_is_embedded_with_the_runs_read_out(tiny_run, pool):
    from radioexplore.embed.embedding import EmbedConfig, load_model
    from radioexplore.run.tilestore import open_tile_store, read_tiles
    from radioexplore.space.cutout.backbone import embed_pixels

    record = dict(tiny_run.stage_config("embed", "vit"), pool=pool)
    model, spec, _ = load_model(EmbedConfig())
    tile = read_tiles(open_tile_store(tiny_run.tile_pixels), [3])
    expected = embed_tiles(model, spec, tile, progress=False, device="cpu", input_px=record["embed_px"], pool=pool)
    got = embed_pixels(record, tile, "cpu")
    assert got.shape == expected.shape == (1, model.embed_dim * (3 if pool == "cat" else 1))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
