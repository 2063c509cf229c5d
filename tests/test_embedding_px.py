"""Tiles are embedded at their own resolution, and every path that embeds (run, cutout) agrees on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radioexplore.embed.embedding import EmbedConfig, embed_tiles, embedding_px, load_model, prepare_batch
from radioexplore.models import BackboneSpec, build_backbone
from radioexplore.run.tilestore import open_tile_store, read_tiles
from radioexplore.space.cutout.backbone import embed_pixels as _embed_pixels

VIT = BackboneSpec(arch="vit_tiny", patch=16, in_chans=1, input_px=96, depth=1)


@pytest.mark.parametrize(
    ("spec", "tile_px", "requested", "expected"),
    [
        (VIT, 256, None, 256),  # the tile's own size, not the 96 px training crop
        (VIT, 512, None, 256),  # big tiles are capped
        (VIT, 64, None, 96),  # small tiles are brought up to the training crop
        (VIT, 150, None, 144),  # whole patches (FR-DEEP stamps)
        (VIT, 256, 100, 96),  # asked for, rounded to whole patches
        (BackboneSpec(arch="resnet18", patch=0, input_px=224), 150, None, 224),
        (BackboneSpec(arch="resnet18", patch=0, input_px=64), 150, None, 150),  # no patches to round to
        (BackboneSpec(arch="vit_small", patch=8, input_px=320), 256, None, 320),  # cap never below training
    ],
)
def test_embedding_px(spec, tile_px, requested, expected):
    assert embedding_px(spec, tile_px, requested) == expected


def test_a_bad_requested_size_is_refused():
    with pytest.raises(ValueError, match="input_px must be a positive"):
        embedding_px(VIT, 256, 0)


def test_prepare_batch_resizes_to_the_tile_rule_by_default_and_to_what_is_asked():
    tiles = torch.rand(2, 1, 150, 150)
    assert prepare_batch(tiles, VIT).shape == (2, 1, 144, 144)
    assert prepare_batch(tiles, VIT, 96).shape == (2, 1, 96, 96)
    assert prepare_batch(torch.rand(1, 1, 40, 40), VIT).shape == (1, 1, 96, 96)


def test_embed_tiles_sees_tiles_at_their_own_resolution_unless_told():
    spec = BackboneSpec(arch="vit_tiny", patch=16, input_px=32, depth=1)
    torch.manual_seed(0)
    net = build_backbone(spec).eval()
    tiles = np.random.default_rng(0).random((3, 1, 128, 128), dtype=np.float32)
    default = embed_tiles(net, spec, tiles, progress=False)
    np.testing.assert_allclose(default, embed_tiles(net, spec, tiles, progress=False, input_px=128), atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(default, net(torch.from_numpy(tiles)).numpy(), atol=1e-5)
    assert not np.allclose(default, embed_tiles(net, spec, tiles, progress=False, input_px=32), atol=1e-3)


def test_embed_run_records_the_size_and_a_cutout_is_embedded_at_it(tiny_run):
    record = tiny_run.stage_config("embed", "vit")
    tile_px = tiny_run.stage_config("ingest")["tile_px"]
    model, spec, _ = load_model(EmbedConfig())
    assert record["embed_px"] == embedding_px(spec, tile_px) == max(tile_px, spec.input_px)
    tile = read_tiles(open_tile_store(tiny_run.tile_pixels), [5])[0]
    stored = np.load(tiny_run.embeddings("vit"))[5]
    np.testing.assert_allclose(_embed_pixels(record, tile[None], "cpu")[0], stored, rtol=1e-4, atol=1e-4)
    # a run embedded before the size was recorded was embedded at the backbone's training input
    old = {k: v for k, v in record.items() if k != "embed_px"}
    expected = embed_tiles(model, spec, tile[None], progress=False, input_px=spec.input_px)[0]
    np.testing.assert_allclose(_embed_pixels(old, tile[None], "cpu")[0], expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(expected, stored, atol=1e-3)
