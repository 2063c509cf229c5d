"""The bridge between a joined double's lobes, read on the image smoothed to a few beams (ranking/bridges.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.bridges import BRIDGE_SNR, bridge_snr
from radioexplore.ranking.morphology import MorphConfig, giant_evidence
from tests.object_sky import beam_noise, blob
from tests.test_morphology import survey  # its doubles carry a bridge_snr of 3

FWHM = 4.0


def double(bridge: float, core: bool = False, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """A 400 px noise image (rms 1 per beam) with two lobes 200 px apart on row 200 and, along the line
    between them, a bridge of ``bridge`` per beam (0: none), with a bright core midway where asked;
    the table: the two lobes as a joined double (rows 0, 1), the core (row 2) and a lone island (row 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:400, :400]
    image = beam_noise(rng, 400, FWHM)
    for x in (100.0, 300.0):
        image += blob(xx, yy, x, 200.0, 20.0, 8.0, 5.0, 0.0)
    image += bridge * ((xx > 100) & (xx < 300) & (np.abs(yy - 200) <= 4))
    if core:
        image += blob(xx, yy, 200.0, 200.0, 200.0, 2.0, 2.0, 0.0)
    table = pd.DataFrame(
        {
            "x": [100.0, 300.0, 200.0, 50.0],
            "y": [200.0, 200.0, 200.0, 350.0],
            "source_id": [0, 0, 0, 3],
            "partner": [1, 0, -1, -1],
            "core": [2, 2, 2, -1],
        }
    )
    return image, table


def test_a_faint_bridge_reads_a_few_sigma_and_no_bridge_reads_noise():
    # a bridge of 1 sigma per beam, 2 beams wide, never makes an island at full resolution; smoothed
    # to 3 beams it reads several sigma, where two lobes with nothing between them read ~0
    joined, table = double(bridge=1.0)
    apart, _ = double(bridge=0.0)
    with_bridge, without = bridge_snr(table, joined, FWHM), bridge_snr(table, apart, FWHM)
    assert with_bridge[0] >= 2.0 and np.all(with_bridge[:3] == with_bridge[0])  # the source's members share it
    assert abs(without[0]) < 1.5
    assert np.isnan(with_bridge[3]) and np.isnan(without[3])  # a lone island has no bridge to read


def test_the_core_is_no_bridge():
    # a bright core midway is left out of the line: without a bridge the double still reads ~0
    image, table = double(bridge=0.0, core=True)
    assert abs(bridge_snr(table, image, FWHM)[0]) < 1.5


def test_no_double_or_no_source_columns_reads_nan():
    image, table = double(bridge=1.0)
    assert np.all(np.isnan(bridge_snr(table.assign(partner=-1), image, FWHM)))
    assert np.all(np.isnan(bridge_snr(table.drop(columns="partner"), image, FWHM)))


def test_giant_evidence_asks_for_a_bridge_by_default():
    table = survey()  # every double bridged at 3 sigma; the last three rows: a giant double with its core
    g = giant_evidence(table)
    assert g[-1] >= 0.9 and np.all(g[-3:] == g[-1])
    # the same doubles with a bridge of 1 sigma only, or none measured: two sources that line up, no giant
    faint = table.assign(**{BRIDGE_SNR: np.where(table[BRIDGE_SNR] > 0, 1.0, np.nan)})
    assert np.all(giant_evidence(faint) == 0.0)
    assert np.all(giant_evidence(table.drop(columns=BRIDGE_SNR)) == 0.0)  # a table from before: no bridge known
    # asked for no bridge (0), the evidence is the extent's alone, bridged or not
    off = MorphConfig(bridge_snr=0.0)
    assert np.allclose(giant_evidence(faint, off), g)
    assert np.allclose(giant_evidence(table.drop(columns=BRIDGE_SNR), off), g)
    with pytest.raises(ValueError, match="bridge_snr"):
        MorphConfig(bridge_snr=-1.0)
