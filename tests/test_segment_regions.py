"""Inference-time options of the diffuse-emission U-Net: dihedral test-time augmentation and region cleaning."""

import numpy as np
import pytest
import torch
from torch import nn

from radioexplore.models import build_segmenter
from radioexplore.segmentation.regions import beam_area_px, clean_regions, compact_fraction, negative_sector_sigma
from radioexplore.segmentation.scaling import noise_grid
from radioexplore.segmentation.tiling import dihedral_mean, segment_array

torch.set_num_threads(1)


def _random_unet() -> nn.Module:
    torch.manual_seed(1)
    model = build_segmenter("unet_small").eval()
    with torch.no_grad():  # random, non-zero weights everywhere, so no symmetry comes from the weights
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model


def _all_symmetries(x: torch.Tensor) -> list[torch.Tensor]:
    return [torch.rot90(torch.flip(x, (-1,)) if f else x, k, (-2, -1)) for f in (False, True) for k in range(4)]


def test_tta_commutes_with_flips_and_rotations():
    model = _random_unet()
    x = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    base = dihedral_mean(model, x)
    plain = torch.sigmoid(model(x))
    assert not torch.allclose(torch.rot90(plain, 1, (-2, -1)), torch.sigmoid(model(torch.rot90(x, 1, (-2, -1)))))
    for k in range(4):
        torch.testing.assert_close(dihedral_mean(model, torch.rot90(x, k, (-2, -1))), torch.rot90(base, k, (-2, -1)))
    torch.testing.assert_close(dihedral_mean(model, torch.flip(x, (-1,))), torch.flip(base, (-1,)))


def test_tta_of_a_symmetric_input_is_symmetric_and_of_a_symmetric_model_unchanged():
    x = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    x = sum(_all_symmetries(x)) / 8  # invariant under the 8 symmetries
    p = dihedral_mean(_random_unet(), x)
    for q in _all_symmetries(p):
        torch.testing.assert_close(q, p)
    conv = nn.Conv2d(1, 1, 5, padding=2)  # a symmetric kernel: the plain map already commutes with them
    with torch.no_grad():
        conv.weight.fill_(1 / 25)
        conv.bias.fill_(0.1)
    torch.testing.assert_close(dihedral_mean(conv, x), torch.sigmoid(conv(x)))


def test_a_constant_image_segments_to_a_constant_map_with_tta():
    conv = nn.Conv2d(1, 1, 5, padding=2)  # no symmetry; its receptive field (2 px) lies within the margin
    with torch.no_grad():
        conv.weight.copy_(torch.randn(1, 1, 5, 5, generator=torch.Generator().manual_seed(3)))
    image = np.full((300, 250), 3e-5, np.float32)
    prob = segment_array(image, noise_grid(image), conv.eval(), tile=64, margin=8, tta=True)
    assert np.isfinite(prob).all()
    assert np.ptp(prob) < 1e-6


def test_the_size_filter_drops_a_small_blob_and_keeps_a_large_one():
    prob = np.full((200, 200), 0.1, np.float32)
    prob[20:26, 20:26] = 0.9  # 36 px: about 1.4 beams of 5 px FWHM
    prob[100:160, 80:150] = 0.9  # 4200 px: about 150 beams
    prob[0, 199] = np.nan
    out, counts = clean_regions(prob, None, 0.5, (5.0, 5.0), min_beams=10, max_compact_fraction=None)
    assert counts == dict(
        regions=2, small=1, compact=0, sidelobe=0, attributed=0, spoke=0, cut=0, pattern_px=0, joined=0
    )
    assert (out[20:26, 20:26] == 0).all()
    np.testing.assert_array_equal(out[100:160, 80:150], prob[100:160, 80:150])
    assert out[50, 50] == prob[50, 50] and np.isnan(out[0, 199])
    kept, counts = clean_regions(prob, None, 0.5, (5.0, 5.0), min_beams=0, max_compact_fraction=None)
    np.testing.assert_array_equal(kept, prob)
    assert beam_area_px(5.0, 5.0) == np.pi / (4 * np.log(2)) * 25


def _gaussian(shape, x, y, fwhm, peak):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return peak * np.exp(-4 * np.log(2) * ((xx - x) ** 2 + (yy - y) ** 2) / fwhm**2)


