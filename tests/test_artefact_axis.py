"""The artefact axis: troughs, rings and bright neighbours make a tile an artefact; sky and noise do not."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.artefact_run import add_artefact_columns, artefact_features_run
from radioexplore.ranking.artefacts import FEATURES, artefact_score, field_artefact_features
from radioexplore.run.tiling import tile_grid
from radioexplore.simulation import (
    STRONG_ARTEFACTS,
    SimulationConfig,
    add_gaussian,
    add_point,
    convolve_beam,
    correlated_noise,
    simulate_field,
    simulate_survey,
    tile_artefact_truth,
)
from tests.simulation_fixture import QUIET

BEAM = 5.0
N = 512


def boxes(size: int = N, tile: int = 256) -> pd.DataFrame:
    return pd.DataFrame([dict(x0=b.x0, y0=b.y0, size=b.size) for b in tile_grid(size, size, tile)])


def noise_field(seed: int = 0) -> np.ndarray:
    return correlated_noise(np.random.default_rng(seed), (N, N), BEAM, BEAM, 0.0)  # unit rms


def with_source(sky: np.ndarray) -> np.ndarray:
    return convolve_beam(sky, BEAM, BEAM, 0.0)


def scores(image: np.ndarray, dqf: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    feats = field_artefact_features(image, boxes(), BEAM, dqf)
    return feats, artefact_score(feats)


def ripple_field(x: float = 128.0, y: float = 128.0) -> np.ndarray:
    """Noise, a 2000 sigma point source and lopsided rings of 20 sigma, period 8 px, troughs as deep."""
    sky = np.zeros((N, N))
    add_point(sky, x, y, 2000.0)
    yy, xx = np.mgrid[0:N, 0:N]
    r = np.hypot(xx - x, yy - y) + 1e-3
    inner = 1 - np.exp(-((r / (2 * BEAM)) ** 2))
    lopsided = 0.7 + 0.3 * (xx - x) / r
    rings = 20.0 * np.cos(2 * np.pi * r / 8.0) * np.exp(-r / 120.0) * inner * lopsided
    return noise_field(1) + with_source(sky) + rings.astype(np.float32)


def test_pure_noise_scores_low():
    feats, score = scores(noise_field())
    assert list(feats.columns) == list(FEATURES)
    assert (feats["negative_beams"] < 0.1).all()
    assert abs(feats["local_sigma"].median() - 1) < 0.15  # the noise is read in its own units
    assert score.max() < 0.2


def test_bright_source_with_deep_ripple_troughs_scores_high():
    feats, score = scores(ripple_field())
    at_source = 0  # the tile holding the source at (128, 128)
    assert feats.loc[at_source, "negative_beams"] > 3  # beams of pixels below -5 sigma
    assert feats.loc[at_source, "ring_contrast"] > 5
    assert feats.loc[at_source, "bright_distance_beams"] == 0
    assert score[at_source] > 0.6
    _, quiet = scores(noise_field(1))
    assert score[at_source] > quiet[at_source] + 0.4


def test_bright_positive_extended_source_scores_low():
    sky = np.zeros((N, N))
    for dx in (-40, 40):  # a lobe pair, 300 sigma, no negative pixel in it
        add_gaussian(sky, 128 + dx, 128 + 0.3 * dx, 300.0 * 2 * np.pi * 12 * 5 / (1.1331 * BEAM**2), 12.0, 5 / 12, 0.3)
    image = noise_field(2) + with_source(sky)
    feats, score = scores(image)
    assert 100 < image[100:160, 70:190].max() < 1000  # bright
    assert feats.loc[0, "negative_beams"] < 0.1 and feats.loc[0, "negative_share"] < 0.01
    _, ripple = scores(ripple_field())
    assert score[0] < 0.35 and score[0] < ripple[0] - 0.3


def test_the_field_dqf_weighs_the_evidence_but_makes_no_artefact_of_noise():
    _, plain = scores(ripple_field(), dqf=0)
    _, flagged = scores(ripple_field(), dqf=3)
    _, noise = scores(noise_field(), dqf=3)
    assert (flagged > plain).all() and noise.max() < 0.2


def test_strong_simulated_artefacts_have_deep_troughs_and_the_truth_marks_their_tiles(tmp_path):
    cfg = SimulationConfig(
        fields=1, size_px=N, seed=4, artefact_strength=STRONG_ARTEFACTS, dqf_probabilities=(0, 0, 1, 0), **QUIET
    )
    simulate_survey(tmp_path, cfg, progress=False)
    from astropy.io import fits

    image = fits.getdata(tmp_path / "field_000.fits")[0, 0]
    tiles = boxes(tile=128).assign(field="field_000")
    yy, xx = np.mgrid[0:N, 0:N]
    pb = np.exp(-4 * np.log(2) * ((xx - (N - 1) / 2) ** 2 + (yy - (N - 1) / 2) ** 2) / (cfg.pb_fwhm_frac * N) ** 2)
    local = image * pb / float(pd.read_csv(tmp_path / "fields.csv")["noise_ujy"][0] * 1e-6)  # in local sigma
    truth = tile_artefact_truth(tmp_path, tiles)
    deepest = np.array([np.nanmin(local[t.y0 : t.y0 + 128, t.x0 : t.x0 + 128]) for t in tiles.itertuples()])
    # no source is negative and thermal noise stays within ~4.5 sigma in a tile: a trough below -9
    # sigma is an artefact of at least 5 sigma, and the truth marks its tile
    trough = deepest < -9
    assert trough.sum() >= 4 and truth["truth_artefact"][trough].all()
    assert (truth["truth_artefact_sigma"] >= -deepest - 4.5)[np.isfinite(deepest)].all()
    assert not truth["truth_artefact"].all()
    # the same sky at strength 1 is today's survey: weaker artefacts, and none at strength 0
    weak, _, _ = simulate_field(
        cfg.__class__(**{**cfg.__dict__, "artefact_strength": 1.0}), 0, np.random.default_rng(9)
    )
    none, _, _ = simulate_field(
        cfg.__class__(**{**cfg.__dict__, "artefact_strength": 0.0}), 0, np.random.default_rng(9)
    )
    strong, _, _ = simulate_field(cfg, 0, np.random.default_rng(9))
    assert np.nanstd(strong - none) > 2 * np.nanstd(weak - none) > 0


def test_the_run_gets_an_artefact_score_per_tile_that_finds_the_artefact_tiles(tmp_path):
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.run.rundir import RunDir

    cfg = SimulationConfig(
        fields=2, size_px=N, seed=2, artefact_strength=STRONG_ARTEFACTS, dqf_probabilities=(0.5, 0, 0, 0.5)
    )
    simulate_survey(tmp_path / "sim", cfg, progress=False)
    run = RunDir(tmp_path / "run")
    ingest(
        sorted((tmp_path / "sim").glob("field_*.fits")), run, IngestConfig(tile_px=128, detect=False), progress=False
    )
    tiles = run.read_tiles()
    out = artefact_features_run(run)
    assert list(out["tile_id"]) == list(tiles["tile_id"]) and out["artefact_score"].between(0, 1).all()
    truth = tile_artefact_truth(tmp_path / "sim", tiles)["truth_artefact"].to_numpy()
    assert 0 < truth.sum() < len(truth)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(truth, out["artefact_score"]) > 0.75  # 0.5 by chance
    # rank_run writes the same axis beside the anomaly score
    from radioexplore.embed.pixelstats import pixel_statistics_run
    from radioexplore.ranking.config import RankConfig
    from radioexplore.ranking.rank import rank_run

    pixel_statistics_run(run, "pixstats")
    rank_run(run, "pixstats", RankConfig(n_estimators=20))
    written = run.read_scores("pixstats").set_index("tile_id").loc[out["tile_id"]]
    assert np.allclose(written["artefact_score"], out["artefact_score"])
    assert np.allclose(written["artefact_negative_beams"], out["negative_beams"])
    merged = add_artefact_columns(pd.DataFrame({"tile_id": tiles["tile_id"][::-1], "score": 0.5}), out)
    assert (
        merged["artefact_score"].tolist() == out.set_index("tile_id").loc[merged["tile_id"], "artefact_score"].tolist()
    )
    assert {"artefact_negative_beams", "artefact_ring_contrast"} <= set(merged.columns)


def test_an_unreadable_field_gets_no_score_and_the_rest_are_scored(tmp_path, caplog):
    from radioexplore.ingest.images import IngestConfig, ingest
    from radioexplore.run.rundir import RunDir

    simulate_survey(tmp_path / "sim", SimulationConfig(fields=2, size_px=256, seed=1), progress=False)
    run = RunDir(tmp_path / "run")
    ingest(
        sorted((tmp_path / "sim").glob("field_*.fits")), run, IngestConfig(tile_px=128, detect=False), progress=False
    )
    (tmp_path / "sim" / "field_001.fits").unlink()
    out = artefact_features_run(run)
    tiles = run.read_tiles()
    gone = (tiles["field"] == "field_001").to_numpy()
    assert out["artefact_score"][gone].isna().all() and out["artefact_score"][~gone].notna().all()
    assert "field_001.fits" in caplog.text


@pytest.mark.parametrize("strength", [-1.0, float("nan")])
def test_a_bad_strength_is_refused(strength):
    from radioexplore.simulation import dqf_artefacts

    with pytest.raises(ValueError, match="artefact strength"):
        dqf_artefacts((8, 8), np.random.default_rng(0), [], 2, 4e-6, 5.0, strength)


def test_simulate_takes_the_artefact_strength_from_the_command_line(tmp_path, cli_main):
    cli_main("simulate", "--out", tmp_path / "s", "--fields", "1", "--size", "128", "--artefact-strength", "4")
    assert pd.read_json(tmp_path / "s" / "simulation.json", typ="series")["artefact_strength"] == 4.0
    assert (tmp_path / "s" / "artefacts.npz").is_file()
    code, _, err = cli_main("simulate", "--out", tmp_path / "t", "--artefact-strength", "-2", check=False)
    assert code != 0 and "--artefact-strength" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t").exists()
