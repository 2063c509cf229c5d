"""The radio viewer's library helpers: units, stretches, contour levels, the sky readout, the field."""

import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from radioexplore.display.units import DISPLAY_UNIT, display_unit, is_jy_per_beam, signal_to_noise
from radioexplore.display.viewer import (
    STRETCHES,
    StretchLimits,
    beam_ellipse,
    catalogue_components,
    contour_levels,
    downsample_field,
    fit_stretch,
    format_radec,
    neighbourhood_box,
    scale_bar,
    sigma_levels,
    sky_readout,
    tile_at,
    tiles_in_box,
)
from radioexplore.io.beam import Beam
from radioexplore.io.fits import read_image


@pytest.fixture
def field(tmp_path, rng):
    """A 100 x 60 px Jy/beam image, 2″ pixels, centred on RA 150, Dec -30, with a 2 mJy source at (70, 20)."""
    data = rng.normal(0.0, 1e-4, (60, 100)).astype(np.float32)
    data[20, 70] = 2e-3
    data[:, :4] = np.nan
    header = fits.Header()
    header.update(
        CTYPE1="RA---SIN", CTYPE2="DEC--SIN", CRVAL1=150.0, CRVAL2=-30.0, CRPIX1=50.5, CRPIX2=30.5,
        CDELT1=-2 / 3600, CDELT2=2 / 3600, CUNIT1="deg", CUNIT2="deg", BUNIT="JY/BEAM",
        BMAJ=10 / 3600, BMIN=6 / 3600, BPA=30.0,
    )  # fmt: skip
    path = tmp_path / "field.fits"
    fits.PrimaryHDU(data, header).writeto(path)
    return read_image(path), data


def test_one_display_unit_for_jy_per_beam():
    unit = display_unit("JY/BEAM")
    assert unit.label == DISPLAY_UNIT == "mJy/beam"
    assert unit.text(3.12e-5) == "0.0312 mJy/beam"
    np.testing.assert_allclose(unit.values(np.array([1e-3, 2e-3])), [1.0, 2.0])
    assert display_unit("K").label == "K" and display_unit("K").factor == 1.0
    assert display_unit("").label == "image units"
    assert is_jy_per_beam("Jy/beam") and not is_jy_per_beam("K")
    np.testing.assert_allclose(signal_to_noise(np.array([3e-4]), 1e-4), [3.0])
    with pytest.raises(ValueError, match="noise rms"):
        signal_to_noise(np.array([1.0]), 0.0)


def test_stretch_presets_set_limits_and_curves(rng):
    noise = rng.normal(0.0, 1.0, (64, 64))
    noise[30:34, 30:34] = 500.0  # a bright source
    linear = fit_stretch(noise, "linear", 1.0, StretchLimits(min_sigma=-2, max_sigma=40))
    assert (linear.lo, linear.hi) == (-2.0, 40.0)
    assert linear.apply(np.array([-2.0, 19.0, 40.0, 1000.0])).tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    pct = fit_stretch(noise, "percentile", None, StretchLimits(low_percentile=5, high_percentile=95))
    assert pct.lo == pytest.approx(np.percentile(noise, 5)) and pct.hi == pytest.approx(np.percentile(noise, 95))
    z = fit_stretch(noise, "zscale", None)
    assert z.hi < 500.0 and z.lo < 0 < z.hi
    asinh = fit_stretch(noise, "asinh", 1.0, StretchLimits(high_percentile=100.0))
    assert asinh.hi == pytest.approx(500.0)  # the top is the peak: nothing saturates
    mid = np.array([asinh.lo + 0.1 * (asinh.hi - asinh.lo)])
    # faint structure gets more of the colours than in a linear stretch (0.1): asinh(1)/asinh(10) of them
    assert asinh.apply(mid)[0] == pytest.approx(np.arcsinh(1.0) / np.arcsinh(10.0), abs=1e-3)
    log = fit_stretch(noise, "log", 1.0)
    assert log.curve[0] == 0.0 and log.curve[-1] == pytest.approx(1.0) and log.curve[10] > 0.1
    palettes = {name: fit_stretch(noise, name, 1.0).palette(n=64) for name in STRETCHES}
    assert all(len(p) == 64 and p[0].startswith("#") for p in palettes.values())
    assert palettes["asinh"] != palettes["linear"] != palettes["log"]
    assert np.isnan(linear.apply(np.array([np.nan]))[0])
    with pytest.raises(ValueError, match="unknown stretch"):
        fit_stretch(noise, "sqrt", 1.0)
    with pytest.raises(ValueError, match="percentiles"):
        StretchLimits(low_percentile=90, high_percentile=10)


