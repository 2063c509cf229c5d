"""The diffuse U-Net's input in units of the thermal noise: the noise from below (a halo or ripples do not
inflate it) and the ripple model of a bright source subtracted first (segmentation/scaling.py)."""

from __future__ import annotations

import numpy as np
import torch

from radioexplore.models import build_segmenter
from radioexplore.segmentation.scaling import field_input, noise_grid, noise_window, scale_input
from radioexplore.segmentation.train import SegmentRecipe, input_options, load_segmenter, save_segmenter
from tests.object_sky import beam_noise, blob, write_field

torch.set_num_threads(1)

FWHM = 5.0
SIZE = 512
C = 255.5


def _grid():
    return np.mgrid[:SIZE, :SIZE].astype(np.float64)[::-1]  # xx, yy


def test_a_bright_halo_leaves_the_noise_from_below_thermal_and_inflates_the_block_rms():
    """Thermal noise 1; a 3-sigma halo broader than a noise block at the centre. The blocks under it read
    their rms more than 1.1x; capped by the field's envelope from below they read the thermal 1 within 10%."""
    rng = np.random.default_rng(3)
    xx, yy = _grid()
    image = (beam_noise(rng, SIZE, FWHM) + blob(xx, yy, C, C, 3.0, 70.0, 70.0, 0.0)).astype(np.float32)
    centre = (slice(1, 3), slice(1, 3))  # the four 128 px blocks the halo fills
    plain = noise_grid(image)[centre]
    below = noise_grid(image, from_below=True)[centre]
    assert plain.min() > 1.1  # 1.19-1.36 on this draw
    assert np.abs(below - 1.0).max() < 0.1
    # on noise alone the cap changes the grid by no more than the blocks' own scatter
    alone = beam_noise(rng, SIZE, FWHM).astype(np.float32)
    assert np.abs(noise_grid(alone, from_below=True) / noise_grid(alone) - 1).max() < 0.1


def _rippled_sky(ripple: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """Noise of rms 1, a 2e4-sigma point source at the centre with lopsided ripple rings of ``ripple`` sigma
    (period 8 px; Perley 1999), and a relic-like ridge of peak 6 sigma 110 px from it; and the ridge's mask."""
    rng = np.random.default_rng(0)
    xx, yy = _grid()
    s = FWHM / 2.3548
    image = beam_noise(rng, SIZE, FWHM) + blob(xx, yy, C, C, 2e4, s, s, 0.0)
    dx, dy = xx - C, yy - C
    r = np.hypot(dx, dy) + 1e-3
    taper = 1 - np.exp(-((r / (2 * FWHM)) ** 2))
    lopsided = 0.65 + 0.35 * np.cos(2 * np.arctan2(dy, dx) - 0.7)
    image += ripple * taper * lopsided * np.cos(2 * np.pi * r / 8.0 + 0.3) * np.exp(-r / 120.0)
    relic = blob(xx, yy, C + 110, C + 20, 6.0, 16.0, 4.0, 1.3)
    return (image + relic).astype(np.float32), relic > 3.0


def _scaled(image: np.ndarray, **options) -> np.ndarray:
    pixels, grid = field_input(image, beam_px=FWHM, **options)
    return scale_input(pixels, noise_window(grid, 0, 0, SIZE, SIZE))


def test_a_relic_inside_ripples_stands_out_of_the_input_once_the_ripple_model_is_out():
    """The rings (~10 sigma at the relic's radius) inflate the block rms the plain input is scaled by, so the
    relic is faint in it; the noise from below alone makes the relic bright but the rings as loud; with
    the ripple model out too the relic is as bright and the rings at its radius are as quiet as noise."""
    image, relic = _rippled_sky()
    calm, _ = _rippled_sky(ripple=0.0)
    xx, yy = _grid()
    r = np.hypot(xx - C, yy - C)
    around = (np.abs(r - np.hypot(110, 20)) < 15) & (xx < C - 20)  # the rings at the relic's radius, away from it
    plain, below = _scaled(image), _scaled(image, from_below=True)
    clean = _scaled(image, from_below=True, ripples=True)
    noise_only = np.std(_scaled(calm, from_below=True)[around])
    assert np.median(clean[relic]) > 2 * np.median(plain[relic])  # 0.58 against 0.19 (this draw)
    assert np.std(below[around]) > 2 * noise_only  # the rings stay in without the model
    assert abs(np.std(clean[around]) / noise_only - 1) < 0.15  # ... and are gone with it
    # without ripples the model takes nothing: the input is the one without it
    assert np.abs(_scaled(calm, ripples=True) - _scaled(calm))[r > 20].max() < 0.05


def test_the_checkpoint_carries_its_input_scaling(tmp_path):
    """Inference reads the input options from the checkpoint's recipe; old checkpoints have none (all off)."""
    path = tmp_path / "u.pt"
    save_segmenter(path, build_segmenter("unet_small"), SegmentRecipe(noise_from_below=True, ripple_model=True), {})
    assert input_options(load_segmenter(path)[1]) == dict(background_px=0, from_below=True, ripples=True, spoke_deg=0.0)
    assert input_options({"recipe": {}}) == dict(background_px=0, from_below=False, ripples=False, spoke_deg=0.0)


def test_segment_scales_a_field_as_its_checkpoint_was_trained(tmp_path):
    """``segment``'s field run reads the options from the checkpoint: its map is the network on the field's
    input with the ripple model out and the noise from below, not on the plain input."""
    from radioexplore.io.fits import read_image
    from radioexplore.segmentation.run import SegmentConfig, segment_field
    from radioexplore.segmentation.scaling import beam_fwhm_px
    from radioexplore.segmentation.tiling import segment_array

    image, _ = _rippled_sky()
    path = tmp_path / "field.fits"
    write_field(path, image, FWHM)
    assert abs(beam_fwhm_px(read_image(path)) - FWHM) < 1e-6
    torch.manual_seed(0)
    model = build_segmenter("unet_small").eval()
    with torch.no_grad():  # random weights everywhere: the map depends on the input, not only on the biases
        for p in model.parameters():
            p.normal_(0, 0.3)
    ckpt = tmp_path / "u.pt"
    save_segmenter(ckpt, model, SegmentRecipe(noise_from_below=True, ripple_model=True), {})
    model, meta = load_segmenter(ckpt)
    off = SegmentConfig(min_beams=0, max_negative_fraction=None, spoke_sigma=None)
    prob, _ = segment_field(str(path), model, meta, off, progress=False)
    pixels, grid = field_input(image, from_below=True, ripples=True, beam_px=FWHM)
    np.testing.assert_allclose(prob, segment_array(pixels, grid, model), atol=1e-5)
    plain = segment_array(image, noise_grid(image), model)
    assert np.abs(prob - plain).max() > 1e-3  # not the map of the plain input (0.006 apart on this draw)
