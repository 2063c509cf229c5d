"""Ripple evidence: calibration ripples whose troughs stay above -5 sigma are found; noise and compact sources are not."""

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active_features import artefact_block, teach_block
from radioexplore.ranking.artefacts import field_artefact_features
from radioexplore.ranking.peculiar import describe_ripples
from radioexplore.ranking.ripples import ripple_sigma
from radioexplore.simulation import add_point, convolve_beam, correlated_noise

BEAM = 5.0
N = 384
TILE = 128


def noise(seed: int) -> np.ndarray:
    return correlated_noise(np.random.default_rng(seed), (N, N), BEAM, BEAM, 0.0)  # unit rms, beam-correlated


def shallow_ripples(seed: int, amplitude: float = 1.0, period: float = 8.0) -> np.ndarray:
    """Beam-smoothed noise and lopsided rings of ``amplitude`` sigma (troughs well above -5 sigma)
    round a 5000 sigma source at the field's corner, as calibration ripples reach a tile far from it."""
    sky = np.zeros((N, N))
    add_point(sky, 2.0, 2.0, 5000.0)
    yy, xx = np.mgrid[0:N, 0:N]
    r = np.hypot(xx - 2.0, yy - 2.0) + 1e-3
    lopsided = 0.7 + 0.3 * (xx - 2.0) / r
    rings = amplitude * np.cos(2 * np.pi * r / period) * lopsided * (r > 4 * BEAM)
    return noise(seed) + convolve_beam(sky, BEAM, BEAM, 0.0) + rings.astype(np.float32)


def compact_sources(seed: int) -> np.ndarray:
    """Beam-smoothed noise and 60 point sources of 10-300 sigma."""
    rng = np.random.default_rng(seed + 100)
    sky = np.zeros((N, N))
    for x, y, f in zip(
        rng.uniform(5, N - 5, 60), rng.uniform(5, N - 5, 60), 10 ** rng.uniform(1, 2.5, 60), strict=True
    ):
        add_point(sky, x, y, f)
    return noise(seed) + convolve_beam(sky, BEAM, BEAM, 0.0)


def the_middle_tile(image: np.ndarray) -> np.ndarray:
    """The tile of the field's centre row and column, away from the corner source, in sigma units."""
    return image[None, TILE : 2 * TILE, TILE : 2 * TILE].astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ripples_whose_troughs_stay_above_minus_5_sigma_score_high(seed):
    tile = the_middle_tile(shallow_ripples(seed))
    assert tile.min() > -5.0  # no trough the negative-structure features could see
    assert ripple_sigma(tile, BEAM)[0] >= 5.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_smoothed_noise_and_compact_sources_score_low(seed):
    assert ripple_sigma(the_middle_tile(noise(seed)), BEAM)[0] < 3.0
    assert ripple_sigma(the_middle_tile(compact_sources(seed)), BEAM)[0] < 3.0


def test_a_ripple_outside_the_band_is_not_counted():
    """A wave of 10 beams is the field's large-scale structure, not a calibration ripple of 1-4 beams."""
    tile = the_middle_tile(shallow_ripples(0, amplitude=1.0, period=50.0))
    assert ripple_sigma(tile, BEAM)[0] < 3.0


def test_the_field_features_carry_the_ripples_into_the_taught_block_and_the_why():
    boxes = pd.DataFrame({"x0": [TILE, TILE], "y0": [TILE, 0], "size": [TILE, TILE]})
    rippled = field_artefact_features(shallow_ripples(0), boxes.iloc[:1], BEAM, sigma=1.0)
    quiet = field_artefact_features(noise(0), boxes.iloc[:1], BEAM, sigma=1.0)
    assert rippled["ripple_sigma"].iloc[0] >= 5.0 and quiet["ripple_sigma"].iloc[0] < 3.0
    assert rippled["negative_beams"].iloc[0] == 0.0  # the troughs alone would not tell
    scores = pd.DataFrame(
        {
            "artefact_score": [0.0, 0.0],
            "artefact_ripple_sigma": [rippled["ripple_sigma"].iloc[0], quiet["ripple_sigma"].iloc[0]],
        }
    )
    assert artefact_block(scores).shape == (2, 5)  # the look-alike space stays without it
    block = teach_block(scores)
    assert block.shape == (2, 6) and block[0, 5] >= 0.5 > block[1, 5]
    assert describe_ripples(float(rippled["ripple_sigma"].iloc[0])).startswith("; periodic ripples")
    assert describe_ripples(float(quiet["ripple_sigma"].iloc[0])) == ""


def test_a_blank_tile_has_no_ripples():
    assert ripple_sigma(np.zeros((2, TILE, TILE), np.float32), BEAM).tolist() == [0.0, 0.0]
    assert ripple_sigma(np.zeros((0, TILE, TILE), np.float32), BEAM).shape == (0,)
