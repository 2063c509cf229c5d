"""The hysteresis mask rule (segmentation/mask_rule.py): regions above the low threshold kept only with a core."""

from types import SimpleNamespace

import numpy as np
import pytest

from radioexplore.segmentation.mask_rule import drop_coreless, hysteresis_mask, resolve_thresholds
from radioexplore.segmentation.regions import MIN_BEAMS, beam_area_px
from radioexplore.segmentation.run import SegmentConfig, clean_field, resolved

FWHM, PIX = 5.0, 1.5  # beam FWHM in px, arcsec per px: one beam area is 28 px
TESTS_OFF = dict(max_negative_fraction=None, spoke_sigma=None)  # the size test alone (needs no image)


def _image(shape):
    beam = SimpleNamespace(bmaj_arcsec=FWHM * PIX, bmin_arcsec=FWHM * PIX)
    return SimpleNamespace(beam=beam, pixel_arcsec=PIX, path="made-up.fits", shape=shape)


def _disc(shape, y, x, r):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - y) ** 2 + (xx - x) ** 2 <= r**2


def _arc(shape, y, x, radius, width, a0, a1):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r, a = np.hypot(yy - y, xx - x), np.degrees(np.arctan2(yy - y, xx - x))
    return (np.abs(r - radius) <= width / 2) & (a >= a0) & (a <= a1)


@pytest.fixture
def made_up_map():
    """A long thin relic-like arc at 0.6 with one 0.9 core, a coreless 0.6 arc beyond it, a 0.9 blob of one beam."""
    shape = (300, 300)
    prob = np.zeros(shape, np.float32)
    arc = _arc(shape, 150, 150, 100, 5, -80, 80)  # ~1 beam wide, ~280 px long: ~49 beam areas
    prob[arc] = 0.6
    core = arc & _disc(shape, 150, 250, 3)
    prob[core] = 0.9
    coreless = _arc(shape, 150, 150, 130, 5, -80, 80)  # ~64 beam areas, no core
    prob[coreless] = 0.6
    blob = _disc(shape, 40, 40, 3)  # 29 px: one beam area
    prob[blob] = 0.9
    prob[:, :5] = np.nan  # a blank strip stays blank
    return prob, arc, core, coreless, blob


def test_a_thin_arc_with_one_core_is_kept_whole_and_coreless_regions_go(made_up_map):
    prob, arc, core, coreless, blob = made_up_map
    assert arc.sum() > MIN_BEAMS * beam_area_px(FWHM, FWHM) and core.sum() < 2 * beam_area_px(FWHM, FWHM)
    out = clean_field(prob, _image(prob.shape), None, SegmentConfig(threshold=0.5, core_threshold=0.85, **TESTS_OFF))
    mask = np.nan_to_num(out, nan=0.0) > 0.5
    np.testing.assert_array_equal(mask, arc)  # the whole arc, at 0.6 and 0.9 alike; nothing else
    np.testing.assert_array_equal(out[arc], prob[arc])  # kept regions keep their probabilities
    assert np.isnan(out[:, :5]).all()
    # the plain threshold at the core's level keeps the core alone, under MIN_BEAMS: the size test drops it
    plain = clean_field(prob, _image(prob.shape), None, SegmentConfig(threshold=0.85, **TESTS_OFF))
    assert not (np.nan_to_num(plain, nan=0.0) > 0.85).any()
    # and the plain low threshold keeps the coreless arc too
    low = clean_field(prob, _image(prob.shape), None, SegmentConfig(threshold=0.5, **TESTS_OFF))
    np.testing.assert_array_equal(np.nan_to_num(low, nan=0.0) > 0.5, arc | coreless)


def test_hysteresis_alone_keeps_cored_regions_whatever_their_size(made_up_map):
    prob, arc, core, coreless, blob = made_up_map
    np.testing.assert_array_equal(hysteresis_mask(prob, 0.5, 0.85), arc | blob)  # the blob holds its own core
    kept, dropped = drop_coreless(prob, 0.5, 0.85)
    assert dropped == 1 and (kept[coreless] == 0).all()
    np.testing.assert_array_equal(hysteresis_mask(prob, 0.5, None), np.nan_to_num(prob, nan=0.0) > 0.5)
    np.testing.assert_array_equal(hysteresis_mask(prob, 0.85, 0.5), np.nan_to_num(prob, nan=0.0) > 0.85)


def test_an_isolated_one_beam_blob_is_dropped(made_up_map):
    prob, arc, core, coreless, blob = made_up_map
    out = clean_field(prob, _image(prob.shape), None, SegmentConfig(threshold=0.5, core_threshold=0.85, **TESTS_OFF))
    assert (out[blob] == 0).all()


def test_a_constant_map_stays_constant():
    config = SegmentConfig(threshold=0.5, core_threshold=0.85, **TESTS_OFF)
    for value, expected in ((0.9, 0.9), (0.6, 0.0), (0.2, 0.2)):  # cored: kept; coreless: dropped; below: as is
        prob = np.full((200, 240), value, np.float32)
        out = clean_field(prob, _image(prob.shape), None, config)
        assert np.ptp(out) == 0 and out[0, 0] == pytest.approx(expected)


def test_the_calibrated_pair_travels_with_the_checkpoint_and_a_given_threshold_wins():
    meta = dict(calibration=dict(threshold=0.5, core_threshold=0.85))
    assert resolve_thresholds(None, None, meta) == (0.5, 0.85)
    assert resolve_thresholds(None, 0.9, meta) == (0.5, 0.9)
    assert resolve_thresholds(0.7, None, meta) == (0.7, None)  # a given threshold: plain unless a core is given
    assert resolve_thresholds(0.7, 0.95, meta) == (0.7, 0.95)
    assert resolve_thresholds(None, None, dict(calibration=dict(threshold=0.85))) == (0.85, None)
    assert resolve_thresholds(None, None, {}) == (0.5, None)
    config = resolved(SegmentConfig(), meta)
    assert (config.threshold, config.core_threshold) == (0.5, 0.85)
