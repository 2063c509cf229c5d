"""X-shaped sources: a lobe pair crossed through its middle by fainter wings is found, near-misses are not."""

from __future__ import annotations

import numpy as np
import pytest

from radioexplore.ranking.crossing import X_CROSSING, CrossConfig, crossings
from radioexplore.ranking.object_score import forest_features, rank_objects
from radioexplore.ranking.objects import FOREST_FEATURES, OBJECT_COLUMNS, ObjectConfig, find_objects
from radioexplore.ranking.peculiar import describe_object
from tests.object_sky import beam_noise, blob, row_at

SIZE, FWHM, RMS = 640, 5.0, 1e-5
BEAM_AREA = 1.1331 * FWHM**2
X_CENTRE = (160.0, 160.0)  # lobes along +x at +-60 px, wings along y through the middle
PARALLEL_CENTRE = (480.0, 160.0)  # the same, but the middle island lies along the lobe line (a jet)
BRIGHT_CENTRE = (160.0, 480.0)  # the same X, but the middle island outshines the lobes


def _three(xx, yy, centre, wing_pa, wing_amp):
    x, y = centre
    out = np.zeros_like(xx)
    for side in (-1, 1):  # the active lobes, drawn out along the line joining them
        out += blob(xx, yy, x + side * 60, y, 25 * RMS, 12.0, 4.0, 0.0)
    return out + blob(xx, yy, x, y, wing_amp * RMS, 22.0, 4.0, wing_pa)


def sky(seed: int = 3) -> np.ndarray:
    """Beam-correlated noise, a few compact sources, an X, a jet-like triple and an X with bright wings."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    sig_b = FWHM / 2.3548
    for x, y in ((60, 580), (330, 330), (600, 600), (400, 600)):
        image += blob(xx, yy, x, y, rng.uniform(30, 80) * RMS, sig_b, sig_b, 0.0)
    image += _three(xx, yy, X_CENTRE, np.pi / 2, 10)
    image += _three(xx, yy, PARALLEL_CENTRE, 0.0, 10)
    image += _three(xx, yy, BRIGHT_CENTRE, np.pi / 2, 60)
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def found():
    table = find_objects(sky(), BEAM_AREA, ObjectConfig()).table
    return table, crossings(table, FWHM)


def _near(table, centre):
    near = np.flatnonzero(np.hypot(table["x"] - centre[0], table["y"] - centre[1]).to_numpy() < 90)
    assert len(near)
    return near


def _rows(table, centre):
    x, y = centre
    return [row_at(table, x - 60, y), row_at(table, x + 60, y), row_at(table, x, y)]


def test_lobes_crossed_by_fainter_wings_are_one_x_shaped_source(found):
    table, x = found
    lobe_a, lobe_b, wings = _rows(table, X_CENTRE)
    assert x[[lobe_a, lobe_b, wings]].min() > 0.95  # crossed at right angles: sin 90 deg
    assert describe_object(table.iloc[wings].to_dict() | {X_CROSSING: x[wings]}).startswith("part of an X-shaped")


def test_a_jet_along_the_lobe_line_and_wings_brighter_than_the_lobes_are_not_an_x(found):
    table, x = found
    assert x[_near(table, PARALLEL_CENTRE)].max() == 0  # no second axis (the jet may join its lobes)
    assert x[_near(table, BRIGHT_CENTRE)].max() == 0  # the hotspots are the lobes'
    others = np.ones(len(table), bool)
    others[_rows(table, X_CENTRE)] = False
    assert x[others].max() == 0  # compact sources and the rest: no chance triple


def test_the_geometry_limits_act(found):
    table, _ = found
    # lobes 120 px apart, wings ~9 beams long: a span that asks for longer wings drops it
    assert crossings(table, FWHM, CrossConfig(separation_span=(3.0, 4.0))).max() == 0
    with pytest.raises(ValueError, match="min_crossing_deg"):
        CrossConfig(min_crossing_deg=0.0)
    assert crossings(table.iloc[:2], FWHM).tolist() == [0.0, 0.0]


def test_the_forest_sees_the_crossing_and_lifts_the_x(found):
    table, x = found
    assert X_CROSSING in FOREST_FEATURES and X_CROSSING in OBJECT_COLUMNS
    with_x = table.assign(**{X_CROSSING: x, "negative_ratio": 0.0})
    feats = forest_features(with_x)
    assert feats.shape == (len(table), len(FOREST_FEATURES))
    assert np.array_equal(forest_features(table)[:, :-1], feats[:, :-1])  # absent: counts 0, the rest unchanged
    rows = _rows(table, X_CENTRE)
    ranked = rank_objects(with_x)["rank"].to_numpy()
    plain = rank_objects(table.assign(negative_ratio=0.0))["rank"].to_numpy()
    assert np.all(ranked[rows] < plain[rows])  # each of the X's islands rises
