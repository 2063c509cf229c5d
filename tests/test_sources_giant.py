"""A giant's lobes into one source: two lobes far apart pointing at each other, one in two islands along its
jet, with a core between them among random compact sources; unrelated islands stay apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.objects import ObjectConfig, find_objects
from radioexplore.ranking.sources import SourceConfig, associate
from tests.object_sky import beam_noise, blob, row_at

SIZE, FWHM, RMS = 640, 5.0, 1e-5
BEAM_AREA = 1.1331 * FWHM**2
CORE = (320.0, 320.0)
ANGLE = 0.5  # rad, the giant's axis
ARM = 150.0  # px from the core to each lobe's centre: the lobes 60 beams apart
SPLIT = (125.0, 175.0)  # the split lobe: two islands along its jet, this far from the core


def _along(r: float) -> tuple[float, float]:
    return CORE[0] + r * np.cos(ANGLE), CORE[1] + r * np.sin(ANGLE)


def giant_sky(seed: int) -> np.ndarray:
    """Noise, 40 compact sources away from the giant, and the giant: a bright core, one whole lobe, and
    one lobe in two islands along the axis (a gap below 3 sigma between them)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    sig_b = FWHM / 2.3548
    placed = 0
    while placed < 40:
        x, y = rng.uniform(20, SIZE - 20, 2)
        # away from the giant's axis (its corridor) so that no compact source sits on a lobe
        u, v = (
            (x - CORE[0]) * np.cos(ANGLE) + (y - CORE[1]) * np.sin(ANGLE),
            -(x - CORE[0]) * np.sin(ANGLE) + (y - CORE[1]) * np.cos(ANGLE),
        )
        if abs(v) < 40 and abs(u) < 230:
            continue
        image += blob(xx, yy, x, y, rng.uniform(10, 80) * RMS, sig_b, sig_b, 0.0)
        placed += 1
    image += blob(xx, yy, *CORE, 300 * RMS, sig_b, sig_b, 0.0)  # the host's core
    image += blob(xx, yy, *_along(-ARM), 12 * RMS, 15.0, 6.0, ANGLE)  # a whole lobe along the axis
    for r in SPLIT:  # the other lobe, two islands along its jet
        image += blob(xx, yy, *_along(r), 12 * RMS, 9.0, 5.0, ANGLE)
    return image.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_giant_with_a_split_lobe_is_one_source_of_its_full_extent(seed):
    table = find_objects(giant_sky(seed), BEAM_AREA, ObjectConfig()).table
    sources = associate(table, FWHM)
    whole = row_at(table, *_along(-ARM))
    inner, outer = (row_at(table, *_along(r)) for r in SPLIT)
    core = row_at(table, *CORE)
    members = [whole, inner, outer, core]
    assert sources["source_id"].iloc[members].nunique() == 1
    assert (sources["source_components"].iloc[members] == 4).all()
    assert (sources["core"].iloc[members] == core).all()
    # far end to far end: from the whole lobe's outer edge to the outer island's, about 72 beams here;
    # the inner island alone with the whole lobe would read some 62
    assert 66 < sources["source_extent_beams"].iloc[whole] < 80
    others = np.setdiff1d(np.arange(len(table)), members)
    assert (sources["source_components"].iloc[others] == 1).all()  # no compact source joins


@pytest.mark.parametrize("seed", range(6))
def test_unrelated_elongated_islands_at_random_angles_stay_apart(seed):
    rng = np.random.default_rng(100 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    sig_b = FWHM / 2.3548
    spots = ((160.0, 200.0), (460.0, 420.0))  # about 72 beams apart, each at a random angle
    for x, y in rng.uniform(20, SIZE - 20, (60, 2)):
        if min(np.hypot(x - sx, y - sy) for sx, sy in spots) > 60:  # none on the two islands
            image += blob(xx, yy, x, y, rng.uniform(10, 80) * RMS, sig_b, sig_b, 0.0)
    angles = rng.uniform(0, np.pi, 2)
    for (x, y), a in zip(spots, angles, strict=True):
        image += blob(xx, yy, x, y, 12 * RMS, 15.0, 6.0, a)
    table = find_objects(image.astype(np.float32), BEAM_AREA, ObjectConfig()).table
    sources = associate(table, FWHM)
    for x, y in spots:
        assert sources["source_components"].iloc[row_at(table, x, y)] == 1


def _table(rows: list[dict]) -> pd.DataFrame:
    base = dict(axis_ratio=2.5, extent_beams=10.0, flux_jy=1e-3, peak_snr=20.0, noise_rms=1e-5, negative_ratio=0.0)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_lobes_must_be_sky_emission_and_round_lobes_need_a_core():
    # two aligned resolved islands 40 beams apart on the x axis, a compact core between them
    pair = [dict(x=100.0, y=300.0, axis_angle_deg=0.0), dict(x=300.0, y=300.0, axis_angle_deg=0.0)]
    core = dict(x=200.0, y=301.0, axis_angle_deg=0.0, axis_ratio=1.05, extent_beams=1.5, peak_snr=1e4)
    assert associate(_table(pair), FWHM)["partner"].iloc[0] == 1
    # flanked by troughs as deep as itself (an error pattern's crest): no lobe
    crest = [pair[0], {**pair[1], "negative_ratio": 1.0}]
    assert associate(_table(crest), FWHM)["partner"].iloc[0] == -1
    # a round lobe brings no alignment: with the option, joined only beside a core; never without it
    round_pair = [pair[0], {**pair[1], "axis_ratio": 1.1}]
    round_lobes = SourceConfig(round_lobes=True)
    assert associate(_table(round_pair), FWHM, round_lobes)["partner"].iloc[0] == -1
    with_core = associate(_table([*round_pair, core]), FWHM, round_lobes)
    assert with_core["partner"].iloc[0] == 1 and with_core["core"].iloc[0] == 2
    assert associate(_table([*round_pair, core]), FWHM)["partner"].iloc[0] == -1


def test_neighbours_of_unlike_flux_do_not_count_against_a_pair():
    # a pair of equal lobes among six neighbours of far other flux: with the option, chance counts only
    # the neighbours as like the lobes in flux as they are to each other
    pair = [dict(x=100.0, y=300.0, axis_angle_deg=0.0), dict(x=300.0, y=300.0, axis_angle_deg=0.0)]
    crowd = [dict(x=200.0 + 30 * k, y=200.0, axis_angle_deg=90.0, flux_jy=2e-2) for k in range(6)]
    table = _table(pair + crowd)
    assert associate(table, FWHM, SourceConfig(flux_chance=True))["partner"].iloc[0] == 1
    assert associate(table, FWHM)["partner"].iloc[0] == -1
