"""A lobe is one end of a jet pair: with ``SourceConfig.one_sided_lobes`` an island with emission on both
sides of its own peak (a galaxy with a core of its own) is no lobe candidate (issue 24, hard-skies)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.lobe_cores import two_sided
from radioexplore.ranking.sources import SourceConfig, associate

FWHM, RMS = 5.0, 1e-5
ONE_SIDED = (0.02, 0.55)  # (flux below, above) the peak: an FR II lobe, its hotspot at one end
TWO_SIDED = (0.30, 0.35)  # jet and counter-jet round a core of its own


def island(x: float, y: float, angle: float, sides: tuple[float, float], flux: float = 1e-3) -> dict:
    """One resolved, elongated island (integrated / peak flux 10) with its peak profile."""
    return dict(
        x=x, y=y, axis_angle_deg=angle, axis_ratio=3.0, extent_beams=5.0, flux_jy=flux, peak_snr=10.0,
        noise_rms=RMS, flux_below_peak=sides[0], flux_above_peak=sides[1],
    )  # fmt: skip


def core(x: float, y: float) -> dict:
    """An unresolved object (integrated = peak flux)."""
    return dict(
        x=x, y=y, axis_angle_deg=0.0, axis_ratio=1.0, extent_beams=1.0, flux_jy=1e-4, peak_snr=10.0,
        noise_rms=RMS, flux_below_peak=0.0, flux_above_peak=0.0,
    )  # fmt: skip


def test_two_sided_reads_the_peak_profile_and_nothing_without_it():
    table = pd.DataFrame([island(0, 0, 0, ONE_SIDED), island(0, 0, 0, TWO_SIDED), island(0, 0, 0, (0.05, 0.1))])
    assert two_sided(table).tolist() == [False, True, False]  # the last: its lesser side under 10% of its flux
    assert two_sided(table, sidedness=1.05).tolist() == [False, False, False]  # 0.30 vs 0.35: not within 5%
    assert not two_sided(table.drop(columns=["flux_below_peak"])).any()
    nan = table.assign(flux_below_peak=np.nan)
    assert not two_sided(nan).any()


def test_a_galaxy_of_its_own_is_no_lobe_only_with_the_option():
    # a lobe and, 20 beams along its axis, an FR I with jets on both sides of its core; a compact source between
    table = pd.DataFrame([island(0, 0, 0, ONE_SIDED), island(100, 0, 0, TWO_SIDED), core(50, 1)])
    off = associate(table, FWHM, SourceConfig())
    on = associate(table, FWHM, SourceConfig(one_sided_lobes=True))
    assert off["partner"].iloc[0] == 1 and off["source_components"].iloc[0] == 3
    assert (on["partner"] == -1).all() and (on["source_components"] == 1).all()


@pytest.mark.parametrize("misalignment", [6.0, 8.0])
def test_galaxies_near_a_pair_no_longer_count_against_it(misalignment):
    # two one-sided lobes 20 beams apart, each axis a few degrees off the line; four FR I galaxies between them
    # (axes across every line they could pair along) make the pair look like chance without the option
    lobes = [island(0, 0, misalignment, ONE_SIDED), island(100, 0, -misalignment, ONE_SIDED)]
    galaxies = [island(50, y, 0.0, TWO_SIDED) for y in (40, -40, 70, -70)]
    alone = associate(pd.DataFrame(lobes), FWHM, SourceConfig())
    assert alone["partner"].iloc[0] == 1  # the pair by itself joins: chance (m / 90)^2 < 0.01
    table = pd.DataFrame(lobes + galaxies)
    off = associate(table, FWHM, SourceConfig())
    on = associate(table, FWHM, SourceConfig(one_sided_lobes=True))
    assert off["partner"].iloc[0] == -1  # five lobe candidates near each end: the pair could be chance
    assert on["partner"].iloc[0] == 1 and on["partner"].iloc[1] == 0
    assert (on["partner"].iloc[2:] == -1).all()
    assert on["association_chance"].iloc[0] <= 0.01


def test_the_option_is_off_by_default_and_checks_its_lines():
    assert SourceConfig().one_sided_lobes is False
    with pytest.raises(ValueError):
        SourceConfig(lobe_sidedness=0.5)
    with pytest.raises(ValueError):
        SourceConfig(lobe_min_side=0.5)
