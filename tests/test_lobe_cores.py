"""A lobe holds no core of its own (ranking/lobe_cores.py, ``MorphConfig.lobe_cores``): an FR II lobe's emission
lies on one side of its brightest beam, an unrelated radio galaxy joined as a "lobe" carries two-sided jets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.lobe_cores import PEAK_COLUMNS, complete_lobes, lobe_orientation, peak_profile
from radioexplore.ranking.morphology import GIANT_EVIDENCE, MorphConfig, giant_evidence, morph_evidence
from radioexplore.ranking.objects import OBJECT_COLUMNS, ObjectConfig, find_objects
from radioexplore.ranking.sources import associate
from tests.object_sky import beam_noise, blob, row_at
from tests.test_giant_lobes import GIANT, PAIR, survey

SIZE, FWHM, RMS = 512, 5.0, 1e-5
BEAM_AREA = 1.1331 * FWHM**2
CORE = (256.0, 256.0)
ANGLE = 0.4  # rad, the double's axis
ARM = 140.0  # px from the core to each lobe's centre (56 beams apart)


def _along(r: float) -> tuple[float, float]:
    return CORE[0] + r * np.cos(ANGLE), CORE[1] + r * np.sin(ANGLE)


def double_sky(seed: int, galaxy: bool) -> np.ndarray:
    """Noise, a bright unresolved core and two FR II lobes along the axis, each a diffuse ellipse with its
    hotspot at the outer end; with ``galaxy`` the lobe on the + side is instead an FR I of its own: a resolved
    core with a jet and a counter-jet along the same axis (jet / counter-jet 1.5 in peak)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    image = beam_noise(rng, SIZE, FWHM, RMS)
    sig_b = FWHM / 2.3548
    image += blob(xx, yy, *CORE, 300 * RMS, sig_b, sig_b, 0.0)
    for sign in (-1.0, 1.0):
        if galaxy and sign > 0:
            image += blob(xx, yy, *_along(ARM), 60 * RMS, 1.5 * sig_b, 1.5 * sig_b, 0.0)  # its own core
            image += blob(xx, yy, *_along(ARM + 14), 18 * RMS, 8.0, 3.5, ANGLE)  # jet
            image += blob(xx, yy, *_along(ARM - 14), 12 * RMS, 8.0, 3.5, ANGLE)  # counter-jet
        else:
            image += blob(xx, yy, *_along(sign * ARM), 12 * RMS, 14.0, 6.0, ANGLE)  # the lobe
            image += blob(xx, yy, *_along(sign * (ARM + 24)), 60 * RMS, sig_b, sig_b, 0.0)  # its hotspot, at the tip
    return image.astype(np.float32)


def _joined(seed: int, galaxy: bool) -> tuple[pd.DataFrame, list[int]]:
    """The objects of :func:`double_sky` with their sources (row positions), and the rows of the two lobes
    and the core."""
    table = find_objects(double_sky(seed, galaxy), BEAM_AREA, ObjectConfig()).table
    table = pd.concat([table, associate(table, FWHM)], axis=1)
    members = [
        row_at(table, *_along(-ARM - 5)),
        row_at(table, *_along(ARM + (0 if galaxy else 5))),
        row_at(table, *CORE),
    ]
    assert table["source_id"].iloc[members].nunique() == 1 and (table["source_components"].iloc[members] == 3).all()
    return table, members


def test_peak_profile_of_a_line_of_pixels():
    xs = np.arange(0, 41, dtype=float)
    ys = np.zeros_like(xs)
    hotspot = np.where(xs >= 38, 10.0, 1.0)  # a lobe brightest at its +x end
    p = peak_profile(xs, ys, hotspot, 40.0, 0.0, 0.0, 5.0)
    assert p["peak_frac"] == pytest.approx(1.0)
    assert p["flux_above_peak"] == 0.0 and p["flux_below_peak"] == pytest.approx(35 / 68)  # x < 35 of 38 + 3 x 10
    # the axis the other way round turns the profile round
    q = peak_profile(xs, ys, hotspot, 40.0, 0.0, 180.0, 5.0)
    assert q["peak_frac"] == pytest.approx(0.0) and q["flux_below_peak"] == 0.0
    core = 1.0 + 9.0 * (np.abs(xs - 20) <= 1)  # brightest in the middle, emission both sides
    c = peak_profile(xs, ys, core, 20.0, 0.0, 0.0, 5.0)
    assert c["peak_frac"] == pytest.approx(0.5) and c["flux_below_peak"] == c["flux_above_peak"] > 0.2
    assert peak_profile(xs, ys, np.zeros_like(xs), 20.0, 0.0, 0.0, 5.0)["flux_above_peak"] == 0.0


