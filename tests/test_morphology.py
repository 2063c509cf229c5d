"""Evidence for rings, X-shaped sources and giants beside the object forest (ranking/morphology.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.bridges import BRIDGE_SNR
from radioexplore.ranking.morphology import (
    GIANT_EVIDENCE,
    MORPH_COLUMNS,
    MORPH_EVIDENCE,
    RING_EVIDENCE,
    MorphConfig,
    giant_evidence,
    morph_evidence,
    with_morphology,
)
from radioexplore.ranking.object_score import rank_objects
from radioexplore.ranking.objects import find_objects
from radioexplore.ranking.peculiar import describe_object
from radioexplore.run.rundir import RunDir
from tests.conftest import run_cli
from tests.object_sky import beam_noise
from tests.test_object_shape import FWHM, N, beam, bent_tail, lobes, lopsided_ring


def survey(giant_beams: float | None = 120.0, seed: int = 0) -> pd.DataFrame:
    """A survey's objects: 300 barely resolved islands of 2-4 beams, 40 extended lone islands of 10-30
    beams, 20 doubles of two lobes 15-35 beams end to end (the median double ~25), and, unless
    ``giant_beams`` is None, one double with a core that many beams end to end (lobes of 12 beams);
    every double's lobes joined by a bridge of S/N 3 (``bridge_snr``; NaN for lone islands)."""
    rng = np.random.default_rng(seed)
    rows = [dict(extent_beams=e, source_components=1, source_extent_beams=e) for e in rng.uniform(2, 4, 300)]
    rows += [dict(extent_beams=e, source_components=1, source_extent_beams=e) for e in rng.uniform(10, 30, 40)]
    for size in np.sort(rng.uniform(15, 35, 20)):
        rows += [dict(extent_beams=size / 3, source_components=2, source_extent_beams=size)] * 2
    if giant_beams is not None:
        rows += [dict(extent_beams=12.0, source_components=3, source_extent_beams=giant_beams)] * 2
        rows += [dict(extent_beams=1.5, source_components=3, source_extent_beams=giant_beams)]  # the core
    table = pd.DataFrame(rows)
    table["source_id"] = np.arange(len(table))
    for start in range(340, 380, 2):
        table.loc[start : start + 1, "source_id"] = start
    if giant_beams is not None:
        table.loc[380:, "source_id"] = 380
    table[BRIDGE_SNR] = np.where(table["source_components"] > 1, 3.0, np.nan)
    return table


def test_a_giant_double_is_evidence_and_ordinary_doubles_are_not():
    table = survey()
    g = giant_evidence(table)
    assert np.all(g[-3:] == g[-1]) and g[-1] >= 0.9  # lobes and core share their source's evidence
    doubles = g[340:380]
    median_double = doubles[np.argsort(table["source_extent_beams"].to_numpy()[340:380])[20]]
    assert median_double < 0.01  # a double of the survey's median size: no evidence
    assert doubles.max() < 0.5  # nor the largest ordinary one
    assert np.all(g[:340] == 0.0)  # lone islands: their size is the forest's to see


def test_the_scale_is_absolute_a_survey_without_a_giant_puts_none_forward():
    # no double beyond the others: no evidence anywhere, whatever the survey's largest source
    assert giant_evidence(survey(giant_beams=None)).max() < 0.5
    # the same giant among extended sources as large as itself is ordinary
    big = survey()
    lone = big["source_components"] == 1
    big.loc[lone, "extent_beams"] *= np.where(big.loc[lone, "extent_beams"] > 5, 4.0, 1.0)
    big["source_extent_beams"] = np.where(lone, big["extent_beams"], big["source_extent_beams"])
    assert giant_evidence(big)[-1] < 0.1


def test_too_few_extended_sources_or_no_source_columns_read_zero():
    assert np.all(giant_evidence(pd.DataFrame(dict(extent_beams=[3.0, 4.0, 5.0]))) == 0.0)
    small = survey().iloc[list(range(40)) + [380, 381, 382]]
    assert np.all(giant_evidence(small) == 0.0)  # 40 compact islands and a giant: no reference to be beyond
    with pytest.raises(ValueError, match="kinds"):
        MorphConfig(kinds=("halo",))


