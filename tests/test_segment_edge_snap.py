"""Growing kept regions to the truth's S/N contour on the image smoothed to the beam (segmentation.edge_snap)."""

from types import SimpleNamespace

import numpy as np
from scipy.ndimage import binary_erosion, gaussian_filter

from radioexplore.segmentation.edge_snap import grow_to_contour, grown_pixels
from radioexplore.segmentation.run import SegmentConfig, clean_field

SHAPE, BEAM = (200, 200), 5.0


def _noise(rng) -> np.ndarray:
    """Unit-rms noise correlated over the beam, as in a restored image."""
    noise = gaussian_filter(rng.normal(0, 1, SHAPE), BEAM / np.sqrt(8 * np.log(2)))
    return noise / noise.std()


def _relic_field(rng):
    """A relic band (x 60-140, y 90-110) of 6 sigma seen through the beam, its truth as the simulator draws it (the
    noise-free emission after the beam above 2 sigma), a network mask 3 px inside that edge, and a 20-sigma compact
    source 30 px away."""
    sky = np.zeros(SHAPE)
    sky[90:110, 60:140] = 6.0
    sky[40, 100] = 20.0 * 2 * np.pi * (BEAM / np.sqrt(8 * np.log(2))) ** 2
    emission = gaussian_filter(sky, BEAM / np.sqrt(8 * np.log(2)))
    truth = emission > 2.0
    truth[:70] = False  # the compact source is no diffuse truth
    prob = np.where(binary_erosion(truth, iterations=3), 0.99, 0.0).astype(np.float32)
    return emission + _noise(rng), truth, prob


def test_the_edge_moves_out_to_the_emission_and_no_further():
    snr, truth, prob = _relic_field(np.random.default_rng(0))
    out, added = grow_to_contour(prob, snr, 0.85, BEAM)
    mask = out > 0.85
    before = prob > 0.85
    assert added == int((mask & ~before).sum()) > 0
    # the band's missed edge (3 px each side) is recovered; nothing is lost
    assert (mask & truth).sum() >= 0.93 * truth.sum() and (before & truth).sum() < 0.85 * truth.sum()
    assert (mask >= before).all()
    # growth stays within one beam of the region: the source 30 px away and the empty sky stay out
    assert not mask[30:50, 90:110].any()
    assert (mask & ~truth).sum() < 0.1 * truth.sum()
    # grown pixels sit just above the threshold; the region's own probabilities are untouched
    assert np.all((out[mask & ~before] > 0.85) & (out[mask & ~before] < 0.851))
    np.testing.assert_array_equal(out[before], prob[before])


def test_no_region_no_growth_and_blank_pixels_never_join():
    snr, _, prob = _relic_field(np.random.default_rng(1))
    nothing = np.zeros(SHAPE, bool)
    assert not grown_pixels(nothing, snr, BEAM).any()
    blank = np.array(prob, copy=True)
    blank[:, 120:] = np.nan
    snr_blank = np.where(np.isnan(blank), np.nan, snr)
    out, _ = grow_to_contour(blank, snr_blank, 0.85, BEAM)
    assert np.isnan(out[:, 120:]).all()


def test_a_region_on_faint_sky_does_not_grow():
    """A false region on noise: the smoothed sky seldom reaches 2 sigma, so the region stays about as it was."""
    rng = np.random.default_rng(2)
    snr = _noise(rng)
    prob = np.zeros(SHAPE, np.float32)
    prob[80:120, 80:120] = 0.95
    out, added = grow_to_contour(prob, snr, 0.85, BEAM)
    assert added < 0.05 * 1600
    # the same region on 3-sigma emission twice its size grows to it
    snr[60:140, 60:140] += 3.0
    out, added = grow_to_contour(prob, snr, 0.85, BEAM)
    assert added > 0.5 * ((2 * (BEAM + 1) + 40) ** 2 - 1600)


def test_segment_config_edge_sigma_grows_the_cleaned_map_and_is_off_by_default():
    """Through clean_field, as `segment --edge-sigma 2` and the benchmark run it: the field's beam from its header,
    its image over the local noise grid."""
    snr, truth, prob = _relic_field(np.random.default_rng(3))
    pix = 1.5
    beam = SimpleNamespace(bmaj_arcsec=BEAM * pix, bmin_arcsec=BEAM * pix)
    image = SimpleNamespace(beam=beam, pixel_arcsec=pix, path="made-up.fits", read=lambda: 2e-5 * snr)
    grid = np.full((4, 4), 2e-5, np.float32)
    assert SegmentConfig().edge_sigma is None
    plain = clean_field(prob, image, grid, SegmentConfig(threshold=0.85)) > 0.85
    np.testing.assert_array_equal(plain, prob > 0.85)
    grown = clean_field(prob, image, grid, SegmentConfig(threshold=0.85, edge_sigma=2.0)) > 0.85
    assert (grown & truth).sum() >= 0.93 * truth.sum() > (plain & truth).sum()
    # a higher level grows less
    higher = clean_field(prob, image, grid, SegmentConfig(threshold=0.85, edge_sigma=4.0)) > 0.85
    assert plain.sum() < higher.sum() < grown.sum()
