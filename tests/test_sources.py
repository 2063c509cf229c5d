"""Islands into sources: the lobes of a double join into one source, a chance neighbour does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.object_shape import axis_angle
from radioexplore.ranking.objects import OBJECT_COLUMNS, ObjectConfig, find_objects
from radioexplore.ranking.peculiar import describe_source, tile_best_objects
from radioexplore.ranking.sources import SOURCE_COLUMNS, SourceConfig, associate, by_source
from tests.object_sky import beam_noise, blob, row_at

SIZE, FWHM, RMS = 640, 5.0, 1e-5
BEAM_AREA = 1.1331 * FWHM**2
# (x, y) of each lobe's centre: a double with a core at the middle, one without a core, and two
# islands side by side whose major axes are parallel to each other but across the line joining them
CORED = ((120.0, 160.0), (280.0, 260.0))
BARE = ((420.0, 80.0), (560.0, 150.0))
ACROSS = ((420.0, 470.0), (560.0, 540.0))


def sky(seed: int = 2) -> np.ndarray:
    """Beam-correlated noise, a few compact and round extended sources, and the three pairs above."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    sig_b = FWHM / 2.3548
    for x, y in ((60, 560), (250, 420), (330, 600), (600, 330), (200, 40), (40, 330)):  # compact, away from the pairs
        image += blob(xx, yy, x, y, rng.uniform(30, 80) * RMS, sig_b, sig_b, 0.0)
    for x, y in ((120, 450), (300, 520)):  # round extended sources
        image += blob(xx, yy, x, y, 20 * RMS, 7.0, 6.0, 0.3)
    for (x0, y0), (x1, y1) in (CORED, BARE):
        line = np.arctan2(y1 - y0, x1 - x0)
        for x, y in ((x0, y0), (x1, y1)):  # lobes elongated along the line joining them
            image += blob(xx, yy, x, y, 15 * RMS, 12.0, 4.0, line)
    (x0, y0), (x1, y1) = ACROSS
    across = np.arctan2(y1 - y0, x1 - x0) + np.pi / 2
    for x, y in ACROSS:
        image += blob(xx, yy, x, y, 15 * RMS, 12.0, 4.0, across)
    (x0, y0), (x1, y1) = CORED
    image += blob(xx, yy, (x0 + x1) / 2, (y0 + y1) / 2, 60 * RMS, sig_b, sig_b, 0.0)  # the host's core
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def found():
    table = find_objects(sky(), BEAM_AREA, ObjectConfig()).table
    return table, associate(table, FWHM)


def test_two_lobes_pointing_at_each_other_become_one_source_with_its_core(found):
    table, sources = found
    a, b = (row_at(table, *p) for p in CORED)
    core = row_at(table, *np.mean(CORED, axis=0))
    assert sources["partner"].iloc[a] == b and sources["partner"].iloc[b] == a
    assert sources["source_id"].iloc[[a, b, core]].nunique() == 1
    assert sources["core"].iloc[a] == core and sources["source_components"].iloc[a] == 3
    separation = np.hypot(*np.subtract(*CORED)) / FWHM
    assert separation < sources["source_extent_beams"].iloc[a] < separation + 10  # far end to far end
    assert sources["arm_ratio"].iloc[a] == pytest.approx(1.0, abs=0.1)
    assert sources["lobe_misalignment_deg"].iloc[a] < 10
    assert sources["association_chance"].iloc[a] < SourceConfig().max_chance


def test_aligned_lobes_join_without_a_core_and_side_by_side_islands_do_not(found):
    table, sources = found
    a, b = (row_at(table, *p) for p in BARE)
    assert sources["partner"].iloc[a] == b and sources["core"].iloc[a] == -1
    assert sources["source_components"].iloc[a] == 2
    c, d = (row_at(table, *p) for p in ACROSS)
    for row in (c, d):  # their axes lie across the line between them: ripple crests, not lobes
        assert sources["partner"].iloc[row] == -1 and sources["source_id"].iloc[row] == row
        assert sources["source_components"].iloc[row] == 1
        assert sources["source_extent_beams"].iloc[row] == pytest.approx(table["extent_beams"].iloc[row])


def test_lobes_too_far_apart_or_too_unequal_stay_apart(found):
    table, _ = found
    a, b = (row_at(table, *p) for p in BARE)
    near = np.hypot(*np.subtract(*BARE)) / FWHM
    assert associate(table, FWHM, SourceConfig(max_separation_beams=near - 1))["partner"].iloc[a] == -1
    unequal = table.copy()
    unequal.loc[unequal.index[b], "flux_jy"] *= 20
    assert associate(unequal, FWHM)["partner"].iloc[a] == -1


def test_the_objects_table_carries_the_source_columns_and_the_axis():
    assert set(SOURCE_COLUMNS) <= set(OBJECT_COLUMNS) and "axis_angle_deg" in OBJECT_COLUMNS
    ys, xs = np.nonzero(np.abs(np.subtract.outer(np.arange(40), np.arange(40))) < 2)  # a line at 45 deg
    assert axis_angle(xs, ys) == pytest.approx(45.0, abs=1.0)
    assert axis_angle(np.arange(20), np.zeros(20)) == pytest.approx(0.0, abs=1e-6)
    assert associate(pd.DataFrame(columns=["x", "y", "extent_beams"]), FWHM).empty
    with pytest.raises(ValueError, match="core_span"):
        SourceConfig(core_span=(0.7, 0.3))


def test_a_tile_takes_its_best_sources_score_and_the_queue_names_the_double(found):
    table, sources = found
    objects = pd.concat([table, sources], axis=1)
    objects.insert(0, "object_id", np.arange(len(objects)))
    a, b = (row_at(table, *p) for p in CORED)
    core = row_at(table, *np.mean(CORED, axis=0))
    objects["score"] = 0.1
    objects.loc[a, "score"] = 0.9  # one lobe stands out; its partner and the core are plain
    objects["shape_score"] = objects["score"]
    objects["tile_ids"] = [[i] for i in range(len(objects))]  # each object in a tile of its own
    seen = by_source(objects)
    best = tile_best_objects(seen, len(objects), "score")
    assert seen["score"].to_numpy()[best[[a, b, core]]].tolist() == [0.9, 0.9, 0.9]
    assert seen["score"].iloc[row_at(table, *BARE[0])] == pytest.approx(0.1)  # another source keeps its own
    assert "lobe of a double with a core" in describe_source(objects.iloc[b])
    assert "core of a double" in describe_source(objects.iloc[core])
    assert describe_source(objects.iloc[row_at(table, *ACROSS[0])]) == ""