def test_find_objects_writes_the_peak_columns():
    assert set(PEAK_COLUMNS) <= set(OBJECT_COLUMNS)
    table = find_objects(double_sky(0, False), BEAM_AREA, ObjectConfig()).table
    assert set(PEAK_COLUMNS) <= set(table.columns)
    assert table["peak_frac"].between(0, 1).all()
    assert (table["flux_below_peak"] + table["flux_above_peak"] <= 1 + 1e-9).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fr2_lobes_peak_outside_a_galaxy_of_its_own_is_two_sided(seed):
    table, (minus, plus, core) = _joined(seed, galaxy=False)
    turned = lobe_orientation(table)
    for lobe in (minus, plus):  # the hotspot at the outer end, little beyond it
        assert turned["peak_out"].iloc[lobe] > 2 / 3  # in the outer third
        assert turned["flux_out"].iloc[lobe] < 0.05 < turned["flux_in"].iloc[lobe]
    assert np.isnan(turned["peak_out"].iloc[core])  # a core is no lobe
    assert not complete_lobes(table).any()
    table, (minus, plus, core) = _joined(seed, galaxy=True)
    turned = lobe_orientation(table)
    assert 0.3 < turned["peak_out"].iloc[plus] < 0.7  # its own core in its middle, jets on both sides
    assert min(turned["flux_out"].iloc[plus], turned["flux_in"].iloc[plus]) > 0.1
    flagged = complete_lobes(table)
    assert flagged[[minus, plus, core]].all()
    others = np.setdiff1d(np.arange(len(table)), [minus, plus, core])
    assert not flagged[others].any()


def _with_geometry(table: pd.DataFrame, galaxy: bool) -> pd.DataFrame:
    """``survey()``'s table with the columns the lobes' orientation needs: its two long doubles laid along x
    with their cores between, each lobe peaking at its outer end; with ``galaxy`` the pair's second lobe
    peaks in its middle with emission on both sides."""
    table = table.copy()
    n = len(table)
    table["x"], table["y"], table["axis_angle_deg"], table["core"] = 0.0, 0.0, 0.0, -1
    table["peak_frac"], table["flux_below_peak"], table["flux_above_peak"] = 0.5, 0.0, 0.0
    for start, y in ((GIANT.start, 1000.0), (PAIR.start, 3000.0)):
        a, b, c = start, start + 1, start + 2
        table.loc[[a, b, c], "x"] = [100.0, 700.0, 400.0]
        table.loc[[a, b, c], "y"] = y
        table.loc[[a, b, c], "core"] = c
        table.loc[a, ["peak_frac", "flux_below_peak", "flux_above_peak"]] = [0.05, 0.01, 0.6]  # outer end at -x
        table.loc[b, ["peak_frac", "flux_below_peak", "flux_above_peak"]] = [0.9, 0.6, 0.01]  # outer end at +x
    if galaxy:
        table.loc[PAIR.start + 1, ["peak_frac", "flux_below_peak", "flux_above_peak"]] = [0.5, 0.3, 0.2]
    assert len(table) == n
    return table


def test_giant_evidence_of_a_double_with_a_galaxy_for_a_lobe_is_vetoed_only_with_the_option():
    lobes = _with_geometry(survey(giant_z=-0.3, pair_z=-0.3), galaxy=True)
    plain = giant_evidence(lobes)
    assert plain[GIANT].min() >= 0.9 and plain[PAIR].min() >= 0.9
    vetoed = morph_evidence(lobes, MorphConfig(lobe_cores=True))[GIANT_EVIDENCE].to_numpy()
    np.testing.assert_allclose(vetoed[GIANT], plain[GIANT], rtol=1e-6)  # FR II lobes: unchanged
    assert (vetoed[PAIR] == 0).all()  # its lobe, its core and the other lobe
    np.testing.assert_allclose(np.delete(vetoed, np.r_[PAIR]), np.delete(plain, np.r_[PAIR]), rtol=1e-6)
    assert morph_evidence(lobes)[GIANT_EVIDENCE].to_numpy()[PAIR].min() >= 0.9  # off by default
    # a galaxy more one-sided than a jet pair (3.3 : 1, sidedness 3) or a side under 10% of the flux is a lobe
    for sides in ([0.3, 0.09], [0.08, 0.08]):
        lopsided = lobes.copy()
        lopsided.loc[PAIR.start + 1, ["flux_below_peak", "flux_above_peak"]] = sides
        kept = morph_evidence(lopsided, MorphConfig(lobe_cores=True))[GIANT_EVIDENCE].to_numpy()
        assert kept[PAIR].min() >= 0.9
    # without the peak columns (an older table) nothing changes
    old = lobes.drop(columns=list(PEAK_COLUMNS))
    np.testing.assert_allclose(morph_evidence(old, MorphConfig(lobe_cores=True))[GIANT_EVIDENCE], plain, rtol=1e-6)


def test_config_checks():
    with pytest.raises(ValueError, match="lobe_sidedness"):
        MorphConfig(lobe_sidedness=0.5)
    with pytest.raises(ValueError, match="lobe_min_side"):
        MorphConfig(lobe_min_side=0.5)


def test_a_run_table_names_objects_by_object_id():
    table, members = _joined(0, galaxy=True)
    flagged = complete_lobes(table)
    shifted = table.copy()  # as in a run's table whose field follows others: ids, not row positions
    shifted.insert(0, "object_id", np.arange(len(table)) + 1000)
    for column in ("source_id", "partner", "core"):
        shifted[column] = np.where(shifted[column] >= 0, shifted[column] + 1000, -1)
    np.testing.assert_array_equal(complete_lobes(shifted), flagged)
    np.testing.assert_allclose(lobe_orientation(shifted).to_numpy(), lobe_orientation(table).to_numpy())
