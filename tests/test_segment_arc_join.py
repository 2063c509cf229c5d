"""Joining a thin relic's pieces along its arc before the size test (segmentation.arc_join, clean_regions)."""

import numpy as np
from scipy.ndimage import label

from radioexplore.segmentation.regions import beam_area_px, clean_regions
from radioexplore.segmentation.run import SegmentConfig

BEAM = 5.0  # FWHM, px
LIMIT = 30 * beam_area_px(BEAM, BEAM)  # main's size limit, px


def _arc_field(rng, emission=5.0, shape=(300, 300)):
    """Noise, a relic arc 3 beams thick (radius 120 px round (150, 250)) of ``emission`` sigma all along it, and a
    probability map of 0.9 on four pieces of it, 45 px of arc each, with gaps of 2 beams between them."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(xx - 150.0, yy - 250.0)
    s = np.arctan2(xx - 150.0, 250.0 - yy) * 120.0  # arc length from the top of the circle, px
    band = (np.abs(r - 120.0) <= 7.5) & (np.abs(s) <= 105.0)
    snr = rng.normal(0, 1, shape) + emission * band
    prob = np.zeros(shape, np.float32)
    for start in (-105.0, -50.0, 5.0, 60.0):
        prob[band & (s >= start) & (s < start + 45.0)] = 0.9
    return snr, prob


def test_a_relic_arc_in_four_small_pieces_is_kept_joined_and_dropped_without_the_option(rng):
    snr, prob = _arc_field(rng)
    pieces, n = label(prob > 0.5)
    sizes = np.bincount(pieces.ravel())[1:]
    assert n == 4 and (sizes < LIMIT).all() and sizes.sum() > LIMIT  # each under 30 beams, together above
    plain, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM))
    assert counts["small"] == 4 and not (plain > 0.5).any()
    joined, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), join_arcs=1.5)
    assert counts["joined"] == 3 and counts["small"] == 0
    np.testing.assert_array_equal(joined, prob)


def test_aligned_pieces_with_no_emission_in_their_gaps_and_noise_blobs_stay_dropped(rng):
    snr, prob = _arc_field(rng, emission=0.0)  # the same pieces on pure noise: nothing bridges the gaps
    out, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), join_arcs=1.5)
    assert counts["joined"] == 0 and not (out > 0.5).any()
    snr = rng.normal(0, 1, (300, 300))
    yy, xx = np.mgrid[:300, :300]
    prob = np.zeros((300, 300), np.float32)
    for x, y in [(40, 40), (58, 44), (75, 40), (200, 200), (214, 210), (120, 250)]:  # round blobs, ~2 beams apart
        prob[np.hypot(xx - x, yy - y) <= 6] = 0.9
        snr[np.hypot(xx - x, yy - y) <= 6] += 4.0
    out, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), join_arcs=1.5)
    assert counts["small"] == 6 and counts["joined"] == 0 and not (out > 0.5).any()


def test_a_bright_sources_spoke_in_pieces_is_joined_and_still_dropped_by_the_spoke_test(rng):
    shape = (400, 400)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    dx, dy = xx - 200.0, yy - 200.0
    r = np.hypot(dx, dy)
    spokes = np.real(((dx + 1j * dy) / np.maximum(r, 1e-9)) ** 2) ** 21  # cos(2 theta)^21: +, -, +, -
    snr = rng.normal(0, 1, shape) + 6.0 * spokes * (r > 2 * BEAM)
    snr += 5000.0 * np.exp(-4 * np.log(2) * r**2 / 1.5**2)
    prob = np.zeros(shape, np.float32)
    for r0 in (30, 80, 130):  # the positive spoke towards +x, in three pieces with gaps of 2 beams
        prob[(spokes > 0.9) & (r >= r0) & (r < r0 + 40) & (dx > 0)] = 0.9
    pieces, n = label(prob > 0.5)
    sizes = np.bincount(pieces.ravel())[1:]
    assert n == 3 and (sizes < LIMIT).all() and sizes.sum() > LIMIT
    kw = dict(max_negative_fraction=None, join_arcs=1.5)
    kept, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), spoke_sigma=None, **kw)
    assert counts["joined"] == 2 and (kept > 0.5).sum() == sizes.sum()  # joined: the size test alone keeps it
    out, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), spoke_sigma=5.0, **kw)
    assert counts["joined"] == 2 and counts["spoke"] == 1 and not (out > 0.5).any()


def test_the_arc_join_is_off_by_default():
    assert SegmentConfig().join_arcs is None
