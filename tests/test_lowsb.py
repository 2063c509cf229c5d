"""Low-surface-brightness islands: a faint ring no full-resolution island sees is found on the smoothed image."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from radioexplore.ranking.local_noise import negative_noise_map
from radioexplore.ranking.lowsb import smooth_to_beams
from radioexplore.ranking.objects import ObjectConfig, find_objects
from tests.object_sky import beam_noise, blob

SIZE, FWHM = 384, 5.0
BEAM_AREA = 1.1331 * FWHM**2
RING = (192.0, 192.0, 35.0)  # x, y, radius (px)
COMPACT = ((60, 60), (320, 80), (80, 320), (300, 300))


def faint_ring_sky(seed: int, ring_snr: float = 2.0) -> tuple[np.ndarray, float]:
    """Beam-correlated noise of rms 1, four bright compact sources, and a thick ring whose peak is
    ``ring_snr`` sigma per beam. Returns the image and the ring's area above half its peak, in beams."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM)
    x, y, radius = RING
    ring = ndimage.gaussian_filter(np.exp(-0.5 * ((np.hypot(xx - x, yy - y) - radius) / 6.0) ** 2), FWHM / 2.3548)
    ring /= ring.max()
    image += ring_snr * ring
    for cx, cy in COMPACT:
        image += blob(xx, yy, cx, cy, 40.0, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    return image.astype(np.float32), float((ring > 0.5).sum() / BEAM_AREA)


def near_ring(table):
    x, y, radius = RING
    return table[(abs(table["x"] - x) < radius + 20) & (abs(table["y"] - y) < radius + 20)]


@pytest.mark.parametrize("seed", [0, 4, 5])
def test_faint_ring_found_only_on_the_smoothed_image(seed):
    image, beams = faint_ring_sky(seed)
    assert beams > 30  # 2 sigma per beam over many beams: many sigma in all
    full = find_objects(image, BEAM_AREA, ObjectConfig())
    assert len(near_ring(full.table)) == 0  # no 3 sigma island with a 5 sigma peak at full resolution
    low = find_objects(image, BEAM_AREA, ObjectConfig(lowsb_beams=(3.0,)))
    ring = near_ring(low.table)
    assert len(ring) == 1 and ring["detect_beams"].iloc[0] == 3.0
    assert ring["area_beams"].iloc[0] > 30
    assert ring["peak_snr"].iloc[0] >= 5  # read on the smoothed image it was found on (lowsb_features)
    full_features = near_ring(
        find_objects(image, BEAM_AREA, ObjectConfig(lowsb_beams=(3.0,), lowsb_features="full")).table
    )
    assert len(full_features) == 1 and full_features["area_beams"].iloc[0] == ring["area_beams"].iloc[0]
    assert full_features["peak_snr"].iloc[0] != ring["peak_snr"].iloc[0]  # the same island, read at full resolution
    # the bright compact sources are explained by their full-resolution islands: no low-resolution object
    assert (low.table["detect_beams"] > 1).sum() == 1
    # the label image holds the new island's pixels under the row's label id (what tiles count)
    assert low.label_ids[-1] not in full.label_ids and (low.labels == low.label_ids[-1]).sum() > 30 * BEAM_AREA


def test_off_by_default_and_scales_validated():
    image, _ = faint_ring_sky(0)
    assert ObjectConfig().lowsb_beams == ()
    assert (
        "detect_beams" in find_objects(image, BEAM_AREA).table
        and (find_objects(image, BEAM_AREA).table["detect_beams"] == 1).all()
    )
    with pytest.raises(ValueError, match="lowsb_beams"):
        ObjectConfig(lowsb_beams=(1.0,))
    with pytest.raises(ValueError, match="lowsb_source_troughs"):
        ObjectConfig(lowsb_source_troughs="some")
    with pytest.raises(ValueError, match="lowsb_features"):
        ObjectConfig(lowsb_features="both")


def test_ripple_rings_average_out_on_the_smoothed_image():
    """A calibration ripple (8 px period, 25 sigma crests and troughs round a source) gives no
    low-resolution island: the few-beam Gaussian averages its crests with its troughs."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM)
    r = np.hypot(xx - 200, yy - 180)
    image += 25.0 * np.cos(2 * np.pi * r / 8.0) * np.exp(-r / 60.0) * (r > 6)
    found = find_objects(image.astype(np.float32), BEAM_AREA, ObjectConfig(lowsb_beams=(2.0, 3.0)))
    assert (found.table["detect_beams"] > 1).sum() == 0


def test_smoothed_noise_measured_from_the_negative_side():
    """The noise of the smoothed image read from its negative half matches its true rms, and positive
    emission does not lift it (a formula scaling the full-resolution rms would not know the correlation)."""
    rng = np.random.default_rng(2)
    noise = beam_noise(rng, SIZE, FWHM)
    low = smooth_to_beams(noise, FWHM, 3.0)
    true = float(low[40:-40, 40:-40].std())
    assert true < 0.5  # smoothing to 3 beams lowers the per-beam noise well below 1
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    emission = smooth_to_beams(noise + 3.0 * np.exp(-0.5 * (np.hypot(xx - 192, yy - 192) / 40.0) ** 2), FWHM, 3.0)
    for image in (low, emission):
        measured = float(np.median(negative_noise_map(image, 128)[40:-40, 40:-40]))
        assert measured == pytest.approx(true, rel=0.15)


def spoke_sky(seed: int = 0) -> np.ndarray:
    """Beam-correlated noise, a bright source at (100, 100) and its 2k = 6 radial spokes, alternately positive
    and negative (a baseline-based calibration error), a few sigma per beam out to 250 px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM)
    image += blob(xx, yy, 100, 100, 3000.0, FWHM / 2.3548, FWHM / 2.3548, 0.0)
    dx, dy = xx - 100, yy - 100
    r = np.hypot(dx, dy) + 1e-6
    spokes = np.real(((dx + 1j * dy) / r) ** 3 * np.exp(-1j * 0.4)) ** 21
    image += ndimage.gaussian_filter(8.0 * spokes * np.exp(-r / 150.0) * (r > 15), FWHM / 2.3548)
    return image.astype(np.float32)


def test_radial_spoke_island_carries_its_twins_troughs():
    """A positive spoke found on the smoothed image has its negative twins at the same distance from the
    bright source: with ``lowsb_source_troughs`` its artefact evidence says so; a faint ring far from any
    bright source gets none."""
    image = spoke_sky()
    plain = find_objects(image, BEAM_AREA, ObjectConfig(lowsb_beams=(3.0,), lowsb_source_troughs="off"))
    spokes = plain.table[plain.table["detect_beams"] > 1]
    assert len(spokes) >= 1
    assert (spokes["negative_ratio"] < 0.5).any()  # the troughs round its box alone miss the far twins
    for troughs in ("radial", "any"):
        told = find_objects(image, BEAM_AREA, ObjectConfig(lowsb_beams=(3.0,), lowsb_source_troughs=troughs))
        spokes = told.table[told.table["detect_beams"] > 1]
        assert len(spokes) >= 1 and (spokes["negative_ratio"] >= 1.0).all()  # artefact score 1
    ring, _ = faint_ring_sky(0)
    for troughs in ("radial", "any"):
        found = find_objects(ring, BEAM_AREA, ObjectConfig(lowsb_beams=(3.0,), lowsb_source_troughs=troughs))
        assert near_ring(found.table)["negative_ratio"].max() < 0.2
