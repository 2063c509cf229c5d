"""The ripple model round a bright source (ranking/ripple_model.py): it takes the concentric rings out,
so that an extended source inside them is found as one object, and leaves positive emission alone."""

from __future__ import annotations

import numpy as np
import pytest

from radioexplore.ranking.objects import ObjectConfig, find_objects
from radioexplore.ranking.ripple_model import RippleConfig, bright_sources, ripple_model
from tests.object_sky import beam_noise, blob, row_at

FWHM = 5.0
SIZE = 512
CX = CY = 255.0


def _sky(seed: int = 0, ripple: float = 25.0, lobe: bool = False, planted: bool = True) -> np.ndarray:
    """Noise of rms 1, a bright point source at the centre with lopsided ripple rings of ``ripple`` sigma
    (period 8 px, Perley 1999), and an extended source of peak 8 sigma 110 px east of it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    s = FWHM / 2.3548
    image = beam_noise(rng, SIZE, FWHM) + blob(xx, yy, CX, CY, 2e4, s, s, 0.0)
    dx, dy = xx - CX, yy - CY
    r = np.hypot(dx, dy) + 1e-3
    taper = 1 - np.exp(-((r / (2 * FWHM)) ** 2))
    lopsided = 0.65 + 0.35 * np.cos(2 * np.arctan2(dy, dx) - 0.7)
    image += ripple * taper * lopsided * np.cos(2 * np.pi * r / 8.0 + 0.3) * np.exp(-r / 120.0)
    if planted:
        image += blob(xx, yy, CX + 110, CY + 20, 8.0, 14.0, 4.0, 1.2)
    if lobe:  # the bright source's own lobe: positive, no trough beside it
        image += blob(xx, yy, CX - 40, CY, 40.0, 10.0, 4.0, 0.0)
    return image.astype(np.float32)


def test_bright_source_found_and_rings_modelled():
    image = _sky(planted=False)
    found = bright_sources(image, FWHM, RippleConfig())
    assert len(found) == 1 and abs(found[0][0] - CX) < 2 and abs(found[0][1] - CY) < 2
    model = ripple_model(image, FWHM)
    ring = (np.hypot(*np.mgrid[:SIZE, :SIZE] - CY) > 20) & (np.hypot(*np.mgrid[:SIZE, :SIZE] - CY) < 150)
    # the rings' rms (~6 sigma) falls to below 2 sigma (thermal noise 1) once the model is out
    assert np.std(image[ring]) > 4
    assert np.std((image - model)[ring]) < 2.0


def test_planted_source_inside_ripples_is_one_object():
    image = _sky()
    beam_area = 1.1331 * FWHM**2
    with_model = find_objects(image, beam_area, ObjectConfig(ripple_model=True)).table
    i = row_at(with_model, CX + 110, CY + 20)
    assert with_model["area_beams"].iloc[i] >= 5  # seen whole, not a crest's worth of pixels
    row = with_model.iloc[i]
    assert max(row["box_x1"] - row["box_x0"], row["box_y1"] - row["box_y0"]) >= 25  # ~40 px long above 3 sigma
    # without the model the ripples inflate the local rms and the source is not found as such
    without = find_objects(image, beam_area, ObjectConfig()).table
    d = np.hypot(without["x"] - (CX + 110), without["y"] - (CY + 20))
    assert not ((d < 6) & (without["area_beams"] >= 5)).any()


def test_no_ripples_no_model_and_lobes_kept():
    image = _sky(ripple=0.0, lobe=True, planted=False)
    model = ripple_model(image, FWHM)
    lobe = (slice(int(CY) - 4, int(CY) + 5), slice(int(CX) - 50, int(CX) - 30))
    assert np.abs(model[lobe]).max() < 0.2 * image[lobe].max()
    assert np.abs(model).max() < 3.0  # noise alone: nothing significant and alternating


def test_spokes_modelled_when_asked():
    """Radial spokes alternating in sign round a source with rings (2k = 6, as the simulator's DQF 1-3
    rings and spokes) go with ``spoke_deg``; not by default."""
    image = _sky(planted=False)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float64)
    dx, dy = xx - CX, yy - CY
    r = np.hypot(dx, dy) + 1e-3
    taper = 1 - np.exp(-((r / (2 * FWHM)) ** 2))
    spokes = 30.0 * taper * np.cos(3 * np.arctan2(dy, dx) - 0.4) ** 21 * np.exp(-r / 150.0)
    image = image + spokes.astype(np.float32)
    near = (r > 20) & (r < 150)
    rings_only = np.std((image - ripple_model(image, FWHM))[near])
    assert rings_only > 3  # the spokes stay
    assert np.std((image - ripple_model(image, FWHM, RippleConfig(spoke_deg=2.0)))[near]) < 0.5 * rings_only


def test_config_names_its_bad_values():
    with pytest.raises(ValueError, match="ripple_evidence"):
        ObjectConfig(ripple_evidence="nope")
    with pytest.raises(ValueError, match="detect_noise"):
        ObjectConfig(detect_noise="nope")
    with pytest.raises(ValueError, match="RippleConfig.sector_deg"):
        RippleConfig(sector_deg=0)
