"""A giant's lobes are faint per beam: the giant evidence of a joined double weighed by its lobes' surface
brightness among the survey's extended islands (ranking/morphology.py, ``MorphConfig.faint_lobes``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from radioexplore.ranking.bridges import BRIDGE_SNR
from radioexplore.ranking.morphology import GIANT_EVIDENCE, MorphConfig, faint_lobes, giant_evidence, morph_evidence
from radioexplore.ranking.object_score import rank_objects

GIANT_BEAMS = 120.0
SB = 1e-4  # the survey's median extended island, Jy/beam
SB_SPREAD = 0.4  # their log surface brightness's sigma


def survey(giant_z: float = -0.3, pair_z: float = 2.5, seed: int = 0) -> pd.DataFrame:
    """300 barely resolved islands of 2-4 beams, 40 extended lone islands of 10-30 beams, 20 ordinary doubles
    15-35 beams end to end (log surface brightness of every extended island ~ N(log SB, SB_SPREAD)), then a
    giant double with a core, ``GIANT_BEAMS`` end to end, its lobes ``giant_z`` sigma from the median surface
    brightness, and two unrelated radio galaxies joined as a double as long (its usual confuser: a compact
    source between two bright sources), their surface brightness ``pair_z`` sigma above it."""
    rng = np.random.default_rng(seed)
    quantiles = ndtri((np.arange(40) + 0.5) / 40)  # N(0, 1) quantiles: a clean reference

    def island(extent, components=1, source_extent=None, z=None):
        z = rng.normal(0.0, 1.0) if z is None else z
        sb = SB * np.exp(SB_SPREAD * z)
        area = max(extent, 1.0) * 2.0
        return dict(
            extent_beams=extent,
            area_beams=area,
            flux_jy=sb * area,
            source_components=components,
            source_extent_beams=extent if source_extent is None else source_extent,
        )

    rows = [island(e) for e in rng.uniform(2, 4, 300)]
    rows += [island(e, z=z) for e, z in zip(rng.uniform(10, 30, 40), rng.permutation(quantiles), strict=True)]
    for size, (a, b) in zip(rng.uniform(15, 35, 20), rng.permutation(quantiles).reshape(20, 2), strict=True):
        rows += [island(size / 3, 2, size, a), island(size / 3, 2, size, b)]
    for z in (giant_z, pair_z):  # lobe, lobe, core
        rows += [island(12.0, 3, GIANT_BEAMS, z), island(12.0, 3, GIANT_BEAMS, z), island(2.5, 3, GIANT_BEAMS, 3.0)]
    table = pd.DataFrame(rows)
    n = len(table)
    table["source_id"] = np.arange(n)
    table["partner"] = -1
    for start in [*range(340, 380, 2), 380, 383]:  # each double's two lobes are partners, the core has none
        table.loc[start : start + 2 if start >= 380 else start + 1, "source_id"] = start
        table.loc[start, "partner"], table.loc[start + 1, "partner"] = start + 1, start
    table[BRIDGE_SNR] = np.where(table["source_components"] > 1, 3.0, np.nan)  # every double's lobes bridged
    return table


GIANT, PAIR = slice(380, 383), slice(383, 386)


def test_a_giant_with_faint_lobes_keeps_its_evidence_two_bright_galaxies_joined_lose_theirs():
    table = survey()
    plain = giant_evidence(table)
    assert plain[GIANT].min() >= 0.9 and plain[PAIR].min() >= 0.9  # by extent alone the two read alike
    faint = morph_evidence(table, MorphConfig(faint_lobes=True))[GIANT_EVIDENCE].to_numpy()
    np.testing.assert_allclose(faint[GIANT], plain[GIANT], rtol=1e-6)  # lobes below the median: unchanged
    assert faint[PAIR].max() < 0.05  # lobes 2.5 sigma brighter than the survey's extended islands
    assert np.all(faint[:340] == plain[:340])  # islands in no double do not move
    assert np.all(faint <= plain + 1e-7)  # the factor only ever lowers the evidence
    assert morph_evidence(table)[GIANT_EVIDENCE].to_numpy()[PAIR].min() >= 0.9  # off by default


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_factor_is_one_at_or_below_the_median_and_falls_a_sigma_above(seed):
    for z, expected in ((-1.0, 1.0), (0.0, 1.0), (1.0, 0.32), (2.0, 0.05)):
        f = faint_lobes(survey(giant_z=z, seed=seed))[GIANT]
        assert f.min() == pytest.approx(expected, abs=0.15)  # the four lobes in the reference move it a little
        assert np.all(f == f[0])  # lobes and core share their source's factor
    assert np.all(faint_lobes(survey(seed=seed))[:340] == 1.0)  # islands in no double: 1


def test_the_brighter_lobe_decides_and_missing_columns_change_nothing():
    table = survey()
    table.loc[381, "flux_jy"] *= np.exp(SB_SPREAD * 3.0)  # one lobe of the giant 3 sigma brighter
    assert faint_lobes(table)[GIANT].max() < 0.05
    bare = table.drop(columns=["partner"])
    assert np.all(faint_lobes(bare) == 1.0)
    np.testing.assert_allclose(
        morph_evidence(bare, MorphConfig(faint_lobes=True))[GIANT_EVIDENCE], giant_evidence(bare), rtol=1e-6
    )


def test_rank_objects_puts_the_giant_first_and_not_the_joined_galaxies():
    table = survey()
    for name in ("fill_ratio", "hole_fraction", "peak_snr", "n_peaks", "axis_ratio", "filled_beams"):
        table[name] = 1.0
    for name in ("ring_coverage", "cross_contrast", "surface_snr", "ring_shell", "x_crossing"):
        table[name] = 0.0
    table["negative_ratio"] = 0.0
    plain = rank_objects(table, morph=MorphConfig())
    faint = rank_objects(table, morph=MorphConfig(faint_lobes=True))
    assert plain["rank"].iloc[PAIR].iloc[:2].max() <= 6  # without: the joined galaxies rank with the giant
    assert faint["rank"].iloc[GIANT].iloc[:2].max() <= 3
    assert faint["rank"].iloc[PAIR].iloc[:2].min() > 10
