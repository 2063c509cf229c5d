"""The noise-clipped view: noise below k sigma goes, a source above it stays, blank pixels are no sky."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radioexplore.embed.noiseclip import noise_clip


def _noisy_tile(rng: np.random.Generator, blank: bool = False) -> torch.Tensor:
    tile = 0.4 + 0.02 * rng.standard_normal((1, 1, 64, 64)).astype(np.float32)
    tile[0, 0, 30:34, 30:34] = 0.9  # a source of ~25 sigma
    if blank:
        tile[0, 0, :, 40:] = 0.0  # outside the primary beam
    return torch.from_numpy(tile)


@pytest.mark.parametrize("blank", [False, True])
def test_noise_is_clipped_and_the_source_kept(blank):
    out = noise_clip(_noisy_tile(np.random.default_rng(0), blank), 3.0)[0, 0].numpy()
    assert out.max() == pytest.approx(1.0) and np.all(out[30:34, 30:34] > 0.9)
    sky = np.ones((64, 64), bool)
    sky[30:34, 30:34] = False
    assert (out[sky] > 0).mean() < 0.01  # about 0.1% of Gaussian noise lies above 3 sigma
    if blank:  # the blank half does not drag the median to 0 (which would keep all the noise)
        assert np.all(out[:, 40:] == 0)


def test_a_blank_tile_stays_blank_and_a_negative_k_is_refused():
    assert torch.count_nonzero(noise_clip(torch.zeros(2, 1, 32, 32), 3.0)) == 0
    with pytest.raises(ValueError, match="clip_sigma must be >= 0"):
        noise_clip(torch.zeros(1, 1, 8, 8), -1.0)


def test_clip_sigma_round_trips_into_run_toml(tiny_run_copy):
    from radioexplore.embed.embedding import EmbedConfig, embed_run
    from radioexplore.run.rundir import RunDir

    embed_run(tiny_run_copy, EmbedConfig(name="clipped", clip_sigma=3.0, batch_size=16), progress=False)
    run = RunDir(tiny_run_copy.root)
    assert run.stage_config("embed", "clipped")["clip_sigma"] == 3.0
    plain = np.asarray(run.read_embeddings("vit", mmap=False))
    assert not np.allclose(np.asarray(run.read_embeddings("clipped", mmap=False)), plain, atol=1e-3)