def test_a_region_on_a_bright_point_source_is_compact_and_one_on_broad_emission_is_not():
    shape, beam = (200, 200), 5.0
    snr = _gaussian(shape, 50, 50, beam, 2000.0) + _gaussian(shape, 50, 50, 40.0, 4.0)  # a core in faint wings
    snr += _gaussian(shape, 150, 140, 60.0, 6.0)  # a halo: 6 sigma, 12 beams across
    assert compact_fraction(snr, snr > 3, beam) > 0.5
    prob = np.zeros(shape, np.float32)
    prob[(snr > 3) & (np.arange(200)[None, :] < 100)] = 0.9  # the core's wings
    prob[_gaussian(shape, 150, 140, 60.0, 1.0) > 0.5] = 0.9
    out, counts = clean_regions(
        prob, snr, 0.5, (beam, beam), min_beams=10, max_compact_fraction=0.5, max_negative_fraction=None
    )
    assert counts == dict(
        regions=2, small=0, compact=1, sidelobe=0, attributed=0, spoke=0, cut=0, pattern_px=0, joined=0
    )
    assert out[50, 50] == 0 and out[140, 150] == np.float32(0.9)
    halo = snr[100:, 100:] > 3
    assert compact_fraction(snr[100:, 100:], halo, beam) < 0.2


def test_a_region_beside_negative_sidelobes_is_dropped_and_one_in_plain_noise_kept(rng):
    shape, beam = (300, 300), 5.0
    snr = rng.normal(0, 1, shape)
    snr[40:60, 20:280] += 6  # a positive spoke ...
    snr[80:100, 20:280] -= 6  # ... and a negative one beside it: a bright source's sidelobes
    snr += _gaussian(shape, 150, 220, 60.0, 6.0)  # a halo in plain noise
    prob = np.zeros(shape, np.float32)
    prob[40:60, 20:280] = 0.9
    prob[_gaussian(shape, 150, 220, 60.0, 1.0) > 0.5] = 0.9
    out, counts = clean_regions(prob, snr, 0.5, (beam, beam), min_beams=10, max_negative_fraction=0.01)
    assert counts == dict(
        regions=2, small=0, compact=0, sidelobe=1, attributed=0, spoke=0, cut=0, pattern_px=0, joined=0
    )
    assert (out[40:60, 20:280] == 0).all() and out[220, 150] == np.float32(0.9)
    kept, counts = clean_regions(prob, snr, 0.5, (beam, beam), min_beams=10, max_negative_fraction=None)
    np.testing.assert_array_equal(kept, prob)


