import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS

from radioexplore.simulate import SimulationConfig, simulate_field, simulate_survey


def test_fits_has_radio_header(small_survey):
    with fits.open(small_survey / "field_000.fits") as hdul:
        h = hdul[0].header
        assert hdul[0].data.shape == (1, 1, 512, 512)
        assert h["CTYPE1"] == "RA---SIN" and h["CTYPE2"] == "DEC--SIN"
        assert h["CTYPE3"] == "FREQ" and h["CTYPE4"] == "STOKES"
        assert h["BUNIT"] == "JY/BEAM"
        assert 7.5 <= h["BMAJ"] * 3600 <= 8.0 and h["BMIN"] <= h["BMAJ"]
        assert h["DQF"] in (0, 1, 2, 3)


def test_truth_catalogue_columns_and_kinds(small_survey):
    truth = pd.read_csv(small_survey / "truth.csv")
    for col in ("field", "kind", "ra", "dec", "flux", "size"):
        assert col in truth.columns
    assert {"compact"} <= set(truth["kind"])
    assert truth["kind"].isin(["fr1", "fr2"]).any()
    assert set(truth["field"]) == {f"field_{i:03d}" for i in range(4)}


def test_compact_fluxes_follow_a_power_law():
    rng = np.random.default_rng(0)
    cfg = SimulationConfig(size_px=1024)
    _, truth, _ = simulate_field(cfg, 0, rng)
    flux = np.array([o["flux"] for o in truth.objects if o["kind"] == "compact"])
    # log-log slope of the differential counts is close to -flux_slope
    edges = np.logspace(np.log10(flux.min()) + 0.2, np.log10(flux.min()) + 2.2, 9)
    counts, _ = np.histogram(flux, edges)
    centres = np.sqrt(edges[1:] * edges[:-1])
    slope = np.polyfit(np.log10(centres), np.log10(counts / np.diff(edges)), 1)[0]
    assert abs(slope + cfg.flux_slope) < 0.2


def test_noise_rises_towards_the_edge_and_is_blanked_beyond_the_cutoff():
    rng = np.random.default_rng(1)
    cfg = SimulationConfig(
        size_px=1024, compact_per_sq_deg=0, extended_per_field=(0, 0), dqf_probabilities=(1, 0, 0, 0)
    )
    image, truth, _ = simulate_field(cfg, 0, rng)
    centre = image[448:576, 448:576]
    edge = image[40:168, 448:576]
    assert np.isnan(image[0, 0]) and np.isfinite(centre).all()
    assert abs(np.std(centre) / truth.noise_jy - 1) < 0.2
    assert np.nanstd(edge) > 1.5 * np.std(centre)


def test_point_source_peak_equals_its_flux_in_jy_per_beam():
    from scipy.signal import fftconvolve

    from radioexplore import simulate as sim

    sky = np.zeros((64, 64))
    sim.add_point(sky, 32.0, 32.0, 1e-3)
    assert sky.sum() == np.float64(1e-3)
    image = fftconvolve(sky, sim.beam_kernel(5.2, 4.9, 0.0), mode="same")
    assert abs(image.max() - 1e-3) < 1e-8


def test_same_seed_same_survey(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cfg = SimulationConfig(fields=1, size_px=256, seed=5)
    simulate_survey(a, cfg, progress=False)
    simulate_survey(b, cfg, progress=False)
    assert np.array_equal(fits.getdata(a / "field_000.fits"), fits.getdata(b / "field_000.fits"), equal_nan=True)
    pd.testing.assert_frame_equal(pd.read_csv(a / "truth.csv"), pd.read_csv(b / "truth.csv"))


def test_two_axis_output_has_a_valid_celestial_wcs(tmp_path):
    simulate_survey(tmp_path, SimulationConfig(fields=1, size_px=256, naxis=2), progress=False)
    header = fits.getheader(tmp_path / "field_000.fits")
    assert header["NAXIS"] == 2
    assert WCS(header).has_celestial
