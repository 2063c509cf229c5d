"""Cutting a bright source's error pattern off the regions of the probability map (segmentation.pattern_cut)."""

import numpy as np
from scipy.ndimage import gaussian_filter

from radioexplore.segmentation.pattern_cut import pattern_pixels
from radioexplore.segmentation.regions import bright_sources, clean_regions

SHAPE, BEAM = (400, 400), 5.0


def _noise(rng) -> np.ndarray:
    """Unit-rms noise correlated over the beam, as in a restored image."""
    noise = gaussian_filter(rng.normal(0, 1, SHAPE), BEAM / np.sqrt(8 * np.log(2)))
    return noise / noise.std()


def _polar():
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    dx, dy = xx - 200.0, yy - 200.0
    return dx, dy, np.hypot(dx, dy), np.arctan2(dy, dx)


def _source(snr: np.ndarray) -> None:
    _, _, r, _ = _polar()
    snr += 5000.0 * np.exp(-4 * np.log(2) * r**2 / BEAM**2)


def _spoky_field_with_relic(rng):
    """A 5000-sigma source at (200, 200) with four spokes of 6 sigma (positive along x, negative along y) beyond two
    beams; a relic arc of 8 sigma at 130-150 px from the source running from the +x spoke's end to 0.9 rad; the
    network's region: the +x spoke from 30 px outwards joined to the relic."""
    dx, dy, r, theta = _polar()
    snr = _noise(rng)
    spokes = np.real(((dx + 1j * dy) / np.maximum(r, 1e-9)) ** 2) ** 21  # cos(2 theta)^21: +, -, +, -
    snr += 6.0 * spokes * (r > 2 * BEAM)
    _source(snr)
    arc = (r > 130) & (r < 150) & (theta > -0.05) & (theta < 0.9)
    snr[arc] += 8.0
    spoke = (spokes > 0.5) & (r > 30) & (r < 135) & (dx > 0)
    prob = np.zeros(SHAPE, np.float32)
    prob[spoke | arc] = 0.9
    return snr, prob, arc, spoke


def test_a_relic_joined_to_a_bright_sources_spoke_keeps_the_relic_and_loses_the_spoke(rng):
    snr, prob, arc, spoke = _spoky_field_with_relic(rng)
    main, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM))  # today's tests: one region, kept or dropped whole
    assert counts["regions"] == 1 and counts["pattern_px"] == 0
    assert (main[arc | spoke] == np.float32(0.9)).all()  # the spoke stays with its relic
    out, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), cut_pattern=True)
    assert counts["pattern_px"] > 0.8 * (spoke & ~arc).sum() and counts["cut"] >= 1
    assert (out[arc] == np.float32(0.9)).mean() > 0.95  # the relic stays, on the spoke's end as well
    inner = spoke & (np.hypot(*np.mgrid[-200:200, -200:200]) < 120)
    assert (out[inner] == 0).all()  # the spoke is cut off


def test_the_spoke_alone_is_the_patterns_and_the_relic_off_its_lobes_is_not(rng):
    snr, prob, arc, spoke = _spoky_field_with_relic(rng)
    cut = pattern_pixels(prob > 0.5, snr, bright_sources(snr, BEAM), BEAM)
    _, _, _, theta = _polar()
    assert cut[spoke & ~arc].mean() > 0.9
    assert cut[arc].mean() < 0.05 and not cut[arc & (theta > 0.3)].any()  # at most its edge on the spoke


def test_a_region_with_no_bright_source_nearby_is_unchanged(rng):
    dx, dy, r, theta = _polar()
    snr = _noise(rng)
    halo = 6.0 * np.exp(-4 * np.log(2) * ((dx - 100) ** 2 + (dy - 100) ** 2) / 35.0**2)
    arc = (r > 130) & (r < 150) & (theta > 2.0) & (theta < 2.9)
    snr += halo
    snr[arc] += 8.0
    prob = np.zeros(SHAPE, np.float32)
    prob[(halo > 2.4) | arc] = 0.9
    plain, counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), min_beams=10)
    cut, cut_counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), min_beams=10, cut_pattern=True)
    assert counts["regions"] == 2 and (plain[arc] > 0).all()
    assert cut_counts["pattern_px"] == 0 and cut_counts["cut"] == 0
    np.testing.assert_array_equal(cut, plain)
    _source(snr)  # a bright source without an error pattern: nothing is its pattern either
    cut, cut_counts = clean_regions(prob, snr, 0.5, (BEAM, BEAM), min_beams=10, cut_pattern=True)
    assert cut_counts["pattern_px"] == 0
    np.testing.assert_array_equal(cut, clean_regions(prob, snr, 0.5, (BEAM, BEAM), min_beams=10)[0])