def test_contour_levels_follow_the_local_rms_up_to_the_peak():
    assert sigma_levels((3.0, 5.0, 10.0, 20.0), 100.0) == [3, 5, 10, 20, 40, 80]
    assert sigma_levels((3.0, 5.0), 4.0) == [3.0]
    pixels = np.zeros((10, 10))
    pixels[5, 5] = 0.9e-3
    assert contour_levels(pixels, 1e-5) == pytest.approx([3e-5, 5e-5, 1e-4, 2e-4, 4e-4, 8e-4])
    assert contour_levels(np.zeros((4, 4)), 1.0) == []
    with pytest.raises(ValueError, match="rms"):
        contour_levels(pixels, 0.0)


def test_sky_readout_is_sexagesimal_and_matches_the_wcs(field):
    image, _ = field
    text = sky_readout(image, 49.5, 29.5)  # the reference pixel (0-based)
    c = SkyCoord(text, unit=("hourangle", "deg"))
    assert text.startswith("10h00m00") and "-30d00m00" in text
    assert c.separation(SkyCoord(150.0, -30.0, unit="deg")).arcsec < 0.5
    east = SkyCoord(sky_readout(image, 39.5, 29.5), unit=("hourangle", "deg"))  # 10 px left: east
    assert east.ra.deg > 150.0 and east.separation(c).arcsec == pytest.approx(20.0, abs=0.1)
    assert format_radec(np.nan, 0.0) == "–"


def test_scale_bar_and_beam_ellipse(field):
    image, _ = field
    length, label = scale_bar(image.pixel_arcsec, 128)  # 256″ wide: a quarter is 64″, so 60″
    assert length == pytest.approx(30.0) and label == "1′"
    assert scale_bar(2.0, 10) == (2.5, "5″")
    major, minor, angle = beam_ellipse(image.beam, image.pixel_arcsec)
    assert (major, minor) == pytest.approx((5.0, 3.0)) and angle == pytest.approx(np.radians(120.0))
    with pytest.raises(ValueError, match="pixel size"):
        scale_bar(0.0, 10)


def test_catalogue_components_inside_a_box_become_ellipses(field):
    image, _ = field
    ra, dec = image.pixel_to_world(np.array([70.0, 10.0]), np.array([20.0, 50.0]))
    cat = pd.DataFrame({"ra": ra, "dec": dec, "maj": [20 / 3600, np.nan], "min": [10 / 3600, np.nan], "pa": [0, 0]})
    comps = catalogue_components(cat, image, (64, 0, 32, 32), Beam(10, 6, 30))
    assert len(comps) == 1
    assert comps.iloc[0][["x", "y", "major", "minor"]].tolist() == pytest.approx([70, 20, 10, 5], abs=1e-3)
    rest = catalogue_components(cat, image, (0, 32, 32, 28), Beam(10, 6, 30))
    assert rest.iloc[0][["major", "minor"]].tolist() == pytest.approx([5.0, 3.0])  # no shape: the beam


def test_field_downsampling_block_averages_and_keeps_blanks(field):
    image, data = field
    small, step = downsample_field(image, max_px=25, strip_px=8)
    assert step == 4 and small.shape == (15, 25)
    assert np.isnan(small[:, 0]).all()  # the blanked border
    assert small[5, 17] == pytest.approx(np.mean(data[20:24, 68:72]), rel=1e-5)  # holds the source
    full, one = downsample_field(image, max_px=1000)
    assert one == 1 and np.array_equal(np.isnan(full), np.isnan(data))


def test_neighbourhood_and_tile_lookup():
    tiles = pd.DataFrame(
        {"tile_id": range(9), "x0": [0, 32, 64] * 3, "y0": [0] * 3 + [32] * 3 + [64] * 3, "size": [32] * 9}
    )
    box = neighbourhood_box(32, 32, 32)
    assert box == (0, 0, 96, 96)
    assert sorted(tiles_in_box(tiles, box)["tile_id"]) == list(range(9))
    assert sorted(tiles_in_box(tiles, neighbourhood_box(0, 0, 32))["tile_id"]) == [0, 1, 3, 4]
    assert tile_at(tiles, 40.0, 70.0) == 7
    assert tile_at(tiles, 200.0, 0.0) is None
