"""The simulated survey: radio realism, truth per tile, determinism, artefacts by DQF, preview grid."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from radioexplore.run.tiling import tile_grid
from radioexplore.simulation import (
    EXTENDED_KINDS,
    KINDS,
    PECULIAR_KINDS,
    SimulationConfig,
    simulate_field,
    simulate_survey,
    tile_truth,
)
from tests.simulation_fixture import QUIET


def grid_tiles(field: str, size: int, tile: int) -> pd.DataFrame:
    return pd.DataFrame([dict(field=field, x0=b.x0, y0=b.y0, size=b.size) for b in tile_grid(size, size, tile)])


def test_fits_has_radio_header(small_survey):
    with fits.open(small_survey / "field_000.fits") as hdul:
        h = hdul[0].header
        assert hdul[0].data.shape == (1, 1, 512, 512)
        assert h["CTYPE1"] == "RA---SIN" and h["CTYPE2"] == "DEC--SIN"
        assert h["CTYPE3"] == "FREQ" and h["CTYPE4"] == "STOKES"
        assert h["BUNIT"] == "JY/BEAM"
        assert 7.5 <= h["BMAJ"] * 3600 <= 8.0 and h["BMIN"] <= h["BMAJ"]
        assert h["DQF"] in (0, 1, 2, 3)
    fields = pd.read_csv(small_survey / "fields.csv")
    assert {"field", "file", "dqf", "noise_ujy"} <= set(fields.columns)
    for row in fields.itertuples():
        assert fits.getheader(small_survey / row.file)["DQF"] == row.dqf
        assert 3.0 <= row.noise_ujy <= 5.0


def test_truth_and_catalogues_are_consistent(small_survey):
    truth = pd.read_csv(small_survey / "truth.csv")
    for col in ("field", "kind", "ra", "dec", "flux", "size", "x", "y", "snr", "in_image", "points"):
        assert col in truth.columns
    assert set(truth["kind"]) <= set(KINDS)
    cat = pd.read_csv(small_survey / "catalogue.csv")
    detected = truth[(truth["kind"] == "compact") & (truth["snr"] >= 5)]
    assert len(cat) == len(detected) and (cat["S_Code"] == "S").all()
    from radioexplore.io.catalog import read_catalog

    srl = read_catalog(small_survey / "pybdsf_srl.fits")  # the same plus extended objects as 'M'
    extended = truth[(truth["kind"] != "compact") & truth["in_image"]]
    assert (srl["s_code"] == "S").sum() == len(detected) and (srl["s_code"] == "M").sum() == len(extended)


def test_compact_fluxes_follow_the_configured_power_law():
    cfg = SimulationConfig(
        size_px=1024, flux_slope=1.8, **{k: v for k, v in QUIET.items() if k != "compact_per_sq_deg"}
    )
    _, truth, _ = simulate_field(cfg, 0, np.random.default_rng(0))
    flux = np.array([o["flux"] for o in truth.objects if o["kind"] == "compact"])
    edges = np.logspace(np.log10(flux.min()) + 0.1, np.log10(flux.min()) + 2.1, 9)
    counts, _ = np.histogram(flux, edges)
    centres = np.sqrt(edges[1:] * edges[:-1])
    slope = np.polyfit(np.log10(centres), np.log10(counts / np.diff(edges)), 1)[0]
    assert abs(slope + cfg.flux_slope) < 0.15
    # normalisation: the configured density of sources above 20 uJy, within Poisson scatter
    n20 = (flux > cfg.compact_ref_ujy * 1e-6).sum() / cfg.area_sq_deg
    assert abs(n20 / cfg.compact_per_sq_deg - 1) < 0.15


def test_noise_is_correlated_on_the_beam_rises_as_one_over_pb_and_is_blanked_beyond_the_cutoff():
    cfg = SimulationConfig(size_px=1024, dqf_probabilities=(1, 0, 0, 0), **QUIET)
    image, truth, _ = simulate_field(cfg, 0, np.random.default_rng(1))
    centre = image[448:576, 448:576]
    assert np.isnan(image[0, 0]) and np.isfinite(centre).all()
    assert abs(np.std(centre) / truth.noise_jy - 1) < 0.1
    # 1/PB: the image in units of sigma_centre / PB has unit rms at every radius
    yy, xx = np.mgrid[0:1024, 0:1024]
    r = np.hypot(xx - 511.5, yy - 511.5)
    pb = np.exp(-4 * np.log(2) * r**2 / (0.8 * 1024) ** 2)
    scaled = image * pb / truth.noise_jy
    for radius in (100, 300, 450):
        annulus = (r > radius - 10) & (r < radius + 10)
        assert abs(np.nanstd(scaled[annulus]) - 1) < 0.1, radius
    assert np.nanstd(image[(r > 440) & (r < 460)]) > 2 * np.std(centre)
    # correlated on the beam scale: neighbours alike, pixels several beams apart independent
    c = centre - centre.mean()
    lag1 = np.mean(c[:, 1:] * c[:, :-1]) / c.var()
    lag20 = np.mean(c[:, 20:] * c[:, :-20]) / c.var()
    assert lag1 > 0.8 and abs(lag20) < 0.1


def test_point_source_peak_equals_its_flux_in_jy_per_beam():
    from scipy.signal import fftconvolve

    from radioexplore import simulation as sim

    sky = np.zeros((64, 64))
    sim.add_point(sky, 32.0, 32.0, 1e-3)
    assert abs(sky.sum() - 1e-3) < 1e-15
    image = fftconvolve(sky, sim.beam_kernel(5.2, 4.9, 0.0), mode="same")
    assert abs(image.max() - 1e-3) < 1e-8
    assert abs(sim.convolve_beam(sky, 5.2, 4.9, 0.0).max() - 1e-3) < 1e-7  # the FFT path agrees


def test_same_seed_same_survey_and_another_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    cfg = SimulationConfig(fields=1, size_px=256, seed=5)
    simulate_survey(a, cfg, progress=False)
    simulate_survey(b, cfg, progress=False)
    simulate_survey(c, replace(cfg, seed=6), progress=False)
    assert np.array_equal(fits.getdata(a / "field_000.fits"), fits.getdata(b / "field_000.fits"), equal_nan=True)
    pd.testing.assert_frame_equal(pd.read_csv(a / "truth.csv"), pd.read_csv(b / "truth.csv"))
    assert not np.array_equal(fits.getdata(a / "field_000.fits"), fits.getdata(c / "field_000.fits"), equal_nan=True)


@pytest.mark.parametrize("size", [200, 333])
def test_any_field_size(tmp_path, size):
    simulate_survey(tmp_path, SimulationConfig(fields=1, size_px=size, naxis=2), progress=False)
    header = fits.getheader(tmp_path / "field_000.fits")
    assert header["NAXIS"] == 2 and header["NAXIS1"] == size
    assert WCS(header).has_celestial


def test_every_kind_is_drawn_tagged_in_truth_and_found_in_its_tiles(tmp_path):
    cfg = SimulationConfig(
        fields=2,
        size_px=1024,
        seed=3,
        galaxies_per_sq_deg=120.0,
        halo_probability=1.0,
        relic_probability=1.0,
        filaments_per_sq_deg=12.0,
        peculiar_per_sq_deg=(12.0, 12.0, 12.0),
    )
    simulate_survey(tmp_path, cfg, progress=False)
    truth = pd.read_csv(tmp_path / "truth.csv")
    assert set(KINDS) <= set(truth["kind"])
    assert PECULIAR_KINDS == {"orc", "xrg", "grg"} and PECULIAR_KINDS <= EXTENDED_KINDS
    tiles = pd.concat([grid_tiles(f"field_{i:03d}", 1024, 256) for i in range(2)], ignore_index=True)
    tt = tile_truth(tmp_path, tiles)
    assert list(tt.columns) == ["truth_noise", "truth_n_sources", "truth_kinds", "truth_extended", "truth_peculiar"]
    tagged = set(",".join(tt["truth_kinds"]).split(",")) - {""}
    assert tagged <= set(KINDS) - {"compact"} and {"orc", "xrg", "grg", "halo", "relic", "fr2"} <= tagged
    assert (tt["truth_peculiar"] == tt["truth_kinds"].str.contains("orc|xrg|grg")).all()
    # a giant radio galaxy spans tiles: its hotspots' tiles know it too, not only its core's
    grg = truth[(truth["kind"] == "grg") & truth["in_image"]].iloc[0]
    pts = np.array([[float(v) for v in p.split(":")] for p in grg["points"].split(";")])
    in_grg = tiles.index[(tiles["field"] == grg["field"]) & tt["truth_kinds"].str.contains("grg")]
    assert len(pts) >= 3 and len(in_grg) >= 2
    # the per-tile compact count is the number of truth sources above 5 sigma in the box
    row = tiles.iloc[5]
    g = truth[(truth["field"] == row["field"]) & (truth["kind"] == "compact") & (truth["snr"] >= 5)]
    inside = g["x"].between(row.x0 - 0.5, row.x0 + 255.5) & g["y"].between(row.y0 - 0.5, row.y0 + 255.5)
    assert tt["truth_n_sources"].iloc[5] == inside.sum()


def test_peculiar_objects_are_rare_by_construction(tmp_path):
    simulate_survey(tmp_path, SimulationConfig(fields=6, size_px=1024, seed=11), progress=False)
    tiles = pd.concat([grid_tiles(f"field_{i:03d}", 1024, 256) for i in range(6)], ignore_index=True)
    tt = tile_truth(tmp_path, tiles)
    assert tt["truth_peculiar"].mean() <= 0.05
    assert 0.05 < tt["truth_extended"].mean() < 0.6  # radio galaxies are common, not everywhere


def test_truth_noise_is_the_thermal_noise_of_the_tile(tmp_path):
    cfg = SimulationConfig(fields=1, size_px=1024, dqf_probabilities=(1, 0, 0, 0), **QUIET)
    simulate_survey(tmp_path, cfg, progress=False)
    image = fits.getdata(tmp_path / "field_000.fits")[0, 0]
    tiles = grid_tiles("field_000", 1024, 128)
    tt = tile_truth(tmp_path, tiles)
    full = tiles.index[[np.isfinite(image[r.y0 : r.y0 + 128, r.x0 : r.x0 + 128]).all() for r in tiles.itertuples()]]
    ratio = [
        np.std(image[tiles.y0[i] : tiles.y0[i] + 128, tiles.x0[i] : tiles.x0[i] + 128]) / tt.truth_noise[i]
        for i in full
    ]
    assert len(full) > 30 and abs(np.median(ratio) - 1) < 0.05 and np.min(ratio) > 0.85 and np.max(ratio) < 1.15
    assert tt["truth_noise"].isna().sum() == 0  # partial tiles: the noise of what is imaged


def test_artefacts_grow_with_the_data_quality_flag():
    from radioexplore.simulation import dqf_artefacts

    noise, peak = 4e-6, 50e-3
    yy, xx = np.mgrid[0:512, 0:512]
    r = np.hypot(xx - 256, yy - 256)
    near, far = (r > 15) & (r < 80), r > 240
    rms, patterns = {}, {}
    for dqf in (0, 1, 2, 3):
        pattern = dqf_artefacts((512, 512), np.random.default_rng(0), [(256.0, 256.0, peak)], dqf, noise, 5.0)
        rms[dqf], patterns[dqf] = pattern[near].std() / noise, pattern
        assert abs(pattern[r < 2]).max() < 0.01 * peak  # the source's own peak is left alone
    assert rms[0] == 0.0
    assert 0.3 < rms[1] < rms[2]  # rings and spokes round the bright source, stronger for DQF 2
    ripples = (patterns[3] - patterns[2])[far].std() / noise  # DQF 3 adds ripples across the whole image
    assert 0.2 < ripples < 0.6
    with pytest.raises(ValueError, match="DQF must be 0, 1, 2 or 3"):
        dqf_artefacts((8, 8), np.random.default_rng(0), [], 4, noise, 5.0)


def test_a_flagged_field_holds_a_bright_source():
    base = SimulationConfig(size_px=256, **QUIET)
    for dqf in (1, 2, 3):
        probs = tuple(float(d == dqf) for d in range(4))
        _, truth, _ = simulate_field(replace(base, dqf_probabilities=probs), 0, np.random.default_rng(2))
        assert truth.dqf == dqf and max(o["flux"] for o in truth.objects) >= 20e-3


def test_preview_grid_has_one_row_per_kind(tmp_path, cli_main):
    out = tmp_path / "preview.png"
    cli_main(
        "simulate",
        "--out",
        tmp_path / "sim",
        "--fields",
        "1",
        "--size",
        "512",
        "--preview",
        out,
        "--preview-per-row",
        "2",
    )
    from PIL import Image

    with Image.open(out) as im:
        w, h = im.size
    rows = len(KINDS) + 1  # every kind plus the DQF artefacts row
    assert im.format == "PNG" and h / w > 0.8 * rows / 2
    from radioexplore.simulation.preview import survey_examples

    panels = survey_examples(tmp_path / "sim", "compact", 2, 128, np.random.default_rng(0))
    assert panels and panels[0][0].shape == (128, 128) and "field_000" in panels[0][1]
