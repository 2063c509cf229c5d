"""Plane waves across the image (DQF 3): found in its Fourier transform, subtracted, and a faint ring they hid is found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from radioexplore.ranking.objects import ObjectConfig, find_objects
from radioexplore.ranking.plane_waves import PlaneWaveConfig, find_plane_waves, plane_wave_model
from tests.object_sky import beam_noise, blob

SIZE, FWHM = 384, 5.0
BEAM_AREA = 1.1331 * FWHM**2
RING = (192.0, 192.0, 40.0)  # x, y, radius (px)
COMPACT = ((60, 60), (320, 80), (80, 320), (300, 300))
WAVE_PERIOD, WAVE_ANGLE = 20.0 * FWHM, 0.6  # px, radians from +x


def plane_wave(amplitude: float, phase: float = 0.0) -> np.ndarray:
    """A wave of ``amplitude`` across the whole image, period :data:`WAVE_PERIOD`, trough under the ring's centre."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    u = (xx - RING[0]) * np.cos(WAVE_ANGLE) + (yy - RING[1]) * np.sin(WAVE_ANGLE)
    return amplitude * np.cos(2 * np.pi * u / WAVE_PERIOD + np.pi + phase)


def sky(seed: int, ring_snr: float = 6.0) -> np.ndarray:
    """Beam-correlated noise of rms 1, four bright compact sources and a thick ring of ``ring_snr`` sigma per beam."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM)
    x, y, radius = RING
    ring = ndimage.gaussian_filter(np.exp(-0.5 * ((np.hypot(xx - x, yy - y) - radius) / 5.0) ** 2), FWHM / 2.3548)
    image += ring_snr * ring / ring.max()
    for cx, cy in COMPACT:
        image += blob(xx, yy, cx, cy, 60.0, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    return image.astype(np.float32)


def near_ring(table: pd.DataFrame) -> pd.DataFrame:
    x, y, radius = RING
    return table[(abs(table["x"] - x) < radius) & (abs(table["y"] - y) < radius) & (table["area_beams"] > 10)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_ring_under_a_plane_wave_is_an_island_only_with_the_option(seed):
    clean = sky(seed)
    assert len(near_ring(find_objects(clean, BEAM_AREA).table)) == 1  # without the wave the ring is an island
    image = clean + plane_wave(3.0).astype(np.float32)
    assert len(near_ring(find_objects(image, BEAM_AREA).table)) == 0  # the wave lifts the rms and cuts the ring
    found = near_ring(find_objects(image, BEAM_AREA, ObjectConfig(plane_waves=True)).table)
    assert len(found) == 1 and found["area_beams"].iloc[0] > 20
    # the wave is found from the image: its period, direction and amplitude
    waves = find_plane_waves(image, FWHM)
    assert len(waves) == 1
    w = waves[0]
    assert abs(w.period_px / WAVE_PERIOD - 1) < 0.03
    assert abs(abs(np.arctan(w.ky / w.kx)) - WAVE_ANGLE) < 0.03
    assert abs(w.amplitude / 3.0 - 1) < 0.1
    # and what is left of it after the subtraction is below the thermal noise
    assert np.std(plane_wave_model(image, FWHM) - plane_wave(3.0)) < 0.3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_field_without_plane_waves_is_unchanged(seed):
    image = sky(seed)
    assert find_plane_waves(image, FWHM) == []
    assert not plane_wave_model(image, FWHM).any()
    off = find_objects(image, BEAM_AREA)
    on = find_objects(image, BEAM_AREA, ObjectConfig(plane_waves=True))
    pd.testing.assert_frame_equal(off.table, on.table)


def test_ripple_rings_and_a_local_stripe_are_not_plane_waves():
    """A bright source's ripple rings (period 1.5 beams) and a band of fringes in one part of the image are
    local: no wave is fitted (the first is below min_period_beams, the second fails the quarters' test)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM)
    r = np.hypot(xx - 120, yy - 250)
    image += 8.0 * np.cos(2 * np.pi * r / (1.5 * FWHM)) * np.exp(-r / (10 * FWHM))
    v = yy - 90  # a band 6 beams wide of fringes with a period of 8 beams, across the top only
    image += 3.0 * np.cos(2 * np.pi * xx / (8 * FWHM)) * np.exp(-0.5 * (v / (3 * FWHM)) ** 2)
    assert find_plane_waves(image.astype(np.float32), FWHM) == []
    # the same band across the whole image is a plane wave
    whole = beam_noise(rng, SIZE, FWHM) + 3.0 * np.cos(2 * np.pi * xx / (8 * FWHM))
    assert len(find_plane_waves(whole.astype(np.float32), FWHM)) == 1


def test_config_is_checked():
    with pytest.raises(ValueError, match="min_period_beams"):
        PlaneWaveConfig(min_period_beams=50.0, max_period_beams=40.0)
    with pytest.raises(ValueError, match="false_alarm"):
        PlaneWaveConfig(false_alarm=0.0)