def _spoky_field(rng, shape=(400, 400), beam=5.0, spoke_snr=6.0, negative=True):
    """Noise, a 5000-sigma source at (200, 200) with 4 radial spokes (2 positive, 2 negative unless not
    ``negative``) of ``spoke_snr`` beyond 2 beams, and a halo of 6 sigma peak at (300, 300)."""
    snr = rng.normal(0, 1, shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    dx, dy = xx - 200.0, yy - 200.0
    r = np.hypot(dx, dy)
    spokes = np.real(((dx + 1j * dy) / np.maximum(r, 1e-9)) ** 2) ** 21  # cos(2 theta)^21: +, -, +, -
    snr += spoke_snr * (spokes if negative else np.clip(spokes, 0, None)) * (r > 2 * beam)
    snr += _gaussian(shape, 200, 200, 1.5, 5000.0)
    snr += _gaussian(shape, 300, 300, 35.0, 6.0)
    prob = np.zeros(shape, np.float32)
    prob[(spokes > 0.5) & (r > 30) & (r < 180) & (dx > 0)] = 0.9  # the positive spoke towards +x
    prob[_gaussian(shape, 300, 300, 35.0, 1.0) > 0.4] = 0.9
    return snr, prob


def test_a_radial_spoke_of_a_bright_source_is_dropped_and_a_halo_kept(rng):
    snr, prob = _spoky_field(rng)
    out, counts = clean_regions(prob, snr, 0.5, (5.0, 5.0), min_beams=10, max_negative_fraction=None, spoke_sigma=5.0)
    assert counts["regions"] == 2 and counts["spoke"] == 1
    assert (out[200, 40:180] == 0).all() and out[300, 300] == np.float32(0.9) and out[200, 250] == 0
    kept, counts = clean_regions(prob, snr, 0.5, (5.0, 5.0), min_beams=10, max_negative_fraction=None, spoke_sigma=None)
    assert counts["spoke"] == 0
    np.testing.assert_array_equal(kept, prob)


def test_a_radial_region_is_kept_when_its_source_has_no_negative_sidelobes(rng):
    """Elongation alone is no evidence: without a sector of negative sky round the source the region stays."""
    snr, prob = _spoky_field(rng, negative=False)
    out, counts = clean_regions(prob, snr, 0.5, (5.0, 5.0), min_beams=10, max_negative_fraction=None, spoke_sigma=5.0)
    assert counts["spoke"] == 0
    np.testing.assert_array_equal(out, prob)


def test_the_negative_sector_is_measured_in_units_of_its_own_noise(rng):
    beam = 5.0
    noise = rng.normal(0, 1, (400, 400))
    assert negative_sector_sigma(noise, 200, 200, 30, 180, beam_area_px(beam, beam)) < 5  # white noise: no sidelobes
    noise[195:205, 220:380] -= 3  # a negative spoke of 3 sigma over 1600 px, split between two sectors
    assert negative_sector_sigma(noise, 200, 200, 30, 180, beam_area_px(beam, beam)) > 5


def test_a_background_mesh_keeps_a_broad_halo_out_of_the_noise_grid(rng):
    """A halo filling a noise block inflates its masked rms; with a median mesh subtracted first it does not."""
    noise = rng.normal(0, 1.0, (256, 256)).astype(np.float32)
    halo = _gaussian((256, 256), 128, 128, 150.0, 3.0).astype(np.float32)  # 3 sigma, broader than the block
    plain = noise_grid(noise + halo)[1, 1]
    meshed = noise_grid(noise + halo, background_px=32)[1, 1]
    assert plain > 1.2 and abs(meshed - 1.0) < 0.1
    assert abs(noise_grid(noise, background_px=32)[1, 1] - noise_grid(noise)[1, 1]) < 0.05  # noise alone: the same


def test_a_calibrated_threshold_travels_with_the_checkpoint(tmp_path):
    from radioexplore.segmentation.train import (
        SegmentRecipe,
        load_segmenter,
        pixel_threshold,
        save_segmenter,
        store_calibration,
    )

    path = tmp_path / "u.pt"
    save_segmenter(path, build_segmenter("unet_small"), SegmentRecipe(), dict(command="test"))
    assert pixel_threshold(None, load_segmenter(path)[1]) == 0.5  # no calibration: 0.5
    store_calibration(path, 0.65, dict(calibration_seed=300))
    _, meta = load_segmenter(path)
    assert meta["calibration"] == dict(calibration_seed=300, threshold=0.65)
    assert pixel_threshold(None, meta) == 0.65 and pixel_threshold(0.4, meta) == 0.4  # a given one wins
    with pytest.raises(ValueError, match="probability"):
        store_calibration(path, 1.5, {})


def _relic_by_a_bright_source(rng):
    """``_spoky_field`` plus a relic: an arc of 15 sigma, 45-75 px from the 5000-sigma source between its positive
    spoke (+x) and its negative one (+y), so the source's negative spoke lies within 8 beams of it."""
    snr, prob = _spoky_field(rng)
    yy, xx = np.mgrid[:400, :400]
    r, theta = np.hypot(xx - 200.0, yy - 200.0), np.arctan2(yy - 200.0, xx - 200.0)
    arc = (r > 45) & (r < 75) & (theta > 0.45) & (theta < 1.15)
    snr[arc] += 15.0
    prob[arc] = 0.9
    return snr, prob, arc


def test_a_relic_in_a_bright_sources_sidelobes_is_kept_when_they_are_attributed_and_its_spoke_still_dropped(rng):
    snr, prob, arc = _relic_by_a_bright_source(rng)
    kw = dict(min_beams=10, max_negative_fraction=0.01, spoke_sigma=5.0)
    out, counts = clean_regions(prob, snr, 0.5, (5.0, 5.0), **kw)
    assert counts["sidelobe"] >= 1 and (out[arc] == 0).all()  # the share test alone drops the relic
    out, counts = clean_regions(prob, snr, 0.5, (5.0, 5.0), attribute_sidelobes=True, **kw)
    assert counts["regions"] == 3 and counts["attributed"] >= 1 and counts["spoke"] == 1
    assert (out[arc] == np.float32(0.9)).all()  # the relic: its negatives are the source's pattern, it is no spoke
    assert (out[200, 40:180] == 0).all() and out[200, 250] == 0  # the positive spoke: still dropped
    assert out[300, 300] == np.float32(0.9)  # the halo in plain noise


def test_negatives_no_bright_source_explains_still_drop_a_region_when_sidelobes_are_attributed(rng):
    shape, beam = (300, 300), 5.0
    snr = rng.normal(0, 1, shape)
    snr[40:60, 20:280] += 6  # a positive ripple and a negative one beside it, no source above 100 sigma
    snr[80:100, 20:280] -= 6
    prob = np.zeros(shape, np.float32)
    prob[40:60, 20:280] = 0.9
    out, counts = clean_regions(prob, snr, 0.5, (beam, beam), min_beams=10, attribute_sidelobes=True)
    assert counts["sidelobe"] == 1 and counts["attributed"] == 0 and (out == 0).all()
