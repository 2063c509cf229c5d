"""A label reaches the tiles its object continues into, not every empty neighbour (ranking.continuation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radioexplore.ranking.active import ActiveConfig, ActiveRanker
from radioexplore.ranking.continuation import source_reach


def _objects() -> pd.DataFrame:
    # tile 4: a ring cut by the edge into tile 5; tile 0: one lobe of a double whose other lobe and core lie in
    # tiles 2 and 1; tile 8: a compact source on its own; tile 0 also holds a compact source reaching tile 3
    return pd.DataFrame(
        {
            "object_id": range(6),
            "tile_ids": [[4, 5], [0], [2], [1], [8], [0, 3]],
            "source_id": [10, 20, 20, 20, 30, 40],
            "score": [0.9, 0.8, 0.5, 0.2, 0.1, 0.05],
        }
    )


def test_a_tile_reaches_the_tiles_of_its_top_objects_source_only():
    reach = source_reach(_objects(), 9)
    assert sorted(reach[4].indices) == [5]  # the rest of the ring
    assert sorted(reach[0].indices) == [1, 2]  # the double's core and other lobe, not tile 3 (a lesser object)
    assert sorted(reach[5].indices) == [4]
    assert reach[8].nnz == 0 and reach[6].nnz == 0  # a compact source alone; a tile without objects
    assert reach.diagonal().sum() == 0
    no_sources = source_reach(_objects().drop(columns="source_id"), 9)
    assert sorted(no_sources[0].indices) == [] and sorted(no_sources[4].indices) == [5]
    assert source_reach(pd.DataFrame(), 9).nnz == 0


def test_a_liked_ring_vouches_for_its_other_half_not_for_the_empty_tile_beside_it():
    n = 9
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(n, 6)).astype(np.float32)
    anomaly = rng.random(n).astype(np.float32)
    reach = source_reach(_objects(), n)
    ranker = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0), adjacency=reach)
    out = ranker.rerank({4: 5.0, 8: 1.0})
    assert out.loc[5, "predicted_interest"] >= 1 + 0.8 * 4 - 1e-6 and out.loc[5, "touches_liked"] == 4
    assert (out.loc[[0, 1, 2, 3, 6, 7], "touches_liked"] == -1).all()  # empty or unrelated neighbours: nothing
    assert out.loc[5, "why"].startswith("touches tile 4 you scored 5")  # the ranker was not told what it holds
    by_source = ActiveRanker(emb, anomaly, ActiveConfig(n_components=0), adjacency=reach, reach="source")
    assert (
        by_source.rerank({4: 5.0, 8: 1.0}).loc[5, "why"].startswith("holds part of the source of tile 4 you scored 5")
    )
    with pytest.raises(ValueError, match="reach must be one of"):
        ActiveRanker(emb, anomaly, ActiveConfig(n_components=0), adjacency=reach, reach="far")


def test_spread_reach_is_checked():
    with pytest.raises(ValueError, match="spread_reach must be one of"):
        ActiveConfig(spread_reach="everywhere")


def test_a_run_reaches_through_its_objects_when_asked_and_touching_tiles_otherwise(run):
    """``from_run`` with ``spread_reach="source"`` builds the reach from ``objects.parquet``; without the table
    (stamps, synthetic runs) it falls back to the touching tiles, as the default does."""
    from radioexplore.run.tiling import tile_adjacency

    assert run.objects.is_file()
    objects = pd.read_parquet(run.objects)
    n = len(run.read_scores("vit"))
    by_source = ActiveRanker.from_run(run, "vit", ActiveConfig(spread_reach="source"))
    assert (by_source.adjacency != source_reach(objects, n)).nnz == 0 and by_source.reach == "source"
    tiles = run.read_tiles()
    touching = tile_adjacency(tiles["field"].astype(str).to_numpy(), tiles["x0"], tiles["y0"], tiles["size"])
    assert (ActiveRanker.from_run(run, "vit").adjacency != touching).nnz == 0
    assert (source_reach(objects, n) != touching).nnz > 0  # the two reaches differ on this run
    run.objects.unlink()
    fallback = ActiveRanker.from_run(run, "vit", ActiveConfig(spread_reach="source"))
    assert (fallback.adjacency != touching).nnz == 0 and fallback.reach == "touching"  # and its words say so


def test_believe_protect_morph_reads_the_runs_morphology_and_says_when_it_cannot(run, caplog):
    """``from_run`` with ``believe_protect="morph"`` gives each tile its objects' largest morphology evidence; a run
    whose objects table has none (written without the morphology, or gone) logs that the belief is doubted as "off"."""
    from radioexplore.ranking.active_features import tile_morphology

    objects = pd.read_parquet(run.objects)
    n = len(run.read_scores("vit"))
    config = ActiveConfig(believe_protect="morph")
    objects["morph_evidence"] = np.linspace(0.0, 1.0, len(objects))  # the tiny run's objects read none: give some
    objects.to_parquet(run.objects)
    morphology = ActiveRanker.from_run(run, "vit", config).morphology
    assert morphology is not None and morphology.max() == pytest.approx(1.0)
    np.testing.assert_allclose(morphology, tile_morphology(objects, n))
    assert ActiveRanker.from_run(run, "vit").morphology is None  # only read when asked for
    objects.drop(columns=["morph_evidence"], errors="ignore").to_parquet(run.objects)
    with caplog.at_level("WARNING", logger="radioexplore.ranking.active"):
        ranker = ActiveRanker.from_run(run, "vit", config)
    assert ranker.morphology is None
    assert "believe_protect='morph' needs" in caplog.text and "as with 'off'" in caplog.text