def field_with(image: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """The objects :func:`find_objects` finds with ``image`` (S/N units, 160 px) in a 256 px noise field."""
    rng = np.random.default_rng(seed)
    field = beam_noise(rng, 256, FWHM)
    field[48 : 48 + N, 48 : 48 + N] += image
    found = find_objects(field.astype(np.float32), 1.1331 * FWHM**2).table
    return found.loc[[found["area_beams"].idxmax()]]


def test_a_ring_reads_more_evidence_than_a_bent_tail_or_an_fr_ii_of_its_size():
    ring = field_with(lopsided_ring(radius=28.0))
    tail = field_with(bent_tail(size=56.0, opening_deg=60.0, core=40.0))
    hot = np.zeros((N, N))  # an FR II: two lobes with a hotspot at each end
    for a in (10, 190):
        hot[int(N / 2 + 27 * np.sin(np.deg2rad(a))), int(N / 2 + 27 * np.cos(np.deg2rad(a)))] = 60.0
    fr2 = field_with(lobes([10, 190], [28, 28], [2, 2]) + beam(hot))
    sizes = [float(t["extent_beams"].iloc[0]) for t in (ring, tail, fr2)]
    assert max(sizes) < 1.6 * min(sizes)  # of a size
    evidence = [float(morph_evidence(t)[MORPH_EVIDENCE].iloc[0]) for t in (ring, tail, fr2)]
    assert evidence[0] >= 0.3
    assert evidence[1] < 0.5 * evidence[0] and evidence[2] < 0.5 * evidence[0]


def ranked_survey(giant_beams: float | None = 120.0) -> pd.DataFrame:
    """:func:`survey` with every other forest feature alike and no artefact evidence."""
    table = survey(giant_beams)
    for name in ("area_beams", "fill_ratio", "hole_fraction", "peak_snr", "n_peaks", "axis_ratio", "filled_beams"):
        table[name] = 1.0
    table["area_beams"] = table["extent_beams"]
    for name in ("ring_coverage", "cross_contrast", "surface_snr", "ring_shell", "x_crossing"):
        table[name] = 0.0
    return table.assign(negative_ratio=0.0)


@pytest.mark.parametrize("forest", ["quantile", "score"])
def test_rank_objects_puts_the_giant_beside_the_forest_and_leaves_the_rest_to_it(forest):
    table = ranked_survey()
    plain = rank_objects(table)
    assert not set(MORPH_COLUMNS) & set(plain.columns)  # off by default
    morph = rank_objects(table, morph=MorphConfig(forest=forest))
    assert set(MORPH_COLUMNS) <= set(morph.columns)
    lobes_ = slice(len(table) - 3, len(table) - 1)
    assert plain["rank"].iloc[lobes_].min() > 10  # islands of 12 beams are ordinary to the forest
    assert morph["rank"].iloc[lobes_].max() <= 3  # the evidence brings them forward
    assert describe_object(morph.iloc[-3]).startswith("giant double")
    assert "bridged at 3.0 sigma" in describe_object(morph.iloc[-3])  # the queue says why: its lobes are joined
    # elsewhere the order is the forest's (its quantile is monotone in its score)
    rest = np.arange(len(table) - 3)
    order_plain = np.argsort(plain["score"].to_numpy()[rest], kind="stable")
    order_morph = np.argsort(morph["score"].to_numpy()[rest], kind="stable")
    assert np.array_equal(order_plain, order_morph)


def test_without_any_peculiar_evidence_the_ranking_is_the_forests():
    table = ranked_survey(giant_beams=None)
    plain, morph = rank_objects(table), rank_objects(table, morph=MorphConfig())
    assert morph[MORPH_EVIDENCE].max() < 0.5
    top = max(1, len(table) // 20)
    assert set(plain.nsmallest(top, "rank").index) == set(morph.nsmallest(top, "rank").index)


def test_with_morphology_is_the_larger_of_the_quantile_and_the_evidence():
    score = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    out = with_morphology(score, np.array([0.0, 0.0, 0.9, 0.0, 0.0]))
    np.testing.assert_allclose(out, [0.0, 0.25, 0.9, 0.75, 1.0])
    raw = with_morphology(score, np.array([0.0, 0.0, 0.9, 0.0, 0.0]), forest="score")
    np.testing.assert_allclose(raw, [0.1, 0.2, 0.9, 0.4, 0.5])
    with pytest.raises(ValueError, match="forest"):
        MorphConfig(forest="rank")


def test_ring_evidence_is_the_shell_and_a_missing_column_is_no_evidence():
    table = pd.DataFrame(dict(ring_shell=[0.0, 0.4, 1.2], extent_beams=[3.0, 3.0, 3.0]))
    ev = morph_evidence(table)
    np.testing.assert_allclose(ev[RING_EVIDENCE], [0.0, 0.4, 1.0])
    assert np.all(ev[GIANT_EVIDENCE] == 0.0)
    assert np.all(morph_evidence(table, MorphConfig(kinds=()))[MORPH_EVIDENCE] == 0.0)


def test_the_words_follow_the_evidence_a_barely_resolved_island_is_not_called_x_shaped():
    crossed = dict(cross_contrast=0.3, x_crossing=0.0, hole_fraction=0.0, ring_shell=0.0, n_peaks=1, axis_ratio=1.2)
    assert describe_object(pd.Series(dict(crossed, extent_beams=12.0))).startswith("X-shaped object")
    assert not describe_object(pd.Series(dict(crossed, extent_beams=2.5))).startswith("X-shaped")
    assert describe_object(pd.Series(dict(crossed, extent_beams=2.5, x_crossing=0.9))).startswith("part of an X")
    assert describe_object(pd.Series(dict(crossed, extent_beams=12.0, giant_evidence=0.2))).startswith("X-shaped")


def test_the_objects_command_writes_the_evidence_by_default(tmp_path):
    from tests.test_objects import TILE, sky, write_fits

    fits_path = tmp_path / "ringfield.fits"
    write_fits(fits_path, sky())
    root = tmp_path / "run"
    run_cli("ingest", fits_path, "--run", root, "--tile", TILE)
    run_cli("objects", "--run", root)  # the default: evidence max-ed with the forest's score
    run = RunDir(root)
    table = pd.read_parquet(run.objects)
    assert set(MORPH_COLUMNS) <= set(table.columns) and BRIDGE_SNR in table.columns  # the giants' bridge, read
    assert (table[MORPH_EVIDENCE] >= table[RING_EVIDENCE]).all()
    # the score is max(forest score, evidence) x (1 - artefact): never below the evidence so discounted
    assert (table["score"] >= table[MORPH_EVIDENCE] * (1 - table["artefact_score"]) - 1e-6).all()
    assert run.stage_config("objects")["morphology"]["forest"] == "score"
    assert run.stage_config("objects")["morphology"]["bridge_snr"] == MorphConfig().bridge_snr  # saved into the run
    run_cli("objects", "--run", root, "--morph", "off")  # off: the forest alone, no evidence columns
    assert not set(MORPH_COLUMNS) & set(pd.read_parquet(run.objects).columns)
    assert run.stage_config("objects")["morphology"] == "off"


def test_the_look_elsewhere_family_can_be_the_joined_doubles_the_only_sources_tested():
    # 340 lone islands never read giant evidence: with the doubles as the family (21 here, against ~60
    # extended sources) a double somewhat beyond the others reads more, the ordinary doubles still little
    table = survey(giant_beams=45.0)
    extended = giant_evidence(table, MorphConfig(look_elsewhere="extended"))
    doubles = giant_evidence(table)  # the default since 2026-12-04
    assert doubles[-1] > extended[-1] and doubles[-1] >= 0.5 > extended[-1]
    assert doubles[340:380].max() < 0.5 and np.all(doubles[:340] == 0.0)
    assert np.allclose(giant_evidence(table, MorphConfig(look_elsewhere="doubles")), doubles)
    with pytest.raises(ValueError, match="look_elsewhere"):
        MorphConfig(look_elsewhere="all")
