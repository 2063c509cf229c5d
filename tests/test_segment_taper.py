"""The diffuse U-Net's tapered second input channel: the field smoothed to a few beams over its own noise from
below, where faint emission spread over many beams stands out and a point source does not (segmentation/scaling.py)."""

from __future__ import annotations

import numpy as np
import torch

from radioexplore.models import build_segmenter
from radioexplore.segmentation.scaling import ASINH_SCALE, noise_grid, noise_window, scale_input, taper_channel
from radioexplore.segmentation.train import CropSampler, SegmentRecipe, load_segmenter, save_segmenter, taper_beams
from tests.object_sky import beam_noise, blob, write_field

torch.set_num_threads(1)

FWHM = 5.0
SIZE = 512
C = 255.5
BEAM_AREA = np.pi / (4 * np.log(2)) * FWHM**2  # px per beam


def _snr(channel: np.ndarray) -> np.ndarray:
    """The S/N a channel encodes (the inverse of scale_input's asinh)."""
    return np.sinh(ASINH_SCALE * channel)


def _disc_sky(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Beam-correlated noise of rms 1; a flat disc of 1 sigma per pixel over 40 beam areas; a 12-sigma point
    source (a beam-sized Gaussian) far from it. Returns the image, the disc's mask, its inner half (radius) and
    the source's pixel."""
    rng = np.random.default_rng(seed)
    xx, yy = np.mgrid[:SIZE, :SIZE].astype(np.float64)[::-1]
    radius = np.sqrt(40 * BEAM_AREA / np.pi)  # ~19 px, 7.6 beams across
    r = np.hypot(xx - C + 80, yy - C)
    s = FWHM / 2.3548
    point = (int(C) + 100, int(C) + 100)
    image = beam_noise(rng, SIZE, FWHM) + (r < radius) + blob(xx, yy, point[1], point[0], 12.0, s, s, 0.0)
    return image.astype(np.float32), r < radius, r < radius / 2, point


def test_a_faint_disc_over_many_beams_shows_in_the_tapered_channel_not_in_the_first():
    """1 sigma per pixel over 40 beams is noise-like per pixel in the first channel (the image over its block
    rms), but several sigma at 3 beams, where the beam-correlated noise is ~3x lower; the point source's peak
    S/N falls when tapered (it gains nothing), and the noise alone stays unit-like (measured from below)."""
    image, disc, core, point = _disc_sky()
    first = _snr(scale_input(image, noise_window(noise_grid(image), 0, 0, SIZE, SIZE)))
    tapered = _snr(taper_channel(image, 3.0, FWHM))
    assert np.median(first[disc]) < 1.2  # ~1 sigma per pixel (0.9 on this draw)
    # several sigma once tapered (a 15 px Gaussian dilutes the 38 px disc towards its rim: its inner half)
    assert np.median(tapered[core]) > 2.0  # 2.5 on this draw (2.0-3.7 over six draws)
    assert np.median(tapered[core]) > 2 * np.median(first[core])
    assert tapered[point] < 0.6 * first[point]  # the point source's peak S/N falls
    far = np.ones_like(disc)
    far[150:362, 100:450] = False  # away from both sources
    assert 0.75 < np.std(tapered[far]) < 1.3  # the smoothed image's own noise, from its negative side
    # blanks stay blank (0) and do not leak into the smoothed image
    holed = image.copy()
    holed[:, :40] = np.nan
    out = taper_channel(holed, 3.0, FWHM)
    assert np.all(out[:, :40] == 0) and np.all(np.isfinite(out))


def test_the_checkpoint_carries_the_taper_and_segment_gives_the_network_both_channels(tmp_path):
    """A recipe with ``taper_beams`` makes a two-channel network; ``segment``'s field run reads the taper from
    the checkpoint and feeds the tapered channel beside the image; old checkpoints have one channel."""
    from radioexplore.segmentation.run import SegmentConfig, segment_field
    from radioexplore.segmentation.tiling import segment_array

    image, _, _, _ = _disc_sky(1)
    path = tmp_path / "field.fits"
    write_field(path, image, FWHM)
    recipe = SegmentRecipe(taper_beams=3.0)
    assert recipe.in_chans == 2 and SegmentRecipe().in_chans == 1
    torch.manual_seed(0)
    model = build_segmenter("unet_small", recipe.in_chans).eval()
    with torch.no_grad():  # random weights everywhere: the map depends on the input, not only on the biases
        for p in model.parameters():
            p.normal_(0, 0.3)
    ckpt = tmp_path / "u.pt"
    save_segmenter(ckpt, model, recipe, {})
    model, meta = load_segmenter(ckpt)
    assert taper_beams(meta) == 3.0 and taper_beams({"recipe": {}}) == 0.0
    assert model.down[0][0].in_channels == 2
    off = SegmentConfig(min_beams=0, max_negative_fraction=None, spoke_sigma=None)
    prob, _ = segment_field(str(path), model, meta, off, progress=False)
    grid = noise_grid(image)
    extra = taper_channel(image, 3.0, FWHM)
    np.testing.assert_allclose(prob, segment_array(image, grid, model, extra=extra), atol=1e-5)
    other = segment_array(image, grid, model, extra=np.zeros_like(extra))
    assert np.abs(prob - other).max() > 1e-3  # the second channel is read


def test_two_channel_crops_keep_the_channels_and_the_mask_aligned():
    """Crops of a (2, H, W) input flip and rotate both channels with the mask: a channel that equals the mask
    stays equal to it in every crop, and the batch is (N, 2, t, t)."""
    rng = np.random.default_rng(0)
    mask = np.zeros((96, 96), np.float32)
    mask[20:40, 10:70] = 1.0
    x = np.stack([rng.normal(size=mask.shape).astype(np.float32), mask.copy()])
    sampler = CropSampler([(x, mask)], 48, 0.5, rng)
    xb, yb = sampler.batch(16)
    assert tuple(xb.shape) == (16, 2, 48, 48) and tuple(yb.shape) == (16, 1, 48, 48)
    assert torch.equal(xb[:, 1:], yb)
