"""Giant radio galaxies: a double whose lobe-to-lobe extent lies far beyond the survey's own sources."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radioexplore.ranking.giants import GIANT_Z, giant_z
from radioexplore.ranking.object_score import rank_objects
from radioexplore.ranking.objects import FOREST_FEATURES, OBJECT_COLUMNS, PHYSICS_FOREST_FEATURES, ObjectConfig


def survey(giant_beams: float = 120.0, seed: int = 0) -> pd.DataFrame:
    """Objects of a survey: 40 lone islands of 5-20 beams, 6 doubles of two lobes 20-40 beams end to end,
    and one double with a core, ``giant_beams`` end to end (its lobes ordinary islands of 12 beams)."""
    rng = np.random.default_rng(seed)
    rows = [dict(extent_beams=e, source_components=1, source_extent_beams=e) for e in rng.uniform(5, 20, 40)]
    for size in rng.uniform(20, 40, 6):
        rows += [dict(extent_beams=size / 3, source_components=2, source_extent_beams=size)] * 2
    rows += [dict(extent_beams=12.0, source_components=3, source_extent_beams=giant_beams)] * 2
    rows += [dict(extent_beams=1.5, source_components=3, source_extent_beams=giant_beams)]  # the core
    table = pd.DataFrame(rows)
    # a source's id: its first member's row (sources.py), a lone island's its own
    table["source_id"] = np.arange(len(table))
    for start in range(40, len(table) - 3, 2):
        table.loc[start : start + 1, "source_id"] = start
    table.loc[len(table) - 3 :, "source_id"] = len(table) - 3
    return table


def test_a_giant_double_stands_far_above_the_survey_and_ordinary_doubles_do_not():
    table = survey()
    z = giant_z(table)
    giant = z[-3:]
    doubles = z[40:-3]
    assert np.all(giant == giant[0]) and giant[0] > 3.0  # lobes and core share their source's value
    assert doubles.max() < 0.5 * giant[0]
    assert np.all(z[:40] == 0.0)  # a lone island's size the forest sees as extent_beams


def test_the_reference_is_the_survey_itself():
    # the same giant among sources as large as itself is ordinary
    table = survey()
    big = table.assign(extent_beams=table["extent_beams"] * np.where(table["source_components"] > 1, 1.0, 8.0))
    assert giant_z(big)[-1] < giant_z(table)[-1] / 3


def test_a_table_without_sources_reads_zero_and_rank_objects_fills_the_column():
    assert GIANT_Z in PHYSICS_FOREST_FEATURES and GIANT_Z in OBJECT_COLUMNS and GIANT_Z not in FOREST_FEATURES
    assert np.all(giant_z(pd.DataFrame(dict(extent_beams=[3.0, 4.0, 5.0]))) == 0.0)
    table = survey()
    for name in PHYSICS_FOREST_FEATURES:
        if name not in table:
            table[name] = 1.0  # every other feature alike: only size and giant_z tell the objects apart
    table[GIANT_Z] = 0.0
    ranked = rank_objects(table.assign(negative_ratio=0.0))
    assert ranked[GIANT_Z].iloc[-1] > 3.0
    # the physics forest sees it: the giant's lobes, ordinary islands otherwise, stand out there only
    physics = rank_objects(table.assign(negative_ratio=0.0), ObjectConfig(forest_features="physics"))
    lobes = slice(len(table) - 3, len(table) - 1)
    assert physics["rank"].iloc[lobes].max() <= 3  # with the core (extent 1.5 beams, the smallest)
    assert ranked["rank"].iloc[lobes].min() > 10  # islands of 12 beams are ordinary by size alone
